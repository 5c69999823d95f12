"""Builds the configured STT engine: the one module that knows every engine (no cycle between
the engines and their shared interface in ``base``)."""

from __future__ import annotations

import dataclasses
import os

from appliance.config import SttSettings
from appliance.core.remote import CircuitBreaker
from appliance.listen.stt.base import SttEngine
from appliance.listen.stt.whisper_proc import ENV
from appliance.pipeline.contracts import ModelResolver


def load_engine(settings: SttSettings, store: ModelResolver,
                breaker: CircuitBreaker | None = None) -> SttEngine:
    """The configured engine with its model loaded (slow: call once, in a worker or CLI).
    ``wyoming`` is the server with the local ``stt.wyoming.fallback`` engine behind it;
    ``breaker`` is its circuit breaker (the composition root's, reported in diagnostics)."""
    if settings.engine == "wyoming":
        from appliance.listen.stt.wyoming import WyomingSttEngine

        w = settings.wyoming
        local = dataclasses.replace(settings, engine=w.fallback)
        breaker = breaker or CircuitBreaker("stt_wyoming", w.url,
                                            skip_after=w.skip_after_failures, skip_s=w.skip_s)
        return WyomingSttEngine(settings, breaker, lambda: load_engine(local, store))
    if settings.engine == "whisper":
        return load_whisper(settings, store)
    if settings.engine == "vosk":
        from appliance.listen.stt.vosk import VoskEngine

        return VoskEngine(store.resolve(settings.vosk_model), settings)
    raise ValueError(f"stt.engine: unknown engine {settings.engine!r}")


def load_whisper(settings: SttSettings, store: ModelResolver) -> SttEngine:
    """faster-whisper in process where it loads, else in a helper process on the interpreter
    named by $APPLIANCE_WHISPER_PYTHON (python3.13t has no CTranslate2)."""
    model_dir = store.resolve(settings.whisper_model)
    try:
        import faster_whisper  # noqa: F401
    except ImportError as exc:
        python = os.environ.get(ENV)
        if not python:
            raise RuntimeError(
                f"faster-whisper cannot load on this interpreter ({exc}); set {ENV} to a "
                "Python that has it (e.g. .venv/bin/python) to run Whisper in a helper process"
            ) from exc
        from appliance.listen.stt.whisper_proc import WhisperProcessEngine

        return WhisperProcessEngine(model_dir, settings, python)
    from appliance.listen.stt.whisper import WhisperEngine

    return WhisperEngine(model_dir, settings)
