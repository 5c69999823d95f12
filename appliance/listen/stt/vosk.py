"""Vosk (Kaldi): streaming recognition with partial results and an optional phrase grammar.

The device uses a small Spanish model; any Vosk model directory works the same way.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from appliance.config import SttSettings
from appliance.core.pcm import SPEECH_RATE, to_int16


class VoskSession:
    """One utterance: audio fed as it arrives, decoded incrementally by Kaldi."""

    def __init__(self, engine: VoskEngine) -> None:
        self._rec = engine.recognizer()
        self._done: list[str] = []  # text of endpoints Kaldi found inside the utterance
        self._partial = ""

    def feed(self, samples: np.ndarray) -> None:
        pcm = to_int16(np.asarray(samples, np.float32))
        if self._rec.AcceptWaveform(pcm.tobytes()):
            self._keep(json.loads(self._rec.Result()).get("text", ""))
            self._partial = ""
        else:
            self._partial = json.loads(self._rec.PartialResult()).get("partial", "")

    def partial(self) -> str:
        return " ".join([*self._done, self._partial]).strip()

    def early(self) -> str:
        return self.partial()

    def final(self) -> str:
        self._keep(json.loads(self._rec.FinalResult()).get("text", ""))
        self._partial = ""
        return " ".join(self._done)

    def _keep(self, text: str) -> None:
        text = text.replace("[unk]", "").strip()  # out-of-grammar speech: nothing usable
        if text:
            self._done.append(" ".join(text.split()))


class VoskEngine:
    name = "vosk"
    streaming = True

    def __init__(self, model_dir: str | Path, settings: SttSettings) -> None:
        import vosk

        vosk.SetLogLevel(-1)
        self.language = settings.language
        self.grammar = tuple(settings.grammar)
        self._model = vosk.Model(str(model_dir))
        self._vosk = vosk
        self._lock = threading.Lock()

    def recognizer(self) -> Any:  # vosk.KaldiRecognizer
        with self._lock:  # the model is shared; recognizer creation touches it
            if self.grammar:
                # "[unk]" lets out-of-grammar speech come out as unknown, not a forced match.
                phrases = json.dumps([*self.grammar, "[unk]"], ensure_ascii=False)
                return self._vosk.KaldiRecognizer(self._model, SPEECH_RATE, phrases)
            return self._vosk.KaldiRecognizer(self._model, SPEECH_RATE)

    def start(self, prompt: str | None = None) -> VoskSession:
        return VoskSession(self)  # a grammar, not a prompt, biases Kaldi

    def transcribe(self, audio: np.ndarray, prompt: str | None = None) -> str:
        session = self.start()
        audio = np.asarray(audio, dtype=np.float32)
        for i in range(0, len(audio), 8000):
            session.feed(audio[i : i + 8000])
        return session.final()
