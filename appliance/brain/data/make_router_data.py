"""Generate router_train.jsonl: hand-written paraphrase patterns x slot fillers, seeded.

Run: .venv/bin/python -m appliance.brain.data.make_router_data  (rewrites the .jsonl; commit it)

Every pattern is a "group"; the router holds out whole groups, so its held-out accuracy is on
sentence shapes it never trained on. Each example is written in one of two STT styles: Whisper
(cased, punctuation, ¿¡, digits) or Vosk (lowercase, no punctuation, numbers in words).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

from appliance.brain.data.router_patterns import (
    AREAS,
    CONTEXTUAL,
    DURATIONS,
    FOODS,
    GREETS,
    HOME,
    MORE,
    NAMES,
    PATTERNS,
    PCTS,
    PLACES,
    TEMPS,
    TOPICS,
)

OUT = Path(__file__).with_name("router_train.jsonl")
SEED = 4
PER_PATTERN = 6


def vosk_style(text: str) -> str:
    """Lowercase, no punctuation: what Vosk's Spanish model prints."""
    text = re.sub(r"[¿?¡!.,;:\"()]", " ", text.lower())
    return re.sub(r"\s+", " ", text).strip()


def fill(pattern: str, rng: random.Random, digits: bool) -> tuple[str, dict]:
    slots: dict = {}
    text = pattern
    if "{dur}" in text:
        words, digit_form, seconds = rng.choice(DURATIONS)
        text = text.replace("{dur}", digit_form if digits else words, 1)
        slots["seconds"] = seconds
    if "{name}" in text:
        phrase, name = rng.choice(NAMES)
        text = text.replace("{name}", phrase, 1)
        slots["name"] = name
    for key, pool in (("{greet}", GREETS), ("{food}", FOODS), ("{place}", PLACES),
                      ("{topic}", TOPICS), ("{area}", AREAS)):
        while key in text:
            text = text.replace(key, rng.choice(pool), 1)
    for key, forms in (("{temp}", TEMPS), ("{pct}", PCTS)):
        if key in text:
            text = text.replace(key, rng.choice(forms)[1 if digits else 0], 1)
    return re.sub(r"\s+", " ", text).strip(), slots


PREFIXES = ["oye, ", "a ver, ", "eh, ", "asistente, ", "perdona, ", "oye, cocina, "]
SUFFIXES = [", por favor", " ya", " ahora", ", porfa"]


def decorate(text: str, rng: random.Random) -> str:
    """A spoken lead-in or tail, as people add them; the same pools for every class, so they
    carry no label by themselves."""
    r = rng.random()
    if r < 0.35:
        return rng.choice(PREFIXES) + text[:1].lower() + text[1:]
    if r < 0.6:
        return text.rstrip("?!.") + rng.choice(SUFFIXES) + ("?" if text.endswith("?") else "")
    return text


def generate(seed: int = SEED) -> list[dict]:
    rng = random.Random(seed)
    rows: list[dict] = []
    seen: set[tuple[str, str | None]] = set()

    def emit(text: str, intent: str, prev: str | None, group: str, slots: dict) -> None:
        if (text, prev) in seen:
            return
        seen.add((text, prev))
        row: dict[str, Any] = {"text": text, "intent": intent, "prev": prev, "group": group}
        if intent in ("timer_set", "timer_cancel", "timer_query") and slots:
            row["slots"] = slots
        rows.append(row)

    for intent in PATTERNS:
        for n, pattern in enumerate(PATTERNS[intent] + MORE.get(intent, [])):
            group = f"{intent}:{n}"
            for k in range(PER_PATTERN):
                vosk = k % 2 == 1
                text, slots = fill(pattern, rng, digits=not vosk)
                if k >= 2 and intent not in ("affirm", "deny"):
                    text = decorate(text, rng)
                if intent != "timer_set":
                    slots = {key: v for key, v in slots.items() if key != "seconds"}
                emit(vosk_style(text) if vosk else text, intent, None, group, slots)
    for n, (pattern, by_prev) in enumerate(CONTEXTUAL):
        group = f"ctx:{n}"
        for prev, intent in by_prev.items():
            for k in range(3):
                vosk = k % 2 == 1
                text, slots = fill(pattern, rng, digits=not vosk)
                if intent != "timer_set":
                    slots = {key: v for key, v in slots.items() if key != "seconds"}
                emit(vosk_style(text) if vosk else text, intent,
                     None if prev == "none" else prev, group, slots)
    rng.shuffle(rows)
    # Home control comes last, from its own random stream, placed among the rest: every
    # earlier example, and its place, is as it was before the home route existed.
    home_rng = random.Random(seed + 1)
    for n, pattern in enumerate(HOME):
        for k in range(PER_PATTERN):
            vosk = k % 2 == 1
            text, _ = fill(pattern, home_rng, digits=not vosk)
            if k >= 2:
                text = decorate(text, home_rng)
            text = vosk_style(text) if vosk else text
            if (text, None) not in seen:
                seen.add((text, None))
                row = {"text": text, "intent": "home", "prev": None, "group": f"home:{n}"}
                rows.insert(home_rng.randrange(len(rows) + 1), row)
    return rows


def main() -> None:
    rows = generate()
    with open(OUT, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["intent"]] = counts.get(r["intent"], 0) + 1
    print(f"{len(rows)} examples -> {OUT}")
    print(", ".join(f"{k}={v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
