"""A conversation script: what the person says and does, turn by turn (YAML).

```yaml
name: Cocina                      # optional: a title for the printout
echo: {delay_ms: 40, gain_db: 6}  # optional: its own voice at the microphone ("off": none)
mode: always                      # optional: the listening mode for the run
turns:
  - audio: hola.wav               # what the person says: any WAV/FLAC, any rate/channels
  - audio: [pon.flac, 0.85, quince.flac]   # a sentence with a 0.85 s pause inside
    scenario: "1. Consulta corta" # optional: a heading, as in the design document
  - audio: cuentame.wav
    interrupt: {kind: button, at_s: 1.0}   # 1.0 s after the appliance's first sound
  - announce: "Un texto largo ..."         # as if sent with the MQTT say command
    interrupt: {kind: voice, audio: para.wav, at_s: 2.0}     # the person says "para" over it
  - announce: "Otro texto largo ..."
    background: {audio: charla.wav, at_s: 1.0, gain_db: 0}  # someone else talks over it
  - audio: gracias.flac
    expect: {route: template, intent: thanks}   # optional: checked and reported
  - timer: {seconds: 5, ring_s: 20}   # set as Home Assistant would; let it ring, then press
```

Paths are relative to the script file. Everything is checked when the script is loaded, so a
missing file or an unknown key stops the demo before anything starts, naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from appliance.audio.files import AudioFileError, read_audio
from appliance.config import MODES
from appliance.core.pcm import SPEECH_RATE

INTERRUPT_KINDS = ("button", "mqtt", "voice")
TURN_KEYS = ("audio", "announce", "timer", "interrupt", "background", "scenario", "expect",
             "wait_s")
ECHO_KEYS = ("delay_ms", "gain_db", "rt60_ms")
EXPECT_KEYS = ("route", "intent", "heard", "transcripts")
BUILTIN = Path(__file__).resolve().parent.parent / "data" / "conversation_es" / "demo.yaml"


class ScriptError(ValueError):
    """The script cannot run; the message names the file and the key."""


@dataclass(frozen=True)
class Echo:
    """The appliance's own voice at the microphone: the demo's default is a loudspeaker a
    hand's width from the microphone in a small kitchen - as loud as the person, or louder."""

    delay_ms: float = 40.0
    gain_db: float = 6.0
    rt60_ms: float = 250.0


@dataclass(frozen=True)
class Interrupt:
    kind: str  # button (what the GPIO press does), mqtt (cmd/interrupt) or voice
    at_s: float  # after the appliance's first sound in this turn
    audio: np.ndarray | None = None  # voice: what the person says (float32 16 kHz)
    label: str = ""


@dataclass(frozen=True)
class Background:
    """Someone else talking in the kitchen while the appliance speaks."""

    audio: np.ndarray
    at_s: float
    label: str = ""


@dataclass(frozen=True)
class ScriptTurn:
    index: int  # 1-based, as printed
    label: str  # what the person says (file names and pauses) or the announcement
    audio: np.ndarray | None  # float32 16 kHz: the person's speech, pauses included
    announce: str = ""
    interrupt: Interrupt | None = None
    background: Background | None = None
    timer: tuple[float, float] | None = None  # (seconds, ring_s): an alarm that rings out
    scenario: str = ""
    expect: tuple[tuple[str, Any], ...] = ()
    wait_s: float = 0.0  # extra quiet before this turn

    @property
    def duration_s(self) -> float:
        return 0.0 if self.audio is None else len(self.audio) / SPEECH_RATE


@dataclass(frozen=True)
class Script:
    path: Path
    name: str
    turns: tuple[ScriptTurn, ...]
    echo: Echo | None = Echo()
    mode: str | None = None  # the listening mode for the run (None: the configured one)


def load_script(path: Path) -> Script:
    path = Path(path)
    where = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScriptError(f"{where}: cannot read the script ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise ScriptError(f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ScriptError(f"{where}: expected a mapping with 'turns'")
    unknown = sorted(set(data) - {"name", "turns", "echo", "mode"})
    if unknown:
        raise ScriptError(f"{where}: unknown key {unknown[0]!r}; allowed: name, echo, mode, "
                          "turns")
    mode = data.get("mode")
    if mode is not None and mode not in MODES:
        raise ScriptError(f"{where}: mode: got {mode!r}, expected one of {', '.join(MODES)}")
    raw = data.get("turns")
    if not isinstance(raw, list) or not raw:
        raise ScriptError(f"{where}: 'turns' must be a non-empty list")
    turns = tuple(_turn(path, i + 1, t) for i, t in enumerate(raw))
    return Script(path, str(data.get("name") or path.stem), turns,
                  _echo(f"{where}: echo", data.get("echo", {})), mode)


def _echo(where: str, value: object) -> Echo | None:
    if value in ("off", False, None):
        return None
    if not isinstance(value, dict):
        raise ScriptError(f"{where}: expected {{delay_ms: 40, gain_db: 0}} or off")
    unknown = sorted(set(value) - set(ECHO_KEYS))
    if unknown:
        raise ScriptError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(ECHO_KEYS)}")
    d = Echo()
    return Echo(_number(f"{where}.delay_ms", value.get("delay_ms", d.delay_ms), 20.0, 500.0),
                _number(f"{where}.gain_db", value.get("gain_db", d.gain_db), -60.0, 20.0),
                _number(f"{where}.rt60_ms", value.get("rt60_ms", d.rt60_ms), 10.0, 2000.0))


