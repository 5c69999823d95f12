"""The one small interface every speech-to-text engine offers.

A session is fed utterance audio while the person speaks (a streaming engine decodes as it
goes and has partial results); ``final`` closes it. ``transcribe`` is the one-shot path used
by ``appliance transcribe`` and the tests. Audio is always float32 mono 16 kHz in -1..1.
A ``prompt`` (text the decoder continues from) biases an engine that can use one toward the
words expected (the stop phrases, over the appliance's own voice); others ignore it.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class SttSession(Protocol):
    def feed(self, samples: np.ndarray) -> None:
        """More audio of the utterance."""

    def partial(self) -> str:
        """Best guess so far ("" for engines that only decode at the end)."""

    def early(self) -> str:
        """The transcript of everything fed so far, leaving the session open (at a pause:
        for engines that decode whole utterances this is a full decode)."""

    def final(self) -> str:
        """The transcript of everything fed; the session is done afterwards."""


class SttEngine(Protocol):
    name: str
    language: str
    streaming: bool  # True if partial() says something before final()

    def start(self, prompt: str | None = None) -> SttSession: ...

    def transcribe(self, audio: np.ndarray, prompt: str | None = None) -> str: ...


class PromptedEngine(Protocol):
    def transcribe(self, audio: np.ndarray, prompt: str | None = None) -> str: ...


class BufferedSession:
    """For engines that decode whole utterances: collect audio, decode once at the end."""

    def __init__(self, engine: PromptedEngine, prompt: str | None = None) -> None:
        self._engine = engine
        self._prompt = prompt
        self._chunks: list[np.ndarray] = []

    def feed(self, samples: np.ndarray) -> None:
        self._chunks.append(np.asarray(samples, dtype=np.float32))

    def partial(self) -> str:
        return ""

    def early(self) -> str:
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
        return self._engine.transcribe(audio, self._prompt)

    def final(self) -> str:
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
        self._chunks = []
        return self._engine.transcribe(audio, self._prompt)
