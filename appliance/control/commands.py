"""Typed commands: what MQTT and the buttons can ask of the pipeline, and how it is asked.

The pipeline implements ``CommandSink``; ``dispatch`` maps a validated command onto it. The
checks that turn raw MQTT payloads into these commands live in ``schema``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

MAX_PAYLOAD_BYTES = 64 * 1024
PRIORITIES = ("high", "normal", "low")
Priority = Literal["high", "normal", "low"]


# --- commands ------------------------------------------------------------------------------


@dataclass(frozen=True)
class InterruptCmd:
    source: str = "mqtt"


@dataclass(frozen=True)
class PttStart:
    pass


@dataclass(frozen=True)
class PttStop:
    pass


@dataclass(frozen=True)
class Say:
    text: str
    priority: Priority = "normal"
    style: str | None = None


@dataclass(frozen=True)
class SetVolume:
    volume: int


@dataclass(frozen=True)
class SetMute:
    muted: bool


@dataclass(frozen=True)
class SetMode:
    mode: str


@dataclass(frozen=True)
class SetWakeWord:
    word: str


@dataclass(frozen=True)
class SetSensitivity:
    sensitivity: float


@dataclass(frozen=True)
class TimerSet:
    seconds: float
    name: str | None = None


@dataclass(frozen=True)
class TimerCancel:
    """One of: a name, an id, or every timer (``all``)."""

    name: str | None = None
    id: int | None = None
    all: bool = False


Command = (
    InterruptCmd | PttStart | PttStop | Say | SetVolume | SetMute | SetMode | SetWakeWord
    | SetSensitivity | TimerSet | TimerCancel
)
SETTINGS = (SetVolume, SetMute, SetMode, SetWakeWord, SetSensitivity)  # kept in the state


@dataclass(frozen=True)
class CommandError:
    """Why a payload was refused; published as JSON on ``<base>/error``."""

    code: str
    message: str
    field: str | None = None
    command: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "field": self.field,
                "command": self.command}


@dataclass(frozen=True)
class Limits:
    max_text_chars: int = 1000
    max_payload_bytes: int = MAX_PAYLOAD_BYTES
    styles: tuple[str, ...] | None = None  # None: any short name is accepted
    wake_words: tuple[str, ...] = ()  # the wake word models on this device


class CommandSink(Protocol):
    """What the pipeline offers the control plane; every call must return promptly."""

    def interrupt(self, source: str) -> None: ...
    def ptt_start(self) -> None: ...
    def ptt_stop(self) -> None: ...
    def say(self, text: str, priority: str, style: str | None) -> None: ...
    def set_volume(self, volume: int) -> None: ...
    def set_mute(self, muted: bool) -> None: ...
    def set_mode(self, mode: str) -> None: ...
    def set_wake_word(self, word: str) -> None: ...
    def set_sensitivity(self, sensitivity: float) -> None: ...
    def timer_set(self, seconds: float, name: str | None) -> None: ...
    def timer_cancel(self, name: str | None, timer_id: int | None, every: bool) -> None: ...


def dispatch(cmd: Command, sink: CommandSink) -> None:
    """Call the sink method that carries out ``cmd``."""
    match cmd:
        case InterruptCmd(source=source):
            sink.interrupt(source)
        case PttStart():
            sink.ptt_start()
        case PttStop():
            sink.ptt_stop()
        case Say(text=text, priority=priority, style=style):
            sink.say(text, priority, style)
        case SetVolume(volume=v):
            sink.set_volume(v)
        case SetMute(muted=m):
            sink.set_mute(m)
        case SetMode(mode=m):
            sink.set_mode(m)
        case SetWakeWord(word=w):
            sink.set_wake_word(w)
        case SetSensitivity(sensitivity=s):
            sink.set_sensitivity(s)
        case TimerSet(seconds=s, name=n):
            sink.timer_set(s, n)
        case TimerCancel(name=n, id=i, all=every):
            sink.timer_cancel(n, i, every)
        case _:
            raise TypeError(f"not a command: {cmd!r}")
