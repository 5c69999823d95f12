"""`appliance doctor`: every precondition of a working appliance, checked for real.

Each check opens the real thing (the ALSA PCM, the model files, a broker connection, a GPIO
pin factory) and says in words how to fix what fails. Required failures make the exit status
non-zero; optional ones (a disabled feature, a GIL build) are shown but do not.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from appliance.config import Settings
from appliance.system.interp import free_threaded_build, gil_enabled
from appliance.system.modelstore import ModelMissing, ModelStore, load_manifest, wakeword_entry

MIN_FREE_MB = 200


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True

    @property
    def mark(self) -> str:
        return "ok" if self.ok else ("FAIL" if self.required else "warn")


def check_interpreter() -> Check:
    impl = f"{sys.implementation.name} {sys.version.split()[0]}"
    free_threaded = free_threaded_build()
    gil_on = gil_enabled()
    if free_threaded and not gil_on:
        return Check("interpreter", True, f"{impl}, free-threaded, GIL disabled", required=False)
    why = "free-threaded build, but a module re-enabled the GIL" if free_threaded else "GIL build"
    fix = ("start with PYTHON_GIL=0 (pyalsaaudio and vosk re-enable it at import)"
           if free_threaded else "works; a free-threaded 3.13t build overlaps the stages better")
    return Check("interpreter", False, f"{impl}, GIL enabled ({why})", fix, required=False)


def check_pcm(settings: Settings, playback: bool) -> Check:
    from appliance.audio.alsa import OpenProbe, PcmSpec

    a = settings.audio
    what = "playback device" if playback else "capture device"
    device = a.playback_device if playback else a.capture_device
    rate = a.playback_rate if playback else a.sample_rate
    period_ms = a.playback_period_ms if playback else a.period_ms
    spec = PcmSpec(device, rate, period_frames=max(1, rate * period_ms // 1000))
    # In a child process, as the service opens a device it does not know to answer: a device
    # that hangs makes this check fail after a few seconds instead of hanging the doctor.
    error = OpenProbe(spec, playback=playback, timeout_s=5.0).wait()
    if error:
        key = "audio.playback_device" if playback else "audio.capture_device"
        lister = "aplay -L" if playback else "arecord -L"
        return Check(what, False, error,
                     f"set {key} to a PCM from `{lister}`, install the board's "
                     "hardware/<board>/asound.conf as /etc/asound.conf, and check the user is in "
                     "group audio")
    return Check(what, True, f"{device!r} opens at {rate} Hz mono S16_LE")


def models_needed(settings: Settings, specs: Collection[str] | None = None) -> list[str]:
    """Manifest names the configured pipeline loads (``specs``: the manifest's names)."""
    names = [settings.vad.model]
    if settings.turn.model:
        names.append(settings.turn.model)
    stt = settings.stt
    stt_local = stt.wyoming.fallback if stt.engine == "wyoming" else stt.engine  # the server's
    names.append(stt.whisper_model if stt_local == "whisper" else stt.vosk_model)  # stand-in
    tts = settings.tts
    tts_local = tts.wyoming.fallback if tts.engine == "wyoming" else tts.engine
    if tts_local == "kokoro":
        names.append(tts.kokoro_model)
    elif tts_local == "vits":
        names.append(tts.vits_model)
    if settings.brain.llm_model:  # "" = no LLM: open questions get a spoken apology
        names.append(settings.brain.llm_model)
    if settings.listen.mode == "wake_word":
        names.append(wakeword_entry(settings.listen.wake_word,
                                    load_manifest() if specs is None else specs))
    return list(dict.fromkeys(names))


def check_models(settings: Settings, store: ModelStore) -> list[Check]:
    from appliance.system.verify import verify_model

    out = []
    for name in models_needed(settings, store.specs):
        try:
            v = verify_model(store, name)
        except ModelMissing as exc:
            out.append(Check(f"model {name}", False, str(exc),
                             "fix the model name in the config or add it to models/manifest.yaml"))
            continue
        fix = "" if v.ok else v.detail.split("; ")[-1]
        out.append(Check(f"model {name}", v.ok, v.detail, fix))
    tts = settings.tts
    if (tts.wyoming.fallback if tts.engine == "wyoming" else tts.engine) == "espeak" \
            and shutil.which("espeak-ng") is None:
        out.append(Check("espeak-ng", False, "not installed", "apt-get install espeak-ng"))
    return out


def check_broker(settings: Settings, timeout: float = 5.0) -> Check:
    m = settings.mqtt
    if not m.enabled:
        return Check("mqtt broker", True, "disabled (mqtt.enabled: false)", required=False)
    import ssl

    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    where = f"{m.host}:{m.port}" + (" (TLS)" if m.tls.ca_file else "")
    done = threading.Event()
    result: dict[str, str] = {}

    def on_connect(_c: object, _u: object, _f: object, reason: object, _p: object) -> None:
        result["reason"] = str(reason)
        result["failure"] = "1" if getattr(reason, "is_failure", False) else ""
        done.set()

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{settings.device.id}-doctor")
    client.on_connect = on_connect
    try:
        if m.username:
            client.username_pw_set(m.username, m.resolved_password())
        if m.tls.ca_file:
            client.tls_set(ca_certs=m.tls.ca_file, certfile=m.tls.cert_file or None,
                           keyfile=m.tls.key_file or None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        client.connect(m.host, m.port, keepalive=10)
    except Exception as exc:  # socket, TLS and credential errors all end up here
        return Check("mqtt broker", False, f"{where}: cannot connect: {exc}",
                     "check mqtt.host/port, that the broker runs and the firewall; for TLS "
                     "check mqtt.tls.ca_file")
    client.loop_start()
    try:
        if not done.wait(timeout):
            return Check("mqtt broker", False, f"{where}: no CONNACK within {timeout:.0f} s",
                         "is this port an MQTT listener (TLS vs plain)?")
    finally:
        client.disconnect()
        client.loop_stop()
    if result["failure"]:
        return Check("mqtt broker", False, f"{where}: refused: {result['reason']}",
                     "check mqtt.username and the password (password_env / password_file)")
    who = f" as {m.username!r}" if m.username else " (anonymous)"
    return Check("mqtt broker", True, f"{where}: connected{who}")


def check_gpio(settings: Settings) -> Check:
    if not settings.gpio.enabled:
        return Check("gpio", True, "disabled (gpio.enabled: false)", required=False)
    import warnings

    with warnings.catch_warnings(record=True) as tried:  # each factory gpiozero fell back from
        warnings.simplefilter("always")
        try:
            from gpiozero import Device

            factory = Device.pin_factory or Device._default_pin_factory()
            pin = factory.pin(settings.gpio.interrupt_pin)
            pin.close()
        except Exception as exc:
            reasons = "; ".join(str(w.message) for w in tried)
            failed: Exception | None = exc
        else:
            failed = None
    if failed is not None:
        return Check("gpio", False, f"no usable pin factory: {failed} ({reasons})",
                     "on the board: apt-get install python3-lgpio (or pip install lgpio), "
                     "user in group gpio, /dev/gpiochip* readable (hardware/udev rules)")
    return Check("gpio", True, f"{type(factory).__name__}, pin {settings.gpio.interrupt_pin} ok")


def check_disk(settings: Settings) -> Check:
    path = settings.state_path.resolve()
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free_mb = shutil.disk_usage(probe).free // 1_000_000
    writable = os.access(probe, os.W_OK)
    detail = f"{path}: {free_mb} MB free" + ("" if writable else ", not writable")
    if free_mb < MIN_FREE_MB or not writable:
        return Check("state dir", False, detail,
                     f"free at least {MIN_FREE_MB} MB and make device.state_dir writable by the "
                     "service user (systemd: StateDirectory=)")
    return Check("state dir", True, detail)


def run_checks(settings: Settings, store: ModelStore | None = None,
               extra: Sequence[Callable[[], Check]] = ()) -> list[Check]:
    """Every check in order; ``extra``: checks of the pipeline's own parts that this layer
    cannot import (the remote endpoints: the composition root's ``endpoint_checks``)."""
    store = store or ModelStore(settings.cache_path)
    checks: list[Callable[[], Check | list[Check]]] = [
        check_interpreter,
        lambda: check_pcm(settings, playback=False),
        lambda: check_pcm(settings, playback=True),
        lambda: check_models(settings, store),
        lambda: check_broker(settings),
        lambda: check_gpio(settings),
        lambda: check_disk(settings),
        *extra,
    ]
    out: list[Check] = []
    for fn in checks:
        try:
            got = fn()
        except Exception as exc:  # a crashing check is a failed check, not a crashed doctor
            got = Check(getattr(fn, "__name__", "check"), False, f"check crashed: {exc!r}")
        out.extend(got if isinstance(got, list) else [got])
    return out


def render(checks: list[Check]) -> str:
    rows = [("CHECK", "", "DETAIL")] + [(c.name, c.mark, c.detail) for c in checks]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    lines = [f"{a.ljust(w0)}  {b.ljust(w1)}  {c}".rstrip() for a, b, c in rows]
    fixes = [c for c in checks if not c.ok and c.fix]
    if fixes:
        lines.append("")
        lines += [f"{'FIX' if c.required else 'tip'} {c.name}: {c.fix}" for c in fixes]
    failed = sum(1 for c in checks if c.required and not c.ok)
    lines.append("")
    lines.append(f"{failed} required check(s) failed" if failed else "all required checks passed")
    return "\n".join(lines)


def exit_status(checks: list[Check]) -> int:
    return 1 if any(c.required and not c.ok for c in checks) else 0

