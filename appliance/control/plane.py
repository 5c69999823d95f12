"""Assemble the control plane from settings: one state machine, one controller, its workers.

The pipeline passes in its ``CommandSink``; the returned workers (MQTT and/or GPIO, only those
enabled) go to the supervisor next to the audio stages, and the pipeline reports its phases,
transcripts, answers, timers and latencies to ``plane.state``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.config import Settings
from appliance.control.commands import CommandSink, Limits
from appliance.control.controller import Controller
from appliance.control.state import StateMachine
from appliance.pipeline.worker import Worker


@dataclass
class ControlPlane:
    state: StateMachine
    controller: Controller
    workers: list[Worker]


def build(settings: Settings, sink: CommandSink, *, volume: int = 50,
          pin_factory: Any = None) -> ControlPlane:
    """``volume`` is the restored output volume (the pipeline owns its persistence)."""
    state = StateMachine(volume=volume, mode=settings.listen.mode)
    limits = Limits(max_text_chars=settings.mqtt.max_text_chars,
                    styles=tuple(settings.tts.styles))
    controller = Controller(state, sink, limits)
    workers: list[Worker] = []
    if settings.mqtt.enabled:
        from appliance.control.mqtt import MqttWorker

        workers.append(MqttWorker(settings.mqtt, controller, device_id=settings.device.id,
                                  device_name=settings.device.name))
    if settings.gpio.enabled:
        from appliance.control.gpio import GpioWorker

        workers.append(GpioWorker(settings.gpio, controller, pin_factory=pin_factory))
    return ControlPlane(state, controller, workers)
