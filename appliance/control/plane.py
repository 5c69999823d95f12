"""Assemble the control plane from settings: the state machine, the controller, its workers.

The composition root passes in the pipeline's ``CommandSink`` and what the control worker
routes events to; the returned workers (the control worker, and MQTT and/or GPIO when enabled)
go to the supervisor next to the audio stages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from appliance.config import Settings
from appliance.control.commands import CommandSink, Limits
from appliance.control.controller import Controller
from appliance.control.preferences import Preferences, PreferenceStore
from appliance.control.state import StateMachine
from appliance.control.worker import ControlWorker, Listener, ObserverWorker
from appliance.pipeline.inbox import Inbox
from appliance.pipeline.worker import Worker


@dataclass
class ControlPlane:
    state: StateMachine
    controller: Controller
    control: ControlWorker  # its inbox is the pipeline's one events inbox
    observers: ObserverWorker
    faces: list[Worker]  # MQTT and GPIO, those enabled

    @property
    def workers(self) -> list[Worker]:
        return [self.control, self.observers, *self.faces]


def build(settings: Settings, sink: CommandSink, *, events: Inbox,
          listeners: Sequence[Listener] = (), volume: int = 50,
          restored: Preferences | None = None, wake_words: Sequence[str] = (),
          diagnostics: Callable[[], dict[str, Any]] | None = None,
          pin_factory: Any = None) -> ControlPlane:
    """``events``: the inbox every worker reports into, read by the control worker;
    ``listeners``: what the control worker hands every event to first (turn-taking, the
    brain's playback feedback); ``volume``: the restored output volume (the brain owns its
    persistence); ``restored``: the preferences the pipeline was built with (the composition
    root loaded them from the state directory), kept there again on every change;
    ``wake_words``: the wake word models MQTT may switch between; ``diagnostics``: extra
    figures for MQTT diagnostics."""
    prefs = restored or Preferences.from_settings(settings.listen)
    state = StateMachine(volume=volume, muted=prefs.muted, mode=prefs.mode,
                         wake_word=prefs.wake_word if wake_words else "",
                         sensitivity=prefs.sensitivity, diagnostics=diagnostics)
    state.subscribe(PreferenceStore(settings.state_path, events).on_state)
    limits = Limits(max_text_chars=settings.mqtt.max_text_chars,
                    styles=tuple(settings.tts.styles), wake_words=tuple(wake_words))
    controller = Controller(state, sink, limits)
    observers = ObserverWorker()
    control = ControlWorker(state, events=events, listeners=listeners, observers=observers)
    faces: list[Worker] = []
    if settings.mqtt.enabled:
        from appliance.control.mqtt import MqttWorker

        faces.append(MqttWorker(settings.mqtt, controller, device_id=settings.device.id,
                                device_name=settings.device.name))
    if settings.gpio.enabled:
        from appliance.control.gpio import GpioWorker

        faces.append(GpioWorker(settings.gpio, controller, pin_factory=pin_factory))
    return ControlPlane(state, controller, control, observers, faces)
