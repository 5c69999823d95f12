"""Short Spanish fillers ("a ver", "un momento") that cover the LLM's thinking time.

All of them are rendered at start with the active engine and style (disk-cached, so a restart
synthesizes nothing), so playing one costs no synthesis. A pick never repeats any of the last
few picks, so the speaker does not sound like a loop.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

from appliance.config import StyleSettings
from appliance.speak.rendered import RenderedAudioCache

FILLERS: dict[str, tuple[str, ...]] = {
    "thinking": ("déjame pensar", "veamos", "a ver", "mm", "hmm"),
    "waiting": ("un momento", "espera", "enseguida", "ya casi", "un segundo"),
    "confirming": ("entiendo", "vale", "ok", "claro", "perfecto"),
    "generic": ("hmm", "eh", "mmm"),
    # Short enough to slip between two sentences whose second is a moment late.
    "bridge": ("mm", "eh", "a ver", "pues", "hmm"),
}

# What the engine is given for interjections espeak-ng would otherwise spell out letter by
# letter ("mm" -> "eme eme"): espeak's own phoneme notation, understood by every engine here
# (espeak directly; Kokoro and Piper through espeak's IPA).
SPOKEN: dict[str, str] = {"mm": "[[m:]]", "hmm": "[[hm:]]", "mmm": "[[m:m:]]", "ok": "okey"}


@dataclass(frozen=True)
class Filler:
    text: str
    category: str
    audio: np.ndarray  # float32 mono at sample_rate, read-only
    sample_rate: int


class FillerBank:
    """Rendered fillers plus a non-repeating picker; safe to call from any thread."""

    def __init__(
        self,
        cache: RenderedAudioCache,
        style: StyleSettings,
        no_repeat: int = 3,
        rng: random.Random | None = None,
    ) -> None:
        self.cache = cache
        self.style = style
        self.no_repeat = no_repeat
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._recent: deque[str] = deque(maxlen=max(1, no_repeat))
        self._audio: dict[str, np.ndarray] = {}

    @property
    def sample_rate(self) -> int:
        return self.cache.engine.sample_rate

    def prepare(self) -> None:
        """Render every filler now (disk cache first) so picks never wait on synthesis."""
        for text in sorted({t for texts in FILLERS.values() for t in texts}):
            audio = self.cache.render(SPOKEN.get(text, text), self.style)
            with self._lock:
                self._audio[text] = audio

    def pick_ready(self, category: str) -> Filler | None:
        """Like ``pick``, but only among fillers already rendered (it never synthesizes: the
        priority queue calls it with its lock held); None if none is ready yet."""
        texts = FILLERS[category]
        with self._lock:
            rendered = [t for t in texts if t in self._audio]
            if not rendered:
                return None
            window = min(self.no_repeat, len(texts) - 1)
            recent = list(self._recent)[-window:] if window > 0 else []
            text = self._rng.choice([t for t in rendered if t not in recent] or rendered)
            if self.no_repeat > 0:
                self._recent.append(text)
            return Filler(text, category, self._audio[text], self.sample_rate)

    def pick(self, category: str = "thinking") -> Filler:
        """A filler of ``category`` not among the last ``no_repeat`` picks (any category).

        A category with n fillers can only avoid its last n-1, so the window is clamped there.
        """
        try:
            texts = FILLERS[category]
        except KeyError:
            raise ValueError(
                f"unknown filler category {category!r}; choose one of {', '.join(FILLERS)}"
            ) from None
        with self._lock:
            window = min(self.no_repeat, len(texts) - 1)
            recent = list(self._recent)[-window:] if window > 0 else []
            choices = [t for t in texts if t not in recent]
            text = self._rng.choice(choices)
            if self.no_repeat > 0:
                self._recent.append(text)
            audio = self._audio.get(text)
        if audio is None:  # not prepared: render now (cached for next time)
            audio = self.cache.render(SPOKEN.get(text, text), self.style)
            with self._lock:
                self._audio[text] = audio
        return Filler(text, category, audio, self.sample_rate)
