"""The brain worker: final transcript in, sentences to say out.

Routes each final transcript; template intents (time, timers, volume, stop...) are answered at
once - the static opening from pre-rendered audio when cached - and everything else goes to the
LLM: a filler first when the predicted wait is long (FillerPolicy), then the answer streamed
through the incremental splitter, each sentence submitted as soon as it is complete.

Generation runs inside ``handle`` (the worker's own thread) and checks between tokens whether a
control message arrived, so an interrupt stops the model within one token; a sentence is only
handed on if no interrupt is waiting, so nothing of a cut turn is said. Sentences go
downstream (the TTS producer's inbox) as ``SpeakRequest``s and are reported as ``Sentence``
events; the spoken "para" goes through the interruption service like every other stop. This
worker is also the timers' clock: ``check()`` runs on every idle poll and between tokens.

Home control ("apaga la luz de la cocina") is Home Assistant's to carry out: the routing is
reported (the ``intent`` event an automation acts on) and the brief answer waits up to
``brain.home_reply_s`` for Home Assistant's own spoken reply (an announcement); if one comes,
it is the answer and the brief one is never said.

Words heard over the appliance's own voice (``Transcript.over_speech``) are judged first
(appliance/brain/barge_in.py): a stop phrase silences it, a confident request in ``always``
mode cuts it and is answered, anything else is someone else talking and changes nothing. The
verdict is reported (``BargeIn``) so the ducked answer comes back up at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from appliance.brain.backends import AnswerCutOff, load_language_model
from appliance.brain.barge_in import judge
from appliance.brain.context import Conversation
from appliance.brain.filler_policy import FillerPolicy
from appliance.brain.learning import RouterLog
from appliance.brain.llm import LanguageModel, LlmError
from appliance.brain.llm_server import ServerLlm
from appliance.brain.outcomes import AnswerTracker
from appliance.brain.output import FillerSource, Prerendered, alarm_tone
from appliance.brain.prepare import AnswerPreparer
from appliance.brain.router import Router, RouteResult
from appliance.brain.scheduler import InterruptPredictor
from appliance.brain.splitter import SentenceSplitter
from appliance.brain.templates import Templates
from appliance.brain.timers import TimerError, TimerEvent, TimerService
from appliance.brain.volume import Volume
from appliance.config import Settings
from appliance.core.stop_phrases import StopPhrases
from appliance.pipeline.contracts import Interrupter, ModelResolver, Sink
from appliance.pipeline.events import (
    BargeIn,
    Event,
    Finished,
    Routed,
    Sentence,
    Silent,
    SpeechFailed,
    Started,
)
from appliance.pipeline.inbox import Inbox
from appliance.pipeline.messages import (
    Control,
    Interrupt,
    Priority,
    SetLookahead,
    SpeakRequest,
    Transcript,
    new_id,
)
from appliance.pipeline.worker import InboxWorker

NO_LLM = "Lo siento, ahora mismo no puedo pensar en eso."
CUT_OFF = "Perdona, se me ha cortado. ¿Me lo preguntas otra vez?"
AnswerSource = Literal["template", "server", "local", "apology"]
RELOAD_EVERY_S = 5.0  # how often the router model file is checked for a nightly retrain
# An alarm waits for the answer being given, but never longer than this (a lost playback
# event must not keep a timer quiet).
ALARM_WAITS_AT_MOST_S = 30.0
SPOKEN_TIMER_ERRORS = {
    "name_taken": "ya hay un temporizador con ese nombre.",
    "limit_reached": "hay demasiados temporizadores.",
    "ambiguous": "hay varios temporizadores; dime cuál.",
}
UNSAVED_TIMER = "Pero no he podido guardarlo: si me reinicio, se perderá."


@dataclass(frozen=True)
class AnswerRecord:
    """The newest answer as a whole (``appliance ask`` prints it): what was asked, how it was
    routed, what was said, who wrote it and how soon its first piece came."""

    question: str
    route: str
    intent: str
    answer: str
    source: AnswerSource
    first_token_s: float | None  # question -> first LLM token, or the first sentence out
    cut_off: bool = False  # the server failed mid-answer


class BrainWorker(InboxWorker):
    name = "brain"

    def __init__(
        self,
        settings: Settings,
        *,
        router: Router,
        templates: Templates,
        downstream: Sink,
        interrupter: Interrupter,
        timers: TimerService,
        volume: Volume,
        events: Sink | None = None,
        store: ModelResolver | None = None,
        llm: LanguageModel | None = None,
        llm_server: ServerLlm | None = None,
        conversation: Conversation | None = None,
        filler: FillerSource | None = None,
        prerendered: Prerendered | None = None,
        preparer: AnswerPreparer | None = None,
        predictor: InterruptPredictor | None = None,
        learning: RouterLog | None = None,
        now: Callable[[], dt.datetime] = dt.datetime.now,
        clock: Callable[[], float] = time.monotonic,
        listen_mode: Callable[[], str] | None = None,
        name: str | None = None,
        inbox: Inbox | None = None,
    ) -> None:
        """``store`` loads the configured LLM in ``setup`` (unless ``llm`` is given), behind
        ``llm_server`` when a chat-completions server is configured; ``listen_mode``: the
        listening mode in force (it changes at run time)."""
        super().__init__(name, inbox, events=events)
        b = settings.brain
        self.settings = settings
        self.router, self.templates, self.downstream = router, templates, downstream
        self.interrupter = interrupter
        self.timers, self.volume = timers, volume
        self.store = store
        self.llm = llm
        self.llm_server = llm_server
        self.last_answer: AnswerRecord | None = None
        self._source: AnswerSource = "template"  # the answer being given (``last_answer``)
        self._first_token: float | None = None
        self._cut_off = False
        # When the last interrupt was issued: a question heard before it, still on its way
        # here when the interrupt overtook it, belongs to the cut turn.
        self._interrupted_at = float("-inf")
        self.conversation = conversation or Conversation(b.context_turns)
        self.filler = filler
        self.prerendered = prerendered
        self.preparer = preparer
        self.filler_policy = FillerPolicy(b.filler_threshold_s, alpha=settings.speak.ewma_alpha)
        self.predictor = predictor or InterruptPredictor()
        self.tracker = AnswerTracker(self.predictor, base_lookahead=settings.speak.lookahead,
                                     learning=learning, set_lookahead=self._set_lookahead)
        self.now = now
        self.clock = clock
        self._answering: tuple[int, float] | None = None  # (answer, until): alarms wait for it
        self._held_alarms: list[TimerEvent] = []
        self.splitter_chars = settings.speak.first_sentence_max_chars
        self._cancel = threading.Event()
        self._prev_intent: str | None = None
        self._alarm = alarm_tone(settings.audio.playback_rate)
        self.last_timing: dict[str, float] = {}  # seconds from the transcript, last answer
        self._t0 = clock()
        self._answer_id = 0
        self._next_reload = clock() + RELOAD_EVERY_S
        self._home: tuple[int, float, str] | None = None  # (answer, say it at, brief answer)
        self.listen_mode = listen_mode or (lambda: settings.listen.mode)
        self.stop_phrases = StopPhrases(settings.listen.stop_phrases)

    # --- lifecycle ------------------------------------------------------------------------

    def setup(self) -> None:
        if self.llm is None:
            self.llm = load_language_model(self.settings, self.store, self.llm_server)

    def idle(self) -> None:
        self.check_timers()
        self.reload_router()
        self._home_reply_overdue()

    def _home_reply_overdue(self) -> None:
        """No reply from Home Assistant in time: say the brief answer."""
        if self._home is not None and self.clock() >= self._home[1]:
            answer_id, _, text = self._home
            self._home = None
            self._say(answer_id, 0, text, True)

    def check_timers(self) -> None:
        """The brain's clock: timers, and state the storage refused earlier."""
        for ev in self.timers.check():
            self.on_timer(ev)
        if self._held_alarms and not self._alarms_wait():
            held, self._held_alarms = self._held_alarms, []
            for ev in held:
                self.on_timer(ev)
        self.volume.flush()

    def _alarms_wait(self) -> bool:
        """An answer is being given: a ringing alarm (HIGH) would cut it, and the person who
        asked while it started ringing would get no answer. It rings once the answer ends."""
        if self._answering is not None and self.clock() >= self._answering[1]:
            self._answering = None
        return self._answering is not None

    def _answer_ended(self, answer: int) -> None:
        """Played out, failed or cut (an alarm's own events carry answer 0: not ours)."""
        if self._answering is not None and answer and self._answering[0] == answer:
            self._answering = None

    def reload_router(self) -> None:
        """Pick up a model that `appliance router retrain` (the nightly timer) swapped in."""
        if self.clock() < self._next_reload:
            return
        self._next_reload = self.clock() + RELOAD_EVERY_S
        try:
            if self.router.reload_if_changed():
                self.log.info("brain: router model reloaded from %s", self.router.model_path)
        except Exception as exc:  # a half-copied or corrupt file: keep routing with the old one
            self.log.error("brain: cannot reload the router model (%s); keeping the current one",
                           exc)

    def hear_playback(self, ev: Event) -> None:
        """Playback feedback (from the control worker's thread): which sentences started and
        which answers played out teach the interrupt predictor and the learning log; an
        announcement may be Home Assistant's reply to a home request."""
        announced = isinstance(ev, Sentence) and ev.kind == "announce"
        if (isinstance(ev, Started | Finished | Silent | SpeechFailed) or announced) \
                and self.inbox is not None:
            self.inbox.put(ev)

    # --- messages -------------------------------------------------------------------------

    def on_control(self, msg: Control) -> None:
        if isinstance(msg, Interrupt):
            self._interrupted_at = max(self._interrupted_at, msg.t)
            self._cancel.set()
            self._home = None
            if not (self._answering and msg.keep_answer == self._answering[0]):
                self._answering = None
            self.tracker.interrupted(keep=msg.keep_answer or None)

    def handle(self, msg: Any) -> None:
        if isinstance(msg, Transcript):
            if msg.final and msg.t_done <= self._interrupted_at:
                # The inbox flush drops such a question when it is already queued; this one was
                # reported heard, then overtaken by the interrupt on its way here.
                self.log.info("brain: %r was heard before an interrupt: not answered", msg.text)
            elif msg.final and msg.over_speech:
                self.barge_in(msg)
            elif msg.final and msg.text.strip():
                self._cancel.clear()
                self._home = None  # a new question: the old request's brief answer is moot
                self.answer(msg)
        elif isinstance(msg, Sentence):  # an announcement: Home Assistant's reply, if awaited
            if self._home is not None:
                self.log.info("brain: Home Assistant answered; no brief answer")
                self._home = None
        elif isinstance(msg, Started):
            if msg.kind == "answer":
                self.tracker.started(msg.answer, msg.index)
        elif isinstance(msg, Finished):
            if msg.last:
                self.tracker.finished(msg.answer)
                self._answer_ended(msg.answer)
        elif isinstance(msg, SpeechFailed):
            if msg.last:
                self._answer_ended(msg.answer)
        elif isinstance(msg, Silent):  # cut: nothing more of it will play
            self._answer_ended(msg.answer)
        else:
            self.log.warning("brain: ignoring %s", type(msg).__name__)
        self.check_timers()
        self._home_reply_overdue()

    def on_timer(self, ev: TimerEvent) -> None:
        """Alarm at HIGH priority: announce on fire, beep on every ring; a ring that reached
        its limit is silenced like any other stop."""
        rate = self.settings.audio.playback_rate
        if ev.kind in ("fired", "ring") and self._alarms_wait():
            if ev.kind == "fired":  # the announcement of it is kept; a repeat ring comes again
                self._held_alarms.append(ev)
            return
        if ev.kind == "fired":
            try:
                text = self.templates.render("timer_done", {"name": ev.timer.name}).text
            except KeyError:  # no template for it: the alarm must sound anyway
                text = "¡Se ha acabado el temporizador!"
            self._out(SpeakRequest(audio=self._alarm, rate=rate, priority=Priority.HIGH,
                                   kind="alarm"))
            self._out(SpeakRequest(text=text, priority=Priority.HIGH, kind="alarm", last=True))
        elif ev.kind == "ring":
            self._out(SpeakRequest(audio=self._alarm, rate=rate, priority=Priority.HIGH,
                                   kind="alarm", last=True))
        # An answer being given holds the rings back, so none is left to silence then: an
        # interrupt would only cut the answer the person is waiting for.
        elif ev.kind == "ring_end" and ev.reason == "max" and not self._alarms_wait():
            self.interrupter.interrupt("alarm timeout")

    # --- answering ------------------------------------------------------------------------

    def barge_in(self, msg: Transcript) -> None:
        """Words over the appliance's own voice: stop, cut and answer, or carry on."""
        text = msg.text.strip()
        route = self.router.route(text, self._prev_intent) if text else None
        decision = judge(text, route, mode=self.listen_mode(), stop=self.stop_phrases,
                         confidence=self.settings.listen.barge_in_confidence)
        self.log.info("brain: heard over its own voice %r -> %s", text, decision)
        self.report(BargeIn(decision=decision, text=text))
        if decision == "stop":  # silence is the answer: no "vale" over the person
            self.interrupter.interrupt("voice stop")
        elif decision == "answer":
            answer_id = new_id()
            self.interrupter.interrupt("barge-in", keep_answer=answer_id)
            self._cancel.clear()
            self._home = None
            self.answer(msg, answer_id)

    def answer(self, msg: Transcript, answer_id: int = 0) -> None:
        self._t0 = msg.t_done
        result = self.router.route(msg.text, self._prev_intent)
        self._prev_intent = result.intent
        answer_id = self._answer_id = answer_id or new_id()
        self._answering = (answer_id, self.clock() + ALARM_WAITS_AT_MOST_S)
        self.last_timing = {"route_s": self.clock() - self._t0}
        self.report(Routed(answer=answer_id, text=msg.text, route=result.route,
                           intent=result.intent, confidence=result.confidence,
                           slots=tuple(sorted(result.slots.items()))))
        self.tracker.open(answer_id, result)
        self._source, self._first_token, self._cut_off = "template", None, False
        try:
            if result.route == "home":
                text = self.home_answer(answer_id)
            elif result.route == "template":
                text = self.template_answer(result, answer_id)
            else:
                text = self.llm_answer(msg.text, answer_id, self._t0)
        except Exception:  # a bug in one answer must not take the brain down
            self.log.exception("brain: answering %r failed", msg.text)
            text = self._canned("not_understood", "Perdona, no te he entendido.")
            self._source = "apology"
            self._say(answer_id, 0, text, True)
        outcome = "interrupted" if self._cancel.is_set() else "answered"
        self.tracker.done(answer_id, outcome)
        first = self.last_timing.get("first_out_s") if self._first_token is None \
            else self._first_token
        self.last_answer = AnswerRecord(msg.text, result.route, result.intent, text,
                                        self._source, first, self._cut_off)
        self.log.info("brain: %r -> %s %s (%s, %s): %r", msg.text, result.route, result.intent,
                      outcome, self._source, text[:80])

    def _say(self, answer_id: int, index: int, text: str, last: bool) -> None:
        cached = self.prerendered(text) if self.prerendered is not None else None
        if cached is not None:
            audio, rate = cached
            req = SpeakRequest(audio=audio, rate=rate, text=text, answer=answer_id, index=index,
                               last=last)
        else:
            req = SpeakRequest(text=text, answer=answer_id, index=index, last=last)
        if self._out(req):
            self.tracker.said(answer_id, index, len(text))
            self.last_timing.setdefault("first_out_s", self.clock() - self._t0)

    def _out(self, req: SpeakRequest) -> bool:
        """Hand ``req`` on unless an interrupt is waiting (then the turn is over). The request
        exists before the check, so one created before an interrupt it did not see is older
        than the priority queue's cut-off and is dropped there: nothing of a cut turn plays."""
        if self._interrupted(req.answer):
            self._cancel.set()
            return False
        self.downstream.put(req)
        self.report(Sentence(answer=req.answer, index=req.index, text=req.text, kind=req.kind,
                             last=req.last, cached=req.audio is not None))
        return True

    def _interrupted(self, answer_id: int) -> bool:
        if self.inbox is None:
            return False
        msg = self.inbox.peek_control()
        if isinstance(msg, Interrupt):
            return not (answer_id and msg.keep_answer == answer_id)
        return msg is not None

    def _set_lookahead(self, sentences: int) -> None:
        self.downstream.put(SetLookahead(sentences=sentences))

    def _canned(self, intent: str, fallback: str) -> str:
        try:
            return self.templates.render(intent, {}, self.now(), {}).text
        except KeyError:
            return fallback

    def home_answer(self, answer_id: int) -> str:
        """The brief answer, said now or when Home Assistant has not replied in time."""
        text = self._canned("home", "Se lo he pasado a Home Assistant.")
        self._home = (answer_id, self.clock() + self.settings.brain.home_reply_s, text)
        self._home_reply_overdue()
        return text

    def template_answer(self, result: RouteResult, answer_id: int) -> str:
        intent, slots = result.intent, dict(result.slots)
        try:
            context = self.act(intent, slots)
        except TimerError as exc:
            self.log.info("brain: timer request refused (%s): %s", exc.code, exc)
            text = "No he podido: " + SPOKEN_TIMER_ERRORS.get(exc.code, "no lo he entendido.")
            self._say(answer_id, 0, text, True)
            return text
        now = self.now()
        prepared = self.preparer.answer(intent, slots, now) if self.preparer else None
        if prepared is not None:  # rendered ahead: it plays whole, at once
            parts, text = [prepared], prepared
        else:
            resp = self.templates.render(intent, slots, now, context, prefer=self._has_audio)
            parts = [resp.text] if resp.static or not resp.opening else [resp.opening, resp.rest]
            text = resp.text
        parts = [p for p in parts if p]
        if intent == "timer_set" and not self.timers.saved:  # it rings, but a restart loses it
            parts.append(UNSAVED_TIMER)
            text = f"{text} {UNSAVED_TIMER}"
        for i, part in enumerate(parts):
            self._say(answer_id, i, part, i == len(parts) - 1)
        if intent not in ("stop", "affirm", "deny", "thanks"):
            self.conversation.add(result.text, text)
        return text

    def _has_audio(self, text: str) -> bool:
        return self.prerendered is not None and self.prerendered(text) is not None

    def act(self, intent: str, slots: dict[str, Any]) -> dict[str, Any]:
        """Do what a template intent asks (timers, volume, stop); return the template context."""
        if intent == "timer_set" and slots.get("seconds"):
            self.timers.add(int(slots["seconds"]), str(slots.get("name") or ""))
        elif intent == "timer_cancel":
            if slots.get("all"):
                gone = self.timers.cancel_all()
            else:
                gone = self.timers.cancel(str(slots.get("name") or ""))
            return {"cancelled": [t.name or None for t in gone]}
        elif intent == "timer_query":
            rem = self.timers.remaining(str(slots.get("name") or ""))
            return {"timers": [{"name": t.name, "remaining": round(s)} for t, s in rem]}
        elif intent in ("volume_up", "volume_down"):
            before = self.volume.level
            after = self.volume.up() if intent == "volume_up" else self.volume.down()
            return {"volume": after, "at_limit": after == before}
        elif intent == "stop":
            # Silences what was playing and any alarm; the short "vale" that follows survives.
            self.interrupter.interrupt("voice stop", keep_answer=self._answer_id)
        return {}

    def llm_answer(self, question: str, answer_id: int, t0: float) -> str:
        if self.filler is not None and self.filler_policy.should_fill():
            req = self.filler(answer_id)
            if req is not None and self._out(req):
                self.last_timing["filler_out_s"] = self.clock() - t0
        if self.llm is None:
            return self._apology(answer_id)
        splitter = SentenceSplitter(self.splitter_chars)
        turns = self.conversation.window(self.llm.context_budget(), self.llm.count_tokens)
        text, index = "", 0
        try:
            stream = self.llm.stream(question, turns, cancel=self._cancel,
                                     progress=self._progress)
            with contextlib.closing(stream) as gen:
                for piece in gen:
                    text += piece
                    for sentence in splitter.feed(piece):
                        self._emit(answer_id, index, sentence, False, t0)
                        index += 1
                    self.check_timers()
        except AnswerCutOff:  # logged where it happened; the apology below ends the answer
            self._cut_off = True
        except LlmError as exc:
            self.log.error("brain: %s", exc)
        if self.llm.last is not None:  # who answered (the apology below says otherwise)
            self._source = self.llm.last.source
            self._first_token = self.llm.last.first_token_s if text.strip() else None
        if self._cancel.is_set():
            self.conversation.add(question, text, interrupted=True)
            return text
        if not text.strip():
            return self._apology(answer_id)
        # The splitter confirms a sentence end only when more text follows, so the last
        # sentence always comes out of flush(): that is where ``last`` is set.
        tail = splitter.flush()
        if self._cut_off:
            tail.append(self._canned("llm_cut_off", CUT_OFF))
        for i, sentence in enumerate(tail):
            self._emit(answer_id, index + i, sentence, i == len(tail) - 1, t0)
        self.conversation.add(question, text, interrupted=self._cut_off)
        return text

    def _apology(self, answer_id: int) -> str:
        """No model, or no text from it: say so rather than nothing."""
        self._source = "apology"
        text = self._canned("llm_unavailable", NO_LLM)
        self._say(answer_id, 0, text, True)
        return text

    def _progress(self) -> None:
        """Between prompt chunks and tokens: stay alive, and give way to control messages."""
        self.heartbeat.beat()
        if self.inbox is not None and self.inbox.has_control():
            self._cancel.set()  # the model stops before its next token

    def _emit(self, answer_id: int, index: int, sentence: str, last: bool, t0: float) -> None:
        if index == 0:
            elapsed = self.clock() - t0
            self.last_timing["first_sentence_s"] = elapsed
            self.filler_policy.observe(elapsed)
        self._say(answer_id, index, sentence, last)
