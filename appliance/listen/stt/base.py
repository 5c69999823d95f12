"""The one small interface every speech-to-text engine offers.

A session is fed utterance audio while the person speaks (a streaming engine decodes as it
goes and has partial results); ``final`` closes it. ``transcribe`` is the one-shot path used
by ``appliance transcribe`` and the tests. Audio is always float32 mono 16 kHz in -1..1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from appliance.config import SttSettings
    from appliance.system.modelstore import ModelStore

RATE = 16000


class SttSession(Protocol):
    def feed(self, samples: np.ndarray) -> None:
        """More audio of the utterance."""

    def partial(self) -> str:
        """Best guess so far ("" for engines that only decode at the end)."""

    def final(self) -> str:
        """The transcript of everything fed; the session is done afterwards."""


class SttEngine(Protocol):
    name: str
    language: str
    streaming: bool  # True if partial() says something before final()

    def start(self) -> SttSession: ...

    def transcribe(self, audio: np.ndarray) -> str: ...


class BufferedSession:
    """For engines that decode whole utterances: collect audio, decode once at the end."""

    def __init__(self, engine: SttEngine) -> None:
        self._engine = engine
        self._chunks: list[np.ndarray] = []

    def feed(self, samples: np.ndarray) -> None:
        self._chunks.append(np.asarray(samples, dtype=np.float32))

    def partial(self) -> str:
        return ""

    def final(self) -> str:
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
        self._chunks = []
        return self._engine.transcribe(audio)


def load_engine(settings: SttSettings, store: ModelStore) -> SttEngine:
    """The configured engine with its model loaded (slow: call once, in a worker or CLI)."""
    if settings.engine == "whisper":
        # In-process faster-whisper, or a helper process where it cannot load (python3.13t).
        from appliance.listen.stt.whisper_proc import load_whisper

        return load_whisper(store.resolve(settings.whisper_model), settings)
    if settings.engine == "vosk":
        from appliance.listen.stt.vosk import VoskEngine

        return VoskEngine(store.resolve(settings.vosk_model), settings)
    raise ValueError(f"stt.engine: unknown engine {settings.engine!r}")
