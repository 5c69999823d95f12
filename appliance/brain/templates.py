"""Instant Spanish answers: hundreds of hand-written variations, rendered with numbers in words.

Each intent has cases (e.g. ``timer_query.many``) and each case several variations, chosen
without repeating the last one. A template without slots is *static*: its audio can be rendered
once at start (``Templates.static_texts()``). A dynamic one is split into a static *opening*
("Vale,") that can play from the pre-rendered cache at once, and the *rest* ("temporizador de
cinco minutos.") that is synthesized meanwhile. Times, dates and durations are spelled out here
("las tres y cuarto"), so the TTS never has to guess how to read "15:15".
"""

from __future__ import annotations

import datetime as dt
import random
import re
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from appliance.brain.numbers import spell

TEMPLATES_PATH = Path(__file__).parent / "data" / "templates_es.yaml"
_SLOT = re.compile(r"\{(\w+)\}")
_BREAK = re.compile(r"[,.;:!?]")
WEEKDAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
MONTHS = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
          "septiembre", "octubre", "noviembre", "diciembre")


@dataclass(frozen=True)
class Response:
    """text = opening + rest. static: no slots, the whole text can come from the audio cache."""

    intent: str
    key: str
    template: str
    text: str
    opening: str
    rest: str
    static: bool


def say_duration(seconds: int) -> str:
    """90 -> 'un minuto y medio', 4500 -> 'una hora y cuarto', 630 -> 'diez minutos y treinta
    segundos'. Rounds to the second; halves and quarters said the way people say them."""
    seconds = max(int(round(seconds)), 0)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    if h == 0 and m == 30 and s == 0:
        return "media hora"
    if h == 0 and m == 45 and s == 0:
        return "tres cuartos de hora"
    if h == 0 and m == 15 and s == 0:
        return "un cuarto de hora"
    if h == 0 and m == 0 and s == 30:
        return "medio minuto"
    parts: list[str] = []
    if h:
        parts.append(_count(h, "hora", "horas", "f"))
        frac = {30: "media", 15: "cuarto"}.get(m) if s == 0 else None
        if frac:
            return f"{parts[0]} y {frac}"
    if m:
        if not h and s == 30:
            return _count(m, "minuto", "minutos", "m") + " y medio"
        parts.append(_count(m, "minuto", "minutos", "m"))
    if s or not parts:
        parts.append(_count(s, "segundo", "segundos", "m"))
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " y " + parts[-1]


def _count(n: int, one: str, many: str, gender: str) -> str:
    return f"{spell(n, gender)} {one if n == 1 else many}"


def say_clock(t: dt.datetime | dt.time, daypart: bool = True) -> tuple[str, str]:
    """('son', 'las tres y cuarto de la tarde'): the verb agrees with the hour ('es la una')."""
    hour, minute = t.hour, t.minute
    shown = hour
    if minute > 30 and minute % 5 == 0:
        shown, tail = hour + 1, " menos cuarto" if minute == 45 else f" menos {spell(60 - minute)}"
    elif minute == 0:
        tail = " en punto"
    elif minute == 15:
        tail = " y cuarto"
    elif minute == 30:
        tail = " y media"
    else:
        tail = f" y {spell(minute)}"
    h12 = shown % 12 or 12
    article, verb = ("la", "es") if h12 == 1 else ("las", "son")
    words = "una" if h12 == 1 else spell(h12)
    part = ""
    if daypart:
        h24 = shown % 24
        if h24 < 6:
            part = " de la madrugada"
        elif h24 < 12:
            part = " de la mañana"
        elif h24 == 12:
            part = " del mediodía"
        elif h24 < 21:
            part = " de la tarde"
        else:
            part = " de la noche"
        if minute == 0 and h24 in (0, 12):
            return "es", "medianoche" if h24 == 0 else "mediodía"
    return verb, f"{article} {words}{tail}{part}"


