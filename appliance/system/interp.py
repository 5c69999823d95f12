"""Which interpreter runs the appliance, and whether the GIL is on.

One place for `appliance doctor`, the MQTT diagnostics and the free-threaded CI step, so they
all report the same thing. An extension module without free-threading support turns the GIL
back on at import time (see docs/free-threading.md), so the answer can change after start:
ask again rather than caching it.
"""

from __future__ import annotations

import os
import platform
import sys
import sysconfig
from dataclasses import dataclass


def free_threaded_build() -> bool:
    """True on a PEP 703 build (python3.13t), whether or not the GIL is currently on."""
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def gil_enabled() -> bool:
    """True while the GIL is on; always True on a classic (GIL) build."""
    probe = getattr(sys, "_is_gil_enabled", None)
    return True if probe is None else bool(probe())


@dataclass(frozen=True)
class InterpreterInfo:
    implementation: str  # "CPython"
    version: str  # "3.13.5"
    free_threaded_build: bool
    gil_enabled: bool
    python_gil_env: str | None  # the PYTHON_GIL environment variable, if set
    executable: str

    def describe(self) -> str:
        """One line, e.g. 'CPython 3.13.5 free-threaded, GIL off'."""
        build = "free-threaded" if self.free_threaded_build else "GIL build"
        state = "GIL on" if self.gil_enabled else "GIL off"
        forced = f" (PYTHON_GIL={self.python_gil_env})" if self.python_gil_env else ""
        return f"{self.implementation} {self.version} {build}, {state}{forced}"

    def as_dict(self) -> dict[str, object]:
        return {
            "implementation": self.implementation,
            "version": self.version,
            "free_threaded_build": self.free_threaded_build,
            "gil_enabled": self.gil_enabled,
            "python_gil_env": self.python_gil_env,
            "executable": self.executable,
        }


def interpreter_info() -> InterpreterInfo:
    """A snapshot of the interpreter and its current GIL state."""
    return InterpreterInfo(
        implementation=platform.python_implementation(),
        version=platform.python_version(),
        free_threaded_build=free_threaded_build(),
        gil_enabled=gil_enabled(),
        python_gil_env=os.environ.get("PYTHON_GIL"),
        executable=sys.executable,
    )
