"""Wyoming speech servers, real, on loopback (started once per module): speech to text on
``wyoming-faster-whisper`` serving the packaged Whisper base directory, speech from
``wyoming-piper`` serving the packaged English Piper voice. A server that is not there: the
local engine takes over, with one clear log line, and the circuit skips the server."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
import pytest

from appliance import config
from appliance.cli import main
from appliance.core.pcm import SPEECH_RATE, resample
from appliance.listen.stt.factory import load_engine
from appliance.listen.stt.worker import SttWorker
from appliance.listen.stt.wyoming import WyomingSttEngine
from appliance.listen.wer import wer
from appliance.pipeline.inbox import Inbox
from appliance.pipeline.messages import SpeechAudio, SpeechEnd, SpeechStart, Transcript
from appliance.speak.rendered import RenderedAudioCache
from appliance.speak.tts.espeak import SAMPLE_RATE as ESPEAK_RATE
from appliance.speak.tts.factory import create_engine
from appliance.speak.tts.wyoming import WyomingTtsEngine
from appliance.system.modelstore import ModelStore
from tests.support.broker import free_port
from tests.support.speech import SPANISH_SENTENCES, recorded
from tests.support.wyoming_servers import PIPER_VOICE, WyomingServer, piper_server, whisper_server

pytestmark = pytest.mark.slow

CACHE = config.load(None).cache_path
BLOCK = SPEECH_RATE // 50  # 20 ms, as the VAD streams an utterance


@pytest.fixture(scope="module")
def store() -> ModelStore:
    return ModelStore(CACHE)


@pytest.fixture(scope="module")
def whisper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WyomingServer]:
    with whisper_server(tmp_path_factory.mktemp("whisper"), CACHE) as server:
        yield server


@pytest.fixture(scope="module")
def piper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WyomingServer]:
    with piper_server(tmp_path_factory.mktemp("piper"), CACHE) as server:
        yield server


def settings(**sections: dict) -> config.Settings:
    return config.from_dict(sections)


def stt(url: str, language: str = "es") -> config.SttSettings:
    return settings(stt={"engine": "wyoming", "language": language,
                         "wyoming": {"url": url}}).stt


def tts(url: str) -> config.Settings:
    return settings(tts={"engine": "wyoming", "wyoming": {"url": url, "voice": PIPER_VOICE,
                                                          "fallback": "espeak"}})


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.ERROR and r.name.startswith("appliance")]


def padded(audio: np.ndarray, seconds: float = 0.3) -> np.ndarray:
    pad = np.zeros(int(seconds * SPEECH_RATE), np.float32)
    return np.concatenate([pad, audio, pad])


def test_stt_streams_each_utterance_to_the_server(whisper, store, caplog) -> None:
    engine = load_engine(stt(whisper.url), store)
    assert isinstance(engine, WyomingSttEngine) and engine.breaker.status().state == "closed"
    clips = recorded(SPANISH_SENTENCES[:3])
    heard = []
    for _, audio in clips:
        session = engine.start()
        audio = padded(audio)
        for i in range(0, len(audio), BLOCK):
            session.feed(audio[i:i + BLOCK])
            if i == (len(audio) // 2) // BLOCK * BLOCK:
                assert isinstance(session.early(), str)  # at a pause: the words so far
        heard.append(session.final())
    score = wer([text for text, _ in clips], heard, "es")
    assert score <= 0.25, list(zip(clips, heard, strict=True))
    assert engine._local is None  # the server did it all: no local model in memory
    assert errors(caplog) == []


def test_stt_worker_with_the_server_ends_each_utterance_with_a_final(whisper, store) -> None:
    [(text, audio)] = recorded(["Apaga la luz de la cocina."])
    out = Inbox(16)
    worker = SttWorker(stt(whisper.url), out, store=store)
    worker.setup()
    audio = padded(audio)
    worker.handle(SpeechStart(1, 0.0))
    for i in range(0, len(audio), BLOCK):
        worker.handle(SpeechAudio(1, audio[i:i + BLOCK]))
    worker.handle(SpeechEnd(1, 0.0, len(audio) / SPEECH_RATE, 1.0))
    final = out.get(timeout=1)
    assert isinstance(final, Transcript) and final.final and final.engine == "wyoming"
    assert wer([text], [final.text], "es") <= 0.2, final.text


def test_stt_server_down_means_the_local_engine_with_one_log_line(store, caplog) -> None:
    engine = load_engine(stt(f"tcp://127.0.0.1:{free_port()}"), store)
    (line,) = errors(caplog)
    assert "stt: Wyoming server" in line and "failed at start" in line
    assert "transcribing with the local whisper engine (skipping the server for 60 s)" in line
    assert engine._local is not None  # loaded at start, not in the first turn
    [(text, audio)] = recorded(["Pon un temporizador de cinco minutos."])
    session = engine.start()
    session.feed(padded(audio))
    assert wer([text], [session.final()], "es") <= 0.25
    assert len(errors(caplog)) == 1  # the circuit is open: no attempt, no new line


def test_tts_speaks_with_the_server_voice_and_caches_it(piper, store, tmp_path) -> None:
    engine = create_engine(tts(piper.url), store)
    assert isinstance(engine, WyomingTtsEngine)
    assert engine.sample_rate == ESPEAK_RATE  # the local engine's: one rate whoever speaks
    style = config.StyleSettings()
    audio = engine.synthesize("Hello, the oven is ready.", style)
    assert not engine.stood_in()
    assert 0.8 < len(audio) / engine.sample_rate < 4.0 and np.abs(audio).max() > 0.05
    cache = RenderedAudioCache(engine, tmp_path / "rendered")
    cache.render("The pasta is ready.", style)
    assert len(list((tmp_path / "rendered" / "wyoming").glob("*.npy"))) == 1


def test_the_two_servers_understand_each_other(piper, whisper, store, tmp_path) -> None:
    """Piper's English, resampled to 16 kHz, through faster-whisper: what was said is heard."""
    speaker = create_engine(tts(piper.url), store)
    text = "Please set a timer for ten minutes."
    audio = resample(speaker.synthesize(text, config.StyleSettings()), speaker.sample_rate,
                     SPEECH_RATE)
    heard = load_engine(stt(whisper.url, language="en"), store).transcribe(padded(audio))
    assert wer([text], [heard], "en") <= 0.2, heard


