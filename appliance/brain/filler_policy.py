"""Whether to cover the LLM's thinking time with a filler ("a ver...", "un momento").

A filler is only worth it when silence would otherwise be noticed: an EWMA of the measured
time from transcript to the first complete LLM sentence predicts the wait; below the threshold
the answer itself comes soon enough and a filler would only delay it.
"""

from __future__ import annotations

import threading


class FillerPolicy:
    def __init__(self, threshold_s: float = 0.6, *, alpha: float = 0.3,
                 initial_s: float | None = None) -> None:
        self.threshold_s = threshold_s
        self.alpha = alpha
        self._predicted = initial_s  # None: nothing measured yet -> play the filler
        self._lock = threading.Lock()

    @property
    def predicted_s(self) -> float | None:
        with self._lock:
            return self._predicted

    def should_fill(self) -> bool:
        with self._lock:
            return self._predicted is None or self._predicted >= self.threshold_s

    def observe(self, first_sentence_s: float) -> None:
        """Feed the measured time to the first sentence of an LLM answer."""
        with self._lock:
            if self._predicted is None:
                self._predicted = first_sentence_s
            else:
                self._predicted += self.alpha * (first_sentence_s - self._predicted)
