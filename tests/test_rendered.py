"""The rendered-audio cache: fixed phrases stay in memory for good; the answers prepared
every minute (the time) only while recent, so weeks of uptime do not hold every minute's
audio (issue 15, bench/soak.py), and all of it is still on disk."""

from __future__ import annotations

import datetime as dt
import os
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


def test_the_disk_copy_is_bounded_least_recently_used_first_and_pinned_audio_stays(
        tmp_path: Path) -> None:
    engine = ToneEngine()
    cache = RenderedAudioCache(engine, tmp_path, max_disk_mb=0.05)  # 52,428 bytes
    cache.recent_max = 4

    def minute(m: int) -> None:  # a clip of ~600 bytes on disk, written at minute m
        cache.render(f"Son las diez y {m}. " * 4, STYLE, pin=False)
        t = 1_000_000_000 + 60 * m  # file times set by hand: the kernel's are too coarse
        os.utime(path(m), (t, t))

    def path(m: int) -> Path:
        return cache.path_for(cache.key(f"Son las diez y {m}. " * 4, STYLE))

    cache.render("Vale.", STYLE)  # a fixed phrase: pinned, never pruned while held
    os.utime(cache.path_for(cache.key("Vale.", STYLE)), (0, 0))  # the oldest file there is
    for m in range(60):
        minute(m)
    assert cache.pruned == 0 and len(list(tmp_path.glob("*/*.npy"))) == 61
    cache.get("Son las diez y 0. " * 4, STYLE)  # read back from disk: touched, used again
    for m in range(60, 140):
        minute(m)
    on_disk = sum(f.stat().st_size for f in tmp_path.glob("*/*.npy"))
    assert cache.pruned > 0 and on_disk <= cache.max_disk_bytes
    assert cache.path_for(cache.key("Vale.", STYLE)).exists()
    assert path(0).exists() and path(139).exists()
    assert not path(1).exists()
    # A pruned clip is simply rendered again when it is wanted.
    calls = engine.calls
    cache.render("Son las diez y 1. " * 4, STYLE, pin=False)
    assert engine.calls == calls + 1 and path(1).exists()
