"""Builds the appliance from Settings: six workers, the inboxes that join them, the control
plane, and the supervisor that keeps them alive.

This is the only place that knows the whole shape; each worker knows just its inbox and what it
feeds. ``Appliance`` is also the control plane's ``CommandSink``: MQTT and GPIO commands land
here and are turned into messages for the workers, never executed inside the caller's thread.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Literal

from appliance.audio.capture import CaptureWorker
from appliance.audio.playback import PlaybackWorker
from appliance.brain.learning import RouterLog
from appliance.brain.output import (
    filler_source,
    prerender_static,
    prerendered_from_cache,
)
from appliance.brain.router import Router
from appliance.brain.templates import Templates
from appliance.brain.timers import TimerEvent, TimerService
from appliance.brain.volume import Volume
from appliance.brain.worker import BrainWorker
from appliance.config import Settings
from appliance.control import plane as control_plane
from appliance.control.state import TimerInfo
from appliance.listen.gate import ListenGate
from appliance.listen.stt.worker import SttWorker
from appliance.listen.vad import VadWorker
from appliance.listen.wakeword import WakeWordDetector
from appliance.pipeline.inbox import Inbox
from appliance.pipeline.messages import Interrupt, Transcript
from appliance.pipeline.supervisor import Supervisor
from appliance.pipeline.worker import Worker
from appliance.speak.fillers import FillerBank
from appliance.speak.messages import (
    Finished,
    PlaybackEvent,
    Priority,
    Silent,
    SpeakRequest,
    Started,
    new_id,
)
from appliance.speak.priority import PriorityQueue
from appliance.speak.producer import ProducerWorker
from appliance.speak.rendered import RenderedAudioCache
from appliance.speak.splitter import SentenceSplitter
from appliance.speak.tts.factory import create_engine
from appliance.system.modelstore import ModelStore

log = logging.getLogger("appliance.app")

PRIORITIES = {"high": Priority.HIGH, "normal": Priority.NORMAL, "low": Priority.LOW}


class TranscriptTap(Inbox):
    """The brain's inbox, which also tells the state machine (and an optional observer, e.g.
    the demo) about every final transcript as it arrives."""

    def __init__(self, on_transcript: Any, maxsize: int = 64) -> None:
        super().__init__(maxsize)
        self._on_transcript = on_transcript

    def put(self, msg: Any, timeout: float | None = None) -> None:
        if isinstance(msg, Transcript) and msg.final:
            self._on_transcript(msg)
        super().put(msg, timeout)


class Appliance:
    def __init__(
        self,
        settings: Settings,
        *,
        store: ModelStore | None = None,
        max_frames: int | None = None,
        pin_factory: Any = None,
        prerender: Literal["all", "fillers", "none"] = "all",
    ) -> None:
        """``prerender``: what to synthesize into the audio cache at start, in a background
        thread - fillers (the LLM path's first sound) and then every static answer."""
        s = settings
        self.settings = settings
        self.store = store or ModelStore(s.cache_path)
        s.state_path.mkdir(parents=True, exist_ok=True)
        self.observers: list[Any] = []  # callables(event) for transcripts and playback events
        self._lock = threading.Lock()
        self._answer: tuple[int, str] = (0, "")  # (answer id, its text so far), under _lock

        # --- output half: TTS producer -> priority queue -> playback ---------------------
        self.engine = create_engine(s, self.store)
        style = s.tts.styles[s.tts.style]
        self.queue = PriorityQueue(s.speak.low_boost_s)
        self.playback = PlaybackWorker.from_settings(self.queue, s.audio, on_event=self._on_play)
        self.producer = ProducerWorker.from_settings(self.engine, self.queue, s)
        self.rendered = RenderedAudioCache(self.engine, s.cache_path / "rendered")
        self.fillers = FillerBank(self.rendered, style, s.speak.filler_no_repeat)

        # --- brain -----------------------------------------------------------------------
        self.volume = Volume(s.state_path)
        self.timers = TimerService(s.state_path, max_ring_s=s.brain.timer_max_ring_s,
                                   on_event=self._on_timer)
        self.templates = Templates.load()
        self.router_log = RouterLog(s.state_path)
        self.brain = BrainWorker(
            s,
            router=Router.load(s.state_path, s.brain.router_threshold),
            templates=self.templates,
            out=self._brain_out,
            timers=self.timers,
            volume=self.volume,
            filler=filler_source(self.fillers),
            prerendered=prerendered_from_cache(self.rendered, style),
            learning=self.router_log,
            set_lookahead=self.producer.set_lookahead,
        )
        self.brain.inbox = TranscriptTap(self._on_transcript)

        # --- input half: capture -> (gate, wake word) VAD -> STT -> brain -----------------
        self.gate = ListenGate(s.listen)
        self.stt = SttWorker(s.stt, self.brain.inbox, store=self.store)
        self.vad = VadWorker(s.vad, self.store.resolve(s.vad.model), self.stt.inbox,
                             gate=self.gate, wakeword=self._wakeword())
        self.capture = CaptureWorker(s.audio, self.vad.inbox, max_frames=max_frames)

        # --- control plane: one state machine; MQTT and GPIO workers if enabled ---------
        self.plane = control_plane.build(s, self, volume=self.volume.level,
                                         pin_factory=pin_factory)
        self.state = self.plane.state
        self.volume.attach(self._apply_volume)

        self.workers: list[Worker] = [
            self.capture, self.vad, self.stt, self.brain, self.producer, self.playback,
            *self.plane.workers,
        ]
        self.supervisor = Supervisor(
            self.workers,
            restart_backoff_s=s.service.restart_backoff_s,
            heartbeat_timeout_s=s.service.heartbeat_timeout_s,
        )
        self._prerender = prerender
        self._stop_prerender = threading.Event()
        self.fillers_ready = threading.Event()  # the LLM path's first sound is cached
        self.prerendered = threading.Event()  # ... and every static answer too

    def _wakeword(self) -> WakeWordDetector | None:
        """Loaded whatever the mode, so MQTT can switch to wake_word at run time; a broken
        model only matters (and only fails the start) when wake_word is the mode."""
        s = self.settings.listen
        name = s.wake_word if s.wake_word in self.store.specs else "okay_nabu"
        try:
            return WakeWordDetector(self.store.resolve(name), s.wake_word, s.sensitivity)
        except Exception as exc:
            if s.mode == "wake_word":
                raise
            log.warning("wake word unavailable (%s); modes always/push_to_talk still work", exc)
            return None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self.supervisor.start()
        if self._prerender == "none":
            self.fillers_ready.set()
            self.prerendered.set()
        else:
            threading.Thread(target=self._prerender_audio, name="prerender", daemon=True).start()

    def stop(self, timeout: float = 1.0) -> bool:
        self._stop_prerender.set()
        ok = self.supervisor.stop(timeout)
        self.timers.close()
        return ok

    def _prerender_audio(self) -> None:
        """Fillers first (the LLM path needs them soonest), then every static answer."""
        try:
            self.fillers.prepare()
            self.fillers_ready.set()
            if self._prerender == "all":
                style = self.settings.tts.styles[self.settings.tts.style]
                n = prerender_static(self.templates, self.rendered, style, self._stop_prerender)
                log.info("pre-rendered the fillers and %d static answers", n)
        except Exception:
            # systemd's SIGTERM also reaches an espeak-ng child: a TTS killed at shutdown is
            # no failure.
            if not (self._stop_prerender.is_set() or self.supervisor.stopping):
                log.exception("pre-rendering failed; answers will be synthesized on demand")
        finally:
            self.fillers_ready.set()
            self.prerendered.set()

    def state_text(self) -> str:
        return self.state.snapshot().state

    # --- events from the workers ------------------------------------------------------------

    def _notify(self, event: Any) -> None:
        for obs in list(self.observers):
            try:
                obs(event)
            except Exception:
                log.exception("observer failed")

    def _on_transcript(self, msg: Transcript) -> None:
        if msg.text.strip():
            self.state.set_transcript(msg.text)
            self.state.set_phase("thinking")
        self._notify(msg)

    def _on_play(self, ev: PlaybackEvent) -> None:
        if isinstance(ev, Started):
            self.gate.speaking_started()
            self.state.set_phase("speaking")
            if ev.index == 0 and ev.kind in ("answer", "filler"):
                self.state.record_time_to_first_sound(ev.latency_s * 1000)
            self.brain.inbox.put(ev)
        elif isinstance(ev, Finished):
            if ev.last:
                self.brain.inbox.put(ev)
            if ev.last or (len(self.queue) == 0 and self.producer.backlog() == 0):
                # Its own voice is over: the follow-up window opens after the settle delay.
                self.gate.speaking_ended()
                self.state.set_phase("listening")
        elif isinstance(ev, Silent):
            self.gate.speaking_ended()
            self.state.record_interrupt_latency(ev.latency_s * 1000)
            self.state.set_phase("listening")
        self._notify(ev)

    def _brain_out(self, msg: Any) -> None:
        """The brain's output on its way to the producer. An answer's first sentence comes
        after the brain acted (voice timers), so the timers are republished then; the answer's
        text, sentence by sentence, becomes the last answer (MQTT, Home Assistant)."""
        self.producer.inbox.put(msg)
        if not isinstance(msg, SpeakRequest) or msg.kind != "answer":
            return
        text = msg.text
        with self._lock:
            answer, so_far = self._answer
            full = f"{so_far} {text}".strip() if msg.answer == answer else text
            self._answer = (msg.answer, full)
        self.state.set_answer(full)
        if msg.index == 0:
            self._publish_timers()

    def _apply_volume(self, gain: float) -> None:
        """Every volume change (voice, MQTT, button) reaches playback and Home Assistant."""
        self.playback.set_gain(gain)
        self.state.set_volume(self.volume.level)

    def _on_timer(self, ev: TimerEvent) -> None:
        """State only: the brain polls the timers itself and sounds the alarm."""
        if ev.kind == "fired":
            self.state.emit("timer_finished", name=ev.timer.name)
        self._publish_timers()

    def _publish_timers(self) -> None:
        self.state.set_timers([
            TimerInfo(name=t.name, remaining_s=round(rem), total_s=t.seconds)
            for t, rem in self.timers.remaining()
        ])

    # --- CommandSink: MQTT and GPIO commands ----------------------------------------------

    def interrupt(self, source: str) -> None:
        """Silence now: playback stops in the caller's thread, queued speech and generation
        are dropped, a ringing timer stops."""
        self.producer.interrupt(source)
        self.brain.inbox.put(Interrupt(reason=source))
        self.brain.stop_alarm()

    def ptt_start(self) -> None:
        """Hold to talk: it stops speaking at once and listens without the wake word."""
        self.interrupt("push-to-talk")
        self.gate.ptt_start()
        self.state.set_phase("listening")

    def ptt_stop(self) -> None:
        """Release: no new utterance starts; the one in progress ends with the VAD hangover."""
        self.gate.ptt_stop()

    def say(self, text: str, priority: str, style: str | None) -> None:
        """An announcement: spoken even while the microphone is muted."""
        answer = new_id()
        sentences = SentenceSplitter(self.settings.speak.first_sentence_max_chars)
        parts = [*sentences.feed(text), *sentences.flush()] or [text]
        prio = PRIORITIES.get(priority, Priority.NORMAL)
        for i, part in enumerate(parts):
            self.producer.inbox.put(SpeakRequest(
                text=part, priority=prio, style=style or "", answer=answer, index=i,
                kind="announce", last=i == len(parts) - 1,
            ))
        self.state.set_answer(text)

    def set_volume(self, volume: int) -> None:
        self.volume.set(volume)

    def set_mute(self, muted: bool) -> None:
        """The microphone is ignored (announcements and alarms still play)."""
        self.gate.set_muted(muted)
        if muted:
            self.vad.inbox.put(Interrupt(reason="mute"))  # drop a half-heard utterance

    def set_mode(self, mode: str) -> None:
        self.gate.set_mode(mode)

    def timer_set(self, seconds: float, name: str | None) -> None:
        """A refusal (name taken, too many timers) raises TimerError: the controller publishes
        it on ``<base>/error`` (execution_failed), so the sender learns why."""
        self.timers.add(int(round(seconds)), name or "")
        self._publish_timers()

    def timer_cancel(self, name: str | None) -> None:
        if name is None:
            self.timers.cancel_all()
        else:
            self.timers.cancel(name)
        self._publish_timers()
