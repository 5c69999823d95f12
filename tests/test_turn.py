"""End of turn: the words rule, Smart Turn v3 on real (Kokoro) speech, the Segmenter deciding
pauses over the real Silero detector, and the STT worker's early transcription with the real
Whisper model."""

from __future__ import annotations

import numpy as np
import pytest

from appliance import config
from appliance.config import SttSettings, TurnSettings, VadSettings
from appliance.demo import voices
from appliance.listen.sherpa_capi import CapiSileroDetector
from appliance.listen.stt.factory import load_engine
from appliance.listen.stt.worker import SttWorker
from appliance.listen.turn import TurnModel, load_turn_model, unfinished
from appliance.listen.vad import Segmenter, TurnTiming
from appliance.pipeline.messages import (
    EndTurn,
    SpeechAudio,
    SpeechEnd,
    SpeechPause,
    SpeechResumed,
    SpeechStart,
    Transcript,
)
from appliance.system.modelstore import ModelStore
from tests.support.harness import Collector

RATE = 16000
PAUSE = TurnSettings().pause_ms


@pytest.mark.parametrize(("text", "expected"), [
    ("Pon un temporizador de.", True),
    ("Apaga la luz de la...", True),
    ("¿Qué puedo cocinar con?", True),
    ("Necesito comprar leche y", True),
    ("Recuérdame que tengo que", True),
    ("", True),  # nothing intelligible: not a turn to answer yet
    ("Pon un temporizador de quince minutos.", False),
    ("Sube el volumen.", False),
    ("¿Qué hora es?", False),
    ("Muchas gracias", False),
])
def test_words_that_leave_a_sentence_unfinished(text: str, expected: bool) -> None:
    assert unfinished(text) is expected


@pytest.fixture(scope="module")
def store() -> ModelStore:
    return ModelStore(config.load(None).cache_path)


@pytest.fixture(scope="module")
def model(store: ModelStore) -> TurnModel:
    loaded = load_turn_model(store.resolve(TurnSettings().model))
    assert loaded is not None
    return loaded


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.float32)


def test_the_model_tells_a_trailing_off_sentence_from_a_finished_one(model: TurnModel) -> None:
    tail = silence(PAUSE / 1000)
    unfinished_p = [model.probability(np.concatenate([voices.clip(f"{k}-a"), tail]))
                    for k in ("pause-timer", "pause-light", "pause-cancel")]
    finished_p = [model.probability(np.concatenate([voices.clip(k), tail]))
                  for k in ("capital", "paella", "cancel")]
    assert max(unfinished_p) < 0.5 < min(finished_p), (unfinished_p, finished_p)


def test_a_missing_or_corrupt_model_is_one_clear_log_line(tmp_path, caplog) -> None:
    assert load_turn_model(tmp_path / "absent.onnx") is None
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"not an onnx model" * 100)
    assert load_turn_model(corrupt) is None
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 2 and all("fixed hangover" in e for e in errors), errors


# --- the Segmenter: pauses, resumes and the end of the turn ---------------------------------


def segmenter(store: ModelStore, timing: TurnTiming) -> Segmenter:
    settings = VadSettings(min_silence_ms=PAUSE)  # the detector's segments end at a pause
    return Segmenter(CapiSileroDetector(store.resolve("silero-vad"), settings), 15.0,
                     timing=timing)


def feed(seg: Segmenter, signal: np.ndarray, on_pause: object = None) -> list[object]:
    """Feed 20 ms chunks; ``on_pause(seg, pause)`` may answer a pause (as STT does)."""
    out: list[object] = []
    for i in range(0, len(signal), 320):
        for m in seg.feed(signal[i:i + 320]):
            out.append(m)
            if isinstance(m, SpeechPause) and callable(on_pause):
                out += on_pause(seg, m)
    return out


def paused_utterance(key: str, pause_s: float) -> np.ndarray:
    return np.concatenate([silence(0.5), voices.clip(f"{key}-a"), silence(pause_s),
                           voices.clip(f"{key}-b"), silence(2.5)])


def test_a_mid_sentence_pause_is_one_utterance(store: ModelStore, model: TurnModel) -> None:
    seg = segmenter(store, TurnTiming(model=model))
    msgs = feed(seg, paused_utterance("pause-timer", 0.85))
    kinds = [type(m) for m in msgs if not isinstance(m, SpeechAudio)]
    assert kinds == [SpeechStart, SpeechPause, SpeechResumed, SpeechPause, SpeechEnd]
    first, second = [m for m in msgs if isinstance(m, SpeechPause)]
    assert first.p_complete is not None and first.p_complete < 0.5  # "pon un temporizador de"
    (end,) = [m for m in msgs if isinstance(m, SpeechEnd)]
    # Nobody said EndTurn: it ended max_pause after the last word, spanning both halves.
    assert end.t_end == pytest.approx(second.t, abs=0.01)
    assert end.t_end - end.t_start > len(voices.clip("pause-timer-a")) / RATE + 0.85


def end_now(seg: Segmenter, pause: SpeechPause) -> list[object]:
    return seg.end_turn(pause.utterance, pause.pause)


