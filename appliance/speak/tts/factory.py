"""Choosing the TTS engine from the settings, with espeak-ng as the always-there fallback.

A missing or broken neural model must not leave the speaker mute: the error is logged once,
loudly, with what to do, and espeak-ng speaks instead.
"""

from __future__ import annotations

import logging

from appliance.config import TTS_ENGINES, Settings
from appliance.core.remote import CircuitBreaker
from appliance.pipeline.contracts import ModelResolver
from appliance.speak.tts.base import TtsEngine, TtsError

log = logging.getLogger(__name__)


def _build(name: str, settings: Settings, store: ModelResolver,
           breaker: CircuitBreaker | None = None) -> TtsEngine:
    tts = settings.tts
    voice = tts.voice if name == tts.engine else ""  # a voice name belongs to one engine
    if name == "kokoro":
        from appliance.speak.tts.kokoro import KokoroEngine

        return KokoroEngine(store.resolve(tts.kokoro_model), voice=voice, threads=tts.threads)
    if name == "vits":
        from appliance.speak.tts.vits import VitsEngine

        if voice and not voice.isdigit():
            raise TtsError(f"tts.voice for vits is a speaker number, got {voice!r}")
        return VitsEngine(
            store.resolve(tts.vits_model), settings.cache_path / "tts", threads=tts.threads,
            speaker=int(voice or 0), style=tts.styles[tts.style],
        )
    if name == "espeak":
        from appliance.speak.tts.espeak import EspeakEngine

        return EspeakEngine(voice)
    if name == "wyoming":
        from appliance.speak.tts.wyoming import WyomingTtsEngine

        w = tts.wyoming
        local = create_engine(settings, store, w.fallback)
        breaker = breaker or CircuitBreaker("tts_wyoming", w.url, skip_after=w.skip_after_failures,
                                            skip_s=w.skip_s)
        return WyomingTtsEngine(w, breaker, local)
    raise TtsError(f"unknown TTS engine {name!r}; choose one of {', '.join(TTS_ENGINES)}")


def create_engine(
    settings: Settings, store: ModelResolver, engine: str | None = None, *,
    breaker: CircuitBreaker | None = None,
) -> TtsEngine:
    """The engine named by ``engine`` (default ``settings.tts.engine``), or espeak-ng when
    that one cannot be loaded. Raises TtsError only if espeak-ng itself is unusable.
    ``wyoming`` is the server with the local ``tts.wyoming.fallback`` engine behind it;
    ``breaker`` is its circuit breaker (the composition root's, reported in diagnostics)."""
    name = engine or settings.tts.engine
    if name not in TTS_ENGINES:
        raise TtsError(f"unknown TTS engine {name!r}; choose one of {', '.join(TTS_ENGINES)}")
    try:
        return _build(name, settings, store, breaker)
    except (TtsError, OSError, ValueError, RuntimeError) as exc:  # ModelMissing too
        if name == "espeak":
            raise TtsError(f"espeak-ng is unusable: {exc}") from exc
        log.error("TTS engine %r unavailable (%s); falling back to espeak-ng", name, exc)
    from appliance.speak.tts.espeak import EspeakEngine

    return EspeakEngine()
