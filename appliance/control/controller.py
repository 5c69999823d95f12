"""Commands in, pipeline calls and state changes out: the meeting point of MQTT and GPIO.

Settings the state machine owns (volume, mute, listening mode, wake word and its
sensitivity) are applied to the sink and recorded in the state under one lock, so two faces
changing the same setting at once leave the pipeline and the published state in agreement.
Actions (interrupt, say, ptt, timers) go straight to the sink; the pipeline reports what
follows as events, and the control worker turns them into the phase. A refusal (a timer name
taken) is returned with its own code, and every refusal is also an ``error`` event; the log
gets one line per kind of refusal every few seconds, so a flood of commands cannot flood it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from appliance.config import MODES
from appliance.control.commands import (
    SETTINGS,
    Command,
    CommandError,
    CommandSink,
    InterruptCmd,
    Limits,
    SetMode,
    SetMute,
    SetSensitivity,
    SetVolume,
    SetWakeWord,
    dispatch,
)
from appliance.control.schema import parse
from appliance.control.state import StateMachine
from appliance.pipeline.contracts import Refusal

log = logging.getLogger("appliance.control")

LOG_EVERY_S = 5.0


class RefusalLog:
    """One log line per (command, code) every ``every_s``, saying how many were left out."""

    def __init__(self, every_s: float = LOG_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.every_s = every_s
        self.clock = clock
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str], tuple[float, int]] = {}  # -> (logged at, left out)

    def __call__(self, level: int, error: CommandError, verb: str,
                 exc: BaseException | None = None) -> None:
        key, now = (error.command or "", error.code), self.clock()
        with self._lock:
            at, skipped = self._last.get(key, (float("-inf"), 0))
            if now - at < self.every_s:
                self._last[key] = (at, skipped + 1)
                return
            self._last[key] = (now, 0)
        more = f" ({skipped} more like it in the last {now - at:.0f} s)" if skipped else ""
        log.log(level, "command %s %s (%s): %s%s", error.command, verb, error.code,
                error.message, more, exc_info=exc)


class Controller:
    def __init__(
        self, state: StateMachine, sink: CommandSink, limits: Limits | None = None
    ) -> None:
        self.state = state
        self.sink = sink
        self.limits = limits if limits is not None else Limits()
        self._settings_lock = threading.RLock()
        self._log_refusal = RefusalLog()

    def handle(self, name: str, payload: bytes) -> CommandError | None:
        """Parse and execute one MQTT payload; returns the error to publish, if any."""
        cmd = parse(name, payload, self.limits)
        if isinstance(cmd, CommandError):
            self._log_refusal(logging.WARNING, cmd, "rejected")
            return self._refused(cmd)
        return self.execute(cmd, name)

    def execute(self, cmd: Command, name: str = "") -> CommandError | None:
        """Carry out a validated command; a failing sink becomes an error, never a crash."""
        try:
            if isinstance(cmd, SETTINGS):
                with self._settings_lock:
                    dispatch(cmd, self.sink)
                    self._record(cmd)
            else:
                dispatch(cmd, self.sink)
        except Refusal as exc:
            refusal = CommandError(exc.code, str(exc), None, name)
            self._log_refusal(logging.INFO, refusal, "refused")
            return self._refused(refusal)
        except Exception as exc:
            failure = CommandError("execution_failed", f"{type(exc).__name__}: {exc}", None, name)
            self._log_refusal(logging.ERROR, failure, "failed in the pipeline", exc)
            return self._refused(failure)
        return None

    def _refused(self, error: CommandError) -> CommandError:
        self.state.emit("error", **error.as_dict())
        return error

    def _record(self, cmd: Command) -> None:
        if isinstance(cmd, SetVolume):
            self.state.set_volume(cmd.volume)
        elif isinstance(cmd, SetMute):
            self.state.set_muted(cmd.muted)
        elif isinstance(cmd, SetMode):
            self.state.set_mode(cmd.mode)
        elif isinstance(cmd, SetWakeWord):
            self.state.set_wake_word(cmd.word)
        elif isinstance(cmd, SetSensitivity):
            self.state.set_sensitivity(cmd.sensitivity)

    # --- the button face --------------------------------------------------------------------

    def interrupt(self, source: str) -> None:
        self.execute(InterruptCmd(source), "interrupt")

    def toggle_mute(self) -> bool:
        """Flip the mic mute (mute button); returns the new value."""
        with self._settings_lock:
            muted = not self.state.snapshot().muted
            try:
                self.sink.set_mute(muted)
            except Exception:
                log.exception("mute toggle failed in the pipeline")
                return not muted
            self.state.set_muted(muted)
            return muted

    def cycle_mode(self) -> str:
        """Next listening mode (long press on the mute button)."""
        with self._settings_lock:
            current = self.state.snapshot().mode
            mode = MODES[(MODES.index(current) + 1) % len(MODES)]
            self.execute(SetMode(mode), "mode")
            return mode