def _turn(path: Path, index: int, raw: object) -> ScriptTurn:
    where = f"{path}: turns[{index - 1}]"
    if not isinstance(raw, dict):
        raise ScriptError(f"{where}: expected a mapping")
    unknown = sorted(set(raw) - set(TURN_KEYS))
    if unknown:
        raise ScriptError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(TURN_KEYS)}")
    if sum(k in raw for k in ("audio", "announce", "timer")) != 1:
        raise ScriptError(f"{where}: give one of 'audio' (the person speaks), 'announce' or "
                          "'timer'")
    audio, label, announce, timer = None, "", "", None
    if "audio" in raw:
        audio, label = _speech(path, where, raw["audio"])
    elif "timer" in raw:
        t = raw["timer"]
        if not isinstance(t, dict) or set(t) - {"seconds", "ring_s"}:
            raise ScriptError(f"{where}.timer: expected {{seconds: 5, ring_s: 20}}")
        timer = (_number(f"{where}.timer.seconds", t.get("seconds", 5), 1.0, 600.0),
                 _number(f"{where}.timer.ring_s", t.get("ring_s", 10), 0.0, 600.0))
        label = f"(temporizador de {timer[0]:g} s, suena {timer[1]:g} s)"
    else:
        announce = raw["announce"]
        if not isinstance(announce, str) or not announce.strip():
            raise ScriptError(f"{where}.announce: expected the text to announce")
        label = announce
    return ScriptTurn(
        index=index, label=label, audio=audio, announce=announce,
        interrupt=_interrupt(path, where, raw.get("interrupt")),
        background=_background(path, where, raw.get("background")), timer=timer,
        scenario=str(raw.get("scenario") or ""),
        expect=_expect(where, raw.get("expect")),
        wait_s=_number(f"{where}.wait_s", raw.get("wait_s", 0.0), 0.0, 60.0),
    )


def _speech(path: Path, where: str, value: object) -> tuple[np.ndarray, str]:
    """Files (relative to the script) and pauses in seconds, joined into one utterance."""
    items = value if isinstance(value, list) else [value]
    parts: list[np.ndarray] = []
    labels: list[str] = []
    for i, item in enumerate(items):
        key = f"{where}.audio" + (f"[{i}]" if isinstance(value, list) else "")
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            seconds = _number(key, item, 0.0, 10.0)
            parts.append(np.zeros(int(seconds * SPEECH_RATE), np.float32))
            labels.append(f"({seconds:g} s)")
        elif isinstance(item, str) and item.strip():
            file = (path.parent / item).resolve()
            try:
                parts.append(read_audio(file))
            except AudioFileError as exc:
                raise ScriptError(f"{key}: {exc}") from exc
            labels.append(Path(item).name)
        else:
            raise ScriptError(f"{key}: expected an audio file name or a pause in seconds")
    if not any(len(p) for p in parts):
        raise ScriptError(f"{where}.audio: nothing to say")
    return np.concatenate(parts).astype(np.float32), " ".join(labels)


def _interrupt(path: Path, where: str, value: object) -> Interrupt | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ScriptError(f"{where}.interrupt: expected {{kind: button, at_s: 1.0}}")
    unknown = sorted(set(value) - {"kind", "at_s", "audio"})
    if unknown:
        raise ScriptError(f"{where}.interrupt: unknown key {unknown[0]!r}; allowed: kind, "
                          "at_s, audio")
    kind = value.get("kind", "button")
    if kind not in INTERRUPT_KINDS:
        raise ScriptError(f"{where}.interrupt.kind: got {kind!r}, expected one of "
                          f"{', '.join(INTERRUPT_KINDS)}")
    at_s = _number(f"{where}.interrupt.at_s", value.get("at_s", 1.0), 0.0, 60.0)
    if kind != "voice":
        if "audio" in value:
            raise ScriptError(f"{where}.interrupt.audio: only a voice interrupt has audio")
        return Interrupt(kind, at_s)
    if "audio" not in value:
        raise ScriptError(f"{where}.interrupt: a voice interrupt needs 'audio' (what is said)")
    audio, label = _speech(path, f"{where}.interrupt", value["audio"])
    return Interrupt(kind, at_s, audio, label)


def _background(path: Path, where: str, value: object) -> Background | None:
    if value is None:
        return None
    if not isinstance(value, dict) or "audio" not in value:
        raise ScriptError(f"{where}.background: expected {{audio: charla.wav, at_s: 1.0}}")
    unknown = sorted(set(value) - {"audio", "at_s", "gain_db"})
    if unknown:
        raise ScriptError(f"{where}.background: unknown key {unknown[0]!r}; allowed: audio, "
                          "at_s, gain_db")
    audio, label = _speech(path, f"{where}.background", value["audio"])
    gain_db = _number(f"{where}.background.gain_db", value.get("gain_db", 0.0), -60.0, 20.0)
    return Background(np.clip(audio * 10 ** (gain_db / 20), -1, 1).astype(np.float32),
                      _number(f"{where}.background.at_s", value.get("at_s", 1.0), 0.0, 60.0),
                      label)


def _expect(where: str, value: object) -> tuple[tuple[str, Any], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise ScriptError(f"{where}.expect: expected a mapping")
    unknown = sorted(set(value) - set(EXPECT_KEYS))
    if unknown:
        raise ScriptError(f"{where}.expect: unknown key {unknown[0]!r}; allowed: "
                          f"{', '.join(EXPECT_KEYS)}")
    return tuple(sorted(value.items()))


def _number(key: str, value: object, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise ScriptError(f"{key}: got {value!r}, expected a number from {lo:g} to {hi:g}")
    return float(value)
