"""Settings: YAML loaded once at start into frozen dataclasses.

Every field carries its own constraint (range or choices) in its metadata, so the loader can
say exactly which key is wrong, what it got and what is allowed - and the service never starts
half-configured.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

# The choices a Literal setting allows, named once: the loader, the gate, MQTT discovery and
# the TTS factory all read these.
Mode = Literal["wake_word", "push_to_talk", "always"]
MODES: tuple[str, ...] = typing.get_args(Mode)
LocalTtsName = Literal["kokoro", "vits", "espeak"]
TtsEngineName = Literal[LocalTtsName, "wyoming"]
TTS_ENGINES: tuple[str, ...] = typing.get_args(TtsEngineName)
LocalSttName = Literal["whisper", "vosk"]
SttEngineName = Literal[LocalSttName, "wyoming"]
STT_ENGINES: tuple[str, ...] = typing.get_args(SttEngineName)
# A remote endpoint (LLM server, Wyoming server) that fails this many times in a row is
# skipped for a while: each turn then goes straight to the local fallback.
SKIP_AFTER_FAILURES = 3
SKIP_S = 60.0


class ConfigError(ValueError):
    """A bad configuration value; the message names key, value and what is allowed."""


def _f(default: Any, *, lo: float | None = None, hi: float | None = None, doc: str = "") -> Any:
    """A field with an optional inclusive range, checked by the loader."""
    meta = {"lo": lo, "hi": hi, "doc": doc}
    if isinstance(default, (list, dict, tuple)) or dataclasses.is_dataclass(default):
        return field(default_factory=lambda: default, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class DeviceSettings:
    id: str = _f("appliance", doc="unique id: MQTT topics, Home Assistant discovery")
    name: str = _f("Cocina", doc="human name shown in Home Assistant")
    state_dir: str = _f("var/state", doc="timers, router log, volume (systemd: StateDirectory)")
    cache_dir: str = _f("var/cache", doc="assembled models, rendered audio (CacheDirectory)")


@dataclass(frozen=True)
class AudioSettings:
    capture_device: str = _f("default")
    playback_device: str = _f("default")
    sample_rate: int = _f(16000, lo=8000, hi=48000, doc="capture rate; VAD/STT need 16000")
    period_ms: int = _f(20, lo=10, hi=32, doc="capture period")
    playback_rate: int = _f(24000, lo=8000, hi=48000)
    playback_period_ms: int = _f(10, lo=5, hi=50)
    playback_buffer_ms: int = _f(40, lo=10, hi=200)
    playback_fade_ms: float = _f(10.0, lo=1.0, hi=50.0, doc="fade-out on interrupt (no click)")
    playback_idle_close_s: float = _f(
        5.0, lo=0.0, hi=3600.0, doc="feed silence this long after speech, then close the device"
    )
    reopen_initial_s: float = _f(0.1, lo=0.01, hi=10.0, doc="first retry after a device error")
    reopen_max_s: float = _f(5.0, lo=0.1, hi=120.0, doc="backoff ceiling")


@dataclass(frozen=True)
class VadSettings:
    model: str = _f("silero-vad")
    threshold: float = _f(0.5, lo=0.05, hi=0.95)
    min_speech_ms: int = _f(250, lo=50, hi=5000)
    min_silence_ms: int = _f(
        500, lo=100, hi=5000, doc="end-of-speech hangover when no end-of-turn model is loaded")
    max_utterance_s: float = _f(15.0, lo=1.0, hi=120.0, doc="cap so noise never keeps it listening")


@dataclass(frozen=True)
class TurnSettings:
    """When the person has finished: a short pause starts an early transcription and the
    end-of-turn model; together they end the turn or keep listening."""

    model: str = _f("smart-turn-v3.2", doc='end-of-turn model (manifest name); "" = fixed hangover')
    threshold: float = _f(0.5, lo=0.0, hi=1.0, doc="model probability above which a turn is over")
    pause_ms: int = _f(200, lo=100, hi=2000, doc="silence that starts the end-of-turn check")
    doubt_ms: int = _f(
        700, lo=100, hi=5000, doc="silence before finished words end a turn the model doubts")
    max_pause_ms: int = _f(
        1800, lo=300, hi=10000, doc="silence after which an unfinished-sounding turn ends anyway")
    threads: int = _f(1, lo=1, hi=8, doc="CPU threads for the end-of-turn model")


def _secret(section: str, env: str, file: str, inline: str = "") -> str:
    """A secret from an environment variable or a file, read at call time, so it never has to
    sit in the YAML; ``section`` names the keys in the error."""
    if env:
        value = os.environ.get(env)
        if value is None:
            raise ConfigError(f"{section}_env: environment variable {env!r} is not set")
        return value
    if file:
        try:
            return Path(file).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{section}_file: cannot read {file!r}: {exc}") from exc
    return inline


@dataclass(frozen=True)
class WyomingSttSettings:
    """A Wyoming ASR server (wyoming-faster-whisper) used when ``stt.engine`` is wyoming."""

    url: str = _f("", doc="tcp://HOST:PORT (or unix://PATH) of the Wyoming ASR server")
    model: str = _f("", doc="model the server should use; empty = the server's default")
    fallback: LocalSttName = _f("whisper", doc="local engine when the server fails")
    timeout_s: float = _f(10.0, lo=0.5, hi=120.0, doc="connect and transcript wait")
    skip_after_failures: int = _f(SKIP_AFTER_FAILURES, lo=1, hi=100)
    skip_s: float = _f(SKIP_S, lo=1.0, hi=3600.0, doc="how long a failing server is skipped")


@dataclass(frozen=True)
class SttSettings:
    engine: SttEngineName = _f("whisper")
    language: str = _f("es")
    whisper_model: str = _f("whisper-base")
    vosk_model: str = _f("vosk-model-small-es-0.42")
    grammar: tuple[str, ...] = _f((), doc="vosk phrase list; empty = free dictation")
    beam_size: int = _f(1, lo=1, hi=10)
    prompt: str = _f(
        "Hola. ¿Qué hora es? Pon un temporizador de diez minutos.",
        doc="whisper: text the decoder continues from; biases it to the kitchen's words",
    )
    over_speech_prompt: str = _f(
        "Para ya. Para, para. Basta ya. Silencio. Cállate. Vale ya.",
        doc="whisper, for words said over its own voice: short stop commands are heard as such",
    )
    threads: int = _f(2, lo=1, hi=16)
    wyoming: WyomingSttSettings = _f(WyomingSttSettings())


@dataclass(frozen=True)
class StyleSettings:
    speed: float = _f(1.0, lo=0.5, hi=2.0)
    noise_scale: float = _f(0.6, lo=0.0, hi=1.0)
    noise_scale_w: float = _f(0.8, lo=0.0, hi=1.0)
    sdp_ratio: float = _f(0.2, lo=0.0, hi=1.0)


def _default_styles() -> dict[str, StyleSettings]:
    return {
        "normal": StyleSettings(1.2, 0.6, 0.8, 0.2),
        "expressive": StyleSettings(1.3, 0.8, 0.9, 0.5),
        "monotone": StyleSettings(1.0, 0.3, 0.5, 0.0),
        "urgent": StyleSettings(1.5, 0.7, 0.6, 0.3),
        "calm": StyleSettings(0.9, 0.5, 0.9, 0.1),
    }


@dataclass(frozen=True)
class WyomingTtsSettings:
    """A Wyoming TTS server (wyoming-piper) used when ``tts.engine`` is wyoming."""

    url: str = _f("", doc="tcp://HOST:PORT (or unix://PATH) of the Wyoming TTS server")
    voice: str = _f("", doc="server voice name; empty = the server's default")
    fallback: LocalTtsName = _f("espeak", doc="local engine when the server fails")
    timeout_s: float = _f(10.0, lo=0.5, hi=120.0, doc="connect and audio wait")
    skip_after_failures: int = _f(SKIP_AFTER_FAILURES, lo=1, hi=100)
    skip_s: float = _f(SKIP_S, lo=1.0, hi=3600.0, doc="how long a failing server is skipped")


@dataclass(frozen=True)
class TtsSettings:
    engine: TtsEngineName = _f("kokoro")
    voice: str = _f("", doc="engine voice/speaker; empty = engine default")
    kokoro_model: str = _f("kokoro-82m-int8", doc="manifest name of the Kokoro model")
    vits_model: str = _f("piper-es-davefx-medium", doc="manifest name of the VITS/Piper voice")
    threads: int = _f(2, lo=1, hi=16, doc="CPU threads for neural synthesis")
    rendered_cache_mb: float = _f(
        200.0, lo=10.0, hi=100000.0,
        doc="disk for rendered audio; past it the least recently used clips are deleted")
    style: str = _f("normal", doc="one of the names under styles")
    styles: dict[str, StyleSettings] = field(default_factory=_default_styles)
    wyoming: WyomingTtsSettings = _f(WyomingTtsSettings())


@dataclass(frozen=True)
class SpeakSettings:
    ewma_alpha: float = _f(0.3, lo=0.01, hi=1.0)
    margin_s: float = _f(0.3, lo=0.0, hi=5.0, doc="finish synthesis this long before needed")
    lookahead: int = _f(3, lo=1, hi=20, doc="sentences synthesized ahead at most")
    low_boost_s: float = _f(30.0, lo=1.0, hi=600.0)
    filler_no_repeat: int = _f(3, lo=0, hi=10)
    first_sentence_max_chars: int = _f(120, lo=20, hi=1000)
    max_bridge_s: float = _f(
        6.0, lo=0.0, hi=30.0, doc="at most this much 'mm' while an answer's next sentence is late")


@dataclass(frozen=True)
class LlmServerSettings:
    """An OpenAI-compatible chat-completions server (Ollama, llama.cpp's server, vLLM,
    LocalAI) asked first; the local model (``brain.llm_model``) or an apology when it fails."""

    url: str = _f("", doc='base URL ending in /v1, e.g. http://HOST:11434/v1; "" = no server')
    model: str = _f("", doc="model name as the server lists it (GET /v1/models)")
    api_key_env: str = _f("", doc="environment variable holding the API key")
    api_key_file: str = _f("", doc="file holding the API key")
    first_token_timeout_s: float = _f(
        2.5, lo=0.2, hi=60.0, doc="no first token by then: the turn goes to the fallback")
    timeout_s: float = _f(10.0, lo=0.5, hi=300.0, doc="connect, and the longest pause mid-answer")
    context_tokens: int = _f(4096, lo=256, hi=1_000_000, doc="the server model's context")
    skip_after_failures: int = _f(SKIP_AFTER_FAILURES, lo=1, hi=100)
    skip_s: float = _f(SKIP_S, lo=1.0, hi=3600.0, doc="how long a failing server is skipped")

    def resolved_api_key(self) -> str:
        """The key from env or file at call time ("" = send no Authorization header)."""
        return _secret("brain.llm_server.api_key", self.api_key_env, self.api_key_file)


@dataclass(frozen=True)
class BrainSettings:
    router_threshold: float = _f(0.6, lo=0.0, hi=1.0)
    llm_model: str = _f("gemma-3-270m", doc='manifest name; "" = no LLM (templates only)')
    llm_max_tokens: int = _f(240, lo=8, hi=4096)
    llm_context_tokens: int = _f(2048, lo=256, hi=32768)
    llm_threads: int = _f(2, lo=1, hi=16)
    context_turns: int = _f(4, lo=0, hi=50)
    filler_threshold_s: float = _f(
        0.3, lo=0.0, hi=10.0, doc="skip the filler when the answer is predicted sooner")
    timer_max_ring_s: float = _f(900.0, lo=5.0, hi=7200.0)
    home_reply_s: float = _f(3.0, lo=0.0, hi=30.0,
                             doc="home control: wait this long for Home Assistant's reply "
                                 "before the brief answer; 0 = answer at once")
    llm_server: LlmServerSettings = _f(LlmServerSettings())


@dataclass(frozen=True)
class ListenSettings:
    mode: Mode = _f("always")
    wake_word: str = _f("okay_nabu")
    sensitivity: float = _f(0.5, lo=0.0, hi=1.0)
    follow_up_s: float = _f(5.0, lo=0.0, hi=60.0)
    settle_ms: int = _f(300, lo=0, hi=5000)
    echo_cancellation: bool = _f(False, doc="the capture device cancels echo itself (hardware)")
    wake_timeout_s: float = _f(6.0, lo=1.0, hi=60.0, doc="after the wake word, wait for speech")
    stop_phrases: tuple[str, ...] = _f(
        ("para", "para para", "para ya", "basta", "basta ya", "stop", "silencio", "calla",
         "callate", "vale ya", "ya vale", "ya esta", "deja de hablar", "dejad de hablar"),
        doc="said over an answer, these stop it (accents and case do not matter)")
    barge_in_confidence: float = _f(
        0.85, lo=0.0, hi=1.0, doc="always mode: a request over an answer cuts it above this")


@dataclass(frozen=True)
class EchoSettings:
    """Software echo cancellation (WebRTC AEC3): the microphone stays open while it speaks."""

    enabled: bool = _f(False, doc="on: listen over its own voice (see the README's known "
                                  "limits); off or unavailable: input closes while it speaks")
    stream_delay_ms: int = _f(
        0, lo=0, hi=500, doc="loudspeaker-to-microphone delay beyond ALSA's; AEC3 finds the rest")
    duck_db: float = _f(-12.0, lo=-40.0, hi=0.0, doc="answer level while someone talks over it")


@dataclass(frozen=True)
class TlsSettings:
    ca_file: str = _f("")
    cert_file: str = _f("")
    key_file: str = _f("")


@dataclass(frozen=True)
class MqttSettings:
    enabled: bool = _f(False)
    host: str = _f("localhost")
    port: int = _f(1883, lo=1, hi=65535)
    tls: TlsSettings = _f(TlsSettings())
    username: str = _f("")
    password: str = _f("", doc="prefer password_env or password_file")
    password_env: str = _f("", doc="environment variable holding the password")
    password_file: str = _f("", doc="file holding the password")
    client_id: str = _f("", doc="default: <device id>-<hash of /etc/machine-id>, one per unit")
    keepalive: int = _f(30, lo=5, hi=3600)
    discovery_prefix: str = _f("homeassistant")
    base_topic: str = _f("", doc="default: appliance/<device id>")
    reconnect_min_s: float = _f(0.5, lo=0.05, hi=60.0, doc="first reconnect delay")
    reconnect_max_s: float = _f(30.0, lo=0.1, hi=600.0, doc="reconnect backoff ceiling")
    diagnostics_interval_s: float = _f(30.0, lo=1.0, hi=3600.0, doc="CPU/uptime publish period")
    max_text_chars: int = _f(1000, lo=10, hi=60000, doc="longest text a say command may carry")
    max_announcements: int = _f(5, lo=1, hi=100, doc="waiting or playing; more are refused")

    def resolved_password(self) -> str:
        """The password from env or file at call time, so secrets never sit in the YAML."""
        return _secret("mqtt.password", self.password_env, self.password_file, self.password)


@dataclass(frozen=True)
class GpioSettings:
    enabled: bool = _f(False)
    interrupt_pin: int = _f(17, lo=0, hi=63)
    ptt_pin: int = _f(27, lo=0, hi=63)
    mute_pin: int = _f(22, lo=0, hi=63)
    active_low: bool = _f(True, doc="buttons pull to ground when pressed")
    debounce_ms: int = _f(30, lo=0, hi=500)
    long_press_ms: int = _f(800, lo=100, hi=10000)
    double_press_ms: int = _f(400, lo=50, hi=2000)
    led_pins: tuple[int, ...] = _f((), doc="one pin (mono LED) or three (red, green, blue)")


@dataclass(frozen=True)
class ServiceSettings:
    heartbeat_timeout_s: float = _f(10.0, lo=0.5, hi=600.0)
    restart_backoff_s: float = _f(0.5, lo=0.0, hi=60.0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = _f("INFO")


@dataclass(frozen=True)
class Settings:
    device: DeviceSettings = _f(DeviceSettings())
    audio: AudioSettings = _f(AudioSettings())
    vad: VadSettings = _f(VadSettings())
    turn: TurnSettings = _f(TurnSettings())
    stt: SttSettings = _f(SttSettings())
    tts: TtsSettings = _f(TtsSettings())
    speak: SpeakSettings = _f(SpeakSettings())
    brain: BrainSettings = _f(BrainSettings())
    listen: ListenSettings = _f(ListenSettings())
    echo: EchoSettings = _f(EchoSettings())
    mqtt: MqttSettings = _f(MqttSettings())
    gpio: GpioSettings = _f(GpioSettings())
    service: ServiceSettings = _f(ServiceSettings())

    @property
    def state_path(self) -> Path:
        return Path(self.device.state_dir)

    @property
    def cache_path(self) -> Path:
        return Path(self.device.cache_dir)


def allowed_range(section: type, name: str) -> tuple[float, float]:
    """The inclusive range of a setting, for the faces that change it at run time (MQTT)."""
    meta = next(f.metadata for f in dataclasses.fields(section) if f.name == name)
    return meta["lo"], meta["hi"]


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (tuple, list):
        return f"a list of {_describe(typing.get_args(tp)[0])}"
    if origin is dict:
        return "a mapping"
    if dataclasses.is_dataclass(tp):
        return "a mapping with keys " + ", ".join(f.name for f in dataclasses.fields(tp))
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
        tp, str(tp)
    )


def _convert(key: str, value: Any, tp: Any, meta: typing.Mapping[str, Any]) -> Any:
    origin = typing.get_origin(tp)
    original = value
    wrong = ConfigError(f"{key}: got {value!r}, expected {_describe(tp)}")
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise wrong
        return _build(tp, value, key)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise wrong
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise wrong
        (item,) = typing.get_args(tp)[:1]
        return tuple(_convert(f"{key}[{i}]", v, item, {}) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise wrong
        _, vt = typing.get_args(tp)
        return {str(k): _convert(f"{key}.{k}", v, vt, {}) for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        raise ConfigError(f"{key}: unsupported type {tp}")
    if tp is bool:
        if not isinstance(value, bool):
            raise wrong
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong
        value = float(value)
        if not math.isfinite(value):  # NaN passes every range check: a timeout that never ends
            raise ConfigError(f"{key}: got {original!r}, expected a finite number")
    elif tp is str and not isinstance(value, str):
        raise wrong
    lo, hi = meta.get("lo"), meta.get("hi")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(f"{key}: got {original!r}, allowed range is {lo} to {hi}")
    return value


def _build(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise ConfigError(
            f"unknown key {where}{unknown[0]!s}; allowed keys here: {', '.join(sorted(fields))}"
        )
    kwargs = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        kwargs[name] = _convert(key, value, hints[name], fields[name].metadata)
    try:
        return cls(**kwargs)
    except TypeError as exc:  # pragma: no cover - defensive, fields are checked above
        raise ConfigError(f"{prefix or 'config'}: {exc}") from exc


# What MQTT topics and Home Assistant's unique ids accept ('#', '+', '/' and spaces do not).
DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _check_cross_fields(settings: Settings) -> None:
    if not DEVICE_ID.fullmatch(settings.device.id):
        raise ConfigError(f"device.id: got {settings.device.id!r}, expected 1-64 letters, digits, "
                          "'_' or '-' (it is part of every MQTT topic and Home Assistant id)")
    if settings.tts.style not in settings.tts.styles:
        raise ConfigError(
            f"tts.style: got {settings.tts.style!r}, expected one of "
            + ", ".join(repr(s) for s in settings.tts.styles)
        )
    if settings.gpio.led_pins and len(settings.gpio.led_pins) not in (1, 3):
        pins = list(settings.gpio.led_pins)
        raise ConfigError(f"gpio.led_pins: got {pins}, expected 1 or 3 pins")
    server = settings.brain.llm_server
    if server.url and not server.url.startswith(("http://", "https://")):
        raise ConfigError(f"brain.llm_server.url: got {server.url!r}, expected an http:// or "
                          "https:// base URL (e.g. http://192.168.1.10:11434/v1)")
    if server.url and not server.model:
        raise ConfigError("brain.llm_server.model: empty, but brain.llm_server.url is set; "
                          "name the model as the server lists it (GET /v1/models)")
    for section in ("stt", "tts"):
        engine, wy = getattr(settings, section).engine, getattr(settings, section).wyoming
        if wy.url and not wy.url.startswith(("tcp://", "unix://")):
            raise ConfigError(f"{section}.wyoming.url: got {wy.url!r}, expected tcp://HOST:PORT "
                              "or unix://PATH")
        if engine == "wyoming" and not wy.url:
            raise ConfigError(f"{section}.wyoming.url: empty, but {section}.engine is wyoming")


def from_dict(data: dict[str, Any] | None) -> Settings:
    """Build settings from a parsed mapping; raises ConfigError naming the bad key."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ConfigError(f"config: got {kind}, expected a mapping at the top level")
    settings = _build(Settings, data)
    _check_cross_fields(settings)
    return settings


def load(path: str | Path | None) -> Settings:
    """Load a YAML file (None = built-in defaults)."""
    if path is None:
        return from_dict({})
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start]
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start} is {bad:#04x}); save it "
                          "as UTF-8") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return from_dict(data)


def check_secrets(settings: Settings) -> None:
    """Read every secret the enabled parts need, so a missing one stops the start with one
    clear line instead of a face that retries (and never reports ready) forever."""
    if settings.mqtt.enabled:
        settings.mqtt.resolved_password()
    if settings.brain.llm_server.url:
        settings.brain.llm_server.resolved_api_key()


def replace(settings: Settings, **sections: dict[str, Any]) -> Settings:
    """A copy with some keys of some sections changed, validated like a file (used by the CLI)."""
    merged: dict[str, Any] = {}
    for name, changes in sections.items():
        current = dataclasses.asdict(getattr(settings, name))
        current.update(changes)
        merged[name] = current
    base = {
        f.name: dataclasses.asdict(getattr(settings, f.name))
        for f in dataclasses.fields(settings)
    }
    base.update(merged)
    return from_dict(base)
