"""The button-and-LED face of the control plane (gpiozero).

Buttons: interrupt (press = interrupt now; double press also cancels every timer), push to
talk (hold to talk, release ends the utterance), mute (click toggles the mic mute; a long
press cycles the listening mode). Raw edges from gpiozero go through our own ``ButtonLogic``
(debounce, long and double press); the press edge is acted on in the pin's callback thread, so
an interrupt does not wait for a poll. This worker's thread only wakes for deadlines (end of a
debounce lockout, a long press). Every action happens under one lock, so a button's events
reach the pipeline in the order they happened.

The LED (one pin, or three for RGB) follows the state machine's ``state``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from appliance.config import GpioSettings
from appliance.control.buttons import ButtonEvent, ButtonLogic
from appliance.control.commands import PttStart, PttStop, TimerCancel
from appliance.control.controller import Controller
from appliance.control.state import Snapshot
from appliance.pipeline.worker import Worker

BUTTONS = ("interrupt", "ptt", "mute")

# state -> (mono LED pattern, RGB colour, RGB blinks); a pattern is (on_s, off_s) or on/off.
_LED: dict[str, tuple[tuple[float, float] | bool, tuple[int, int, int], bool]] = {
    "idle": (False, (0, 0, 0), False),
    "listening": (True, (0, 0, 1), False),
    "thinking": ((0.15, 0.15), (1, 1, 0), False),
    "speaking": ((0.5, 0.5), (0, 1, 0), False),
    "ringing": ((0.25, 0.25), (1, 0, 1), True),
    "muted": ((0.1, 1.9), (1, 0, 0), False),
    "error": ((0.05, 0.25), (1, 0, 0), True),
}


class LedPresenter:
    """Shows the appliance state on a gpiozero LED or RGBLED (non-PWM: colours are 0/1)."""

    def __init__(self, led: Any, rgb: bool) -> None:
        self.led = led
        self.rgb = rgb
        self._lock = threading.Lock()
        self.shown = ""

    def show(self, state: str) -> None:
        mono, colour, blinks = _LED[state]
        with self._lock:
            if state == self.shown:
                return
            self.shown = state
            if self.rgb:
                if blinks:
                    self.led.blink(on_time=0.25, off_time=0.25, on_color=colour, background=True)
                else:
                    self.led.color = colour
            elif isinstance(mono, tuple):
                self.led.blink(on_time=mono[0], off_time=mono[1], background=True)
            elif mono:
                self.led.on()
            else:
                self.led.off()

    def on_state(self, snap: Snapshot, changed: frozenset[str]) -> None:
        if "state" in changed:
            self.show(snap.state)


class GpioWorker(Worker):
    name = "gpio"

    def __init__(
        self,
        settings: GpioSettings,
        controller: Controller,
        *,
        pin_factory: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.controller = controller
        self.pin_factory = pin_factory
        self.clock = clock
        self._cond = threading.Condition()
        self._logic: dict[str, ButtonLogic] = {}
        self._devices: list[Any] = []
        self.led: LedPresenter | None = None
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    # --- lifecycle --------------------------------------------------------------------------

    def setup(self) -> None:
        if not self.enabled:
            self.log.info("GPIO disabled in the configuration: no buttons, no LED")
            return
        from gpiozero import LED, RGBLED, Button

        s = self.settings
        pins = {"interrupt": s.interrupt_pin, "ptt": s.ptt_pin, "mute": s.mute_pin}
        try:
            for name in BUTTONS:
                self._logic[name] = ButtonLogic(
                    s.debounce_ms / 1000, s.long_press_ms / 1000, s.double_press_ms / 1000
                )
                button = Button(pins[name], pull_up=s.active_low, bounce_time=None,
                                pin_factory=self.pin_factory)
                button.when_pressed = self._edge_handler(name, True)
                button.when_released = self._edge_handler(name, False)
                self._devices.append(button)
            if len(s.led_pins) == 1:
                led = LED(s.led_pins[0], pin_factory=self.pin_factory)
                self.led = LedPresenter(led, rgb=False)
            elif len(s.led_pins) == 3:
                led = RGBLED(*s.led_pins, pwm=False, pin_factory=self.pin_factory)
                self.led = LedPresenter(led, rgb=True)
            if self.led is not None:
                self._devices.append(self.led.led)
                self._unsubscribe = self.controller.state.subscribe(self.led.on_state)
                self.led.show(self.controller.state.snapshot().state)
        except Exception:
            self.teardown()
            raise
        self.log.info("GPIO ready: interrupt=%d ptt=%d mute=%d led=%s", s.interrupt_pin,
                      s.ptt_pin, s.mute_pin, list(s.led_pins) or "none")

    def step(self) -> None:
        if not self.enabled:
            time.sleep(0.2)
            return
        with self._cond:
            due = [d for d in (lg.next_deadline() for lg in self._logic.values()) if d is not None]
            wait = min(due) - self.clock() if due else 0.2
            if wait > 0:
                self._cond.wait(min(wait, 0.2))
        self.tick()

    def tick(self) -> None:
        """Act on every deadline that has passed (a debounce lockout ending, a long press)."""
        with self._cond:
            now = self.clock()
            for name, logic in self._logic.items():
                self._act(name, logic.tick(now))

    def teardown(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for dev in self._devices:
            try:
                dev.close()
            except Exception:
                self.log.debug("closing %r failed", dev, exc_info=True)
        self._devices = []
        self._logic = {}
        self.led = None

    # --- edges and actions ------------------------------------------------------------------

    def _edge_handler(self, name: str, pressed: bool) -> Callable[[], None]:
        def handler() -> None:
            self.feed(name, pressed)

        return handler

    def feed(self, name: str, pressed: bool) -> None:
        """A raw edge of button ``name`` (called from gpiozero's pin thread)."""
        t = self.clock()
        with self._cond:
            logic = self._logic.get(name)
            if logic is None:
                return
            self._act(name, logic.feed(pressed, t))
            self._cond.notify()

    def _act(self, name: str, events: list[ButtonEvent]) -> None:
        c = self.controller
        for ev in events:
            try:
                if name == "interrupt" and ev.kind == "press":
                    c.interrupt("button")
                elif name == "interrupt" and ev.kind == "double":
                    c.execute(TimerCancel(all=True), "timer/cancel")
                elif name == "ptt" and ev.kind == "press":
                    c.execute(PttStart(), "ptt")
                elif name == "ptt" and ev.kind == "release":
                    c.execute(PttStop(), "ptt")
                elif name == "mute" and ev.kind == "click":
                    c.toggle_mute()
                elif name == "mute" and ev.kind == "long":
                    c.cycle_mode()
                if ev.kind in ("press", "long", "double"):
                    c.state.emit("button_press", button=name, press=ev.kind)
            except Exception:
                self.log.exception("button %s %s: action failed", name, ev.kind)
