"""`appliance doctor` on a good setup (file-backed ALSA PCMs, the packaged models in the repo's
cache, a real mosquitto with a password, gpiozero's MockFactory) and on broken ones."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from appliance import config
from appliance.cli import main
from appliance.system.doctor import Check, exit_status, models_needed, render, run_checks
from appliance.system.modelstore import ModelStore
from tests.support.alsa import AlsaConfig
from tests.support.broker import PASSWORD, USER, Broker

REPO_CACHE = Path(__file__).resolve().parent.parent / "var" / "cache"


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def settings_for(alsa_cfg: AlsaConfig, tmp_path: Path, **sections: dict) -> config.Settings:
    alsa_cfg.capture("mic", bytes(32000))
    alsa_cfg.playback("spk")
    base = {
        "device": {"state_dir": str(tmp_path / "state"), "cache_dir": str(REPO_CACHE)},
        "audio": {"capture_device": "mic", "playback_device": "spk"},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return config.from_dict(base)


def test_good_setup(
    alsa: AlsaConfig, broker: Broker, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = ModelStore(REPO_CACHE)
    needed = models_needed(config.from_dict({}))
    if any(store.status(n) != "ready" for n in needed):
        pytest.skip("packaged models not prepared: run `appliance models prepare` (setup.sh does)")
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    monkeypatch.setenv("DOCTOR_TEST_PW", PASSWORD)
    s = settings_for(
        alsa, tmp_path,
        mqtt={"enabled": True, "port": broker.port, "username": USER,
              "password_env": "DOCTOR_TEST_PW"},
        gpio={"enabled": True},
    )
    checks = run_checks(s, store)
    table = render(checks)
    assert exit_status(checks) == 0, table
    got = by_name(checks)
    assert got["capture device"].ok and "'mic' opens at 16000 Hz" in got["capture device"].detail
    assert got["playback device"].ok
    for name in needed:
        assert got[f"model {name}"].ok, table
    assert got["mqtt broker"].detail.endswith(f"connected as {USER!r}")
    assert got["gpio"].ok and "MockFactory" in got["gpio"].detail
    assert got["state dir"].ok
    assert "all required checks passed" in table
    assert "interpreter" in got and "GIL" in got["interpreter"].detail


def test_broken_setup(
    alsa: AlsaConfig, broker: Broker, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    monkeypatch.setenv("DOCTOR_TEST_PW", "wrong-password")
    s = settings_for(
        alsa, tmp_path,
        audio={"capture_device": "no_such_mic"},
        stt={"engine": "vosk", "vosk_model": "vosk-model-small-es-0.42"},
        mqtt={"enabled": True, "port": broker.port, "username": USER,
              "password_env": "DOCTOR_TEST_PW"},
    )
    store = ModelStore(tmp_path / "empty-cache")
    checks = run_checks(s, store)
    got = by_name(checks)
    table = render(checks)
    assert exit_status(checks) == 1
    cap = got["capture device"]
    assert not cap.ok and "no_such_mic" in cap.detail and "arecord -L" in cap.fix
    assert got["playback device"].ok  # only the broken one fails
    vosk = got["model vosk-model-small-es-0.42"]
    assert not vosk.ok and "appliance models fetch vosk-model-small-es-0.42" in vosk.detail
    whisperless = got["model silero-vad"]  # used in place from its package: present
    assert whisperless.ok
    llm = got["model gemma-3-270m"]  # packaged but not assembled in this empty cache
    assert not llm.ok and "appliance models prepare" in llm.fix
    mqtt = got["mqtt broker"]
    assert not mqtt.ok and "refused" in mqtt.detail and "password" in mqtt.fix
    assert "FIX capture device:" in table
    assert "required check(s) failed" in table


def test_unreachable_broker_and_no_gpio(
    alsa: AlsaConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = settings_for(alsa, tmp_path, mqtt={"enabled": True, "port": port},
                            gpio={"enabled": True})
    got = by_name(run_checks(settings, ModelStore(tmp_path / "c")))
    assert not got["mqtt broker"].ok and "cannot connect" in got["mqtt broker"].detail
    # this machine has no GPIO chip: no real pin factory can start
    assert not got["gpio"].ok and "group gpio" in got["gpio"].fix


def test_cli_exit_status(alsa: AlsaConfig, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"device: {{state_dir: {tmp_path / 's'}, cache_dir: {tmp_path / 'c'}}}\n"
        "audio: {capture_device: nothing_here, playback_device: nothing_here}\n"
    )
    assert main(["doctor", "--config", str(cfg)]) == 1
    out = capsys.readouterr().out
    assert "capture device" in out and "FAIL" in out and "FIX" in out


def test_no_llm_configured_is_not_a_missing_model() -> None:
    """`brain.llm_model: ""` (templates only, as in the CI image) needs no LLM model."""
    with_llm = models_needed(config.from_dict({}))
    without = models_needed(config.from_dict({"brain": {"llm_model": ""}}))
    assert "gemma-3-270m" in with_llm
    assert "" not in without and "gemma-3-270m" not in without
    assert set(without) == set(with_llm) - {"gemma-3-270m"}
