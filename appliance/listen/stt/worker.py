"""The STT stage: speech messages in, Transcript messages out.

A session opens at SpeechStart, is fed every SpeechAudio (so a streaming engine decodes while
the person is still talking and publishes partials) and is closed at SpeechEnd with a final
Transcript - also when the text is empty, so downstream always learns the utterance ended.
Each final transcript is also reported (``Heard``) for Home Assistant and the phase.

Early transcription: at a SpeechPause the audio so far is transcribed at once. If its words
are finished (appliance/listen/turn.py) the VAD is told to end the turn (``EndTurn``, ahead
of its audio), and the SpeechEnd that follows reuses that transcript: the decode ran while
the turn was being decided. Speech again (SpeechResumed) throws it away.
"""

from __future__ import annotations

import threading
from typing import Any

from appliance.config import SttSettings
from appliance.core.pcm import SPEECH_RATE
from appliance.core.remote import CircuitBreaker
from appliance.core.stop_phrases import StopPhrases
from appliance.listen.stt.base import SttEngine, SttSession
from appliance.listen.stt.factory import load_engine
from appliance.listen.turn import unfinished
from appliance.pipeline.contracts import ModelResolver, Sink
from appliance.pipeline.events import Heard
from appliance.pipeline.inbox import Full, Inbox
from appliance.pipeline.messages import (
    Control,
    EndTurn,
    SpeechAudio,
    SpeechEnd,
    SpeechPause,
    SpeechResumed,
    SpeechStart,
    Transcript,
    now,
)
from appliance.pipeline.worker import InboxWorker


class SttWorker(InboxWorker):
    name = "stt"

    def __init__(self, settings: SttSettings, downstream: Sink, *,
                 events: Sink | None = None, turns: Sink | None = None,
                 store: ModelResolver | None = None, engine: SttEngine | None = None,
                 stop_phrases: StopPhrases | None = None,
                 breaker: CircuitBreaker | None = None,
                 name: str | None = None, inbox: Inbox | None = None) -> None:
        """Give either ``store`` (a ModelStore: the engine is loaded in ``setup``, in this
        worker's thread, once) or an already loaded ``engine``. ``turns``: the VAD's inbox,
        told when an early transcript is a finished turn (``stop_phrases`` always are).
        ``breaker``: a Wyoming server's circuit breaker (stt.engine wyoming)."""
        if engine is None and store is None:
            raise ValueError("SttWorker needs a ModelStore or a loaded engine")
        # Whisper holds the stage ~2 s per utterance: room for that much streamed audio.
        super().__init__(name, inbox if inbox is not None else Inbox(2048), events=events)
        self.settings = settings
        self.downstream = downstream
        self.turns = turns
        self.stop_phrases = stop_phrases or StopPhrases(())
        self.store = store
        self.engine = engine
        self.breaker = breaker
        self._session: SttSession | None = None
        self._utterance = 0
        self._t_start = 0.0
        self._over_speech = False
        self._last_partial = ""
        self._early: tuple[int, str, float] | None = None  # (pause, text, decode s) still valid
        self._lock = threading.Lock()  # the counters below are read by other threads
        self.finals = 0
        self.decode_s = 0.0  # total time spent finalizing (for the real-time factor)
        self.audio_s = 0.0
        self.last_decode: dict[int, float] = {}  # utterance -> seconds its final took

    def setup(self) -> None:
        if self.engine is None:
            assert self.store is not None
            self.engine = load_engine(self.settings, self.store, self.breaker)
        self._session = None

    def handle(self, msg: Any) -> None:
        if isinstance(msg, SpeechStart):
            assert self.engine is not None
            # Over its own voice it is mostly told to stop: the decoder expects just that.
            prompt = self.settings.over_speech_prompt if msg.over_speech else None
            self._session = self.engine.start(prompt or None)  # drops a session left open
            self._utterance, self._t_start, self._last_partial = msg.utterance, msg.t, ""
            self._over_speech = msg.over_speech
            self._early = None
        elif isinstance(msg, SpeechAudio):
            if self._session is None or msg.utterance != self._utterance:
                return  # its start was lost to an interrupt: nothing to attach it to
            self._session.feed(msg.samples)
            with self._lock:
                self.audio_s += len(msg.samples) / SPEECH_RATE
            self._publish_partial()
        elif isinstance(msg, SpeechPause):
            if self._session is not None and msg.utterance == self._utterance:
                self._transcribe_early(msg)
        elif isinstance(msg, SpeechResumed):
            if msg.utterance == self._utterance:
                self._early = None
        elif isinstance(msg, SpeechEnd):
            if self._session is None or msg.utterance != self._utterance:
                return
            session, self._session = self._session, None
            early, self._early = self._early, None
            assert self.engine is not None
            t = now()
            if early is not None and not self.engine.streaming:
                text, took = early[1], early[2]  # decoded during the pause: nothing left to do
            else:
                text = session.final()
                took = now() - t
            with self._lock:
                self.decode_s += took
                self.finals += 1
                self.last_decode[msg.utterance] = took
                if len(self.last_decode) > 16:
                    del self.last_decode[min(self.last_decode)]
            final = Transcript(msg.utterance, text, True, msg.t_start, msg.t_end, msg.t_detected,
                               engine=self._engine_name(), language=self.settings.language,
                               over_speech=self._over_speech)
            self.report(Heard(transcript=final))  # before the brain can react to it
            self._put(final, timeout=5.0)
        else:
            self.log.warning("ignoring unexpected message %s", type(msg).__name__)

    def on_control(self, msg: Control) -> None:
        self._session = None
        self._early = None

    def _transcribe_early(self, msg: SpeechPause) -> None:
        assert self._session is not None
        t = now()
        text = self._session.early()
        took = now() - t
        self._early = (msg.pause, text, took)
        # "Para, para" ends on a preposition, yet it is the most finished thing anyone says.
        finished = not unfinished(text) or self.stop_phrases.match(text)
        self.log.debug("early transcript of utterance %d (%.0f ms, p_complete %s): %r%s",
                       msg.utterance, 1000 * took, msg.p_complete, text,
                       "" if finished else " - unfinished, still listening")
        if finished and self.turns is not None:
            self.turns.put(EndTurn(utterance=msg.utterance, pause=msg.pause))

    def stats(self) -> dict[str, Any]:
        """``rtf``: seconds spent finalizing per second of utterance audio."""
        with self._lock:
            rtf = self.decode_s / self.audio_s if self.audio_s else 0.0
            return {"finals": self.finals, "decode_s": round(self.decode_s, 3), "rtf": rtf,
                    "audio_s": round(self.audio_s, 3)}

    def decode_time(self, utterance: int) -> float | None:
        """How long the final transcript of a recent utterance took to compute."""
        with self._lock:
            return self.last_decode.get(utterance)

    def _publish_partial(self) -> None:
        assert self._session is not None and self.engine is not None
        if not self.engine.streaming:
            return
        text = self._session.partial()
        if text and text != self._last_partial:
            self._last_partial = text
            self._put(Transcript(self._utterance, text, False, self._t_start,
                                 engine=self._engine_name(), language=self.settings.language),
                      timeout=0.0)

    def _engine_name(self) -> str:
        return self.engine.name if self.engine is not None else ""

    def _put(self, msg: Transcript, timeout: float) -> None:
        """A partial nobody had room for is simply stale; a lost final is logged."""
        try:
            self.downstream.put(msg, timeout=timeout)
        except Full:
            if msg.final:
                self.log.error("transcript of utterance %d dropped: downstream inbox full",
                               msg.utterance)
