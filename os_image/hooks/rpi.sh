#!/bin/sh
# Raspberry Pi boot setup on a root with Debian's raspi-firmware + linux-image-arm64: fstab by
# label (matching genimage-rpi.cfg), the root partition for cmdline.txt, and the boot files
# (firmware, kernel, initrd, DTBs, config.txt, cmdline.txt) regenerated into /boot/firmware.
# Usage: rpi.sh ROOT
set -eu
ROOT="$1"
HERE="$(cd "$(dirname "$0")/.." && pwd)"
install -m 0644 "$HERE/files/fstab-rpi" "$ROOT/etc/fstab"
echo appliance > "$ROOT/etc/hostname"
cat > "$ROOT/etc/default/raspi-firmware" <<'CONF'
# Read by raspi-firmware's kernel hook to write /boot/firmware/cmdline.txt and config.txt.
ROOTPART=LABEL=RASPIROOT
CONSOLES="tty0"
KERNEL_ARCH=arm64
CONF
# Appended to config.txt by the hook on every kernel upgrade: I2S on for the audio HATs
# (their overlays: see hardware/<board>/NOTES.md).
echo 'dtparam=i2s=on' > "$ROOT/etc/default/raspi-firmware-custom"
install -d "$ROOT/boot/firmware"
kver="$(ls "$ROOT/lib/modules" | sort -V | tail -1)"
# The initrd was made when the kernel was installed; this rewrites cmdline.txt with ROOTPART.
# The hook does nothing unless told it runs for a package "configure".
chroot "$ROOT" env DEB_MAINT_PARAMS=configure /etc/kernel/postinst.d/z50-raspi-firmware \
  "$kver" "/boot/vmlinuz-$kver"
ls "$ROOT/boot/firmware" | grep -q '^start4.elf$\|^bootcode.bin$\|\.dtb$' \
  || { echo "rpi.sh: /boot/firmware has no firmware/DTBs" >&2; exit 1; }
