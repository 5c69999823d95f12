"""Settings: each class of bad value fails at start with a message naming key, value, allowed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from appliance import config
from appliance.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_example_config_loads_and_documents_every_key() -> None:
    settings = config.load(ROOT / "config.example.yaml")
    assert settings == config.load(None)
    example = yaml.safe_load((ROOT / "config.example.yaml").read_text())

    def keys(cls: type, prefix: str = "") -> set[str]:
        out = set()
        for f in dataclasses.fields(cls):
            tp = cls.__annotations__[f.name]
            sub = getattr(config, tp, None) if isinstance(tp, str) else None
            if sub is not None and dataclasses.is_dataclass(sub) and f.name != "styles":
                out |= keys(sub, f"{prefix}{f.name}.")
            else:
                out.add(f"{prefix}{f.name}")
        return out

    def flat(d: dict, prefix: str = "") -> set[str]:
        out = set()
        for k, v in d.items():
            if isinstance(v, dict) and k != "styles":
                out |= flat(v, f"{prefix}{k}.")
            else:
                out.add(f"{prefix}{k}")
        return out

    assert keys(config.Settings) == flat(example)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"audio": {"perod_ms": 20}}, "unknown key audio.perod_ms; allowed keys here:"),
        ({"bogus": 1}, "unknown key bogus"),
        ({"audio": {"period_ms": "20"}}, "audio.period_ms: got '20', expected an integer"),
        ({"audio": {"period_ms": 64}}, "audio.period_ms: got 64, allowed range is 10 to 32"),
        ({"audio": {"period_ms": 5}}, "audio.period_ms: got 5, allowed range is 10 to 32"),
        ({"vad": {"threshold": 1.5}}, "vad.threshold: got 1.5, allowed range is 0.05 to 0.95"),
        ({"vad": {"threshold": True}}, "vad.threshold: got True, expected a number"),
        ({"stt": {"engine": "google"}}, "stt.engine: got 'google', expected one of 'whisper'"),
        ({"mqtt": {"enabled": "yes"}}, "mqtt.enabled: got 'yes', expected true or false"),
        ({"mqtt": {"port": 70000}}, "mqtt.port: got 70000, allowed range is 1 to 65535"),
        ({"mqtt": {"tls": {"ca": "x"}}}, "unknown key mqtt.tls.ca"),
        ({"stt": {"grammar": "hola"}}, "stt.grammar: got 'hola', expected a list of a string"),
        ({"audio": 3}, "audio: got 3, expected a mapping with keys"),
        ({"tts": {"style": "sad"}}, "tts.style: got 'sad', expected one of 'normal'"),
        ({"tts": {"styles": {"x": {"speed": 9}}}}, "tts.styles.x.speed: got 9, allowed range"),
        ({"gpio": {"led_pins": [1, 2]}}, "gpio.led_pins: got [1, 2], expected 1 or 3 pins"),
        ([1, 2], "expected a mapping at the top level"),
        ({"brain": {"llm_server": {"url": "ftp://h"}}},
         "brain.llm_server.url: got 'ftp://h', expected an http:// or https:// base URL"),
        ({"brain": {"llm_server": {"url": "http://h:11434/v1"}}},
         "brain.llm_server.model: empty, but brain.llm_server.url is set"),
        ({"brain": {"llm_server": {"first_token_timeout_s": 0}}},
         "brain.llm_server.first_token_timeout_s: got 0, allowed range is 0.2 to 60.0"),
        ({"stt": {"engine": "wyoming"}}, "stt.wyoming.url: empty, but stt.engine is wyoming"),
        ({"tts": {"wyoming": {"url": "http://h:10200"}}},
         "tts.wyoming.url: got 'http://h:10200', expected tcp://HOST:PORT or unix://PATH"),
        ({"tts": {"wyoming": {"fallback": "wyoming"}}},
         "tts.wyoming.fallback: got 'wyoming', expected one of 'kokoro', 'vits', 'espeak'"),
        # NaN passes every range check: a heartbeat timeout that never fires stops the pings.
        ({"service": {"heartbeat_timeout_s": float("nan")}},
         "service.heartbeat_timeout_s: got nan, expected a finite number"),
        ({"brain": {"timer_max_ring_s": float("inf")}},
         "brain.timer_max_ring_s: got inf, expected a finite number"),
        ({"device": {"id": "cocina#1"}}, "device.id: got 'cocina#1', expected 1-64 letters"),
        ({"device": {"id": "mi cocina"}}, "device.id: got 'mi cocina', expected 1-64 letters"),
        ({"device": {"id": ""}}, "device.id: got '', expected 1-64 letters"),
    ],
)
def test_bad_values_name_key_value_and_allowed(data: object, message: str) -> None:
    with pytest.raises(config.ConfigError) as err:
        config.from_dict(data)  # type: ignore[arg-type]
    assert message in str(err.value)


def test_settings_are_immutable() -> None:
    s = config.load(None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.audio.period_ms = 10  # type: ignore[misc]


def test_broken_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("audio: [unclosed\n")
    with pytest.raises(config.ConfigError, match="not valid YAML"):
        config.load(bad)
    with pytest.raises(config.ConfigError, match="cannot read config file"):
        config.load(tmp_path / "nope.yaml")


def test_a_config_file_that_is_not_utf8_is_one_clear_error(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("device:\n  name: Cocina de Mar\u00eda\n".encode("latin-1"))
    with pytest.raises(config.ConfigError, match=r"not UTF-8 text \(byte 29 is 0xed\)"):
        config.load(latin1)


def test_missing_secrets_of_the_enabled_parts_are_found_before_the_start(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APPLIANCE_TEST_PW", raising=False)
    s = config.from_dict({"mqtt": {"enabled": True, "password_env": "APPLIANCE_TEST_PW"}})
    with pytest.raises(config.ConfigError, match="'APPLIANCE_TEST_PW' is not set"):
        config.check_secrets(s)
    config.check_secrets(config.replace(s, mqtt={"enabled": False}))  # not needed: fine
    monkeypatch.setenv("APPLIANCE_TEST_PW", "x")
    config.check_secrets(s)


def test_cli_reports_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text("audio:\n  period_ms: 100\n")
    assert main(["models", "list", "--config", str(bad)]) == 2
    assert "audio.period_ms: got 100, allowed range is 10 to 32" in capsys.readouterr().err


def test_password_from_env_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPLIANCE_MQTT_PW", "s3cret")
    s = config.from_dict({"mqtt": {"password_env": "APPLIANCE_MQTT_PW"}})
    assert s.mqtt.resolved_password() == "s3cret"
    pw = tmp_path / "pw"
    pw.write_text("fromfile\n")
    s = config.from_dict({"mqtt": {"password_file": str(pw)}})
    assert s.mqtt.resolved_password() == "fromfile"
    s = config.from_dict({"mqtt": {"password_env": "APPLIANCE_UNSET_VAR"}})
    with pytest.raises(config.ConfigError, match="APPLIANCE_UNSET_VAR"):
        s.mqtt.resolved_password()


def test_llm_server_api_key_from_env_or_file(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def server(**keys: str) -> config.LlmServerSettings:
        return config.from_dict({"brain": {"llm_server": {
            "url": "http://h/v1", "model": "m", **keys}}}).brain.llm_server

    assert server().resolved_api_key() == ""  # no key: no Authorization header
    monkeypatch.setenv("APPLIANCE_LLM_KEY", "k-env")
    assert server(api_key_env="APPLIANCE_LLM_KEY").resolved_api_key() == "k-env"
    key = tmp_path / "key"
    key.write_text("k-file\n")
    assert server(api_key_file=str(key)).resolved_api_key() == "k-file"
    with pytest.raises(config.ConfigError, match="brain.llm_server.api_key_env: .*'NOPE_UNSET'"):
        server(api_key_env="NOPE_UNSET").resolved_api_key()
    with pytest.raises(config.ConfigError, match="brain.llm_server.api_key_file: cannot read"):
        server(api_key_file=str(tmp_path / "missing")).resolved_api_key()
