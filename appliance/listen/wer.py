"""Word error rate with a Whisper-style normalization, for tests and benchmarks.

Case, punctuation (including ¿¡), diacritics and small numbers written as digits do not count
as errors: what matters for a voice command is the words.
"""

from __future__ import annotations

import re

from appliance.core.text import strip_accents

_NUMBERS = {
    "es": ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve",
           "diez", "once", "doce", "trece", "catorce", "quince", "dieciseis", "diecisiete",
           "dieciocho", "diecinueve", "veinte"),
    "en": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
           "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
           "eighteen", "nineteen", "twenty"),
}
_TENS = {
    "es": {30: "treinta", 40: "cuarenta", 50: "cincuenta", 60: "sesenta", 100: "cien",
           1000: "mil"},
    "en": {30: "thirty", 40: "forty", 50: "fifty", 60: "sixty", 100: "hundred",
           1000: "thousand"},
}
_ABBREV = {"en": {"mr": "mister", "mrs": "missus", "dr": "doctor"}, "es": {"sr": "senor"}}


def normalize(text: str, language: str = "es") -> list[str]:
    text = strip_accents(text.lower())
    text = re.sub(r"[-‐–—/]", " ", text)
    text = re.sub(r"[^\w\s']", " ", text).replace("'", "")
    words = []
    for w in text.split():
        if w.isdigit():
            n = int(w)
            nums, tens = _NUMBERS.get(language, ()), _TENS.get(language, {})
            w = nums[n] if n < len(nums) else tens.get(n, w)
        words.append(_ABBREV.get(language, {}).get(w, w))
    return words


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i]
        for j, h in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h)))
        prev = cur
    return prev[-1]


def wer(refs: list[str], hyps: list[str], language: str = "es") -> float:
    """Corpus WER: total edits over total reference words."""
    edits = words = 0
    for ref, hyp in zip(refs, hyps, strict=True):
        r, h = normalize(ref, language), normalize(hyp, language)
        edits += edit_distance(r, h)
        words += len(r)
    return edits / max(words, 1)
