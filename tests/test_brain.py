"""The brain worker on real parts: the trained router, the Spanish templates, timers and volume
in a temp state dir, the real interruption service, espeak-ng for fillers/pre-rendered audio,
and the packaged Gemma model for the LLM path (slow tests). The brain's own streaming logic is
also tested fast with a scripted model (tests/support/llm.py). Output and events are read from
collectors (tests/support/harness.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from appliance import config
from appliance.app import filler_source, prerender_static, prerendered_from_cache
from appliance.brain.learning import RouterLog
from appliance.brain.llm import LlmEngine
from appliance.brain.router import Router
from appliance.brain.scheduler import InterruptPredictor
from appliance.brain.templates import Templates, say_clock, say_duration
from appliance.brain.timers import TimerService
from appliance.brain.volume import Volume, level_to_gain
from appliance.brain.worker import (
    ALARM_WAITS_AT_MOST_S,
    RELOAD_EVERY_S,
    UNSAVED_TIMER,
    BrainWorker,
)
from appliance.pipeline.events import (
    BargeIn,
    Finished,
    Interrupted,
    Routed,
    Sentence,
    Silent,
    Started,
    StorageError,
)
from appliance.pipeline.inbox import Inbox
from appliance.pipeline.interruption import InterruptionService
from appliance.pipeline.messages import (
    Interrupt,
    Priority,
    SetLookahead,
    SpeakRequest,
    Transcript,
    Utterance,
)
from appliance.pipeline.priority import PriorityQueue
from appliance.pipeline.statefile import RETRY_S
from appliance.speak.fillers import FillerBank
from appliance.speak.rendered import RenderedAudioCache
from appliance.speak.tts.espeak import EspeakEngine
from appliance.system.modelstore import ModelStore
from tests.support.harness import Collector, FakeClock
from tests.support.llm import ScriptedLlm
from tests.support.storage import can_mount, small_fs

NOW = dt.datetime(2025, 3, 14, 15, 15)


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
    """One brain with its real collaborators, driven from the test's thread; ``said()`` is
    what it sent to the producer since the last call, ``events`` what it reported."""

    def __init__(self, state: Path, router: Router, templates: Templates | None = None,
                 **kw) -> None:
        self.settings = config.from_dict({"device": {"state_dir": str(state)}})
        self.out = Collector()
        self.events = Collector()
        self.clock = FakeClock(1_700_000_000.0)
        self.timers = TimerService(state, events=self.events, clock=self.clock, ring_every_s=3.0)
        self.gains: list[float] = []
        self.volume = Volume(state, self.gains.append)
        self.queue = PriorityQueue()
        inbox = Inbox(64)
        self.interrupter = InterruptionService(self.queue, self.events, flush=[inbox, self.out],
                                               stop_alarms=self.timers.stop)
        self.brain = BrainWorker(
            self.settings, router=router, templates=templates or Templates.load(seed=1),
            downstream=self.out, interrupter=self.interrupter, timers=self.timers,
            volume=self.volume, events=self.events, now=lambda: NOW, inbox=inbox, **kw)

    def hear(self, text: str, *, played_out: bool = True) -> list:
        """``text`` is heard and answered; ``played_out``: and playback (instant here)
        reports the answer played to its end, as it would before an alarm may ring."""
        self.brain.handle(Transcript(utterance=1, text=text, final=True))
        said = self.said()
        for m in said:
            if played_out and isinstance(m, SpeakRequest) and m.last:
                self.brain.handle(Finished(id=0, answer=m.answer, index=m.index, frames=0,
                                           last=True))
        return said

    def said(self) -> list:
        return [m for m in self.out.take() if not isinstance(m, SetLookahead)]


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
    rig.clock.advance(60)
    rig.hear("pon otro temporizador de media hora")
    assert len(rig.timers.pending()) == 2
    said = rig.hear("¿cuánto falta para la pasta?")
    assert say_duration(240) in texts(said) and "media hora" not in texts(said)
    rig.hear("quita todos los temporizadores")
    assert rig.timers.pending() == []


def test_timer_rings_at_high_priority_until_para(tmp_path, router):
    rig = Rig(tmp_path, router)
    rig.hear("pon un temporizador de diez segundos")
    rig.clock.advance(10)
    rig.brain.idle()
    fired = rig.said()
    assert fired and all(m.priority == Priority.HIGH and m.kind == "alarm" for m in fired)
    assert any(m.audio is not None for m in fired) and texts(fired)
    rig.clock.advance(3)
    rig.brain.idle()
    assert [m.kind for m in rig.said()] == ["alarm"]  # it rings again
    said = rig.hear("para")
    # The stop intent goes through the one interruption service: the producer is flushed,
    # the alarm stops, exactly one Silent (nothing was playing), and the short reply survives.
    assert isinstance(said[0], Interrupt) and said[0].reason == "voice stop"
    assert said[1:] and all(isinstance(m, SpeakRequest) for m in said[1:]) and said[-1].last
    assert rig.timers.ringing() == []
    assert [e.reason for e in rig.events.of(Interrupted)] == ["voice stop"]
    assert [e.reason for e in rig.events.of(Silent)] == ["voice stop"]
    rig.clock.advance(10)
    rig.brain.idle()
    assert rig.said() == []


@pytest.mark.skipif(bool(can_mount()), reason=can_mount() or "ok")
def test_a_timer_set_by_voice_on_a_full_disk_rings_and_the_person_is_told(tmp_path, router):
    with small_fs(tmp_path / "state") as fs:
        rig = Rig(fs.path, router)
        fs.fill()
        said = texts(rig.hear("pon un temporizador de diez segundos"))
        assert "diez segundos" in said.lower() and UNSAVED_TIMER in said
        assert [e.what for e in rig.events.of(StorageError)] == ["timers"]
        rig.clock.advance(10)
        rig.brain.idle()
        assert [m.kind for m in rig.said()] and rig.timers.ringing()  # it rings all the same
        fs.free()
        rig.clock.advance(RETRY_S)
        rig.brain.idle()  # the brain's clock writes it as soon as the disk takes it
        assert rig.timers.saved
        assert UNSAVED_TIMER not in texts(rig.hear("pon un temporizador de un minuto"))


def test_an_alarm_waits_for_the_answer_being_given_and_never_longer_than_its_limit(
        tmp_path, router):
    """A timer that ends while the brain answers someone rings once the answer has played:
    at HIGH priority it would cut the answer the person is waiting for."""
    brain_clock = FakeClock(0.0)
    rig = Rig(tmp_path, router, clock=brain_clock)
    rig.timers.add(10, "huevos")
    asked = rig.hear("pon un temporizador de veinte minutos para la pasta", played_out=False)
    rig.clock.advance(11)
    rig.brain.idle()
    assert rig.said() == []  # it waits: the answer is still playing
    last = next(m for m in asked if isinstance(m, SpeakRequest) and m.last)
    rig.brain.handle(Finished(id=0, answer=last.answer, index=last.index, frames=0, last=True))
    fired = rig.said()
    assert fired and {m.kind for m in fired} == {"alarm"}  # now it rings, announcement and all
    rig.timers.stop()

    rig.timers.add(10)
    rig.hear("¿qué hora es?", played_out=False)  # whose end playback never reports
    rig.clock.advance(11)
    rig.brain.idle()
    assert rig.said() == []
    brain_clock.advance(ALARM_WAITS_AT_MOST_S)
    rig.brain.idle()
    assert {m.kind for m in rig.said()} == {"alarm"}  # a lost event never keeps it quiet


def test_an_alarm_that_rings_too_long_is_silenced_through_the_interruption_service(
        tmp_path, router):
    rig = Rig(tmp_path, router)
    rig.hear("pon un temporizador de diez segundos")
    rig.clock.advance(10)
    rig.brain.idle()
    rig.clock.advance(rig.settings.brain.timer_max_ring_s + 1)
    rig.brain.idle()
    assert rig.timers.ringing() == []
    assert [e.reason for e in rig.events.of(Silent)] == ["alarm timeout"]


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


def test_streamed_answer_goes_out_sentence_by_sentence_and_is_reported(tmp_path, router,
                                                                        espeak_cache):
    style = config.from_dict({}).tts.styles["normal"]
    model = ScriptedLlm(["El pan sube ", "porque la levadura ", "produce gas. ", "Y el calor ",
                         "lo expande."])
    rig = Rig(tmp_path, router, Templates({}), llm=model,
              filler=filler_source(FillerBank(espeak_cache, style)))
    said = rig.hear("¿Por qué sube el pan?")
    assert said[0].kind == "filler" and said[0].priority == Priority.LOW
    answer = [m for m in said if m.kind == "answer"]
    assert [m.text for m in answer] == ["El pan sube porque la levadura produce gas.",
                                        "Y el calor lo expande."]
    assert [m.last for m in answer] == [False, True] and [m.index for m in answer] == [0, 1]
    (routed,) = rig.events.of(Routed)
    assert (routed.route, routed.intent, routed.answer) == ("llm", "llm", said[0].answer)
    reported = rig.events.of(Sentence)
    assert [(e.kind, e.text) for e in reported] == [(m.kind, m.text) for m in said]
    assert model.questions[0][0] == "¿Por qué sube el pan?"
    assert len(rig.brain.conversation) == 1


def test_an_interrupt_mid_stream_stops_the_model_and_nothing_more_is_said(tmp_path, router):
    rig: Rig

    def barge_in(piece: int) -> None:  # arrives while the model writes its third piece
        if piece == 2:
            rig.interrupter.interrupt("button")

    model = ScriptedLlm(["Primera frase. ", "Segunda ", "frase. ", "Tercera frase."],
                        before_piece=barge_in)
    rig = Rig(tmp_path, router, Templates({}), llm=model)
    said = rig.hear("Cuéntame algo largo.")
    assert model.cancelled == [True] and model.streamed == [2]
    requests = [m for m in said if isinstance(m, SpeakRequest)]
    # The first sentence was handed on before the interrupt (and is older than the priority
    # queue's cut-off, so it never plays); nothing after it was said.
    assert [m.text for m in requests] == ["Primera frase."]
    assert not any(rig.queue.put(Utterance(np.zeros(240, np.int16), 24000, t_request=m.t))
                   for m in requests)
    turn = rig.brain.conversation.window(10_000)[-1]
    assert turn.interrupted


def test_a_question_overtaken_by_an_interrupt_on_its_way_is_not_answered(tmp_path, router):
    """Speech-to-text reports a question heard, the person presses stop at that moment and the
    interrupt reaches the brain before the transcript does: that question belongs to the cut
    turn (had it been queued already, the inbox flush would have dropped it). One asked after
    the interrupt is answered as usual."""
    rig = Rig(tmp_path, router)
    heard = Transcript(utterance=1, text="¿Qué hora es?", final=True)
    rig.interrupter.interrupt("button")
    rig.brain.on_control(rig.brain.inbox.get(0))
    rig.said()  # the interrupt itself, passed on downstream
    rig.brain.handle(heard)
    assert rig.said() == [] and rig.events.of(Routed) == []
    assert texts(rig.hear("¿Qué hora es?"))
    assert len(rig.events.of(Routed)) == 1


def test_the_router_model_is_reloaded_when_a_retrain_swaps_it(tmp_path):
    """What the nightly retrain does to a running service: a new model file is swapped in and
    the brain routes with it from its next idle check, without a restart."""
    router = Router.load(tmp_path)
    clock = FakeClock()
    rig = Rig(tmp_path, router, clock=clock)
    rig.hear("¿Qué hora es?")
    assert rig.events.of(Routed)[-1].intent == "time"
    m = router.model  # a "retrained" model that hears thanks in everything
    bias = m.bias.copy()
    bias[m.classes.index("thanks")] += 100.0
    replace(m, bias=bias).save(Router.model_file(tmp_path))
    rig.hear("¿Qué hora es?")
    assert rig.events.of(Routed)[-1].intent == "time"  # not checked yet
    clock.advance(RELOAD_EVERY_S)
    rig.brain.idle()
    rig.hear("¿Qué hora es?")
    assert rig.events.of(Routed)[-1].intent == "thanks"


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
    rig.hear("¿Qué hora es?", played_out=False)
    assert [(r["intent"], r["outcome"]) for r in log.rows()] == [("time", "answered")]
    rig.brain.on_control(Interrupt(reason="barge-in"))  # the user cut that answer
    assert log.rows()[-1]["outcome"] == "interrupted"
    log.close()


def test_predicted_interrupts_shrink_the_producers_lookahead(tmp_path, router):
    """The brain tells the producer its look-ahead with ``SetLookahead`` messages."""
    settings = config.from_dict({})
    predictor = InterruptPredictor(warmup=50)
    for _ in range(30):  # this user cuts long answers and lets short ones finish
        for i in range(3):
            predictor.observe(i, 8, 700, True)
            predictor.observe(i, 2, 150, False)
        predictor.answer_done(True)
    assert predictor.trained
    rig = Rig(tmp_path, router, predictor=predictor)

    def lookahead() -> int:
        return rig.out.of(SetLookahead)[-1].sentences

    rig.hear("¿Qué hora es?", played_out=False)
    assert lookahead() == settings.speak.lookahead  # short answer: full look-ahead
    assert rig.brain.tracker.last_plan.p < 0.5
    answer = rig.brain._answer_id
    for i in range(8):  # a long answer being spoken, as playback would report it
        rig.brain.tracker.said(answer, i, 90)
    rig.brain.handle(Started(id=1, answer=answer, index=1, kind="answer", latency_s=0.0))
    assert rig.brain.tracker.last_plan.p > 0.7 and lookahead() <= 2
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


# --- home control: Home Assistant carries it out ----------------------------------------------


def test_a_home_request_is_routed_for_home_assistant_and_answered_briefly_in_time(
        tmp_path, router):
    clock = FakeClock(100.0)
    rig = Rig(tmp_path, router, clock=clock)
    assert rig.hear("apaga la luz de la cocina") == []  # Home Assistant may still reply
    routed = rig.events.of(Routed)[-1]
    assert (routed.route, routed.intent) == ("home", "home")
    assert dict(routed.slots) == {"action": "turn_off", "device": "luz", "area": "cocina"}
    clock.advance(rig.settings.brain.home_reply_s - 0.1)
    rig.brain.idle()
    assert rig.said() == []
    clock.advance(0.2)
    rig.brain.idle()
    brief = rig.said()
    assert texts(brief) in Templates.load().table["home.default"] and brief[-1].last


def test_home_assistants_reply_replaces_the_brief_answer(tmp_path, router):
    clock = FakeClock(100.0)
    rig = Rig(tmp_path, router, clock=clock)
    rig.hear("sube la persiana del salón")
    rig.brain.hear_playback(Sentence(answer=99, index=0, text="He subido la persiana.",
                                     kind="announce", last=True))
    rig.brain.handle(rig.brain.inbox.get(0.1))  # the reply, as the control worker passes it
    clock.advance(30)
    rig.brain.idle()
    assert rig.said() == []


def test_cancelling_an_unknown_timer_by_voice_says_so(tmp_path, router):
    rig = Rig(tmp_path, router)
    rig.hear("pon un temporizador de cinco minutos para la pasta")
    said = texts(rig.hear("cancela el temporizador del pollo"))
    assert "pollo" in said and len(rig.timers.pending()) == 1


# --- words over its own voice (echo cancellation keeps the microphone open) -----------------


def hear_over(rig: Rig, text: str) -> list:
    rig.brain.handle(Transcript(utterance=7, text=text, final=True, over_speech=True))
    return rig.said()


@pytest.mark.parametrize("text", ["Para, por favor.", "¡Basta ya!", "Silencio.", "Cállate.",
                                  "Para, para.", "Vale ya.", "Oye, para."])
def test_a_stop_phrase_over_its_voice_silences_it_without_a_reply(tmp_path, router, text):
    rig = Rig(tmp_path, router)
    said = hear_over(rig, text)
    assert [type(m) for m in said] == [Interrupt] and said[0].reason == "voice stop"
    assert [e.decision for e in rig.events.of(BargeIn)] == ["stop"]
    assert [e.reason for e in rig.events.of(Interrupted)] == ["voice stop"]


@pytest.mark.parametrize("text", ["Oye, ¿has visto mis llaves?", "Pásame la sal.", "Gracias.",
                                  "Para mañana compra pan.", "¿Por qué sube el pan?", ""])
def test_someone_else_talking_over_it_changes_nothing(tmp_path, router, text):
    rig = Rig(tmp_path, router)
    assert hear_over(rig, text) == []
    assert [e.decision for e in rig.events.of(BargeIn)] == ["ignored"]
    assert rig.events.of(Interrupted) == [] and rig.events.of(Routed) == []


def test_in_always_mode_a_confident_request_over_its_voice_cuts_it_and_is_answered(
        tmp_path, router):
    rig = Rig(tmp_path, router, listen_mode=lambda: "always")
    said = hear_over(rig, "¿Qué hora es?")
    assert isinstance(said[0], Interrupt) and said[0].reason == "barge-in"
    answer = [m for m in said[1:] if isinstance(m, SpeakRequest)]
    assert answer and "tres" in texts(answer)  # 15:15: "las tres y cuarto"
    assert said[0].keep_answer == answer[0].answer  # the cut spares the new answer
    assert [e.decision for e in rig.events.of(BargeIn)] == ["answer"]


def test_in_wake_word_mode_a_request_over_its_voice_needs_the_wake_word(tmp_path, router):
    rig = Rig(tmp_path, router, listen_mode=lambda: "wake_word")
    assert hear_over(rig, "¿Qué hora es?") == []
    assert [e.decision for e in rig.events.of(BargeIn)] == ["ignored"]
