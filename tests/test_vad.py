"""Silero VAD through sherpa-onnx on synthesized Spanish speech and on noise (real model)."""

from __future__ import annotations

import numpy as np
import pytest

from appliance import config
from appliance.config import VadSettings
from appliance.listen.sherpa_capi import CapiSileroDetector
from appliance.listen.vad import VadWorker, segment_signal, speech_spans
from appliance.pipeline.inbox import Inbox
from appliance.pipeline.messages import (
    AudioFrame,
    Interrupt,
    SpeechAudio,
    SpeechEnd,
    SpeechPause,
    SpeechResumed,
    SpeechStart,
)
from appliance.system.modelstore import ModelStore
from tests.support.speech import brown_noise, compose, espeak, to_int16, white_noise

SETTINGS = VadSettings()


@pytest.fixture(scope="module")
def model():
    return ModelStore(config.load(None).cache_path).resolve("silero-vad")


@pytest.fixture(scope="module")
def speech():
    return compose(["Hola, ¿qué hora es?", "Pon un temporizador de cinco minutos.", "Gracias."])


def run(signal, model, settings=SETTINGS):
    # The detector VadWorker uses (C API); test_sherpa_capi.py pins it to the Python binding.
    return segment_signal(signal, CapiSileroDetector(model, settings), settings)


def test_segments_match_truth_within_150ms(model, speech):
    signal, truth = speech
    msgs = run(signal, model)
    spans = speech_spans(msgs)
    assert len(spans) == len(truth), spans
    for (start, end), u in zip(spans, truth, strict=True):
        assert abs(start - u.start) <= 0.15, (start, u)
        assert abs(end - u.end) <= 0.15, (end, u)


def test_messages_are_ordered_and_audio_covers_the_utterance(model, speech):
    signal, truth = speech
    msgs = run(signal, model)
    per: dict[int, list] = {}
    for m in msgs:
        per.setdefault(m.utterance, []).append(m)
    assert sorted(per) == [1, 2, 3]
    for u, seq in per.items():
        assert isinstance(seq[0], SpeechStart) and isinstance(seq[-1], SpeechEnd)
        assert all(isinstance(m, SpeechAudio | SpeechPause | SpeechResumed) for m in seq[1:-1])
        assert isinstance(seq[-2], SpeechAudio | SpeechPause)  # it ended after a pause
        audio = np.concatenate([m.samples for m in seq if isinstance(m, SpeechAudio)])
        spoken = truth[u - 1].end - truth[u - 1].start
        assert len(audio) / 16000 >= spoken  # the whole utterance was streamed
        assert not seq[-1].capped


@pytest.mark.parametrize("noise", ["silence", "white", "brown"])
def test_nothing_detected_in_noise(model, noise):
    signal = {
        "silence": np.zeros(16000 * 6, np.float32),
        "white": white_noise(6.0),
        "brown": brown_noise(6.0),
    }[noise]
    assert run(signal, model) == []


def test_max_utterance_cap_cuts_and_waits_for_quiet(model):
    words = "uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce"
    long = espeak(words, speed=160) * 0.5
    assert len(long) > 4 * 16000
    signal = np.concatenate([np.zeros(8000, np.float32), long, np.zeros(24000, np.float32)])
    settings = VadSettings(max_utterance_s=2.0)
    ends = [m for m in run(signal, model, settings) if isinstance(m, SpeechEnd)]
    # One capped utterance; the rest of the same talk is ignored until the room is quiet.
    assert len(ends) == 1 and ends[0].capped
    assert ends[0].t_end - ends[0].t_start == pytest.approx(2.0, abs=0.05)


def test_worker_streams_messages_and_resets_on_interrupt(model, speech):
    signal, truth = speech
    out = Inbox(4096)
    w = VadWorker(SETTINGS, model, out)
    w.setup()
    pcm = to_int16(signal)
    half = (int(truth[1].start * 16000) + 16000) // 320 * 320  # 1 s into utterance 2
    for i in range(0, len(pcm), 320):
        if i == half:
            w.on_control(Interrupt())  # mid-utterance: forget it
        w.handle(AudioFrame(pcm[i : i + 320], 16000, 100.0 + i / 16000, i // 320))
    msgs = []
    while (m := out.get(0)) is not None:
        msgs.append(m)
    starts = [m for m in msgs if isinstance(m, SpeechStart)]
    ends = [m for m in msgs if isinstance(m, SpeechEnd)]
    assert w.t0 == 100.0
    # 2 was interrupted; 3 is the rest of that talk, picked up again as a new utterance.
    assert [m.utterance for m in starts] == [1, 2, 3, 4]
    assert [m.utterance for m in ends] == [1, 3, 4]
    assert ends[1].t_start >= truth[1].start + 0.9
    assert abs(ends[1].t_end - truth[1].end) <= 0.15
    assert abs(ends[2].t_end - truth[2].end) <= 0.15


def test_worker_resamples_other_capture_rates(model, speech):
    import soxr

    signal, truth = speech
    pcm = to_int16(soxr.resample(signal, 16000, 48000))
    out = Inbox(4096)
    w = VadWorker(SETTINGS, model, out)
    w.setup()
    for i in range(0, len(pcm) - 959, 960):
        w.handle(AudioFrame(pcm[i : i + 960], 48000, i / 48000, i // 960))
    ends = []
    while (m := out.get(0)) is not None:
        if isinstance(m, SpeechEnd):
            ends.append(m)
    assert len(ends) == len(truth)
    for e, u in zip(ends, truth, strict=True):
        assert abs(e.t_start - u.start) <= 0.15 and abs(e.t_end - u.end) <= 0.15