def say_date(d: dt.date) -> dict[str, str]:
    weekday, month = WEEKDAYS[d.weekday()], MONTHS[d.month - 1]
    day = "uno" if d.day == 1 else spell(d.day)
    return {"weekday": weekday, "day": day, "month": month, "year": spell(d.year),
            "date": f"{weekday}, {day} de {month}"}


def split_opening(template: str) -> tuple[str, str]:
    """Static lead-in of a dynamic template: everything up to the last break before a slot."""
    first = template.find("{")
    if first < 0:
        return template, ""
    breaks = [m.end() for m in _BREAK.finditer(template, 0, first)]
    if not breaks:
        return "", template
    cut = breaks[-1]
    return template[:cut].strip(), template[cut:].strip()


_CONTRACT = re.compile(r"\b([Dd]e|[Aa]) el\b")
_SENTENCE = re.compile(r"([.!?]\s+[¡¿\"']?)([a-záéíóúñ])")


def _tidy(s: str) -> str:
    """Slots carry their article ("el arroz"): contract "de el" / "a el" the way Spanish
    does, and capitalise a sentence that starts with a slot."""
    def contract(m: re.Match[str]) -> str:
        word = "del" if m.group(1).lower() == "de" else "al"
        return word.capitalize() if m.group(1)[0].isupper() else word

    s = _CONTRACT.sub(contract, s)
    return _SENTENCE.sub(lambda m: m.group(1) + m.group(2).upper(), s)


def _cap(s: str) -> str:
    i = 0
    while i < len(s) and s[i] in "¡¿\"' ":
        i += 1
    return s[:i] + s[i:i + 1].upper() + s[i + 1:] if i < len(s) else s


