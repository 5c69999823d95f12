"""Buttons and LED: our debounce / long / double press logic with exact times, then the real
gpiozero Button and LED code on gpiozero's MockFactory pins.

The pipeline side is ``RecordingSink`` (tests/support/control.py), a real CommandSink that
records calls in place of the audio pipeline built by other stages.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from appliance.config import GpioSettings
from appliance.control.buttons import ButtonLogic
from appliance.control.controller import Controller
from appliance.control.gpio import GpioWorker
from appliance.control.state import EntityEvent, StateMachine
from appliance.pipeline.supervisor import Supervisor
from tests.support.control import RecordingSink
from tests.support.harness import FakeClock


def kinds(events: list) -> list[str]:
    return [e.kind for e in events]


# --- pure logic ------------------------------------------------------------------------------


def test_press_is_immediate_and_release_clicks() -> None:
    b = ButtonLogic(debounce_s=0.03, long_s=0.8, double_s=0.4)
    assert kinds(b.feed(True, 10.0)) == ["press"]
    assert b.pressed and b.next_deadline() == pytest.approx(10.8)
    assert kinds(b.feed(False, 10.2)) == ["release", "click"]
    assert b.next_deadline() is None


def test_chatter_within_debounce_is_one_press() -> None:
    b = ButtonLogic(debounce_s=0.03)
    out = []
    for i, level in enumerate([True, False, True, False, True]):  # 5 ms bounces
        out += b.feed(level, 1.0 + i * 0.005)
    assert kinds(out) == ["press"]
    assert kinds(b.tick(1.031)) == []  # settled pressed: nothing new
    # bouncing release that ends released: one release once the lockout ends
    out = b.feed(False, 1.2) + b.feed(True, 1.205) + b.feed(False, 1.21)
    assert kinds(out) == ["release", "click"]
    assert kinds(b.tick(1.25)) == []


def test_lockout_end_reconciles_a_missed_level() -> None:
    b = ButtonLogic(debounce_s=0.03)
    assert kinds(b.feed(True, 0.0)) == ["press"]
    assert kinds(b.feed(False, 0.01)) == []  # inside the lockout: deferred
    assert b.next_deadline() == pytest.approx(0.03)
    assert kinds(b.tick(0.029)) == []
    assert kinds(b.tick(0.03)) == ["release", "click"]


def test_long_press_fires_once_while_held_and_suppresses_click() -> None:
    b = ButtonLogic(debounce_s=0.03, long_s=0.8)
    b.feed(True, 5.0)
    assert kinds(b.tick(5.79)) == []
    assert kinds(b.tick(5.8)) == ["long"]
    assert kinds(b.tick(7.0)) == []
    assert kinds(b.feed(False, 7.5)) == ["release"]


def test_double_press_and_a_third_press_starts_over() -> None:
    b = ButtonLogic(debounce_s=0.03, double_s=0.4)
    assert kinds(b.feed(True, 0.0)) == ["press"]
    b.feed(False, 0.1)
    assert kinds(b.feed(True, 0.3)) == ["press", "double"]
    b.feed(False, 0.4)
    assert kinds(b.feed(True, 0.6)) == ["press"]  # third press: not another double
    b.feed(False, 0.7)
    assert kinds(b.feed(True, 1.5)) == ["press"]  # too late for a double


def test_zero_debounce_accepts_every_edge() -> None:
    b = ButtonLogic(debounce_s=0.0)
    assert kinds(b.feed(True, 0.0) + b.feed(False, 0.0001) + b.feed(True, 0.0002)) == [
        "press", "release", "click", "press", "double"]


# --- gpiozero MockFactory ----------------------------------------------------------------------

PINS = {"interrupt": 17, "ptt": 27, "mute": 22}


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory()
    old = Device.pin_factory
    Device.pin_factory = f
    try:
        yield f
    finally:
        f.reset()
        Device.pin_factory = old


def run_gpio(factory: MockFactory, clock: FakeClock | None = None, **changes: object
             ) -> tuple[Supervisor, GpioWorker, RecordingSink, list[EntityEvent]]:
    fields = {"enabled": True, "debounce_ms": 30, "long_press_ms": 300, "double_press_ms": 400}
    settings = GpioSettings(**{**fields, **changes})
    sink = RecordingSink()
    state = StateMachine()
    events: list[EntityEvent] = []
    state.subscribe_events(events.append)
    worker = GpioWorker(settings, Controller(state, sink), clock=clock or FakeClock())
    sup = Supervisor([worker])
    sup.start()
    assert sup.wait_ready(5)
    return sup, worker, sink, events


def press(factory: MockFactory, name: str) -> None:
    factory.pin(PINS[name]).drive_low()  # active low: pressed pulls to ground


def release(factory: MockFactory, name: str) -> None:
    factory.pin(PINS[name]).drive_high()


def tap(factory: MockFactory, clock: FakeClock, name: str, hold_s: float = 0.06) -> None:
    """A human tap: held longer than the debounce, then a pause longer than it too."""
    press(factory, name)
    clock.advance(hold_s)
    release(factory, name)
    clock.advance(0.06)


def test_interrupt_press_acts_at_once_and_double_cancels_timers(factory: MockFactory) -> None:
    clock = FakeClock()
    sup, _, sink, events = run_gpio(factory, clock)
    try:
        press(factory, "interrupt")
        assert sink.names() == ["interrupt"]  # in the pin callback: no waiting for a poll
        clock.advance(0.06)
        release(factory, "interrupt")
        clock.advance(0.06)
        tap(factory, clock, "interrupt")
        assert sink.wait_for(3) == [("interrupt", ("button",)), ("interrupt", ("button",)),
                                    ("timer_cancel", (None, None, True))]
        assert [(e.detail["button"], e.detail["press"]) for e in events] == [
            ("interrupt", "press"), ("interrupt", "press"), ("interrupt", "double")]
    finally:
        sup.stop()


def test_ptt_hold_and_release(factory: MockFactory) -> None:
    clock = FakeClock()
    sup, _, sink, _ = run_gpio(factory, clock)
    try:
        press(factory, "ptt")
        clock.advance(0.4)  # held past the long press: still one utterance
        release(factory, "ptt")
        assert sink.wait_for(2) == [("ptt_start", ()), ("ptt_stop", ())]
    finally:
        sup.stop()


def test_chattering_contacts_give_one_press_and_one_release(factory: MockFactory) -> None:
    clock = FakeClock()
    sup, worker, sink, _ = run_gpio(factory, clock)
    try:
        for _ in range(4):  # contact bounce on press, each edge well inside 30 ms
            press(factory, "ptt")
            clock.advance(0.002)
            release(factory, "ptt")
            clock.advance(0.002)
        press(factory, "ptt")
        clock.advance(0.1)
        worker.tick()
        assert sink.names() == ["ptt_start"]
        release(factory, "ptt")
        clock.advance(0.002)
        press(factory, "ptt")
        clock.advance(0.002)
        release(factory, "ptt")  # bounce on release ends released
        clock.advance(0.1)
        assert sink.wait_for(2) == [("ptt_start", ()), ("ptt_stop", ())]
        worker.tick()
        assert sink.names() == ["ptt_start", "ptt_stop"]
    finally:
        sup.stop()


def test_mute_click_toggles_and_long_press_cycles_mode(factory: MockFactory) -> None:
    clock = FakeClock()
    sup, worker, sink, _ = run_gpio(factory, clock)
    state = worker.controller.state
    try:
        tap(factory, clock, "mute")
        assert state.snapshot().muted is True
        clock.advance(0.5)  # past the double-press window
        tap(factory, clock, "mute")
        assert state.snapshot().muted is False
        press(factory, "mute")
        clock.advance(0.45)  # the long press fires from the worker's deadline while held
        assert sink.wait_for(3)[2] == ("set_mode", ("wake_word",))
        release(factory, "mute")
        assert sink.names() == ["set_mute", "set_mute", "set_mode"]
        assert state.snapshot().mode == "wake_word" and not state.snapshot().muted
    finally:
        sup.stop()


def test_active_high_buttons(factory: MockFactory) -> None:
    sup, _, sink, _ = run_gpio(factory, active_low=False)
    try:
        factory.pin(PINS["interrupt"]).drive_high()
        assert sink.names() == ["interrupt"]
    finally:
        sup.stop()


def test_mono_led_follows_state(factory: MockFactory) -> None:
    sup, worker, _, _ = run_gpio(factory, led_pins=(5,))
    state = worker.controller.state
    try:
        assert factory.pin(5).state is False  # idle
        state.set_phase("listening")
        assert factory.pin(5).state is True
        state.set_phase("thinking")
        assert worker.led is not None and worker.led.shown == "thinking"
        state.set_phase("idle")
        assert factory.pin(5).state is False
    finally:
        sup.stop()


def test_rgb_led_colours(factory: MockFactory) -> None:
    sup, worker, _, _ = run_gpio(factory, led_pins=(5, 6, 13))
    state = worker.controller.state

    def rgb() -> tuple[bool, ...]:
        return tuple(factory.pin(p).state for p in (5, 6, 13))

    try:
        state.set_phase("listening")
        assert rgb() == (False, False, True)
        state.set_phase("speaking")
        assert rgb() == (False, True, False)
        state.set_phase("idle")
        state.set_muted(True)
        assert rgb() == (True, False, False)
    finally:
        sup.stop()


def test_disabled_gpio_opens_no_pins_and_idles(factory: MockFactory) -> None:
    worker = GpioWorker(GpioSettings(enabled=False), Controller(StateMachine(), RecordingSink()))
    sup = Supervisor([worker])
    sup.start()
    try:
        assert sup.wait_ready(5)
        assert not factory.pins and sup.healthy()
    finally:
        assert sup.stop()
