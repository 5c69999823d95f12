"""On-device wake word: microWakeWord models (TensorFlow Lite) through pymicro-wakeword.

The packaged models are ``okay_nabu``, ``hey_jarvis``, ``alexa`` and ``hey_mycroft``; any
microWakeWord model (a ``NAME.json`` beside its ``.tflite``) in the same directory works.
Not thread-safe: one owner (the VAD worker) feeds it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class WakeWordError(RuntimeError):
    """Unknown wake word or unusable model."""


def cutoff_for(default_cutoff: float, sensitivity: float) -> float:
    """Sensitivity 0.5 keeps the model author's cutoff; 1.0 lets 4x more doubt through
    (1 - cutoff grows 4x), 0.0 a quarter of it."""
    return float(np.clip(1 - (1 - default_cutoff) * 2 ** ((sensitivity - 0.5) * 4), 0.05, 0.999))


class WakeWordDetector:
    def __init__(self, models_dir: str | Path, word: str, sensitivity: float = 0.5) -> None:
        from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures

        config = Path(models_dir) / f"{word}.json"
        if not config.is_file():
            known = sorted(p.stem for p in Path(models_dir).glob("*.json"))
            raise WakeWordError(f"listen.wake_word: no model {word!r} in {models_dir}; "
                                f"available: {', '.join(known) or 'none'}")
        try:
            self._model = MicroWakeWord.from_config(config)
        except (OSError, ValueError, RuntimeError, KeyError) as exc:
            raise WakeWordError(f"wake word model {config} is unusable: {exc}") from exc
        self.word = word
        self.phrase = self._model.wake_word
        self.default_cutoff = self._model.probability_cutoff
        self.set_sensitivity(sensitivity)
        self._features = MicroWakeWordFeatures()
        self.detections = 0
        self.max_prob = 0.0  # highest probability since the last reset (tuning aid)

    @property
    def cutoff(self) -> float:
        return self._model.probability_cutoff

    def set_sensitivity(self, sensitivity: float) -> None:
        """Retune at run time (the owner's thread only, like ``process``)."""
        self.sensitivity = sensitivity
        self._model.probability_cutoff = cutoff_for(self.default_cutoff, sensitivity)

    def process(self, samples: np.ndarray) -> bool:
        """Feed int16 mono 16 kHz samples; True if the wake word ended in them."""
        pcm = np.asarray(samples, dtype="<i2").tobytes()
        for features in self._features.process_streaming(pcm):
            prob = self._model.process_streaming_prob(features)
            if prob is None:
                continue
            self.max_prob = max(self.max_prob, prob)
            if prob > self._model.probability_cutoff:
                self.detections += 1
                self.reset()  # one detection per utterance of the word
                return True
        return False

    def reset(self) -> None:
        self._model.reset()
        self._features.reset()
        self.max_prob = 0.0
