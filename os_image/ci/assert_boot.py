"""Reads the journal of a booted CI rootfs and asserts what the image check promises: the
service reached READY (systemd finished its start job, which for Type=notify means READY=1),
ran as its own user with the audio and gpio groups, kept petting the watchdog, did not restart
until the CI check froze it, and was then aborted by the watchdog and restarted to READY.

Usage: python3 assert_boot.py ROOTFS     (exit 1 with the reasons if anything is missing)
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path


def journal(root: Path) -> list[dict]:
    out = subprocess.run(
        ["journalctl", f"--root={root}", "-o", "json", "--no-pager", "-b", "0"],
        capture_output=True, text=True, check=True,
    ).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def ids(root: Path, db: str, name: str) -> int:
    for line in (root / "etc" / db).read_text().splitlines():
        parts = line.split(":")
        if parts[0] == name:
            return int(parts[2])
    raise SystemExit(f"{name} not in {db}")


def main(root: Path) -> int:
    entries = journal(root)
    uid = ids(root, "passwd", "appliance")
    audio, gpio = ids(root, "group", "audio"), ids(root, "group", "gpio")
    check = [str(e.get("MESSAGE")) for e in entries
             if e.get("SYSLOG_IDENTIFIER") == "appliance-ci-check"]
    svc = [e for e in entries if e.get("_SYSTEMD_UNIT") == "appliance.service"]
    problems: list[str] = []

    def t(e: dict) -> float:
        return int(e["__MONOTONIC_TIMESTAMP"]) / 1e6

    start_job = [e for e in entries
                 if e.get("UNIT") == "appliance.service" and e.get("JOB_TYPE") == "start"]
    started = [e for e in start_job if e.get("JOB_RESULT") == "done"]
    if not started:
        problems.append("appliance.service never finished starting (no READY=1): "
                        + "; ".join(str(e.get("MESSAGE")) for e in start_job))
    if uid == 0:
        problems.append("the appliance user is root")
    if not svc:
        problems.append("no journal lines from the service process")
    elif any(int(e.get("_UID", -1)) != uid for e in svc):
        problems.append(f"service lines logged by a uid other than {uid}: "
                        f"{sorted({e.get('_UID') for e in svc})}")
    got = "\n".join(check)
    if "ci-check: user=appliance" not in got:
        problems.append("ci-check did not see the main process owned by user appliance")
    m = re.search(r"ci-check: Uid: (\d+) (\d+) (\d+) (\d+)", got)
    if not m or {int(x) for x in m.groups()} != {uid}:
        problems.append(f"process uids are not all {uid}: {m.group(0) if m else 'none'}")
    g = re.search(r"ci-check: Groups: ([\d ]*)", got)
    groups = {int(x) for x in g.group(1).split()} if g else set()
    if not {audio, gpio} <= groups:
        problems.append(f"supplementary groups {sorted(groups)} lack audio={audio} gpio={gpio}")
    w = re.search(r"WatchdogTimestampMonotonic first=(\d+) later=(\d+)", got)
    if not w or int(w.group(2)) <= int(w.group(1)):
        problems.append(f"no WATCHDOG=1 ping seen between the two samples: {w and w.group(0)}")
    if "ci-check: ActiveState=active after 5 s; NRestarts=0" not in got:
        problems.append("service not active without restarts 5 s after READY")
    if not re.search(r"StatusText=.*workers ok", got):
        problems.append("STATUS= does not carry the pipeline state")
    if "ci-check: retrain Result=success ExecMainStatus=0" not in got:
        problems.append("appliance-router-retrain.service did not succeed in its sandbox")
    if "ci-check: doctor exit=0" not in got:
        problems.append("`appliance doctor` failed inside the image (see its table above)")
    r = re.search(r"after SIGSTOP: NRestarts=(\d+) ActiveState=(\w+) MainPID=(\d+) old=(\d+)", got)
    if not r or int(r.group(1)) < 1 or r.group(2) != "active" or r.group(3) == r.group(4):
        problems.append(f"a frozen service was not restarted to READY: {r and r.group(0)}")
    if not any("Watchdog timeout" in str(e.get("MESSAGE")) for e in entries):
        problems.append("systemd never logged a watchdog timeout for the frozen service")

    print("---- ci-check (inside the container) ----")
    print(got)
    print("---- appliance.service (last 15 lines) ----")
    print("\n".join(str(e.get("MESSAGE")) for e in svc[-15:]))
    if started:
        begin = [e for e in start_job if e.get("JOB_RESULT") is None]
        ready = t(started[0]) - t(entries[0])
        since = t(started[0]) - t(begin[0]) if begin else float("nan")
        print(f"timing: READY {ready:.1f} s after the container's first log line, "
              f"{since:.1f} s after systemd started the service")
        timeouts = [e for e in entries if "Watchdog timeout" in str(e.get("MESSAGE"))]
        if len(started) > 1 and timeouts:
            print(f"timing: watchdog timeout to READY again: "
                  f"{t(started[1]) - t(timeouts[0]):.1f} s (abort, restart, model load)")
    if problems:
        print("IMAGE CHECK FAILED:\n  " + "\n  ".join(problems))
        return 1
    print(f"image check: READY reached, ran as appliance (uid {uid}, groups audio+gpio), "
          "watchdog petted, no restarts until frozen, then aborted by the watchdog and READY again")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
