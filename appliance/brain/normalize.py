"""One canonical form for transcripts, so Vosk and Whisper output route the same way.

Vosk gives "pon un temporizador de cinco minutos"; Whisper gives "¿Pon un temporizador de 5
minutos?". Both become "pon un temporizador de cinco minutos": lowercase, no accents (ñ -> n),
no punctuation (¿¡ included), digits spelled out in Spanish words, single spaces.
"""

from __future__ import annotations

import re

from appliance.brain.numbers import spell
from appliance.core.text import strip_accents

_CLOCK = re.compile(r"\b(\d{1,2})[:.h](\d{2})\b")
_THOUSANDS = re.compile(r"\b\d{1,3}(?:\.\d{3})+\b")
_DECIMAL = re.compile(r"\b(\d+)[,.](\d+)\b")
_DIGITS = re.compile(r"\d+(?=\s*([a-záéíóúñ]*))")
_FEMININE = ("hora", "horas", "persona", "personas", "taza", "tazas", "vez", "veces")
_GLUED_UNIT = re.compile(r"(\d)(h|min|mins|s|seg|segs)\b")
_APOSTROPHE = re.compile(r"['’`´]")
_NON_WORD = re.compile(r"[^a-z0-9ñ ]+")
_SPACES = re.compile(r"\s+")


def _clock(m: re.Match[str]) -> str:
    minutes = int(m.group(2))
    tail = " en punto" if minutes == 0 else f" {m.group(2).lstrip('0') or '0'}"
    return f"{int(m.group(1))}{tail}"


def _spell_digits(text: str) -> str:
    text = _CLOCK.sub(_clock, text)
    text = _THOUSANDS.sub(lambda m: m.group(0).replace(".", ""), text)
    text = _DECIMAL.sub(lambda m: f"{m.group(1)} coma {m.group(2).lstrip('0') or '0'}", text)
    text = _GLUED_UNIT.sub(r"\1 \2", text)
    return _DIGITS.sub(_number_words, text)


def _number_words(m: re.Match[str]) -> str:
    """'1 hora' -> 'una hora', '21 minutos' -> 'veintiun minutos': as Vosk writes them."""
    n, nxt = int(m.group(0)), m.group(1)
    gender = ("f" if nxt in _FEMININE else "m") if nxt and nxt not in ("y", "coma") else ""
    return f" {spell(n, gender)} "


def normalize(text: str) -> str:
    """The canonical routing form of a transcript (see module docstring)."""
    text = _spell_digits(text.lower())
    text = strip_accents(text)
    text = _APOSTROPHE.sub("", text)
    text = _NON_WORD.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


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
_ES_WORDS, _EN_WORDS = frozenset(_ES.split()), frozenset(_EN.split())


def detect_lang(norm: str) -> str:
    """'es' or 'en' from function words; ties go to Spanish, the appliance's first language."""
    words = norm.split()
    es = sum(w in _ES_WORDS for w in words)
    en = sum(w in _EN_WORDS for w in words)
    return "en" if en > es else "es"
