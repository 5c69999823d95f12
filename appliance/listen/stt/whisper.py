"""faster-whisper (CTranslate2, int8 on the CPU): the Spanish engine used here.

Whisper decodes a whole window at once, so it has no partials: sessions buffer the utterance
and decode at speech end. The model is loaded once per engine object.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path

import numpy as np

from appliance.config import SttSettings
from appliance.core.text import strip_accents
from appliance.listen.stt.base import BufferedSession

# Whisper's stock hallucinations on near-silence: a segment this unsure that it heard speech
# and this unsure of its words is dropped rather than passed on as a command.
NO_SPEECH_PROB = 0.6
LOW_LOGPROB = -1.0
# Given silence or noise, Whisper repeats a sentence of its prompt ("¿Qué hora es?" from 30 s
# of silence: no_speech_prob 0.85, avg_logprob -0.76, so the rule above keeps it). Measured
# here: that echo comes with no_speech_prob 0.49-0.85; the same words spoken, 0.004-0.015.
PROMPT_ECHO_NO_SPEECH_PROB = 0.4  # between the two, nearer the echo: a real command is kept


def _words(text: str) -> str:
    return " ".join("".join(c if c.isalnum() else " " for c in strip_accents(text.lower())).split())


def prompt_echo(text: str, prompt: str | None, no_speech_prob: float) -> bool:
    """``text`` is only a sentence of ``prompt``, from audio Whisper doubts is speech."""
    if not prompt or no_speech_prob <= PROMPT_ECHO_NO_SPEECH_PROB:
        return False
    said = _words(text)
    return bool(said) and said in {_words(p) for p in re.split(r"(?<=[.?!])\s+", prompt)}


class WhisperEngine:
    name = "whisper"
    streaming = False

    def __init__(self, model_dir: str | Path, settings: SttSettings) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a model hub
        from faster_whisper import WhisperModel

        logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # one INFO per decode

        self.language = settings.language
        self.beam_size = settings.beam_size
        self.prompt = settings.prompt or None
        self._model = WhisperModel(
            str(model_dir), device="cpu", compute_type="int8", cpu_threads=settings.threads
        )
        self._lock = threading.Lock()  # one decode at a time per model

    def start(self, prompt: str | None = None) -> BufferedSession:
        return BufferedSession(self, prompt)

    def transcribe(self, audio: np.ndarray, prompt: str | None = None) -> str:
        """``prompt``: this decode's own (None: the configured one)."""
        audio = np.asarray(audio, dtype=np.float32)
        if len(audio) < 1600:  # under 0.1 s: nothing to say
            return ""
        with self._lock:
            segments, _info = self._model.transcribe(
                audio,
                language=self.language,
                beam_size=self.beam_size,
                condition_on_previous_text=False,
                initial_prompt=prompt or self.prompt,
                without_timestamps=True,
                vad_filter=False,
            )
            kept = [
                s.text.strip()
                for s in segments
                if not (s.no_speech_prob > NO_SPEECH_PROB and s.avg_logprob < LOW_LOGPROB)
                and not prompt_echo(s.text, prompt or self.prompt, s.no_speech_prob)
            ]
        return " ".join(t for t in kept if t)
