"""The demo conversation runs end to end: the seed's five scenarios through the real pipeline
(Whisper, Kokoro, gemma LLM) on FIFO-backed ALSA devices paced in real time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_demo_conversation_five_scenarios(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "appliance", "demo", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=1100,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    turns = report["turns"]
    assert [t["scenario"][0] for t in turns] == ["1", "1", "2", "3", "4", "5", "5", "6"]
    for t in turns:
        assert "error" not in t, t
        assert t["heard"].strip(), t
        assert t["first_sound"] in ("answer", "filler"), t
    by_line = {t["said"]: t for t in turns}
    time = by_line["¿Me dices la hora, por favor?"]
    assert (time["route"], time["intent"]) == ("template", "time")
    timer = by_line["Pon un temporizador de veinte minutos para la pasta."]
    assert timer["intent"] == "timer_set"
    assert "pasta" in timer["answer"].lower()  # every variant names the timer
    assert by_line["Cancela el temporizador de la pasta."]["intent"] == "timer_cancel"
    assert by_line["Explícame paso a paso cómo se hace una paella."]["route"] == "llm"
    cut = by_line["Cuéntame la historia de la tortilla de patatas."]
    assert "interrupt_to_silent_ms" in cut, "the button press silenced the answer"
    assert by_line["¿Cuál es la capital de Francia?"]["answer"].strip()
    assert by_line["¿Y cuántos habitantes tiene?"]["route"] == "llm"
    audio, rate = sf.read(tmp_path / "conversation.wav")
    assert rate == 16000 and audio.shape[1] == 2
    assert abs(audio[:, 0]).max() > 0.1 and abs(audio[:, 1]).max() > 0.1  # both voices
    assert "5. Multi-turno" in proc.stdout
