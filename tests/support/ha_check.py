"""Home Assistant's own code judging what the appliance publishes. Runs in the separate
Home Assistant venv (Python 3.13, ``scripts/setup-ha.sh``), not in the appliance's.

Reads one JSON bundle on stdin - the discovery document exactly as published, the published
states, diagnostics and events, a message for the notify entity, and the docs' automation - and
writes a JSON report on stdout: per component its platform, effective QoS and rendered values,
the notify entity's command payload, the automation's rendered templates, and every problem
found (``errors``; empty when Home Assistant would accept it all).

Discovery goes through the same steps as in ``homeassistant.components.mqtt.discovery``:
abbreviations, the device schema, the merge of shared device options into each component,
then the platform's own ``DISCOVERY_SCHEMA``. Templates are rendered by Home Assistant's
template engine the way the MQTT entities render them.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import tempfile
from typing import Any

import voluptuous as vol
from homeassistant.components.mqtt import discovery
from homeassistant.components.mqtt.const import PAYLOAD_NONE
from homeassistant.components.mqtt.models import (
    MqttCommandTemplate,
    MqttValueTemplate,
    PayloadSentinel,
)
from homeassistant.const import __version__ as HA_VERSION
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import intent
from homeassistant.helpers.template import Template
from homeassistant.util import dt as dt_util


def components(doc: dict[str, Any], object_id: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each component's platform and its effective config, as HA's discovery builds it."""
    payload = discovery._parse_device_payload(None, json.dumps(doc), object_id, None)  # type: ignore[arg-type]
    if not payload:
        raise ValueError("Home Assistant refused the device discovery payload (see its log)")
    out = {}
    for key, config in payload["components"].items():
        config = dict(config)
        platform = config.pop("platform")
        merged = discovery.MQTTDiscoveryPayload(config)
        merged["device"] = payload["device"]
        merged["origin"] = payload.get("origin")
        discovery._merge_common_device_options(merged, payload)
        out[key] = (platform, dict(merged))
    return out


def value(hass: HomeAssistant, template: str, payload: str) -> Any:
    return MqttValueTemplate(Template(template, hass)).async_render_with_possible_json_value(
        payload, PayloadSentinel.DEFAULT)


def check_value(platform: str, cfg: dict[str, Any], rendered: Any) -> str | None:
    """Would the entity take ``rendered`` as its state? (as its ``_update_state`` decides)"""
    text = str(rendered)
    if platform == "sensor":
        if text == PAYLOAD_NONE:
            return None
        if cfg.get("device_class") == "timestamp":
            parsed = dt_util.parse_datetime(text)
            return None if parsed is not None and parsed.tzinfo else f"not a timestamp: {text!r}"
        if cfg.get("options") and text not in cfg["options"]:
            return f"{text!r} is not one of its options"
        if cfg.get("unit_of_measurement") or cfg.get("state_class"):
            try:
                float(text)
            except ValueError:
                return f"not a number: {text!r}"
        return None if len(text) <= 255 else f"{len(text)} characters (over 255)"
    if platform == "binary_sensor":
        ok = text in (cfg["payload_on"], cfg["payload_off"])
        return None if ok else f"{text!r} is neither ON nor OFF"
    if platform == "switch":
        ok = text in (cfg["state_on"], cfg["state_off"])
        return None if ok else f"{text!r} is neither state_on nor state_off"
    if platform == "number":
        ok = cfg["min"] <= float(text) <= cfg["max"]
        return None if ok else f"{text} outside {cfg['min']}..{cfg['max']}"
    if platform == "select":
        return None if text in cfg["options"] else f"{text!r} is not one of its options"
    return f"no state check for platform {platform}"


def _source(template: Any) -> str:
    """A template's text (the schemas turn template strings into Template objects)."""
    return template.template if isinstance(template, Template) else str(template)


