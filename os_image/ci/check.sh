#!/bin/sh
# Inside the booted CI container, after appliance.service started: records its state, its
# credentials as the kernel sees them, and whether the watchdog is being petted.
set -u
show() { systemctl show appliance.service -p "$1" --value; }
pid=$(show MainPID)
echo "ci-check: ActiveState=$(show ActiveState) SubState=$(show SubState) MainPID=$pid"
echo "ci-check: NRestarts=$(show NRestarts) Result=$(show Result)"
first=$(show WatchdogTimestampMonotonic)
if [ "$pid" != 0 ]; then
  grep -E '^(Uid|Gid|Groups):' "/proc/$pid/status" | tr '\t' ' ' | sed 's/^/ci-check: /'
  echo "ci-check: user=$(stat -c %U "/proc/$pid")"
fi
sleep 5  # the CI drop-in sets WatchdogSec=4: pings every 2 s
echo "ci-check: WatchdogTimestampMonotonic first=$first later=$(show WatchdogTimestampMonotonic)"
echo "ci-check: StatusText=$(show StatusText)"
echo "ci-check: ActiveState=$(show ActiveState) after 5 s; NRestarts=$(show NRestarts)"
getent group audio gpio | sed 's/^/ci-check: group /'
/opt/appliance/venv/bin/appliance --version | sed 's/^/ci-check: /'
# The nightly retrain, started now under its own sandbox (no network, no devices).
systemctl start appliance-router-retrain.service
echo "ci-check: retrain Result=$(systemctl show appliance-router-retrain.service -p Result --value)" \
  "ExecMainStatus=$(systemctl show appliance-router-retrain.service -p ExecMainStatus --value)"
# The doctor as the service user, on the service's own config: every required check must pass.
doctor_rc=0
runuser -u appliance -- /opt/appliance/venv/bin/appliance doctor \
  --config /etc/appliance/config.yaml > /tmp/doctor.txt 2>/dev/null || doctor_rc=$?
sed 's/^/ci-check: doctor: /' /tmp/doctor.txt
echo "ci-check: doctor exit=$doctor_rc"
# A hung process: no more WATCHDOG=1, so systemd must abort it and start it again.
kill -STOP "$pid"
i=0
while [ $i -lt 60 ]; do
  [ "$(show NRestarts)" -ge 1 ] && [ "$(show ActiveState)" = active ] && break
  sleep 0.5; i=$((i + 1))
done
echo "ci-check: after SIGSTOP: NRestarts=$(show NRestarts) ActiveState=$(show ActiveState)" \
  "MainPID=$(show MainPID) old=$pid"
echo "ci-check: done"