def test_finished_words_end_the_turn_at_once_when_the_model_agrees(store: ModelStore,
                                                                    model: TurnModel) -> None:
    seg = segmenter(store, TurnTiming(model=model, threshold=0.0))
    signal = np.concatenate([silence(0.5), voices.clip("capital"), silence(2.0)])
    msgs = feed(seg, signal, on_pause=end_now)
    pause = next(m for m in msgs if isinstance(m, SpeechPause))
    end = msgs[msgs.index(pause) + 1]
    assert isinstance(end, SpeechEnd) and end.t_end == pause.t


def test_a_doubting_model_waits_a_little_before_ending(store: ModelStore,
                                                       model: TurnModel) -> None:
    timing = TurnTiming(model=model, threshold=1.0, doubt_s=0.7, max_pause_s=1.8)
    seg = segmenter(store, timing)
    signal = np.concatenate([silence(0.5), voices.clip("capital"), silence(2.5)])
    ended_at: list[int] = []
    msgs: list[object] = []
    for i in range(0, len(signal), 320):
        for m in seg.feed(signal[i:i + 320]):
            msgs.append(m)
            if isinstance(m, SpeechPause):
                msgs += end_now(seg, m)  # the STT found its words finished
            if isinstance(m, SpeechEnd):
                ended_at.append(seg.pos)
    pause = next(m for m in msgs if isinstance(m, SpeechPause))
    (end,) = [m for m in msgs if isinstance(m, SpeechEnd)]
    assert end.t_end == pause.t
    waited = ended_at[0] / RATE - pause.t
    assert 0.7 <= waited < 0.7 + 0.03  # the doubt, not the 1.8 s limit


def test_an_end_turn_for_an_older_pause_is_ignored(store: ModelStore, model: TurnModel) -> None:
    seg = segmenter(store, TurnTiming(model=model, threshold=0.0))
    msgs = feed(seg, paused_utterance("pause-light", 0.85))
    first = next(m for m in msgs if isinstance(m, SpeechPause))
    assert seg.end_turn(first.utterance, first.pause) == []  # already resumed and ended


def test_without_the_model_the_fixed_hangover_ends_the_turn(store: ModelStore) -> None:
    seg = segmenter(store, TurnTiming(model=None, hangover_s=0.5))
    msgs = feed(seg, paused_utterance("pause-timer", 0.85))
    ends = [m for m in msgs if isinstance(m, SpeechEnd)]
    assert len(ends) == 2  # the pause was longer than the hangover: two utterances
    assert all(m.p_complete is None for m in msgs if isinstance(m, SpeechPause))


# --- early transcription in the STT worker --------------------------------------------------


class CountingEngine:
    """The real Whisper engine, with its decodes counted (test instrumentation)."""

    def __init__(self, engine: object) -> None:
        self.engine = engine
        self.decodes = 0
        self.name = "whisper"
        self.language = "es"
        self.streaming = False

    def start(self, prompt: str | None = None) -> object:
        from appliance.listen.stt.base import BufferedSession

        return BufferedSession(self, prompt)

    def transcribe(self, audio: np.ndarray, prompt: str | None = None) -> str:
        self.decodes += 1
        return self.engine.transcribe(audio, prompt)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def whisper(store: ModelStore) -> CountingEngine:
    return CountingEngine(load_engine(SttSettings(), store))


def stt_worker(whisper: CountingEngine) -> tuple[SttWorker, Collector, Collector]:
    out, turns = Collector(), Collector()
    worker = SttWorker(SttSettings(), out, turns=turns, engine=whisper)  # type: ignore[arg-type]
    worker.setup()
    return worker, out, turns


def test_finished_words_end_the_turn_and_the_early_transcript_is_the_final(
        whisper: CountingEngine) -> None:
    worker, out, turns = stt_worker(whisper)
    audio = np.concatenate([silence(0.2), voices.clip("capital"), silence(0.2)])
    decodes = whisper.decodes
    for msg in (SpeechStart(1, 0.0), SpeechAudio(1, audio), SpeechPause(1, 1, 2.0, 0.9)):
        worker.handle(msg)
    assert turns.items() == [EndTurn(utterance=1, pause=1, t=turns.items()[0].t)]
    worker.handle(SpeechAudio(1, silence(0.3)))
    worker.handle(SpeechEnd(1, 0.0, 2.0, 0.0))
    (final,) = out.of(Transcript)
    assert "francia" in final.text.lower(), final.text
    assert whisper.decodes == decodes + 1  # decoded once, during the pause


def test_unfinished_words_keep_listening_and_speech_again_redoes_the_transcript(
        whisper: CountingEngine) -> None:
    worker, out, turns = stt_worker(whisper)
    first, second = voices.clip("pause-timer-a"), voices.clip("pause-timer-b")
    worker.handle(SpeechStart(1, 0.0))
    worker.handle(SpeechAudio(1, np.concatenate([silence(0.2), first, silence(0.2)])))
    worker.handle(SpeechPause(1, 1, 1.9, 0.1))
    assert turns.items() == []  # "pon un temporizador de": not a finished turn
    worker.handle(SpeechResumed(1, 1))
    worker.handle(SpeechAudio(1, np.concatenate([silence(0.6), second, silence(0.2)])))
    worker.handle(SpeechEnd(1, 0.0, 4.0, 0.0))
    (final,) = out.of(Transcript)
    text = final.text.lower()
    # Whisper writes the number as a word or as digits depending on the CPU's float path
    assert "temporizador" in text and ("quince" in text or "15" in text), final.text