def render_automation(hass: HomeAssistant, automation: dict[str, Any],
                      events: list[dict[str, Any]], reply: str) -> dict[str, Any]:
    """Validate the automation's parts with Home Assistant's schemas and run its templates
    on each published event, as the automation engine would."""
    from homeassistant.components.mqtt.trigger import TRIGGER_SCHEMA

    (trigger,) = cv.TRIGGER_SCHEMA(automation["triggers"])  # trigger: -> platform: as HA does
    trigger = TRIGGER_SCHEMA(trigger)
    conditions = [cv.CONDITION_SCHEMA(c) for c in automation.get("conditions", [])]
    actions = cv.SCRIPT_SCHEMA(automation["actions"])
    response = intent.IntentResponse(language="es")
    response.async_set_speech(reply)
    runs = []
    for event in events:
        payload = json.dumps(event)
        rendered = value(hass, trigger["value_template"].template, payload)
        matched = rendered == trigger["payload"].template
        topic = trigger["topic"].template
        tvars = {"trigger": {"payload": payload, "payload_json": event, "topic": topic}}
        if matched and all(Template(c["value_template"].template, hass).async_render(tvars)
                           for c in conditions if c["condition"] == "template"):
            process, speak = actions
            text = Template(_source(process["data"]["text"]), hass).async_render(tvars)
            variables = {**tvars, process["response_variable"]: {
                "response": response.as_dict()}}
            message = Template(_source(speak["data"]["message"]), hass).async_render(variables)
            runs.append({"event": event, "conversation_text": text, "message": message,
                         "notify_target": speak["target"]["entity_id"], "topic": topic,
                         "qos": trigger["qos"],
                         "language": _source(process["data"]["language"]),
                         "action": [process["action"], speak["action"]]})
    return {"runs": runs}


async def main(bundle: dict[str, Any]) -> dict[str, Any]:
    hass = HomeAssistant(tempfile.mkdtemp())
    errors: list[str] = []
    report: dict[str, Any] = {"ha_version": HA_VERSION, "components": {}, "errors": errors}
    comps = components(bundle["discovery"], bundle["object_id"])
    topics = {bundle["state_topic"]: [json.dumps(s) for s in bundle["states"]],
              bundle["diagnostics_topic"]: [json.dumps(bundle["diagnostics"])]}
    for key, (platform, cfg) in comps.items():
        module = importlib.import_module(f"homeassistant.components.mqtt.{platform}")
        try:
            valid = module.DISCOVERY_SCHEMA(cfg)
        except vol.Invalid as exc:
            errors.append(f"{key} ({platform}): invalid: {exc}")
            continue
        entry: dict[str, Any] = {"platform": platform, "qos": valid["qos"], "rendered": {}}
        report["components"][key] = entry
        for payload in topics.get(valid.get("state_topic", ""), []):  # the last one is reported
            if valid.get("value_template") is not None:
                rendered = value(hass, valid["value_template"].template, payload)
                entry["rendered"]["value"] = rendered
                if (problem := check_value(platform, valid, rendered)) is not None:
                    errors.append(f"{key} ({platform}): state {problem}")
            if valid.get("json_attributes_template") is not None:
                attrs = value(hass, valid["json_attributes_template"].template, payload)
                try:
                    entry["rendered"]["attributes"] = json.loads(attrs)
                except ValueError:
                    errors.append(f"{key}: attributes are not JSON: {attrs!r}")
        if platform == "event":
            for event in bundle["events"]:
                if event.get("event_type") not in valid["event_types"]:
                    errors.append(f"{key}: event type {event.get('event_type')!r} not declared")
        if platform == "notify":
            template = Template(valid["command_template"].template, hass)
            report["notify_payload"] = MqttCommandTemplate(template).async_render(
                bundle["notify_message"])
    report["automation"] = render_automation(hass, bundle["automation"], bundle["events"],
                                             bundle["reply"])
    await hass.async_stop(force=True)
    return report


if __name__ == "__main__":
    out = asyncio.run(main(json.load(sys.stdin)))
    json.dump(out, sys.stdout, default=str, ensure_ascii=False)
