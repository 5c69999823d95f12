"""The rendered-audio cache: fixed phrases stay in memory for good; the answers prepared
every minute (the time) only while recent, so weeks of uptime do not hold every minute's
audio (issue 15, bench/soak.py), and all of it is still on disk."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import numpy as np

from appliance.brain.prepare import AnswerPreparer
from appliance.brain.templates import Templates
from appliance.config import StyleSettings
from appliance.speak.rendered import RenderedAudioCache

STYLE = StyleSettings(1.0, 0.6, 0.8, 0.2)


class ToneEngine:
    """A stand-in synthesizer: a short tone whose length depends on the text."""

    name = "tone"
    voice = ""
    sample_rate = 16000

    def __init__(self) -> None:
        self.calls = 0

    def synthesize(self, text: str, style: StyleSettings) -> np.ndarray:
        self.calls += 1
        return np.full(100 + len(text), 0.1, np.float32)


def test_unpinned_entries_are_bounded_and_pinned_ones_kept(tmp_path: Path) -> None:
    engine = ToneEngine()
    cache = RenderedAudioCache(engine, tmp_path)
    cache.recent_max = 4
    cache.render("Vale.", STYLE)  # a fixed phrase: pinned
    for minute in range(20):
        cache.render(f"Son las diez y {minute}.", STYLE, pin=False)
    assert cache.in_memory() == (1, 4)
    assert engine.calls == 21
    # The evicted minutes are on disk: read back, not synthesized again.
    assert cache.get("Son las diez y 0.", STYLE) is not None
    assert cache.get("Vale.", STYLE) is not None
    assert engine.calls == 21
    assert cache.in_memory() == (1, 4)
    # Pinning a recent entry moves it out of the bounded part.
    cache.render("Son las diez y 0.", STYLE)
    assert cache.in_memory() == (2, 3)


def test_a_day_of_prepared_time_answers_keeps_memory_bounded(tmp_path: Path) -> None:
    cache = RenderedAudioCache(ToneEngine(), tmp_path)
    clock = [dt.datetime(2026, 12, 1, 8, 0)]
    preparer = AnswerPreparer(Templates.load(),
                              lambda text: cache.render(text, STYLE, pin=False),
                              now=lambda: clock[0])
    preparer.prepare(threading.Event())
    for _ in range(180):  # three hours, a refresh a minute
        clock[0] += dt.timedelta(minutes=1)
        preparer.refresh()
    pinned, recent = cache.in_memory()
    assert pinned == 0 and recent <= cache.recent_max
    assert preparer.answer("time", {}, clock[0]) is not None  # the current minute is ready
