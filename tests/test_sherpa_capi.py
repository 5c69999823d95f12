"""Silero VAD through the sherpa-onnx C API (ctypes): same behaviour as the Python binding.

Runs on both interpreters; the comparison with `sherpa_onnx`'s Python module is skipped where
that module cannot load (python3.13t has no build of it).
"""

from __future__ import annotations

import importlib.util
import threading

import numpy as np
import pytest

from appliance import config
from appliance.config import VadSettings
from appliance.listen.sherpa_capi import CapiSileroDetector, load_library, version
from appliance.listen.vad import segment_signal, speech_spans
from appliance.pipeline.messages import SpeechAudio, SpeechEnd
from appliance.system.modelstore import ModelStore
from tests.support.speech import brown_noise, compose, white_noise

SETTINGS = VadSettings()


@pytest.fixture(scope="module")
def model():
    return ModelStore(config.load(None).cache_path).resolve("silero-vad")


@pytest.fixture(scope="module")
def lib():
    return load_library()


@pytest.fixture(scope="module")
def speech():
    return compose(["Hola, ¿qué hora es?", "Pon un temporizador de cinco minutos.", "Gracias."])


def _python_binding_loads() -> bool:
    if importlib.util.find_spec("sherpa_onnx") is None:
        return False
    try:
        import sherpa_onnx
    except ImportError:
        return False
    # sherpa-onnx-core alone leaves a namespace package without the Python API (python3.13t)
    return hasattr(sherpa_onnx, "VoiceActivityDetector")


def test_library_loads_and_reports_a_version(lib):
    assert version(lib).count(".") >= 2


def test_segments_match_truth_within_150ms(model, lib, speech):
    signal, truth = speech
    spans = speech_spans(segment_signal(signal, CapiSileroDetector(model, SETTINGS, lib=lib),
                                        SETTINGS))
    assert len(spans) == len(truth), spans
    for (start, end), u in zip(spans, truth, strict=True):
        assert abs(start - u.start) <= 0.15, (start, u)
        assert abs(end - u.end) <= 0.15, (end, u)


@pytest.mark.skipif(not _python_binding_loads(), reason="sherpa_onnx Python module not loadable")
def test_identical_to_the_python_binding_chunk_by_chunk(model, lib, speech):
    from appliance.listen.vad import SileroDetector

    signal, _ = speech
    signal = signal + np.random.default_rng(0).normal(0, 0.003, len(signal)).astype(np.float32)
    ref, ours = SileroDetector(model, SETTINGS), CapiSileroDetector(model, SETTINGS, lib=lib)
    for i in range(0, len(signal), 320):
        chunk = signal[i : i + 320]
        ref.accept(chunk)
        ours.accept(chunk)
        assert ours.pop_segments() == ref.pop_segments(), i
        assert ours.is_speech() == ref.is_speech(), i
        if ref.is_speech():
            assert ours.current_start() == ref.current_start(), i
            np.testing.assert_array_equal(ours.current_samples(), ref.current_samples())
    ref.flush()
    ours.flush()
    assert ours.pop_segments() == ref.pop_segments()


@pytest.mark.parametrize("noise", ["silence", "white", "brown"])
def test_nothing_detected_in_noise(model, lib, noise):
    signal = {
        "silence": np.zeros(16000 * 4, np.float32),
        "white": white_noise(4.0),
        "brown": brown_noise(4.0),
    }[noise]
    assert segment_signal(signal, CapiSileroDetector(model, SETTINGS, lib=lib), SETTINGS) == []


def test_reset_forgets_the_open_segment(model, lib, speech):
    signal, truth = speech
    det = CapiSileroDetector(model, SETTINGS, lib=lib)
    mid = int((truth[0].start + 0.5) * 16000)
    for i in range(0, mid, 320):
        det.accept(signal[i : i + 320])
    assert det.is_speech() and len(det.current_samples()) > 0
    det.reset()
    assert not det.is_speech() and det.current_start() == -1
    assert det.pop_segments() == []


def test_detectors_in_parallel_threads_give_the_sequential_result(model, lib, speech):
    """Each detector has one owner thread; several run at once (free-threaded pipeline)."""
    signal, _ = speech
    expected = speech_spans(segment_signal(signal, CapiSileroDetector(model, SETTINGS, lib=lib),
                                           SETTINGS))
    results: dict[int, list] = {}

    def run(k: int) -> None:
        det = CapiSileroDetector(model, SETTINGS, lib=lib)
        results[k] = segment_signal(signal, det, SETTINGS)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for msgs in results.values():
        assert speech_spans(msgs) == expected
        assert sum(isinstance(m, SpeechEnd) for m in msgs) == len(expected)
        assert all(m.samples.dtype == np.float32 for m in msgs if isinstance(m, SpeechAudio))


def test_bad_model_path_is_a_clear_error(lib, tmp_path):
    with pytest.raises(FileNotFoundError, match="Silero VAD model not found"):
        CapiSileroDetector(tmp_path / "missing.onnx", SETTINGS, lib=lib)
