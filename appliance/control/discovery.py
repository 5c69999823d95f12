"""Home Assistant MQTT discovery: one device-based message describing every entity.

One retained message (``<prefix>/device/<device_id>/config``) instead of one per entity, so
the device appears or changes atomically. Every entity reads the same retained JSON state
topic through a value template; long texts (transcript, answer) are cut to Home Assistant's
255-character state limit and carried whole in the JSON attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.config import MODES
from appliance.control.state import EVENT_TYPES, STATES


@dataclass(frozen=True)
class Topics:
    """Every topic the control plane uses, derived from one base."""

    base: str
    discovery_prefix: str
    device_id: str

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    @property
    def diagnostics(self) -> str:
        return f"{self.base}/diagnostics"

    @property
    def event(self) -> str:
        return f"{self.base}/event"

    @property
    def error(self) -> str:
        return f"{self.base}/error"

    @property
    def commands(self) -> str:
        return f"{self.base}/cmd/#"

    def cmd(self, name: str) -> str:
        return f"{self.base}/cmd/{name}"

    @property
    def discovery(self) -> str:
        return f"{self.discovery_prefix}/device/{self.device_id}/config"

    @property
    def ha_status(self) -> str:
        return f"{self.discovery_prefix}/status"


def topics_for(
    device_id: str, base_topic: str = "", discovery_prefix: str = "homeassistant"
) -> Topics:
    return Topics(base_topic.rstrip("/") or f"appliance/{device_id}", discovery_prefix, device_id)


def _text_sensor(t: Topics, key: str, name: str, icon: str) -> dict[str, Any]:
    return {
        "p": "sensor",
        "name": name,
        "icon": icon,
        "state_topic": t.state,
        "value_template": "{{ value_json." + key + "[:255] }}",
        "json_attributes_topic": t.state,
        "json_attributes_template": "{{ {'text': value_json." + key + "} | tojson }}",
    }


def _diag(t: Topics, key: str, name: str, unit: str, **extra: Any) -> dict[str, Any]:
    return {
        "p": "sensor",
        "name": name,
        "state_topic": t.diagnostics,
        "value_template": "{{ value_json." + key + " }}",
        "unit_of_measurement": unit,
        "state_class": "measurement",
        "entity_category": "diagnostic",
        **extra,
    }


def discovery_payload(t: Topics, device_name: str, version: str = "0.1.0") -> dict[str, Any]:
    """The discovery document; every component has ``p``, ``unique_id`` and availability."""
    components: dict[str, dict[str, Any]] = {
        "state": {
            "p": "sensor", "name": "State", "icon": "mdi:state-machine",
            "device_class": "enum", "options": list(STATES),
            "state_topic": t.state, "value_template": "{{ value_json.state }}",
        },
        "last_transcript": _text_sensor(t, "last_transcript", "Last transcript", "mdi:text"),
        "last_answer": _text_sensor(t, "last_answer", "Last answer", "mdi:message-reply-text"),
        "interrupt": {
            "p": "button", "name": "Interrupt", "icon": "mdi:stop",
            "command_topic": t.cmd("interrupt"), "payload_press": "PRESS",
        },
        "push_to_talk": {
            "p": "button", "name": "Push to talk", "icon": "mdi:microphone-message",
            "command_topic": t.cmd("ptt"), "payload_press": "start",
        },
        "mute": {
            "p": "switch", "name": "Microphone mute", "icon": "mdi:microphone-off",
            "command_topic": t.cmd("mute"), "payload_on": "ON", "payload_off": "OFF",
            "state_topic": t.state,
            "value_template": "{{ 'ON' if value_json.muted else 'OFF' }}",
            "state_on": "ON", "state_off": "OFF",
        },
        "volume": {
            "p": "number", "name": "Volume", "icon": "mdi:volume-high",
            "command_topic": t.cmd("volume"), "min": 0, "max": 100, "step": 1, "mode": "slider",
            "state_topic": t.state, "value_template": "{{ value_json.volume }}",
        },
        "listening_mode": {
            "p": "select", "name": "Listening mode", "icon": "mdi:ear-hearing",
            "command_topic": t.cmd("mode"), "options": list(MODES),
            "state_topic": t.state, "value_template": "{{ value_json.mode }}",
        },
        "event": {
            "p": "event", "name": "Event", "state_topic": t.event,
            "event_types": list(EVENT_TYPES),
        },
        "timers": {
            "p": "sensor", "name": "Active timers", "icon": "mdi:timer-outline",
            "state_topic": t.state, "value_template": "{{ value_json.timers | count }}",
            "json_attributes_topic": t.state,
            "json_attributes_template": "{{ {'timers': value_json.timers} | tojson }}",
        },
        "time_to_first_sound": _diag(t, "last_ttfs_ms", "Last time to first sound", "ms",
                                     device_class="duration"),
        "interrupt_latency": _diag(t, "last_interrupt_ms", "Last interrupt latency", "ms",
                                   device_class="duration"),
        "cpu": _diag(t, "cpu_percent", "CPU", "%", icon="mdi:cpu-64-bit"),
        "uptime": _diag(t, "uptime_s", "Uptime", "s", device_class="duration"),
    }
    for key, comp in components.items():
        comp["unique_id"] = f"{t.device_id}_{key}"
        comp["availability"] = [{"topic": t.availability}]
    return {
        "dev": {
            "ids": [t.device_id],
            "name": device_name,
            "mf": "appliance project",
            "mdl": "Kitchen voice speaker",
            "sw": version,
        },
        "o": {"name": "appliance", "sw": version},
        "qos": 1,
        "cmps": components,
    }
