"""Interrupt prediction: how far ahead to synthesize an answer that may be cut off.

Synthesizing sentences ahead keeps speech gap-free, but every sentence synthesized after the
point where the user interrupts is wasted CPU (on a Pi, CPU the next answer needs). The
predictor estimates p(the user interrupts the rest of this answer) at each sentence from the
sentence index, sentences remaining, answer length and this user's recent habit. Until it has
``warmup`` samples it uses the seed's rule (long answers > 5 sentences 0.6, otherwise 0.2);
then a logistic regression (numpy, no dependencies) retrained every ``retrain_every`` samples.

Policy: p > 0.7 -> look-ahead 2 sentences; p > 0.9 -> synthesize the next sentence only when
the current one is nearly done playing (its remaining time <= the next one's predicted
synthesis time plus a margin).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

N_FEATURES = 7


def features(index: int, total: int, chars: int, user_rate: float) -> np.ndarray:
    """index: sentence now playing (0-based); total: sentences known so far (>= index + 1)."""
    total = max(total, index + 1)
    remaining = total - index - 1
    long = float(total > 5)
    return np.array([index / 10.0, remaining / 10.0, total / 10.0,
                     math.log1p(max(chars, 0)) / 6.0, user_rate, long, user_rate * (1 - long)])


def rule(total: int) -> float:
    return 0.6 if total > 5 else 0.2


class LogisticModel:
    """Standardized features, batch gradient descent with a little L2: enough for 6 features."""

    def __init__(self, w: np.ndarray, b: float, mu: np.ndarray, sd: np.ndarray) -> None:
        self.w, self.b, self.mu, self.sd = w, b, mu, sd

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, *, l2: float = 1e-2, iters: int = 400,
            lr: float = 0.5) -> LogisticModel:
        mu = x.mean(axis=0)
        sd = x.std(axis=0)
        sd[sd < 1e-9] = 1.0
        z = (x - mu) / sd
        w = np.zeros(x.shape[1])
        b = float(np.log((y.mean() + 1e-3) / (1 - y.mean() + 1e-3)))
        n = len(y)
        for _ in range(iters):
            p = 1.0 / (1.0 + np.exp(-(z @ w + b)))
            err = p - y
            w -= lr * (z.T @ err / n + l2 * w)
            b -= lr * float(err.mean())
        return cls(w, b, mu, sd)

    def predict(self, x: np.ndarray) -> float:
        s = float(((x - self.mu) / self.sd) @ self.w + self.b)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, s))))


@dataclass(frozen=True)
class Plan:
    p: float
    lookahead: int  # sentences beyond the one playing that may be synthesized or queued
    wait_for_end: bool  # p > 0.9: hold the next synthesis until the current sentence nearly ends


class InterruptPredictor:
    """Thread-safe; one instance per appliance (the user's history is part of the model)."""

    def __init__(self, *, warmup: int = 50, retrain_every: int = 50, max_samples: int = 2000,
                 history: int = 5) -> None:
        self.warmup = warmup
        self.retrain_every = retrain_every
        self._x: deque[np.ndarray] = deque(maxlen=max_samples)
        self._y: deque[float] = deque(maxlen=max_samples)
        self._answers: deque[bool] = deque(maxlen=history)  # was each recent answer interrupted
        self._hits: deque[bool] = deque(maxlen=max_samples)  # prequential correctness
        self._model: LogisticModel | None = None
        self._since_train = 0
        self._lock = threading.Lock()

    def user_rate(self) -> float:
        with self._lock:
            return self._user_rate()

    def _user_rate(self) -> float:
        if not self._answers:
            return 0.3
        return sum(self._answers) / len(self._answers)

    def predict(self, index: int, total: int, chars: int) -> float:
        with self._lock:
            return self._predict(features(index, total, chars, self._user_rate()), total)

    def _predict(self, x: np.ndarray, total: int) -> float:
        return rule(total) if self._model is None else self._model.predict(x)

    def observe(self, index: int, total: int, chars: int, interrupted_later: bool) -> None:
        """One sample per sentence that started playing: was the answer cut at or after it?"""
        with self._lock:
            x = features(index, total, chars, self._user_rate())
            self._hits.append((self._predict(x, total) > 0.5) == interrupted_later)
            self._x.append(x)
            self._y.append(1.0 if interrupted_later else 0.0)
            self._since_train += 1
            if len(self._y) >= self.warmup and (
                self._model is None or self._since_train >= self.retrain_every
            ):
                y = np.array(self._y)
                if 0 < y.sum() < len(y):  # one class only: nothing to learn yet
                    self._model = LogisticModel.fit(np.stack(self._x), y)
                self._since_train = 0

    def answer_done(self, interrupted: bool) -> None:
        with self._lock:
            self._answers.append(interrupted)

    @property
    def samples(self) -> int:
        with self._lock:
            return len(self._y)

    @property
    def trained(self) -> bool:
        with self._lock:
            return self._model is not None

    def accuracy(self, skip: int = 0) -> float:
        """Share of predictions (made before seeing each label) that were right, after ``skip``."""
        with self._lock:
            hits = list(self._hits)[skip:]
        return sum(hits) / len(hits) if hits else float("nan")


def plan(p: float, base_lookahead: int) -> Plan:
    if p > 0.9:
        return Plan(p, 1, True)
    if p > 0.7:
        return Plan(p, min(2, base_lookahead), False)
    return Plan(p, base_lookahead, False)
