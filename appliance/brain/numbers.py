"""Spanish numbers both ways: words -> durations for timer slots, integers -> spoken words.

The router sees normalized text (see normalize.py: lowercase, no accents, digits already spelled
out), so the parser works on word tokens; bare digits are still accepted for callers that skip
normalization. A few English words are understood too, because English speakers set timers.
"""

from __future__ import annotations

import re

_UNITS = {
    "cero": 0, "un": 1, "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5,
    "seis": 6, "siete": 7, "ocho": 8, "nueve": 9,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "zero": 0,
}
_TEENS = {
    "diez": 10, "once": 11, "doce": 12, "trece": 13, "catorce": 14, "quince": 15,
    "dieciseis": 16, "diecisiete": 17, "dieciocho": 18, "diecinueve": 19, "veinte": 20,
    "veintiun": 21, "veintiuno": 21, "veintiuna": 21, "veintidos": 22, "veintitres": 23,
    "veinticuatro": 24, "veinticinco": 25, "veintiseis": 26, "veintisiete": 27,
    "veintiocho": 28, "veintinueve": 29,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS = {
    "treinta": 30, "cuarenta": 40, "cincuenta": 50, "sesenta": 60, "setenta": 70,
    "ochenta": 80, "noventa": 90,
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}
_HUNDREDS = {
    "cien": 100, "ciento": 100, "doscientos": 200, "doscientas": 200, "trescientos": 300,
    "trescientas": 300, "cuatrocientos": 400, "cuatrocientas": 400, "quinientos": 500,
    "quinientas": 500, "seiscientos": 600, "seiscientas": 600, "setecientos": 700,
    "setecientas": 700, "ochocientos": 800, "ochocientas": 800, "novecientos": 900,
    "novecientas": 900,
}
_UNIT_SECONDS = {
    "hora": 3600, "horas": 3600, "h": 3600, "hour": 3600, "hours": 3600, "hr": 3600,
    "minuto": 60, "minutos": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "segundo": 1, "segundos": 1, "seg": 1, "segs": 1, "second": 1, "seconds": 1, "sec": 1,
    "secs": 1,
}
_SINGULAR_UNITS = {"hora", "minuto", "segundo", "hour", "minute", "second"}
_HALF = {"medio", "media", "half"}
_AND = {"y", "and"}
_ARTICLES = {"a", "an", "un", "una"}
_QUARTER = {"cuarto": 0.25, "cuartos": 0.25, "quarter": 0.25, "quarters": 0.25}
_NEXT_SMALLER = {3600: 60, 60: 1}


def parse_number(tokens: list[str], i: int) -> tuple[float, int] | None:
    """The number spelled from tokens[i]; returns (value, index after it) or None.

    Handles 0-999999 in Spanish ("cuarenta y cinco", "ciento veinte", "dos mil"), English
    ("twenty five", "one hundred"), digits and a decimal comma ("uno coma cinco").
    """
    total, cur, j, last = 0, 0, i, 4  # last: order of the previous token (3 hundreds .. 1 units)
    found = False
    while j < len(tokens):
        t = tokens[j]
        if t.isdigit() and not found:
            cur, j, found, last = int(t), j + 1, True, 0
            continue
        if t in _HUNDREDS and last > 3:
            cur, last = cur + _HUNDREDS[t], 3
        elif t in ("hundred",) and found and cur < 10:
            cur, last = cur * 100, 3
        elif t in _TENS and last > 2:
            cur, last = cur + _TENS[t], 2
            if j + 2 < len(tokens) and tokens[j + 1] in _AND and _UNITS.get(tokens[j + 2], 0) > 0:
                cur += _UNITS[tokens[j + 2]]
                j += 2
                last = 1
        elif t in _TEENS and last > 2:
            cur, last = cur + _TEENS[t], 1
        elif t in _UNITS and last > 1:
            if t in ("un", "una") and not found and not _unitish(tokens, j + 1):
                break  # an article, not a count
            cur, last = cur + _UNITS[t], 1
        elif t in ("mil", "thousand") and total == 0:
            total, cur, last = max(cur, 1) * 1000, 0, 4
        else:
            break
        found = True
        j += 1
    if not found:
        return None
    value: float = total + cur
    if j + 1 < len(tokens) and tokens[j] in ("coma", "punto", "point"):
        frac = parse_number(tokens, j + 1)
        if frac is not None and frac[0] < 10 and frac[0] == int(frac[0]):
            value += frac[0] / 10
            j = frac[1]
    return value, j


def _unitish(tokens: list[str], j: int) -> bool:
    """'un'/'una' count as 1 only before a unit or a fraction word, never as a bare article."""
    return j < len(tokens) and (
        tokens[j] in _UNIT_SECONDS or tokens[j] in _QUARTER or tokens[j] in _HALF
        or tokens[j] in ("mil", "hundred", "thousand")
    )


def _fraction_after(tokens: list[str], j: int) -> tuple[float, int]:
    """'y medio', 'y cuarto', 'y tres cuartos', 'and a half' right after a unit."""
    if j < len(tokens) and tokens[j] in _AND:
        k = j + 1
        if k < len(tokens) and tokens[k] in ("a", "an"):
            k += 1
        if k < len(tokens) and tokens[k] in _HALF:
            return 0.5, k + 1
        if k < len(tokens) and tokens[k] in ("cuarto", "quarter"):
            return 0.25, k + 1
        if k + 1 < len(tokens) and tokens[k] in ("tres", "three") and tokens[k + 1] in (
            "cuartos", "quarters",
        ):
            return 0.75, k + 2
    return 0.0, j


def _quantity(tokens: list[str], i: int) -> tuple[float, int] | None:
    """A quantity before a unit: a number, 'media', 'un cuarto de', 'tres cuartos de'."""
    if tokens[i] in _HALF:
        j = i + 1
        if j < len(tokens) and tokens[j] in ("a", "an"):  # "half an hour"
            j += 1
        return 0.5, j
    if tokens[i] in ("a", "an") and i + 1 < len(tokens) and tokens[i + 1] in _UNIT_SECONDS:
        return 1.0, i + 1
    num = parse_number(tokens, i)
    if num is None:
        if tokens[i] in ("cuarto", "quarter"):
            num = (1.0, i)
        else:
            return None
    value, j = num
    if j < len(tokens) and tokens[j] in _QUARTER:
        value, j = value * 0.25, j + 1
        while j < len(tokens) and tokens[j] in ("de", "of", "an", "a"):
            j += 1
    elif j + 1 < len(tokens) and tokens[j] in _AND and tokens[j + 1] in _HALF:
        value, j = value + 0.5, j + 2  # "dos y medio minutos"
    return value, j


def parse_duration(text: str) -> int | None:
    """Total seconds mentioned in normalized text, or None when no duration is said.

    Several components add up ("una hora y diez minutos"); a bare number after 'y' takes the
    next smaller unit ("una hora y diez" = 4200 s, "dos minutos y treinta" = 150 s); a bare
    singular unit means one ("hora y media" = 5400 s).
    """
    tokens = text.split()
    total, found, i = 0.0, False, 0
    while i < len(tokens):
        q = _quantity(tokens, i)
        if q is not None and q[1] < len(tokens) and tokens[q[1]] in _UNIT_SECONDS:
            value, j = q
        elif tokens[i] in _SINGULAR_UNITS and _bare_unit_counts(tokens, i):
            value, j = 1.0, i
        else:
            i += 1
            continue
        unit = _UNIT_SECONDS[tokens[j]]
        total += value * unit
        found = True
        frac, k = _fraction_after(tokens, j + 1)
        total += frac * unit
        if frac == 0 and k < len(tokens) and tokens[k] in _AND and unit in _NEXT_SMALLER:
            rest = parse_number(tokens, k + 1)
            if rest is not None and (rest[1] >= len(tokens) or tokens[rest[1]] not in
                                     _UNIT_SECONDS and tokens[rest[1]] not in _QUARTER):
                total += rest[0] * _NEXT_SMALLER[unit]
                k = rest[1]
        i = max(k, j + 1)
    return int(round(total)) if found and total > 0 else None


def _bare_unit_counts(tokens: list[str], i: int) -> bool:
    """'hora y media' means one and a half hours; 'qué hora es' means no duration at all."""
    if _fraction_after(tokens, i + 1)[0] > 0:
        return True
    return (i + 2 < len(tokens) and tokens[i + 1] in _AND
            and parse_number(tokens, i + 2) is not None)


_NAME_STOP = {
    "de", "del", "y", "en", "por", "favor", "un", "una", "minuto", "minutos", "hora", "horas",
    "segundo", "segundos", "temporizador", "alarma", "que", "ya", "ahora", "timer", "please",
    "cuanto", "cuantos", "queda", "quedan", "le", "falta", "faltan", "for", "the", "a",
    "porfa", "gracias", "timers", "alarm",
}
_WORDS = r"(?=([a-zñ]+(?:\s+[a-zñ]+)?))"  # a lookahead, so one match never hides the next
_NAME_PATTERNS = [
    re.compile(r"\b(?:para|de)\s+(el|la|los|las)\s+" + _WORDS),
    re.compile(r"\b(?:llamado|llamada|que se llame|con el nombre|called|named)\s+()" + _WORDS),
    re.compile(r"\bdel\s+()" + _WORDS),
    re.compile(r"\bfor\s+(the)\s+" + _WORDS),
]


def parse_timer_name(text: str) -> str | None:
    """The timer's name with its article, as the user said it: 'la pasta', 'los huevos'.

    Matching a name later ("cancela el de la pasta") compares this same normalized form.
    """
    for pat in _NAME_PATTERNS:
        for m in pat.finditer(text):
            article, words = m.group(1), m.group(2).split()
            kept: list[str] = []
            for w in words:
                if w in _NAME_STOP or w in _UNIT_SECONDS or parse_number([w], 0) or w in _HALF:
                    break
                kept.append(w)
            if kept:
                if m.group(0).startswith("del"):
                    article = "el"
                return " ".join([article, *kept]).strip()
    return None


# -- integers -> Spanish words -------------------------------------------------------------

_SPELL_UNITS = ["cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho",
                "nueve", "diez", "once", "doce", "trece", "catorce", "quince", "dieciséis",
                "diecisiete", "dieciocho", "diecinueve", "veinte", "veintiuno", "veintidós",
                "veintitrés", "veinticuatro", "veinticinco", "veintiséis", "veintisiete",
                "veintiocho", "veintinueve"]
_SPELL_TENS = {30: "treinta", 40: "cuarenta", 50: "cincuenta", 60: "sesenta", 70: "setenta",
               80: "ochenta", 90: "noventa"}
_SPELL_HUNDREDS = {1: "ciento", 2: "doscientos", 3: "trescientos", 4: "cuatrocientos",
                   5: "quinientos", 6: "seiscientos", 7: "setecientos", 8: "ochocientos",
                   9: "novecientos"}


def spell(n: int, gender: str = "") -> str:
    """n in Spanish words. gender '' gives 'uno', 'm' the apocope 'un' (before a masculine
    noun: 'veintiún minutos'), 'f' gives 'una' ('veintiuna horas', 'doscientas')."""
    if n < 0:
        return "menos " + spell(-n, gender)
    if n >= 1_000_000:
        millions, rest = divmod(n, 1_000_000)
        head = "un millón" if millions == 1 else spell(millions, "m") + " millones"
        return head + (" " + spell(rest, gender) if rest else "")
    if n >= 1000:
        thousands, rest = divmod(n, 1000)
        head = "mil" if thousands == 1 else spell(thousands, "m") + " mil"
        return head + (" " + spell(rest, gender) if rest else "")
    if n >= 100:
        h, rest = divmod(n, 100)
        if n == 100:
            return "cien"
        word = _SPELL_HUNDREDS[h]
        if gender == "f" and h > 1:
            word = word[:-2] + "as"
        return word + (" " + spell(rest, gender) if rest else "")
    if n >= 30:
        t, u = divmod(n, 10)
        return _SPELL_TENS[t * 10] + (" y " + spell(u, gender) if u else "")
    word = _SPELL_UNITS[n]
    if word.endswith("uno") and gender:
        word = word[:-1] if gender == "m" else word[:-1] + "a"
        word = word.replace("veintiun", "veintiún") if gender == "m" else word
    return word
