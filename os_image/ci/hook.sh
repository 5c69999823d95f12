#!/bin/sh
# CI profile only: the microphone's input file and the unit that checks the booted service
# (waits for appliance.service to be started, i.e. READY=1, records what it sees, powers off).
# Usage: hook.sh ROOT
set -eu
ROOT="$1"
HERE="$(cd "$(dirname "$0")" && pwd)"
install -d "$ROOT/usr/share/appliance-ci"
# 10 s of 16 kHz S16LE silence: the capture plugin repeats its last buffer when input runs out.
head -c 320000 /dev/zero > "$ROOT/usr/share/appliance-ci/mic.raw"
install -m 0755 "$HERE/check.sh" "$ROOT/usr/local/sbin/appliance-ci-check"
install -m 0644 "$HERE/appliance-ci-check.service" "$ROOT/etc/systemd/system/"
chroot "$ROOT" systemctl enable -q appliance-ci-check.service
# A short watchdog so the check sees several WATCHDOG=1 pings within seconds.
install -d "$ROOT/etc/systemd/system/appliance.service.d"
printf '[Service]\nWatchdogSec=4\nTimeoutAbortSec=2\nRestartSec=1\n' > "$ROOT/etc/systemd/system/appliance.service.d/ci.conf"
chroot "$ROOT" systemctl mask -q console-getty.service getty@.service systemd-networkd.service \
  systemd-timesyncd.service 2>/dev/null || true
