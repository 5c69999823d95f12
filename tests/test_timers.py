"""Kitchen timers and volume: real files in a temp state dir, time from an injected clock."""

from __future__ import annotations

import json

import pytest

from appliance.brain.timers import TimerError, TimerService, name_key
from appliance.brain.volume import Volume, level_to_gain
from appliance.pipeline.events import (
    StorageError,
    StorageRecovered,
    TimerFinished,
    TimersChanged,
    VolumeChanged,
)
from appliance.pipeline.statefile import RETRY_S
from tests.support.harness import Collector, FakeClock
from tests.support.storage import can_mount, small_fs


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock(1_700_000_000.0)  # the timer service takes epoch seconds


def kinds(events) -> list[tuple[str, str]]:
    return [(e.kind, e.timer.name) for e in events]


def test_timer_fires_at_its_deadline_and_every_change_is_reported(tmp_path, clock):
    events = Collector()
    svc = TimerService(tmp_path, clock=clock, events=events)
    timer = svc.add(60, "pasta")
    (added,) = events.of(TimersChanged)
    assert [(t.id, t.name, t.ends_at, t.ringing) for t in added.timers] == [
        (timer.id, "pasta", clock() + 60, False)]
    clock.advance(59.9)
    assert svc.check() == []
    clock.advance(0.2)
    fired = svc.check()
    assert [e.kind for e in fired] == ["fired"]
    assert svc.pending() == [] and len(svc.ringing()) == 1
    assert [e.name for e in events.of(TimerFinished)] == ["pasta"]
    assert events.of(TimersChanged)[-1].timers[0].ringing
    svc.stop()
    assert events.of(TimersChanged)[-1].timers == ()


def test_several_named_timers_query_and_cancel(tmp_path, clock):
    svc = TimerService(tmp_path, clock=clock)
    svc.add(600, "pasta")
    svc.add(300, "el huevo")
    svc.add(900)
    assert [t.name for t in svc.pending()] == ["el huevo", "pasta", ""]
    clock.advance(100)
    ((timer, left),) = svc.remaining("el de la pasta")
    assert timer.name == "pasta" and left == pytest.approx(500)
    assert len(svc.remaining()) == 3
    with pytest.raises(TimerError) as refused:
        svc.cancel()  # three running: which one?
    assert refused.value.code == "ambiguous"
    assert [t.name for t in svc.cancel("la del huevo")] == ["el huevo"]
    assert svc.cancel("arroz") == []
    assert len(svc.cancel_all()) == 2 and svc.pending() == []
    with pytest.raises(TimerError) as refused:
        svc.add(0)
    assert refused.value.code == "out_of_range"


def test_duplicate_name_is_refused(tmp_path, clock):
    svc = TimerService(tmp_path, clock=clock)
    svc.add(60, "Pasta")
    with pytest.raises(TimerError) as refused:
        svc.add(30, "la pasta")
    assert refused.value.code == "name_taken"
    assert name_key("El de la Pásta") == "pasta"


def test_timers_survive_a_restart_and_late_ones_fire_at_once(tmp_path, clock):
    svc = TimerService(tmp_path, clock=clock)
    svc.add(60, "pasta")
    svc.add(3600, "asado")
    data = json.loads((tmp_path / "timers.json").read_text())
    assert {t["name"] for t in data["timers"]} == {"pasta", "asado"}
    del svc  # "power cut"
    clock.advance(120)
    svc2 = TimerService(tmp_path, clock=clock)
    assert {t.name for t in svc2.pending()} == {"pasta", "asado"}
    (fired,) = svc2.check()
    assert fired.kind == "fired" and fired.timer.name == "pasta"
    assert fired.late_s == pytest.approx(60)
    assert svc2.add(10).id > max(t.id for t in svc2.ringing())  # ids never reused


def test_corrupt_state_is_kept_aside_not_lost(tmp_path, clock):
    (tmp_path / "timers.json").write_text("{not json")
    svc = TimerService(tmp_path, clock=clock)
    assert svc.pending() == []
    assert (tmp_path / "timers.json.bad").read_text() == "{not json"
    svc.add(5)
    assert json.loads((tmp_path / "timers.json").read_text())["timers"]


def test_ring_repeats_until_stopped(tmp_path, clock):
    svc = TimerService(tmp_path, clock=clock, ring_every_s=3.0)
    svc.add(10, "pasta")
    clock.advance(10)
    assert kinds(svc.check()) == [("fired", "pasta")]
    clock.advance(1)
    assert svc.check() == []
    clock.advance(2)
    assert kinds(svc.check()) == [("ring", "pasta")]
    clock.advance(3)
    assert kinds(svc.check()) == [("ring", "pasta")]
    stopped = svc.stop()
    assert [(e.kind, e.reason) for e in stopped] == [("ring_end", "stopped")]
    clock.advance(10)
    assert svc.check() == [] and svc.ringing() == []
    assert json.loads((tmp_path / "timers.json").read_text())["timers"] == []


