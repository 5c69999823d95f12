"""The interpreter/GIL report shared by doctor, MQTT diagnostics and the free-threaded CI."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig

from appliance.system.interp import free_threaded_build, gil_enabled, interpreter_info


def test_report_matches_the_running_interpreter():
    info = interpreter_info()
    assert info.free_threaded_build == bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    probe = getattr(sys, "_is_gil_enabled", lambda: True)
    assert info.gil_enabled == probe()
    assert info.version == ".".join(map(str, sys.version_info[:3]))
    assert ("GIL off" in info.describe()) == (not info.gil_enabled)
    assert set(info.as_dict()) >= {"free_threaded_build", "gil_enabled", "version"}


def test_gil_build_always_reports_the_gil_on():
    if not free_threaded_build():
        assert gil_enabled() and "GIL build, GIL on" in interpreter_info().describe()


def test_python_gil_override_is_reported_in_a_fresh_interpreter():
    env = {**os.environ, "PYTHON_GIL": "1" if free_threaded_build() else "0"}
    if not free_threaded_build():
        env.pop("PYTHON_GIL")  # a GIL build rejects PYTHON_GIL=0
    out = subprocess.run(
        [sys.executable, "-c",
         "from appliance.system.interp import interpreter_info as i; print(i().describe())"],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    if free_threaded_build():
        assert "GIL on (PYTHON_GIL=1)" in out, out
    else:
        assert "GIL on" in out, out
