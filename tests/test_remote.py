"""The circuit breaker of a remote endpoint (LLM server, Wyoming servers), on a fake clock: it
opens after repeated failures, lets requests through again when its time is up, closes on a
success, and records every change for `appliance doctor`."""

from __future__ import annotations

from pathlib import Path

from appliance.core.remote import CircuitBreaker, read_status
from tests.support.harness import FakeClock


def test_opens_after_failures_in_a_row_then_half_opens_and_closes(tmp_path: Path) -> None:
    clock, wall = FakeClock(100.0), FakeClock(1_700_000_000.0)
    b = CircuitBreaker("llm_server", "http://h/v1", skip_after=3, skip_s=60.0,
                       state_dir=tmp_path, clock=clock, wall=wall)
    assert b.allow() and read_status(tmp_path, "llm_server") is None  # nothing to record yet
    assert not b.failure("cannot connect") and not b.failure("cannot connect")
    b.success()  # failures must be in a row
    assert b.status().failures == 0
    assert [b.failure("HTTP 500") for _ in range(3)] == [False, False, True]
    assert not b.allow()
    st = b.status()
    assert (st.state, st.failures, st.last_error, st.retry_in_s) == ("open", 3, "HTTP 500", 60.0)
    clock.advance(59.0)
    assert not b.allow()
    clock.advance(1.0)
    assert b.allow() and b.status().state == "half-open"
    assert b.failure("HTTP 500")  # the trial failed: open again at once, for another minute
    assert not b.allow()
    clock.advance(60.0)
    assert b.allow()
    b.success()
    assert b.status().state == "closed" and b.status().failures == 0 and b.allow()


def test_each_change_is_recorded_for_the_doctor(tmp_path: Path) -> None:
    b = CircuitBreaker("stt_wyoming", "tcp://h:10300", skip_after=1, skip_s=30.0,
                       state_dir=tmp_path)
    b.failure("no answer within 10 s")
    recorded = read_status(tmp_path, "stt_wyoming")
    assert recorded is not None
    assert (recorded.state, recorded.url, recorded.failures) == ("open", "tcp://h:10300", 1)
    assert 0 < recorded.retry_in_s <= 30.0
    assert "circuit OPEN" in recorded.describe() and "no answer within 10 s" in recorded.describe()
    b.success()
    recorded = read_status(tmp_path, "stt_wyoming")
    assert recorded is not None and recorded.state == "closed"
    assert recorded.describe() == "circuit closed (answering)"
    (tmp_path / "remote" / "stt_wyoming.json").write_text("{not json")
    assert read_status(tmp_path, "stt_wyoming") is None  # unreadable: nothing to report


def test_without_a_state_dir_nothing_is_written(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    b = CircuitBreaker("tts_wyoming", "tcp://h:10200", skip_after=1, skip_s=1.0)
    b.failure("down")
    assert not any(tmp_path.iterdir())
