"""The units as systemd itself reads them: exposure score and a clean `systemd-analyze verify`.

verify checks that ExecStart= exists; the units name the image's /opt/appliance/venv, so here
a copy points at this checkout's venv instead (the image check, os_image/ci-check.sh, runs
verify on the untouched units inside the built rootfs).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).resolve().parent.parent / "systemd"
ANALYZE = shutil.which("systemd-analyze")
MAX_EXPOSURE = 1.5

pytestmark = pytest.mark.skipif(
    ANALYZE is None, reason="systemd-analyze not installed (apt-get install systemd)"
)


def exposure(unit: Path) -> float:
    out = subprocess.run(
        [ANALYZE, "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True, text=True, timeout=60,
    )
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out.stdout + out.stderr)
    assert m, f"no score in output:\n{out.stdout}\n{out.stderr}"
    return float(m.group(1))


@pytest.mark.parametrize("name", ["appliance.service", "appliance-router-retrain.service"])
def test_exposure_score(name: str) -> None:
    score = exposure(SYSTEMD / name)
    assert score <= MAX_EXPOSURE, f"{name}: exposure {score} > {MAX_EXPOSURE}"


def test_service_has_the_required_settings() -> None:
    text = (SYSTEMD / "appliance.service").read_text()
    for line in [
        "Type=notify", "Restart=on-failure", "User=appliance", "SupplementaryGroups=audio gpio",
        "DevicePolicy=closed", "DeviceAllow=char-alsa rw", "ProtectSystem=strict",
        "StateDirectory=appliance", "CacheDirectory=appliance", "CapabilityBoundingSet=\n",
        "RestrictNamespaces=yes", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "NoNewPrivileges=yes",
    ]:
        assert line in text, f"appliance.service lacks {line!r}"
    assert re.search(r"^WatchdogSec=\d+", text, re.M)
    assert re.search(r"^Environment=.*\bMALLOC_ARENA_MAX=2\b", text, re.M)  # less glibc creep
    assert re.search(r"^MemoryMax=\d+", text, re.M)
    assert re.search(r"^SystemCallFilter=@system-service", text, re.M)
    devices = re.findall(r"^DeviceAllow=(\S+)", text, re.M)
    assert all(d in {"char-alsa", "char-gpiochip", "/dev/gpiomem"} for d in devices), devices


def test_verify_is_clean(tmp_path: Path) -> None:
    exe = str(Path(sys.executable).parent / "appliance")
    if not Path(exe).exists():
        pytest.skip(f"{exe} missing: pip install -e . first")
    for unit in SYSTEMD.iterdir():
        text = unit.read_text().replace("/opt/appliance/venv/bin/appliance", exe)
        (tmp_path / unit.name).write_text(text)
    units = sorted(str(p) for p in tmp_path.iterdir())
    out = subprocess.run(
        [ANALYZE, "verify", "--man=no", *units], capture_output=True, text=True, timeout=120,
        cwd=tmp_path,
    )
    # verify exits 0 even on unknown keys and bad values: any output is a failure.
    assert out.returncode == 0 and not out.stdout.strip() and not out.stderr.strip(), (
        out.stdout + out.stderr
    )
