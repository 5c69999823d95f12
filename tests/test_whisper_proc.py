"""Whisper in a helper process (the python3.13t route): real model, real child interpreter.

The child is the GIL build's interpreter ($APPLIANCE_WHISPER_PYTHON, else .venv/bin/python).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from appliance import config
from appliance.config import SttSettings
from appliance.demo.speech import DEMO_SENTENCES, recorded
from appliance.listen.stt.whisper_proc import ENV, WhisperProcessEngine
from appliance.listen.wer import wer
from appliance.system.modelstore import ModelStore

ROOT = Path(__file__).resolve().parent.parent
HELPER = os.environ.get(ENV) or str(ROOT / ".venv" / "bin" / "python")

pytestmark = pytest.mark.skipif(not Path(HELPER).exists(), reason=f"no helper {HELPER}")


@pytest.fixture(scope="module")
def model_dir():
    return ModelStore(config.load(None).cache_path).resolve("whisper-base")


@pytest.fixture(scope="module")
def engine(model_dir):
    eng = WhisperProcessEngine(model_dir, SttSettings(language="es"), HELPER)
    yield eng
    eng.close()


def test_helper_transcribes_spanish_like_the_in_process_engine(engine):
    clips = recorded(DEMO_SENTENCES[1:2])  # one decode: about 2 s
    hyps = []
    for _, audio in clips:
        session = engine.start()
        session.feed(np.concatenate([np.zeros(4800, np.float32), audio, np.zeros(4800)]))
        hyps.append(session.final())
    assert wer([t for t, _ in clips], hyps) <= 0.2, hyps
    assert engine.transcribe(np.zeros(800, np.float32)) == ""  # too short: no decode


def test_helper_that_dies_is_restarted(engine):
    assert engine._proc is not None
    engine._proc.kill()
    engine._proc.wait()
    text, audio = recorded(DEMO_SENTENCES[:1])[0]
    pad = np.zeros(4800, np.float32)
    hyp = engine.transcribe(np.concatenate([pad, audio, pad]))
    assert wer([text], [hyp]) <= 0.2, hyp


def test_helper_that_cannot_serve_is_a_clear_error(model_dir):
    with pytest.raises(RuntimeError, match="did not start"):
        WhisperProcessEngine(model_dir, SttSettings(), "/bin/true")  # exits without serving
    with pytest.raises(RuntimeError, match="cannot start the Whisper helper"):
        WhisperProcessEngine(model_dir, SttSettings(), "/nonexistent/python")