def test_ring_ends_at_max_ring(tmp_path, clock):
    svc = TimerService(tmp_path, clock=clock, max_ring_s=60.0, ring_every_s=5.0)
    svc.add(1)
    clock.advance(1)
    svc.check()
    rings = 0
    for _ in range(11):
        clock.advance(5)
        rings += sum(e.kind == "ring" for e in svc.check())
    assert rings == 11
    clock.advance(5)
    (end,) = svc.check()
    assert (end.kind, end.reason) == ("ring_end", "max")
    assert svc.ringing() == []


def test_ringing_state_survives_restart(tmp_path, clock):
    svc = TimerService(tmp_path, clock=clock, max_ring_s=60.0)
    svc.add(1, "pan")
    clock.advance(1)
    svc.check()
    svc2 = TimerService(tmp_path, clock=clock, max_ring_s=60.0)
    assert [t.name for t in svc2.ringing()] == ["pan"]
    assert [e.kind for e in svc2.stop()] == ["ring_end"]


def test_volume_persists_applies_gain_and_reports_changes(tmp_path):
    gains: list[float] = []
    events = Collector()
    vol = Volume(tmp_path, gains.append, step=10, default=50, events=events)
    assert gains == [level_to_gain(50)]
    assert vol.up() == 60 and vol.up(10) == 100
    assert vol.down() == 90
    assert gains[-1] == pytest.approx(0.81)
    assert [e.level for e in events.of(VolumeChanged)] == [60, 100, 90]
    again = Volume(tmp_path, gains.append)
    assert again.level == 90 and gains[-1] == pytest.approx(0.81)
    assert again.set(-5) == 0 and gains[-1] == 0.0


# --- state that is bad on disk, or cannot be written -----------------------------------------

requires_mount = pytest.mark.skipif(bool(can_mount()), reason=can_mount() or "ok")


@pytest.mark.parametrize("content", [
    "[]", "null", '{"timers": {}}', '{"timers": [1]}',
    '{"timers": [{"id": 1, "seconds": 60, "ends_at": "mañana"}]}',
    '{"timers": [{"id": 1, "seconds": 60, "ends_at": Infinity}]}',
    '{"timers": [{"id": 1, "seconds": 60, "ends_at": 1e999}]}',
    '{"timers": [{"id": 1, "seconds": 60, "ends_at": 1.0, "ring_started": NaN}]}',
    '{"timers": [{"id": "uno", "seconds": 60, "ends_at": 1.0}]}',
    b'\xff\xfe{"timers": []}',
])
def test_a_timer_file_in_the_wrong_shape_is_set_aside_and_timers_work(tmp_path, clock, content):
    path = tmp_path / "timers.json"
    raw = content if isinstance(content, bytes) else content.encode()
    path.write_bytes(raw)
    svc = TimerService(tmp_path, clock=clock)
    assert svc.pending() == [] and svc.check() == []
    assert (tmp_path / "timers.json.bad").read_bytes() == raw
    svc.add(5, "huevos")
    clock.advance(6)
    assert [e.kind for e in svc.check()] == ["fired"]


@pytest.mark.parametrize("content", ['{"level": 1e999}', '{"level": NaN}', '{"level": "alto"}',
                                     '{"level": 300}', "[]", "null", "{}"])
def test_a_volume_file_in_the_wrong_shape_is_set_aside(tmp_path, content):
    (tmp_path / "volume.json").write_text(content)
    vol = Volume(tmp_path, default=40)
    assert vol.level == 40
    assert (tmp_path / "volume.json.bad").read_text() == content
    assert vol.up() == 50 and Volume(tmp_path).level == 50


@requires_mount
def test_a_full_disk_keeps_every_timer_ringing_and_saves_them_once_space_returns(tmp_path,
                                                                               clock):
    events = Collector()
    with small_fs(tmp_path / "state") as fs:
        svc = TimerService(fs.path, clock=clock, events=events)
        svc.add(600, "pasta")
        assert svc.saved
        fs.fill()
        svc.add(300)  # by voice, say
        svc.add(400, "huevos")  # over MQTT
        assert not svc.saved
        (error,) = events.of(StorageError)  # once, not once per timer
        assert error.what == "timers" and "space" in error.message.lower()
        clock.advance(301)
        assert [e.kind for e in svc.check()] == ["fired"]  # rings on time all the same
        assert not svc.saved
        fs.free()
        clock.advance(RETRY_S)
        svc.check()
        assert svc.saved and events.of(StorageRecovered)
        again = TimerService(fs.path, clock=clock)  # a restart now keeps every one of them
        assert sorted(t.name for t in again.pending()) == ["huevos", "pasta"]
        assert len(again.ringing()) == 1


@requires_mount
def test_read_only_state_keeps_volume_and_timers_in_memory_until_it_is_writable(tmp_path,
                                                                              clock):
    events = Collector()
    with small_fs(tmp_path / "state") as fs:
        svc = TimerService(fs.path, clock=clock, events=events)
        vol = Volume(fs.path, events=events, default=50, clock=clock)
        fs.read_only(True)
        svc.add(60, "arroz")
        assert vol.up() == 60 and vol.level == 60
        assert {e.what for e in events.of(StorageError)} == {"timers", "volume"}
        fs.read_only(False)
        clock.advance(RETRY_S)
        svc.check()
        vol.flush()  # the brain's clock does this
        assert [t.name for t in TimerService(fs.path, clock=clock).pending()] == ["arroz"]
        assert Volume(fs.path).level == 60
