"""One canonical form for transcripts, so Vosk and Whisper output route the same way.

Vosk gives "pon un temporizador de cinco minutos"; Whisper gives "¿Pon un temporizador de 5
minutos?". Both become "pon un temporizador de cinco minutos": lowercase, no accents (ñ -> n),
no punctuation (¿¡ included), digits spelled out in Spanish words, single spaces.
"""

from __future__ import annotations

import re

from appliance.brain.numbers import spell
from appliance.core.text import strip_accents

_ANY_DIGIT = re.compile(r"\d")
_CLOCK = re.compile(r"\b(\d{1,2})[:.h](\d{2})\b")
_THOUSANDS = re.compile(r"\b\d{1,3}(?:\.\d{3})+\b")
_DECIMAL = re.compile(r"\b(\d+)[,.](\d+)\b")
_DIGITS = re.compile(r"\d+(?=\s*([a-záéíóúñ]*))")
_FEMININE = ("hora", "horas", "persona", "personas", "taza", "tazas", "vez", "veces")
# "5min" -> "5 min". A plain replacement at a lookaround, not a "\1 \2" template: re compiles
# templates through an lru_cache whose lock the free-threaded build takes on every sub().
_GLUED_UNIT = re.compile(r"(?<=\d)(?=(?:h|min|mins|s|seg|segs)\b)")
_NO_APOSTROPHES = str.maketrans("", "", "'’`´")
_NON_WORD = re.compile(r"[^a-z0-9ñ ]+")

# The character steps of normalize() (strip_accents, drop apostrophes, other punctuation to a
# space), precomputed per character for the ones transcripts are made of (ASCII, Latin letters,
# Latin-1 symbols, general punctuation): one str.translate instead of a Python loop over every
# character and three more passes. A total table, because translate() raises and clears a
# KeyError for every character a table lacks; None (delete) rather than "" keeps translate on
# its ASCII fast path. Text with any other character takes the steps themselves. Same result:
# NFKD decomposes each character on its own and only reorders combining marks, which
# strip_accents drops anyway, and runs of spaces are collapsed at the end either way.
_ROUTE_FORM = {
    c: _NON_WORD.sub(" ", strip_accents(chr(c)).translate(_NO_APOSTROPHES)) or None
    for c in (*range(0x250), *range(0x2000, 0x2070))
}
_NOT_IN_TABLE = re.compile("[^\x00-\u024f\u2000-\u206f]")


def _clock(m: re.Match[str]) -> str:
    minutes = int(m.group(2))
    tail = " en punto" if minutes == 0 else f" {m.group(2).lstrip('0') or '0'}"
    return f"{int(m.group(1))}{tail}"


def _spell_digits(text: str) -> str:
    text = _CLOCK.sub(_clock, text)
    text = _THOUSANDS.sub(lambda m: m.group(0).replace(".", ""), text)
    text = _DECIMAL.sub(lambda m: f"{m.group(1)} coma {m.group(2).lstrip('0') or '0'}", text)
    text = _GLUED_UNIT.sub(" ", text)
    return _DIGITS.sub(_number_words, text)


def _number_words(m: re.Match[str]) -> str:
    """'1 hora' -> 'una hora', '21 minutos' -> 'veintiun minutos': as Vosk writes them."""
    n, nxt = int(m.group(0)), m.group(1)
    gender = ("f" if nxt in _FEMININE else "m") if nxt and nxt not in ("y", "coma") else ""
    return f" {spell(n, gender)} "


def normalize(text: str) -> str:
    """The canonical routing form of a transcript (see module docstring)."""
    text = text.lower()
    if _ANY_DIGIT.search(text) is not None:  # most transcripts have none: skip five passes
        text = _spell_digits(text)
    if _NOT_IN_TABLE.search(text) is None:
        text = text.translate(_ROUTE_FORM)
    else:
        text = _NON_WORD.sub(" ", strip_accents(text).translate(_NO_APOSTROPHES))
    return " ".join(text.split())


_ES = (
    "el la los las de del que y en un una por para con es son pon me te se lo al mi tu "
    "hola gracias adios si no cuanto cuantos cuanta que como donde hora minutos dia hoy "
    "temporizador quita cancela sube baja volumen buenos buenas vale hasta luego eres "
    "estas esta hay puedes dime quien cual porque muy mas"
)
_EN = (
    "the a an of to is are what whats how who you your my me i set timer minutes hour "
    "please thanks thank hello hi bye goodbye yes no stop turn up down volume day today "
    "time it its for and in on can could tell do does many much long left cancel"
)
# Dicts, not frozensets: on the free-threaded build every `in` on a set locks the set (3.13t),
# so two threads detecting the language wrote to one shared lock word per word; a dict lookup
# writes nothing when its values are immortal (None).
_ES_WORDS, _EN_WORDS = dict.fromkeys(_ES.split()), dict.fromkeys(_EN.split())


def detect_lang(norm: str) -> str:
    """'es' or 'en' from function words; ties go to Spanish, the appliance's first language."""
    words = norm.split()
    es = sum(map(_ES_WORDS.__contains__, words))  # no per-word load of the shared tables
    en = sum(map(_EN_WORDS.__contains__, words))
    return "en" if en > es else "es"