class Templates:
    """Thread-safe: the last-choice memory is guarded by a lock."""

    def __init__(self, table: dict[str, list[str]], seed: int | None = None) -> None:
        for key, variants in table.items():
            if not variants or not all(isinstance(v, str) and v.strip() for v in variants):
                raise ValueError(f"templates: case {key!r} needs a list of non-empty strings")
        self.table = table
        self._rng = random.Random(seed)
        self._last: dict[str, int] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path = TEMPLATES_PATH, seed: int | None = None) -> Templates:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
        table: dict[str, list[str]] = {}
        for intent, cases in data.items():
            for case, variants in cases.items():
                table[f"{intent}.{case}"] = list(variants)
        return cls(table, seed)

    def __len__(self) -> int:
        return sum(len(v) for v in self.table.values())

    def static_texts(self) -> list[str]:
        """Every static answer and every static opening: what to pre-render to audio at start,
        ordered so that each case has one ready as early as possible (the brain prefers
        variants whose audio is ready): every case's first variant, then every second..."""
        per_case = [sorted({_cap(o) for o, _ in map(split_opening, variants) if o})
                    for variants in self.table.values()]
        out: dict[str, None] = {}
        for rank in range(max(map(len, per_case), default=0)):
            for texts in per_case:
                if rank < len(texts):
                    out.setdefault(texts[rank])
        return list(out)

    def cases(self) -> int:
        """How many cases have a static text: the first that many of ``static_texts()``
        cover every one of them."""
        return sum(1 for variants in self.table.values()
                   if any(split_opening(v)[0] for v in variants))

    def case(self, intent: str, slots: dict, now: dt.datetime, context: dict) -> str:
        """Which case of an intent applies, from slots and what the caller did (context)."""
        if intent == "greeting":
            h = now.hour
            return "morning" if 6 <= h < 13 else "afternoon" if 13 <= h < 21 else "night"
        if intent == "timer_set":
            if not slots.get("seconds"):
                return "no_duration"
            return "named" if slots.get("name") else "default"
        if intent == "timer_cancel":
            cancelled = context.get("cancelled")
            if cancelled is None:
                return "confirm_all" if slots.get("all") else "one"
            if not cancelled:
                return "not_found" if slots.get("name") else "none"
            if len(cancelled) > 1:
                return "all"
            return "named" if cancelled[0] else "one"
        if intent == "timer_query":
            timers = context.get("timers", [])
            if not timers:
                return "none"
            if len(timers) > 1:
                return "many"
            return "named" if timers[0].get("name") else "one"
        if intent == "timer_done":
            return "named" if slots.get("name") else "default"
        if intent in ("volume_up", "volume_down"):
            return "limit" if context.get("at_limit") else "default"
        return "default"

    def values(self, intent: str, slots: dict, now: dt.datetime, context: dict) -> dict:
        verb, clock = say_clock(now)
        vals: dict[str, str] = {"verb": verb, "time": clock, **say_date(now.date())}
        if slots.get("seconds"):
            vals["duration"] = say_duration(slots["seconds"])
            end = now + dt.timedelta(seconds=int(slots["seconds"]))
            vals["end_time"] = say_clock(end, daypart=False)[1]
        if slots.get("name"):
            vals["name"] = str(slots["name"])
        timers = context.get("timers") or []
        if timers:
            vals["remaining"] = say_duration(timers[0].get("remaining", 0))
            vals["name"] = vals.get("name") or str(timers[0].get("name") or "")
            vals["list"] = "; ".join(
                (f"{t['name']}, {say_duration(t.get('remaining', 0))}" if t.get("name") else
                 f"otro, {say_duration(t.get('remaining', 0))}") for t in timers)
            vals["count"] = spell(len(timers), "m")
        cancelled = context.get("cancelled")
        if cancelled:
            vals["count"] = spell(len(cancelled), "m")
            vals["name"] = vals.get("name") or str(cancelled[0] or "")
        if "volume" in context:
            vals["volume"] = spell(int(context["volume"])) + " por ciento"
        return vals

    def choose(self, key: str, available: set[str] | frozenset[str] = frozenset(),
               prefer: Callable[[str], bool] | None = None) -> str:
        """A variation whose slots are all available, never the one used last for this case
        (unless it is the only one); among them those whose opening ``prefer`` accepts (its
        audio is ready), if any."""
        variants = self.table[key]
        usable = [i for i, v in enumerate(variants) if set(_SLOT.findall(v)) <= available]
        if not usable:
            raise KeyError(f"no template for {key!r} with slots {sorted(available)}")
        if prefer is not None:
            ready = [i for i in usable if prefer(_cap(split_opening(variants[i])[0]))]
            usable = ready or usable
        with self._lock:
            last = self._last.get(key)
            options = [i for i in usable if i != last] or usable
            i = self._rng.choice(options)
            self._last[key] = i
        return variants[i]

    def render(self, intent: str, slots: dict | None = None, now: dt.datetime | None = None,
               context: dict | None = None, *, prefer: Callable[[str], bool] | None = None,
               avoid: frozenset[str] = frozenset()) -> Response:
        """The answer for a routed intent. context carries what the brain did: `timers`
        (list of {name, remaining} for queries), `cancelled` (names, None for unnamed),
        `volume` (0-100) and `at_limit` for volume changes. ``prefer``: is this opening's
        audio ready? ``avoid``: slots not to use (an answer rendered ahead must not name the
        minute it ends at)."""
        slots, context = slots or {}, context or {}
        now = now or dt.datetime.now()
        key = f"{intent}.{self.case(intent, slots, now, context)}"
        if key not in self.table:
            key = f"{intent}.default"
        if key not in self.table:
            raise KeyError(f"no templates for intent {intent!r}")
        vals = self.values(intent, slots, now, context)
        template = self.choose(key, {k for k, v in vals.items() if v and k not in avoid}, prefer)
        opening, rest = split_opening(template)
        rest_text = _tidy(string.Formatter().vformat(rest, (), vals)) if rest else ""
        opening = _cap(opening)
        rest_text = _cap(rest_text) if not opening or opening[-1] in ".!?" else rest_text
        text = f"{opening} {rest_text}".strip()
        return Response(intent, key, template, text, opening, rest_text, not rest)
