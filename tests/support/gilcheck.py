"""pytest plugin for the free-threaded CI step: fail the run if the GIL came back on.

Load it with ``-p tests.support.gilcheck`` (scripts/ci-ft.sh does). On a free-threaded build
an extension module without free-threading support re-enables the GIL when it is imported;
this names the first test during which that happened and turns a green run red. On a GIL
build it does nothing.
"""

from __future__ import annotations

import pytest

from appliance.system.interp import free_threaded_build, gil_enabled

_first: list[str] = []  # nodeid of the test during which the GIL came back (plugin state)


def pytest_report_header(config: pytest.Config) -> str:
    from appliance.system.interp import interpreter_info

    return f"interpreter: {interpreter_info().describe()}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    before = gil_enabled()
    yield
    if free_threaded_build() and not before and gil_enabled() and not _first:
        _first.append(item.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not free_threaded_build():
        return
    if gil_enabled():
        where = f" (first during {_first[0]})" if _first else " (before the first test)"
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        reporter.ensure_newline()
        reporter.write_line(
            f"gilcheck: FAILED: the GIL is enabled at the end of the session{where}", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
