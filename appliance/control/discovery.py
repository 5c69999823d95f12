"""Home Assistant MQTT discovery: one device-based message describing every entity.

One retained message (``<prefix>/device/<device_id>/config``) instead of one per entity, so
the device appears or changes atomically. Every entity reads the same retained JSON state
topic through a value template; long texts (transcript, answer) are cut to Home Assistant's
255-character state limit and carried whole in the JSON attributes. Home Assistant's own
schema and template code checks this document in ``tests/test_home_assistant.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.config import MODES
from appliance.control.state import EVENT_TYPES, SENSITIVITY_RANGE, STATES


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


def _binary(t: Topics, key: str, name: str, icon: str, **extra: Any) -> dict[str, Any]:
    return {
        "p": "binary_sensor",
        "name": name,
        "icon": icon,
        "state_topic": t.state,
        "value_template": "{{ 'ON' if value_json." + key + " else 'OFF' }}",
        **extra,
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


def discovery_payload(t: Topics, device_name: str, version: str = "0.1.0",
                      wake_words: tuple[str, ...] = ()) -> dict[str, Any]:
    """The discovery document; every component has ``p``, ``unique_id``, availability and
    ``qos: 1`` of its own (Home Assistant does not take QoS from the device level), so a
    command sent while the appliance reconnects is delivered, not lost. Settings are
    ``config`` entities, figures ``diagnostic`` ones. ``wake_words``: the models on this
    device (no select and no sensitivity without one)."""
    lo, hi = SENSITIVITY_RANGE
    components: dict[str, dict[str, Any]] = {
        "state": {
            "p": "sensor", "name": "State", "icon": "mdi:state-machine",
            "device_class": "enum", "options": list(STATES),
            "state_topic": t.state, "value_template": "{{ value_json.state }}",
        },
        "last_transcript": _text_sensor(t, "last_transcript", "Last transcript", "mdi:text"),
        "last_answer": _text_sensor(t, "last_answer", "Last answer", "mdi:message-reply-text"),
        "listening": _binary(t, "listening", "Listening", "mdi:ear-hearing"),
        "speaking": _binary(t, "speaking", "Speaking", "mdi:account-voice"),
        "timer_ringing": _binary(t, "ringing", "Timer ringing", "mdi:timer-alert",
                                 device_class="sound"),
        "interrupt": {
            "p": "button", "name": "Interrupt", "icon": "mdi:stop",
            "command_topic": t.cmd("interrupt"), "payload_press": "PRESS",
        },
        "push_to_talk": {
            "p": "button", "name": "Push to talk", "icon": "mdi:microphone-message",
            "command_topic": t.cmd("ptt"), "payload_press": "start",
        },
        "announce": {
            "p": "notify", "name": "Announce", "icon": "mdi:bullhorn",
            "command_topic": t.cmd("say"),
            "command_template": "{{ {'text': value} | tojson }}",
        },
        "mute": {
            "p": "switch", "name": "Microphone mute", "icon": "mdi:microphone-off",
            "command_topic": t.cmd("mute"), "payload_on": "ON", "payload_off": "OFF",
            "state_topic": t.state,
            "value_template": "{{ 'ON' if value_json.muted else 'OFF' }}",
            "state_on": "ON", "state_off": "OFF", "entity_category": "config",
        },
        "volume": {
            "p": "number", "name": "Volume", "icon": "mdi:volume-high",
            "command_topic": t.cmd("volume"), "min": 0, "max": 100, "step": 1, "mode": "slider",
            "state_topic": t.state, "value_template": "{{ value_json.volume }}",
            "entity_category": "config",
        },
        "listening_mode": {
            "p": "select", "name": "Listening mode", "icon": "mdi:ear-hearing",
            "command_topic": t.cmd("mode"), "options": list(MODES),
            "state_topic": t.state, "value_template": "{{ value_json.mode }}",
            "entity_category": "config",
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
        "next_timer": {
            "p": "sensor", "name": "Next timer", "icon": "mdi:timer-sand",
            "device_class": "timestamp", "state_topic": t.state,
            "value_template": "{{ value_json.next_timer or None }}",
            "json_attributes_topic": t.state,
            "json_attributes_template": "{{ {'timers': value_json.timers} | tojson }}",
        },
        "response_time": _diag(t, "last_response_ms", "End of speech to first sound", "ms",
                               device_class="duration"),
        "interrupt_latency": _diag(t, "last_interrupt_ms", "Last interrupt latency", "ms",
                                   device_class="duration"),
        "cpu": _diag(t, "cpu_percent", "CPU", "%", icon="mdi:cpu-64-bit"),
        "uptime": _diag(t, "uptime_s", "Uptime", "s", device_class="duration"),
    }
    if wake_words:
        components["wake_word"] = {
            "p": "select", "name": "Wake word", "icon": "mdi:account-voice",
            "command_topic": t.cmd("wake_word"), "options": list(wake_words),
            "state_topic": t.state, "value_template": "{{ value_json.wake_word }}",
            "entity_category": "config",
        }
        components["wake_word_sensitivity"] = {
            "p": "number", "name": "Wake word sensitivity", "icon": "mdi:tune-vertical",
            "command_topic": t.cmd("sensitivity"), "min": lo, "max": hi, "step": 0.05,
            "mode": "slider", "state_topic": t.state,
            "value_template": "{{ value_json.sensitivity }}", "entity_category": "config",
        }
    for key, comp in components.items():
        comp["unique_id"] = f"{t.device_id}_{key}"
        comp["availability"] = [{"topic": t.availability}]
        comp["qos"] = 1
    return {
        "dev": {
            "ids": [t.device_id],
            "name": device_name,
            "mf": "appliance project",
            "mdl": "Kitchen voice speaker",
            "sw": version,
        },
        "o": {"name": "appliance", "sw": version},
        "cmps": components,
    }
