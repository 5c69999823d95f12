"""Has the person finished? The end-of-turn model on the audio, and the early transcript's words.

A fixed hangover both delays every turn and cuts a person who pauses mid-sentence ("pon un
temporizador de... quince minutos"). Instead a short pause starts two things at once: the
VAD worker runs Smart Turn v3 (a Whisper-tiny encoder trained on 23 languages; ONNX) on the
turn's audio, and the STT worker transcribes what it has. When that early transcript is ready
and the person is still silent, its words decide first: a sentence that stops on an article,
preposition or conjunction is unfinished whatever its intonation (the model alone was fooled
by "pon una alarma para las..."). Finished words end the turn at once if the model agrees,
or after ``turn.doubt_ms`` of silence if it doubts (it called "sube el volumen" unfinished);
usually the transcription itself took that long. Turns nobody decides end after
``turn.max_pause_ms``.

The model's input is the log-mel spectrogram Whisper uses, computed with faster-whisper's
``FeatureExtractor`` over the last 8 s (zero-padded in front), after zero-mean unit-variance
normalisation of the waveform.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from appliance.core.pcm import SPEECH_RATE

log = logging.getLogger("appliance.turn")

WINDOW_S = 8  # the model's input: the last 8 s of the turn
_NORM_EPS = 1e-7
# Words a Spanish sentence does not end on: articles, prepositions, conjunctions, possessive
# and demonstrative determiners. "Pon un temporizador de..." stops on one of them.
FUNCTION_WORDS = frozenset((
    "el", "la", "los", "las", "lo", "un", "una", "unos", "unas", "al", "del", "de", "a",
    "ante", "bajo", "con", "contra", "desde", "durante", "en", "entre", "hacia", "hasta",
    "mediante", "para", "por", "según", "sin", "sobre", "tras", "y", "e", "o", "u", "ni",
    "que", "pero", "sino", "porque", "pues", "si", "cuando", "donde", "como", "mi", "mis",
    "tu", "tus", "su", "sus", "nuestro", "nuestra", "nuestros", "nuestras", "vuestro",
    "vuestra", "este", "esta", "estos", "estas", "ese", "esa", "esos", "esas", "aquel",
    "aquella", "muy", "más",
))
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


class TurnModel:
    """Smart Turn v3 over onnxruntime; ``probability(audio)`` that the turn is complete.
    One owner thread (the VAD worker)."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        import onnxruntime as ort
        from faster_whisper.feature_extractor import FeatureExtractor

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), sess_options=opts)
        inputs = self._session.get_inputs()
        if [i.name for i in inputs] != ["input_features"]:
            raise ValueError(f"{path} is not a Smart Turn v3 model (inputs: "
                             f"{', '.join(i.name for i in inputs)})")
        self._features = FeatureExtractor(feature_size=80, chunk_length=WINDOW_S)
        self._window = WINDOW_S * SPEECH_RATE
        self.probability(np.zeros(SPEECH_RATE // 2, np.float32))  # a broken model fails now

    def probability(self, audio: np.ndarray) -> float:
        """``audio``: float32 16 kHz, the turn so far ending in the pause."""
        x = np.asarray(audio, dtype=np.float32)[-self._window:]
        x = np.pad(x, (self._window - len(x), 0))
        x = (x - x.mean()) / np.sqrt(x.var() + _NORM_EPS)
        mel = self._features(x.astype(np.float32), padding=0)[None]
        out = self._session.run(None, {"input_features": mel.astype(np.float32)})
        return float(np.asarray(out[0]).ravel()[0])


def load_turn_model(path: Path | None, threads: int = 1) -> TurnModel | None:
    """The model, or None (one clear log line) when it is missing or unusable: turn-taking
    then falls back to the fixed hangover (``vad.min_silence_ms``)."""
    if path is None:
        log.info("end of turn: no model configured; the fixed hangover ends each turn")
        return None
    try:
        return TurnModel(path, threads)
    except Exception as exc:
        log.error("end of turn: model %s is unusable (%s); falling back to the fixed hangover",
                  path, exc)
        return None


def unfinished(text: str) -> bool:
    """The words themselves say the sentence goes on: it trails off ("...") or stops on a
    function word. An empty transcript (noise, a breath) counts as unfinished too."""
    stripped = text.strip()
    if stripped.endswith(("...", "…")):
        return True
    words = _WORD.findall(stripped.lower())
    return not words or words[-1] in FUNCTION_WORDS
