"""`appliance ask` without any model: the real router, templates and timers answer at once,
open questions get the apology, and --speak says each sentence on a (file-backed) ALSA
device. The server and local-model paths are tested in test_llm_server.py."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from appliance.cli import main
from appliance.core.pcm import to_float32


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("ask")
    path = d / "config.yaml"
    path.write_text(yaml.safe_dump({"device": {"state_dir": str(d / "state")},
                                    "tts": {"engine": "espeak"}, "brain": {"llm_model": ""}}))
    return path


def test_one_turn_as_json(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--json", "--config", str(cfg), "¿Qué hora es?"]) == 0
    (turn,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (turn["route"], turn["intent"], turn["source"]) == ("template", "time", "template")
    assert turn["answer"] and turn["first_token_ms"] >= 0 and turn["total_ms"] >= 0


def test_stdin_lines_are_one_conversation(cfg: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    lines = "pon un temporizador de cinco minutos\n\n¿cuánto le queda al temporizador?\n" \
            "¿Por qué sube el pan en el horno?\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    assert main(["ask", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and all(out)
    assert "minuto" in out[1]  # the timer set by the first line is still running
    # no LLM configured: the open question is apologised for, not left unanswered
    assert main(["ask", "--json", "--config", str(cfg), "¿Por qué sube el pan?"]) == 0
    turn = json.loads(capsys.readouterr().out)
    assert turn["source"] == "apology" and turn["answer"]


def test_speak_says_the_answer_on_the_playback_device(alsa, cfg: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = alsa.playback("askout")
    settings = yaml.safe_load(cfg.read_text())
    settings["audio"] = {"playback_device": "askout", "playback_rate": 48000}
    spoken = tmp_path / "speak.yaml"
    spoken.write_text(yaml.safe_dump(settings))
    assert main(["ask", "--speak", "--config", str(spoken), "Sube el volumen."]) == 0
    assert capsys.readouterr().out.strip()
    written = to_float32(out.read_bytes())
    assert len(written) > 48000 * 0.5 and np.abs(written).max() > 0.05


def test_an_empty_question_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "  "]) == 2
    assert "nothing to ask" in capsys.readouterr().err
