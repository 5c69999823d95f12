"""Commands in, pipeline calls and state changes out: the meeting point of MQTT and GPIO.

Settings the state machine owns (volume, mute, listening mode, wake word and its
sensitivity) are applied to the sink and recorded in the state under one lock, so two faces
changing the same setting at once leave the pipeline and the published state in agreement.
Actions (interrupt, say, ptt, timers) go straight to the sink; the pipeline reports what
follows as events, and the control worker turns them into the phase. A refusal (a timer name
taken) is returned with its own code, and every refusal is also an ``error`` event.
"""

from __future__ import annotations

import logging
import threading

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


class Controller:
    def __init__(
        self, state: StateMachine, sink: CommandSink, limits: Limits | None = None
    ) -> None:
        self.state = state
        self.sink = sink
        self.limits = limits if limits is not None else Limits()
        self._settings_lock = threading.RLock()

    def handle(self, name: str, payload: bytes) -> CommandError | None:
        """Parse and execute one MQTT payload; returns the error to publish, if any."""
        cmd = parse(name, payload, self.limits)
        if isinstance(cmd, CommandError):
            log.warning("rejected command %s: %s (%s)", cmd.command, cmd.message, cmd.code)
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
            log.info("command %s refused (%s): %s", name, exc.code, exc)
            return self._refused(CommandError(exc.code, str(exc), None, name))
        except Exception as exc:
            log.exception("command %r failed in the pipeline", cmd)
            return self._refused(CommandError("execution_failed", f"{type(exc).__name__}: {exc}",
                                              None, name))
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
