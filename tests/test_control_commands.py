"""Command schema: valid forms, a table of malformed payloads, and a fuzz of the handler.

The handler runs with ``RecordingSink`` (tests/support/control.py), a real CommandSink that
records calls in place of the audio pipeline built by other stages.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.control.commands import (
    CommandError,
    InterruptCmd,
    Limits,
    PttStart,
    PttStop,
    Say,
    SetMode,
    SetMute,
    SetSensitivity,
    SetVolume,
    SetWakeWord,
    TimerCancel,
    TimerSet,
)
from appliance.control.controller import Controller
from appliance.control.schema import PARSERS, parse
from appliance.control.state import StateMachine
from tests.support.control import RecordingSink

LIMITS = Limits(max_text_chars=200, styles=("normal", "urgent", "calm"),
                wake_words=("alexa", "okay_nabu"))

VALID = [
    ("interrupt", b"PRESS", InterruptCmd()),
    ("interrupt", b'{"source": "doorbell"}', InterruptCmd("doorbell")),
    ("ptt", b"start", PttStart()),
    ("ptt", b"PRESS", PttStart()),
    ("ptt", b"STOP", PttStop()),
    ("ptt", b'{"action": "stop"}', PttStop()),
    ("ptt", b'"start"', PttStart()),
    ("say", '{"text": " ¡La lavadora ha terminado! "}'.encode(), Say("¡La lavadora ha terminado!")),
    ("say", b'{"text": "hola", "priority": "low", "style": "calm"}', Say("hola", "low", "calm")),
    ("say", b'{"text": "hola", "style": null}', Say("hola")),
    ("volume", b"0", SetVolume(0)),
    ("volume", b"100", SetVolume(100)),
    ("volume", b"42.0", SetVolume(42)),
    ("volume", b'{"volume": 7}', SetVolume(7)),
    ("mute", b"ON", SetMute(True)),
    ("mute", b"off", SetMute(False)),
    ("mute", b"true", SetMute(True)),
    ("mute", b'{"muted": false}', SetMute(False)),
    ("mute", b'"ON"', SetMute(True)),
    ("mode", b"wake_word", SetMode("wake_word")),
    ("mode", b'"always"', SetMode("always")),
    ("mode", b'{"mode": "push_to_talk"}', SetMode("push_to_talk")),
    ("wake_word", b"alexa", SetWakeWord("alexa")),
    ("wake_word", b'{"wake_word": "okay_nabu"}', SetWakeWord("okay_nabu")),
    ("sensitivity", b"0.65", SetSensitivity(0.65)),
    ("sensitivity", b"1", SetSensitivity(1.0)),
    ("sensitivity", b'{"sensitivity": 0}', SetSensitivity(0.0)),
    ("timer/set", b"90", TimerSet(90.0)),
    ("timer/set", b"1", TimerSet(1.0)),
    ("timer/set", b'{"seconds": 600, "name": "pasta"}', TimerSet(600.0, "pasta")),
    ("timer/cancel", b'{"all": true}', TimerCancel(all=True)),
    ("timer/cancel", b'{"id": 3}', TimerCancel(id=3)),
    ("timer/cancel", b"pasta", TimerCancel("pasta")),
    ("timer/cancel", b'{"name": "pasta"}', TimerCancel("pasta")),
]


@pytest.mark.parametrize(("name", "payload", "expected"), VALID)
def test_valid_payloads(name: str, payload: bytes, expected: object) -> None:
    assert parse(name, payload, LIMITS) == expected


# (command, payload, error code, field)
MALFORMED = [
    ("say", b"x" * (64 * 1024 + 1), "payload_too_large", None),
    ("volume", b" " * (64 * 1024 + 1), "payload_too_large", None),
    ("shout", b"{}", "unknown_command", None),
    ("", b"", "unknown_command", None),
    ("timer", b"60", "unknown_command", None),
    ("cmd/say", b'{"text": "hola"}', "unknown_command", None),
    ("say", b"\xff\xfe", "not_utf8", None),
    ("say", b"", "empty_payload", None),
    ("say", b"{text: hola}", "malformed_json", None),
    ("say", b'{"text": "hola"', "malformed_json", None),
    ("say", b"hola", "malformed_json", None),
    ("say", b"[" * 30000, "malformed_json", None),
    ("say", b'"hola"', "wrong_type", None),
    ("say", b'["hola"]', "wrong_type", None),
    ("say", b"{}", "missing_field", "text"),
    ("say", b'{"text": 5}', "wrong_type", "text"),
    ("say", b'{"text": null}', "wrong_type", "text"),
    ("say", b'{"text": "   "}', "empty_text", "text"),
    ("say", json.dumps({"text": "a" * 201}).encode(), "text_too_long", "text"),
    ("say", b'{"text": "hola", "volume": 3}', "unknown_field", "volume"),
    ("say", b'{"text": "hola", "priority": "urgent"}', "invalid_value", "priority"),
    ("say", b'{"text": "hola", "priority": 1}', "wrong_type", "priority"),
    ("say", b'{"text": "hola", "style": "shouty"}', "invalid_value", "style"),
    ("say", b'{"text": "a\\u0000b"}', "invalid_value", "text"),
    ("say", b'{"text": "hola \\ud800"}', "invalid_value", "text"),  # a lone surrogate
    ("volume", b"loud", "malformed_json", None),
    ("volume", b"101", "out_of_range", "volume"),
    ("volume", b"-1", "out_of_range", "volume"),
    ("volume", b"42.5", "invalid_value", "volume"),
    ("volume", b"true", "wrong_type", "volume"),
    ("volume", b'"42"', "wrong_type", "volume"),
    ("volume", b"NaN", "invalid_value", "volume"),
    ("volume", b"1e999", "invalid_value", "volume"),
    ("volume", b"{}", "missing_field", "volume"),
    ("volume", b"", "empty_payload", None),
    ("mute", b"maybe", "malformed_json", None),
    ("mute", b"1", "wrong_type", "muted"),
    ("mute", b'{"muted": "yes"}', "wrong_type", "muted"),
    ("mute", b'{"mute": true}', "unknown_field", "mute"),
    ("mode", b"sleep", "invalid_value", "mode"),
    ("mode", b"", "empty_payload", None),
    ("mode", b"3", "wrong_type", "mode"),
    ("mode", b'{"listen": "always"}', "unknown_field", "listen"),
    ("ptt", b"go", "invalid_value", "action"),
    ("ptt", b"", "empty_payload", None),
    ("ptt", b"{}", "missing_field", "action"),
    ("ptt", b"1", "wrong_type", "action"),
    ("interrupt", b"", "empty_payload", None),  # what clearing a retained command sends
    ("interrupt", b"now", "malformed_json", None),
    ("interrupt", b'{"source": 3}', "wrong_type", "source"),
    ("interrupt", b"[]", "wrong_type", None),
    ("timer/set", b"0", "out_of_range", "seconds"),
    ("timer/set", b"0.4", "out_of_range", "seconds"),
    ("timer/set", b"-5", "out_of_range", "seconds"),
    ("timer/set", b"86401", "out_of_range", "seconds"),
    ("timer/set", b'{"name": "pasta"}', "missing_field", "seconds"),
    ("timer/set", b'{"seconds": "60"}', "wrong_type", "seconds"),
    ("timer/set", b'{"seconds": 60, "name": ""}', "invalid_value", "name"),
    ("timer/set", b'{"seconds": 60, "name": 7}', "wrong_type", "name"),
    ("timer/set", b'{"seconds": 60, "repeat": true}', "unknown_field", "repeat"),
    ("timer/cancel", ("x" * 65).encode(), "invalid_value", "name"),
    ("timer/cancel", b"42", "wrong_type", "name"),
    ("timer/cancel", b"", "empty_payload", None),  # never "cancel every timer"
    ("timer/cancel", b"{}", "missing_field", "name"),
    ("timer/cancel", b'{"all": false}', "invalid_value", "all"),
    ("timer/cancel", b'{"name": "pasta", "all": true}', "invalid_value", "all"),
    ("timer/cancel", b'{"id": "3"}', "wrong_type", "id"),
    ("wake_word", b"hey_siri", "invalid_value", "wake_word"),
    ("wake_word", b"", "empty_payload", None),
    ("sensitivity", b"1.5", "out_of_range", "sensitivity"),
    ("sensitivity", b"high", "wrong_type", "sensitivity"),
    ("sensitivity", b'"0.5"', "wrong_type", "sensitivity"),
]


def test_malformed_table_is_large_enough() -> None:
    assert len(MALFORMED) >= 30
    assert {c for c, *_ in MALFORMED} >= set(PARSERS)


@pytest.mark.parametrize(("name", "payload", "code", "field"), MALFORMED,
                         ids=[f"{n or 'empty'}-{c}-{i}" for i, (n, _, c, _f) in
                              enumerate(MALFORMED)])
def test_malformed_payload_yields_the_right_error(
    name: str, payload: bytes, code: str, field: str | None
) -> None:
    err = parse(name, payload, LIMITS)
    assert isinstance(err, CommandError), f"accepted: {err!r}"
    assert (err.code, err.field) == (code, field), err.message
    assert err.message and len(err.message) < 300
    assert json.loads(json.dumps(err.as_dict()))["code"] == code


def test_handler_reports_errors_and_keeps_going() -> None:
    """Bad payloads reach no sink method; a good one after them is executed."""
    sink = RecordingSink()
    ctl = Controller(StateMachine(), sink, LIMITS)
    for name, payload, code, _ in MALFORMED:
        err = ctl.handle(name, payload)
        assert err is not None and err.code == code
    assert sink.calls == []
    assert ctl.handle("volume", b"30") is None
    assert sink.names() == ["set_volume"] and ctl.state.snapshot().volume == 30


class ExplodingSink(RecordingSink):
    def say(self, text: str, priority: str, style: str | None) -> None:
        raise RuntimeError("tts queue closed")


def test_a_failing_pipeline_becomes_an_error_not_a_crash() -> None:
    ctl = Controller(StateMachine(), ExplodingSink(), LIMITS)
    err = ctl.handle("say", b'{"text": "hola"}')
    assert err is not None and err.code == "execution_failed" and "tts queue closed" in err.message


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["text", "priority", "style", "volume", "muted", "mode",
                                       "action", "seconds", "name", "source", "x"]) | st.text(),
                      inner, max_size=4),
    max_leaves=10,
)
payloads = (
    st.binary(max_size=200)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.text(max_size=50).map(str.encode)
)
names = st.sampled_from([*PARSERS, "bogus", "", "say/extra"]) | st.text(max_size=12)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=names, payload=payloads)
def test_fuzz_handler_never_crashes(name: str, payload: bytes) -> None:
    sink = RecordingSink()
    ctl = Controller(StateMachine(), sink, LIMITS)
    err = ctl.handle(name, payload)
    if err is None:
        assert len(sink.calls) == 1
    else:
        assert err.code and err.message and sink.calls == []
        json.dumps(err.as_dict())
