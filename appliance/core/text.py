"""Text folding shared by the router, timer names and the word error rate, and what a voice
can say of a text."""

from __future__ import annotations

import re
import unicodedata

_TAG = re.compile(r"</?[A-Za-z][^<>]{0,200}>")  # SSML, HTML: '<break time="1s"/>', '</b>'
_SPACE_BEFORE_MARK = re.compile(r"\s+(?=[,.;:!?\u2026])")  # left where an emoji was dropped
# Joiners, variation selectors, keycaps and skin tones: the glue of emoji sequences.
_EMOJI_GLUE = frozenset("\u200d\ufe0e\ufe0f\u20e3") | frozenset(map(chr, range(0x1F3FB, 0x1F400)))


def strip_accents(text: str) -> str:
    """'Canción de María' -> 'Cancion de Maria' (ñ too becomes n: what people type varies)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def speakable(text: str) -> str:
    """``text`` without markup tags and emoji, spaces folded: TTS engines read
    '<break time="1s"/>' and '\U0001F35D' aloud (or by their Unicode names). Symbols people
    say ('180 \u00b0C', '5 \u20ac') stay."""
    text = _TAG.sub(" ", text)
    kept = "".join(" " if _is_emoji(c) else c for c in text)
    return _SPACE_BEFORE_MARK.sub("", " ".join(kept.split()))


def _is_emoji(c: str) -> bool:
    # Emoji, dingbats, arrows and pictographs are "other symbols" above the Latin-1 ones.
    return c in _EMOJI_GLUE or (ord(c) >= 0x2190 and unicodedata.category(c) == "So")