def test_tts_server_down_means_the_local_voice_with_one_log_line(store, tmp_path,
                                                                 caplog) -> None:
    engine = create_engine(tts(f"tcp://127.0.0.1:{free_port()}"), store)
    assert isinstance(engine, WyomingTtsEngine)
    (line,) = errors(caplog)
    assert "tts: Wyoming server" in line and "failed at start" in line
    assert "speaking with the local espeak engine" in line
    style = config.StyleSettings()
    cache = RenderedAudioCache(engine, tmp_path / "rendered")
    audio = cache.render("Hola, el horno está listo.", style)
    assert engine.stood_in() and len(audio) > 0
    assert not (tmp_path / "rendered").exists()  # espeak's voice is not kept as the server's
    assert len(errors(caplog)) == 1


def test_doctor_reaches_both_servers(whisper, piper, tmp_path, capsys) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"device: {{state_dir: {tmp_path / 'state'}}}\n"
                   f"stt: {{engine: wyoming, wyoming: {{url: '{whisper.url}'}}}}\n"
                   f"tts: {{engine: wyoming, wyoming: {{url: '{piper.url}', "
                   f"voice: {PIPER_VOICE}}}}}\n")
    main(["doctor", "--config", str(cfg)])
    rows = {line.split("  ")[0]: line for line in capsys.readouterr().out.splitlines()}
    assert " ok " in rows["stt server"] and "transcribed in" in rows["stt server"]
    assert " ok " in rows["tts server"] and "first audio in" in rows["tts server"]
