"""The brain worker end to end on real parts: the trained router, the Spanish templates, timers
and volume in a temp state dir, espeak-ng for fillers/pre-rendered audio, and the packaged
Gemma model for the LLM path. Output is read from a real Inbox (the TTS producer's input)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from appliance import config
from appliance.brain.learning import RouterLog
from appliance.brain.llm import LlmEngine
from appliance.brain.output import filler_source, prerender_static, prerendered_from_cache
from appliance.brain.router import Router
from appliance.brain.scheduler import InterruptPredictor
from appliance.brain.templates import Templates, say_clock, say_duration
from appliance.brain.timers import TimerService
from appliance.brain.volume import Volume, level_to_gain
from appliance.brain.worker import BrainWorker
from appliance.pipeline.inbox import Inbox
from appliance.pipeline.messages import Interrupt, Transcript
from appliance.speak.fillers import FillerBank
from appliance.speak.messages import Priority, SpeakRequest, Started
from appliance.speak.priority import PriorityQueue
from appliance.speak.producer import ProducerWorker
from appliance.speak.rendered import RenderedAudioCache
from appliance.speak.tts.espeak import EspeakEngine
from appliance.system.modelstore import ModelStore

NOW = dt.datetime(2025, 3, 14, 15, 15)


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def router(tmp_path_factory) -> Router:
    return Router.load(tmp_path_factory.mktemp("router"))


@pytest.fixture(scope="module")
def llm() -> LlmEngine:
    settings = config.from_dict({})
    path = ModelStore(settings.cache_path).resolve(settings.brain.llm_model)
    return LlmEngine(path, n_ctx=1024, max_tokens=24)


@pytest.fixture(scope="module")
def espeak_cache(tmp_path_factory) -> RenderedAudioCache:
    return RenderedAudioCache(EspeakEngine("es"), tmp_path_factory.mktemp("rendered"))


class Rig:
    """One brain with its real collaborators; ``said()`` drains what it sent to the producer."""

    def __init__(self, state: Path, router: Router, templates: Templates | None = None,
                 **kw) -> None:
        self.settings = config.from_dict({"device": {"state_dir": str(state)}})
        self.out = Inbox(maxsize=256)
        self.clock = Clock()
        self.timers = TimerService(state, clock=self.clock, ring_every_s=3.0)
        self.gains: list[float] = []
        self.volume = Volume(state, self.gains.append)
        self.brain = BrainWorker(
            self.settings, router=router, templates=templates or Templates.load(seed=1),
            out=self.out.put, timers=self.timers, volume=self.volume, now=lambda: NOW, **kw)

    def hear(self, text: str) -> list:
        self.brain.handle(Transcript(utterance=1, text=text, final=True))
        return self.said()

    def said(self) -> list:
        msgs = []
        while (m := self.out.get(timeout=0)) is not None:
            msgs.append(m)
        return msgs


def texts(msgs: list) -> str:
    return " ".join(m.text for m in msgs if isinstance(m, SpeakRequest) and m.text)


def test_time_question_answers_from_the_template(tmp_path, router):
    rig = Rig(tmp_path, router)
    said = rig.hear("¿Qué hora es?")
    assert said and all(isinstance(m, SpeakRequest) for m in said)
    assert say_clock(NOW)[1] in texts(said).lower()
    assert said[-1].last and all(m.priority == Priority.NORMAL for m in said)
    assert len({m.answer for m in said}) == 1


def test_voice_timer_set_query_and_cancel(tmp_path, router):
    rig = Rig(tmp_path, router)
    said = rig.hear("pon un temporizador de cinco minutos para la pasta")
    (timer,) = rig.timers.pending()
    assert (timer.seconds, timer.name) == (300, "la pasta")
    assert "cinco minutos" in texts(said)
    rig.clock.t += 60
    rig.hear("pon otro temporizador de media hora")
    assert len(rig.timers.pending()) == 2
    said = rig.hear("¿cuánto falta para la pasta?")
    assert say_duration(240) in texts(said) and "media hora" not in texts(said)
    rig.hear("quita todos los temporizadores")
    assert rig.timers.pending() == []


def test_timer_rings_at_high_priority_until_para(tmp_path, router):
    rig = Rig(tmp_path, router)
    rig.hear("pon un temporizador de diez segundos")
    rig.clock.t += 10
    rig.brain.idle()
    fired = rig.said()
    assert fired and all(m.priority == Priority.HIGH and m.kind == "alarm" for m in fired)
    assert any(m.audio is not None for m in fired) and texts(fired)
    rig.clock.t += 3
    rig.brain.idle()
    assert [m.kind for m in rig.said()] == ["alarm"]  # it rings again
    said = rig.hear("para")
    assert any(isinstance(m, Interrupt) for m in said)
    assert rig.timers.ringing() == []
    rig.clock.t += 10
    rig.brain.idle()
    assert rig.said() == []


def test_volume_up_and_down_change_playback_gain(tmp_path, router):
    rig = Rig(tmp_path, router)
    start = rig.volume.level
    rig.hear("sube el volumen")
    assert rig.volume.level == start + 10 and rig.gains[-1] == level_to_gain(start + 10)
    rig.hear("baja el volumen")
    assert rig.volume.level == start


def test_static_answer_plays_prerendered_audio(tmp_path, router, espeak_cache):
    style = config.from_dict({}).tts.styles["normal"]
    rig = Rig(tmp_path, router, prerendered=prerendered_from_cache(espeak_cache, style))
    thanks = Templates({k: v for k, v in rig.brain.templates.table.items()
                        if k.startswith("thanks.")})
    assert prerender_static(thanks, espeak_cache, style) == len(thanks.static_texts())
    said = rig.hear("muchas gracias")
    assert said[0].audio is not None and said[0].rate == espeak_cache.engine.sample_rate
    assert said[0].last


@pytest.mark.slow
def test_llm_path_sends_a_filler_first_then_sentences(tmp_path, router, llm, espeak_cache):
    style = config.from_dict({}).tts.styles["normal"]
    bank = FillerBank(espeak_cache, style)
    rig = Rig(tmp_path, router, Templates({}), llm=llm, filler=filler_source(bank))
    said = rig.hear("¿Por qué sube la masa del pan?")
    assert said[0].kind == "filler" and said[0].priority == Priority.LOW
    assert said[0].audio is not None
    answer = [m for m in said[1:] if m.kind == "answer"]
    assert answer and answer[-1].last and not any(m.last for m in answer[:-1])
    assert [m.index for m in answer] == list(range(len(answer)))
    assert {m.answer for m in said} == {said[0].answer}
    assert len(rig.brain.conversation) == 1
    # once answers come quickly, the policy skips the filler
    for _ in range(20):
        rig.brain.filler_policy.observe(0.05)
    said = rig.hear("¿Y cuánto tiempo la dejo reposar?")
    assert said and said[0].kind == "answer"


@pytest.mark.slow
def test_interrupt_cancels_generation(tmp_path, router, llm):
    rig = Rig(tmp_path, router, Templates({}), llm=llm)
    rig.brain.inbox.put(Interrupt(reason="barge-in"))  # arrives while the model is generating
    rig.hear("Cuéntame la historia de la cocina mediterránea.")
    assert llm.last is not None and llm.last.cancelled and llm.last.tokens <= 2
    turn = rig.brain.conversation.window(10_000)[-1]
    assert turn.interrupted


def test_outcomes_reach_the_router_learning_log(tmp_path, router):
    log = RouterLog(tmp_path)
    rig = Rig(tmp_path, router, learning=log)
    rig.hear("¿Qué hora es?")
    assert [(r["intent"], r["outcome"]) for r in log.rows()] == [("time", "answered")]
    rig.brain.on_control(Interrupt(reason="barge-in"))  # the user cut that answer
    assert log.rows()[-1]["outcome"] == "interrupted"
    log.close()


def test_predicted_interrupts_shrink_the_producers_lookahead(tmp_path, router):
    """Wired to a real (not started) ProducerWorker: its inbox is the brain's output."""
    settings = config.from_dict({})
    producer = ProducerWorker.from_settings(EspeakEngine("es"), PriorityQueue(), settings)
    predictor = InterruptPredictor(warmup=50)
    for _ in range(30):  # this user cuts long answers and lets short ones finish
        for i in range(3):
            predictor.observe(i, 8, 700, True)
            predictor.observe(i, 2, 150, False)
        predictor.answer_done(True)
    assert predictor.trained
    rig = Rig(tmp_path, router, predictor=predictor, set_lookahead=producer.set_lookahead)
    rig.out = producer.inbox
    rig.brain.out = producer.inbox.put
    rig.hear("¿Qué hora es?")
    assert producer.lookahead == settings.speak.lookahead  # short answer: full look-ahead
    assert rig.brain.tracker.last_plan.p < 0.5
    answer = rig.brain._answer_id
    for i in range(8):  # a long answer being spoken, as playback would report it
        rig.brain.tracker.said(answer, i, 90)
    rig.brain.handle(Started(id=1, answer=answer, index=1, kind="answer", latency_s=0.0))
    assert rig.brain.tracker.last_plan.p > 0.7 and producer.lookahead <= 2
    rig.brain.on_control(Interrupt(reason="barge-in"))
    assert predictor.samples == 180 + 2  # the two sentences that started, labelled cut


def test_a_failing_answer_is_apologised_for_and_the_brain_keeps_going(tmp_path, router):
    rig = Rig(tmp_path, router, Templates({"not_understood.default": ["Perdona, ¿qué?"]}))
    said = rig.hear("¿Qué hora es?")  # no "time" templates: rendering fails
    assert texts(said) == "Perdona, ¿qué?" and said[-1].last
    rig.hear("pon un temporizador de un minuto")  # the timer is set even without a reply
    assert [t.seconds for t in rig.timers.pending()] == [60]


def test_without_an_llm_open_questions_get_an_apology(tmp_path, router):
    """`brain.llm_model: ""`: nothing is loaded, templates still answer, open questions are
    apologised for instead of left unanswered."""
    rig = Rig(tmp_path, router)
    rig.brain.settings = config.from_dict(
        {"device": {"state_dir": str(tmp_path)}, "brain": {"llm_model": ""}})
    rig.brain.setup()
    assert rig.brain.llm is None
    said = rig.hear("Explícame por qué sube el pan en el horno.")
    assert texts(said) and said[-1].last
    assert say_clock(NOW)[1] in texts(rig.hear("¿Qué hora es?")).lower()
