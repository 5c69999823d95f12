"""The schema every MQTT command payload is checked against.

``parse(name, payload)`` never raises on bad input: it returns either a command or a
``CommandError`` that names the problem (code, message, field), so the MQTT worker can report
it on ``<base>/error`` and go on with the next message. Payload forms follow what Home
Assistant entities send (``PRESS``, ``ON``/``OFF``, a bare number or option) and also accept
a JSON object for scripts. An empty payload is refused by every command: it is what clearing
a retained command delivers, and it must never do anything.
"""

from __future__ import annotations

import json
import math
from typing import Any

from appliance.config import MODES
from appliance.control.commands import (
    PRIORITIES,
    Command,
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
from appliance.control.state import SENSITIVITY_RANGE
from appliance.core.text import speakable

MIN_TIMER_S, MAX_TIMER_S = 1, 24 * 3600
MAX_NAME_CHARS = 64
_DEFAULT_LIMITS = Limits()


class _Bad(Exception):
    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


_MISSING = object()


def _decode(payload: bytes) -> tuple[str, Any]:
    """Text and its JSON value (``_MISSING`` when the text is not JSON at all)."""
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise _Bad(
            "not_utf8", f"payload is not UTF-8 text: {exc.reason} at byte {exc.start}"
        ) from None
    if not text:
        raise _Bad("empty_payload", "payload is empty; an empty message only clears a "
                   "retained command and never runs one")
    try:
        return text, json.loads(text)
    except (ValueError, RecursionError):
        return text, _MISSING


def _json(text: str, value: Any) -> Any:
    """The JSON value, or a malformed_json error that quotes the parser."""
    if value is not _MISSING:
        return value
    try:
        json.loads(text)
    except ValueError as exc:
        raise _Bad("malformed_json", f"payload is not valid JSON: {exc}") from None
    except RecursionError:
        raise _Bad("malformed_json", "payload JSON is nested too deeply") from None
    raise _Bad("malformed_json", "payload is not valid JSON")  # pragma: no cover


def _object(value: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Bad("wrong_type", f"expected a JSON object, got {_kind(value)}")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise _Bad("unknown_field", f"unknown field {unknown[0]!r}; allowed: {', '.join(allowed)}",
                   unknown[0])
    return value


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    return "an object"


def _name(v: Any, fld: str) -> str:
    if not isinstance(v, str):
        raise _Bad("wrong_type", f"{fld} must be a string, got {_kind(v)}", fld)
    v = v.strip()
    if not v or len(v) > MAX_NAME_CHARS or not v.isprintable():
        raise _Bad("invalid_value", f"{fld} must be 1-{MAX_NAME_CHARS} printable characters", fld)
    return v


def _choice(v: Any, fld: str, choices: tuple[str, ...]) -> str:
    if not isinstance(v, str):
        raise _Bad("wrong_type", f"{fld} must be a string, got {_kind(v)}", fld)
    if v not in choices:
        allowed = ", ".join(choices)
        raise _Bad("invalid_value", f"{fld}: got {v[:40]!r}, expected one of {allowed}", fld)
    return v


def _interrupt(text: str, value: Any, limits: Limits) -> Command:
    if text.upper() == "PRESS":
        return InterruptCmd()
    obj = _object(_json(text, value), ("source",))
    return InterruptCmd(_name(obj["source"], "source")) if "source" in obj else InterruptCmd()


def _ptt(text: str, value: Any, limits: Limits) -> Command:
    action: Any = text.lower() if value is _MISSING else value
    if isinstance(action, dict):
        obj = _object(action, ("action",))
        if "action" not in obj:
            raise _Bad("missing_field", "field 'action' is required (start or stop)", "action")
        action = obj["action"]
    if isinstance(action, str) and action.lower() in ("press", "start"):
        return PttStart()
    if isinstance(action, str) and action.lower() == "stop":
        return PttStop()
    if not isinstance(action, str):
        raise _Bad("wrong_type", f"action must be start or stop, got {_kind(action)}", "action")
    raise _Bad("invalid_value", f"action: got {action[:40]!r}, expected start or stop", "action")


def _say(text: str, value: Any, limits: Limits) -> Command:
    obj = _object(_json(text, value), ("text", "priority", "style"))
    if "text" not in obj:
        raise _Bad("missing_field", "field 'text' is required", "text")
    said = obj["text"]
    if not isinstance(said, str):
        raise _Bad("wrong_type", f"text must be a string, got {_kind(said)}", "text")
    if not said.strip():
        raise _Bad("empty_text", "text is empty", "text")
    said = speakable(said)  # tags and emoji would be read aloud
    if not said:
        raise _Bad("empty_text", "text has nothing speakable (only markup or emoji)", "text")
    if len(said) > limits.max_text_chars:
        raise _Bad("text_too_long",
                   f"text has {len(said)} characters; the limit is {limits.max_text_chars}", "text")
    if "\x00" in said:
        raise _Bad("invalid_value", "text contains a NUL character", "text")
    try:
        said.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _Bad("invalid_value", f"text cannot be encoded as UTF-8: a lone surrogate "
                   f"({said[exc.start]!a}) at character {exc.start}", "text") from None
    priority = _choice(obj.get("priority", "normal"), "priority", PRIORITIES)
    style = obj.get("style")
    if style is not None:
        style = (_choice(style, "style", limits.styles) if limits.styles is not None
                 else _name(style, "style"))
    return Say(said, priority, style)  # type: ignore[arg-type]


def _volume(text: str, value: Any, limits: Limits) -> Command:
    v = _json(text, value)
    if isinstance(v, dict):
        obj = _object(v, ("volume",))
        if "volume" not in obj:
            raise _Bad("missing_field", "field 'volume' is required", "volume")
        v = obj["volume"]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _Bad("wrong_type", f"volume must be a number 0-100, got {_kind(v)}", "volume")
    if not math.isfinite(v) or v != int(v):
        raise _Bad("invalid_value", f"volume must be a whole number, got {v!r}", "volume")
    if not 0 <= v <= 100:
        raise _Bad("out_of_range", f"volume: got {int(v)}, allowed range is 0 to 100", "volume")
    return SetVolume(int(v))


def _mute(text: str, value: Any, limits: Limits) -> Command:
    v: Any = value
    if value is _MISSING and text.upper() in ("ON", "OFF"):
        v = text.upper() == "ON"
    v = _json(text, v)
    if isinstance(v, dict):
        obj = _object(v, ("muted",))
        if "muted" not in obj:
            raise _Bad("missing_field", "field 'muted' is required", "muted")
        v = obj["muted"]
    if isinstance(v, str) and v.upper() in ("ON", "OFF"):
        v = v.upper() == "ON"
    if not isinstance(v, bool):
        raise _Bad("wrong_type", f"mute must be ON, OFF, true or false, got {_kind(v)}", "muted")
    return SetMute(v)


def _field(text: str, value: Any, fld: str) -> Any:
    """A bare value (``push_to_talk``, ``0.6``) or the same as ``{"<fld>": ...}``."""
    v: Any = text if value is _MISSING else value
    if isinstance(v, dict):
        obj = _object(v, (fld,))
        if fld not in obj:
            raise _Bad("missing_field", f"field {fld!r} is required", fld)
        v = obj[fld]
    return v


def _mode(text: str, value: Any, limits: Limits) -> Command:
    return SetMode(_choice(_field(text, value, "mode"), "mode", MODES))


def _wake_word(text: str, value: Any, limits: Limits) -> Command:
    if not limits.wake_words:
        raise _Bad("invalid_value", "there is no wake word model on this device", "wake_word")
    return SetWakeWord(_choice(_field(text, value, "wake_word"), "wake_word", limits.wake_words))


def _sensitivity(text: str, value: Any, limits: Limits) -> Command:
    v = _field(text, value, "sensitivity")
    lo, hi = SENSITIVITY_RANGE
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _Bad("wrong_type", f"sensitivity must be a number {lo}-{hi}, got {_kind(v)}",
                   "sensitivity")
    if not math.isfinite(v) or not lo <= v <= hi:
        raise _Bad("out_of_range", f"sensitivity: got {v!r}, allowed range is {lo} to {hi}",
                   "sensitivity")
    return SetSensitivity(float(v))


def _seconds(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _Bad("wrong_type", f"seconds must be a number, got {_kind(v)}", "seconds")
    if not math.isfinite(v) or not MIN_TIMER_S <= v <= MAX_TIMER_S:
        raise _Bad("out_of_range", f"seconds: got {v!r}, allowed range is {MIN_TIMER_S} to "
                   f"{MAX_TIMER_S}", "seconds")
    return float(v)


def _timer_set(text: str, value: Any, limits: Limits) -> Command:
    v = _json(text, value)
    if not isinstance(v, dict):
        return TimerSet(_seconds(v))
    obj = _object(v, ("seconds", "name"))
    if "seconds" not in obj:
        raise _Bad("missing_field", "field 'seconds' is required", "seconds")
    name = _name(obj["name"], "name") if obj.get("name") is not None else None
    return TimerSet(_seconds(obj["seconds"]), name)


def _timer_cancel(text: str, value: Any, limits: Limits) -> Command:
    v: Any = text if value is _MISSING else value
    if not isinstance(v, dict):
        return TimerCancel(name=_name(v, "name"))
    obj = _object(v, ("name", "id", "all"))
    given = [k for k in ("name", "id", "all") if k in obj]
    if len(given) != 1:
        raise _Bad("missing_field" if not given else "invalid_value",
                   "give exactly one of name, id or all (all: true cancels every timer)",
                   given[1] if len(given) > 1 else "name")
    if "all" in obj:
        if obj["all"] is not True:
            raise _Bad("invalid_value", "all must be true (it cancels every timer)", "all")
        return TimerCancel(all=True)
    if "id" in obj:
        i = obj["id"]
        if isinstance(i, bool) or not isinstance(i, int) or i < 1:
            raise _Bad("wrong_type", f"id must be a positive whole number, got {_kind(i)}", "id")
        return TimerCancel(id=i)
    return TimerCancel(name=_name(obj["name"], "name"))


PARSERS = {
    "interrupt": _interrupt,
    "ptt": _ptt,
    "say": _say,
    "volume": _volume,
    "mute": _mute,
    "mode": _mode,
    "wake_word": _wake_word,
    "sensitivity": _sensitivity,
    "timer/set": _timer_set,
    "timer/cancel": _timer_cancel,
}


def parse(name: str, payload: bytes, limits: Limits = _DEFAULT_LIMITS) -> Command | CommandError:
    """Validate one payload for the command ``name`` (the topic after ``<base>/cmd/``)."""
    shown = name[:60] if isinstance(name, str) else ""
    try:
        if len(payload) > limits.max_payload_bytes:
            raise _Bad("payload_too_large",
                       f"payload has {len(payload)} bytes; the limit is {limits.max_payload_bytes}")
        parser = PARSERS.get(name)
        if parser is None:
            raise _Bad("unknown_command",
                       f"unknown command {shown!r}; known: {', '.join(PARSERS)}")
        text, value = _decode(payload)
        return parser(text, value, limits)
    except _Bad as bad:
        return CommandError(bad.code, bad.message, bad.field, shown)
