"""Text folding shared by the router, timer names and the word error rate."""

from __future__ import annotations

import unicodedata


def strip_accents(text: str) -> str:
    """'Canción de María' -> 'Cancion de Maria' (ñ too becomes n: what people type varies)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))
