"""What counts as being told to stop, said over the appliance's own voice: a stop phrase
("para", "basta ya", "silencio, por favor"; ``listen.stop_phrases``) and nothing else but
courtesy. Turn-taking ends such an utterance at once (a lone "para" looks like a sentence
trailing off on a preposition), and the brain silences the appliance on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from appliance.core.text import strip_accents

# Said around a stop phrase without changing it: "para, por favor", "oye, basta".
COURTESY = frozenset({"por", "favor", "porfa", "oye", "eh", "ya", "vale", "venga", "ahora",
                      "hombre", "mujer", "tio", "tia", "que"})


def words(text: str) -> list[str]:
    return re.findall(r"[a-zñ]+", strip_accents(text.lower()).replace("ñ", "n"))


class StopPhrases:
    """Whether an utterance is nothing but stop phrases (and courtesy around them)."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self.phrases = {tuple(words(p)) for p in phrases if words(p)}
        self.longest = max((len(p) for p in self.phrases), default=0)

    def match(self, text: str) -> bool:
        ws = tuple(words(text))
        rest = tuple(w for w in ws if w not in COURTESY)  # "ya esta": courtesy is the phrase
        return any(x and self._covers(x) for x in (ws, rest))

    def _covers(self, ws: tuple[str, ...]) -> bool:
        """``ws`` split into stop phrases, every word used (a small dynamic programme)."""
        ok = [True] + [False] * len(ws)
        for end in range(1, len(ws) + 1):
            for size in range(1, min(self.longest, end) + 1):
                if ok[end - size] and ws[end - size:end] in self.phrases:
                    ok[end] = True
                    break
        return ok[-1]
