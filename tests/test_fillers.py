"""Fillers: the 18 phrases, a picker that never repeats the last few, and a disk cache that
makes a restart synthesize nothing."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from appliance.config import StyleSettings
from appliance.speak.fillers import FILLERS, SPOKEN, FillerBank
from appliance.speak.rendered import RenderedAudioCache
from appliance.speak.tts.espeak import EspeakEngine

STYLE = StyleSettings(1.2, 0.6, 0.8, 0.2)


class CountingEngine:
    """A real engine (espeak-ng) wrapped to count synthesis calls - the only way to see from
    outside whether a cache hit skipped synthesis. Everything is delegated to espeak-ng."""

    def __init__(self) -> None:
        self._inner = EspeakEngine()
        self.name = self._inner.name
        self.voice = self._inner.voice
        self.sample_rate = self._inner.sample_rate
        self.calls: list[str] = []

    def synthesize(self, text: str, style: StyleSettings) -> np.ndarray:
        self.calls.append(text)
        return self._inner.synthesize(text, style)


def _bank(root: Path, no_repeat: int = 3, seed: int = 7) -> tuple[FillerBank, CountingEngine]:
    engine = CountingEngine()
    bank = FillerBank(RenderedAudioCache(engine, root), STYLE, no_repeat, random.Random(seed))
    bank.prepare()
    return bank, engine


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> tuple[FillerBank, CountingEngine, Path]:
    root = tmp_path_factory.mktemp("rendered")
    bank, engine = _bank(root)
    return bank, engine, root


def test_a_ready_pick_never_synthesizes(tmp_path) -> None:
    """What the priority queue bridges with, under its lock: only what is rendered."""
    engine = CountingEngine()
    bank = FillerBank(RenderedAudioCache(engine, tmp_path), STYLE, 3, random.Random(7))
    assert bank.pick_ready("bridge") is None and engine.calls == []
    bank.pick("bridge")  # renders one
    rendered = engine.calls[-1]
    calls = len(engine.calls)
    picks = {bank.pick_ready("bridge").text for _ in range(5)}  # type: ignore[union-attr]
    assert len(engine.calls) == calls
    assert {SPOKEN.get(t, t) for t in picks} == {rendered}


def test_prepare_renders_every_filler_once(prepared) -> None:
    bank, engine, _ = prepared
    unique = {t for texts in FILLERS.values() for t in texts}
    assert len(engine.calls) == len(unique)  # "hmm" is in two categories, rendered once
    for category in FILLERS:
        f = bank.pick(category)
        assert f.category == category and f.text in FILLERS[category]
        assert f.sample_rate == 22050 and 0.05 < f.audio.size / f.sample_rate < 2.0
    assert "mm" not in engine.calls and "[[m:]]" in engine.calls  # hummed, not spelled out


def test_no_repeat_within_window(prepared) -> None:
    bank, _, _ = prepared
    rng = random.Random(3)
    history: list[str] = []
    for _ in range(300):
        category = rng.choice(["thinking", "waiting", "confirming"])  # 5 fillers each
        text = bank.pick(category).text
        assert text not in history[-bank.no_repeat :], (text, history[-bank.no_repeat :])
        history.append(text)
    assert len(set(history)) > 10  # and it still varies


def test_small_category_clamps_window(tmp_path: Path) -> None:
    bank, _ = _bank(tmp_path, no_repeat=5)
    picks = [bank.pick("generic").text for _ in range(60)]  # 3 fillers: avoid the last 2
    for i in range(2, len(picks)):
        assert picks[i] not in picks[i - 2 : i]
    with pytest.raises(ValueError, match="unknown filler category"):
        bank.pick("bored")


def test_disk_cache_hit_after_restart(prepared) -> None:
    first, _, root = prepared
    restarted, engine = _bank(root)  # new objects, same directory: a service restart
    assert engine.calls == []
    assert restarted.cache.disk_hits == len({t for v in FILLERS.values() for t in v})
    a, b = first.pick("waiting"), restarted.pick("waiting")
    assert np.array_equal(first.cache.render(a.text, STYLE), restarted.cache.render(a.text, STYLE))
    assert b.audio.size > 0
    # Another style is another sound: it must be synthesized, not served from the cache.
    restarted.cache.render("vale", StyleSettings(speed=0.9))
    assert engine.calls == ["vale"]
