"""The TTS producer: sentences in, device-ready utterances out, synthesized just in time.

It keeps an EWMA of synthesis seconds per character and an estimate of when the audio already
handed to playback runs out; each next sentence is started when its predicted synthesis would
finish ``margin_s`` before that moment (at once if that is already past), and never more than
``lookahead`` sentences ahead of what is playing. Synthesizing just in time rather than all at
once keeps the CPU free for the LLM that is still writing the answer, and wastes little when
an answer is interrupted. Predicted and actual times are recorded for the benchmark.

An ``Interrupt`` (from the interruption service, which has already stopped playback) makes
the worker drop the sentences it holds; a sentence in synthesis at that moment is refused by
the priority queue when it arrives, because it was requested before the interrupt.
Pre-rendered audio (fillers, cached templates) skips synthesis and is only converted. A
sentence that cannot be synthesized is reported (``SpeechFailed``), so its answer still ends.
An announcement is queued whole once its last sentence is synthesized: it has no deadline,
and a message from Home Assistant with holes in it sounds broken.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from appliance.config import Settings, StyleSettings
from appliance.core.pcm import resample, to_float32, to_int16
from appliance.core.text import speakable
from appliance.pipeline.contracts import Sink
from appliance.pipeline.events import SpeechFailed
from appliance.pipeline.inbox import Inbox
from appliance.pipeline.messages import (
    Control,
    Interrupt,
    Priority,
    SetLookahead,
    SpeakRequest,
    Utterance,
)
from appliance.pipeline.priority import PriorityQueue
from appliance.pipeline.worker import InboxWorker
from appliance.speak.tts.base import TtsEngine


@dataclass(frozen=True)
class Prediction:
    answer: int
    index: int
    chars: int
    predicted_s: float | None  # None before the first measurement
    actual_s: float
    late_s: float  # how far past its deadline (margin before the audio runs out) it finished

    @property
    def error(self) -> float | None:
        """Relative prediction error, |predicted - actual| / actual."""
        if self.predicted_s is None or self.actual_s <= 0:
            return None
        return abs(self.predicted_s - self.actual_s) / self.actual_s


class ProducerWorker(InboxWorker):
    name = "speak"

    def __init__(
        self,
        engine: TtsEngine,
        queue: PriorityQueue,
        *,
        events: Sink | None = None,
        device_rate: int,
        styles: dict[str, StyleSettings] | None = None,
        default_style: str = "normal",
        ewma_alpha: float = 0.3,
        margin_s: float = 0.3,
        lookahead: int = 3,
        name: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        inbox: Inbox | None = None,
    ) -> None:
        super().__init__(name, inbox if inbox is not None else Inbox(256), events=events)
        self.engine = engine
        self.queue = queue
        self.device_rate = device_rate
        self.styles = styles or {"normal": StyleSettings(1.2, 0.6, 0.8, 0.2)}
        if default_style not in self.styles:
            raise ValueError(f"default style {default_style!r} is not one of {list(self.styles)}")
        self.default_style = default_style
        self.alpha = ewma_alpha
        self.margin_s = margin_s
        self.clock = clock
        self._lock = threading.Lock()  # lookahead, ewma and counters (read by stats())
        self._lookahead = lookahead
        self._ewma: float | None = None  # synthesis seconds per character
        self._pending: deque[SpeakRequest] = deque()  # worker thread only
        self._held: list[Utterance] = []  # announcement sentences waiting for the last one
        self._timeline: deque[tuple[float, float]] = deque()  # (start, end) of queued audio
        self._records: deque[Prediction] = deque(maxlen=1000)
        self._working = 0  # 1 while a request is being synthesized/converted
        self._counts = {"synthesized": 0, "passed_through": 0, "dropped": 0, "failed": 0}

    @classmethod
    def from_settings(
        cls, engine: TtsEngine, queue: PriorityQueue, settings: Settings, *,
        events: Sink | None = None, inbox: Inbox | None = None,
    ) -> ProducerWorker:
        sp = settings.speak
        return cls(
            engine, queue, events=events, inbox=inbox, device_rate=settings.audio.playback_rate,
            styles=dict(settings.tts.styles), default_style=settings.tts.style,
            ewma_alpha=sp.ewma_alpha, margin_s=sp.margin_s, lookahead=sp.lookahead,
        )

    # --- figures (any thread) ---------------------------------------------------------------

    @property
    def lookahead(self) -> int:
        with self._lock:
            return self._lookahead

    @property
    def ewma_s_per_char(self) -> float | None:
        with self._lock:
            return self._ewma

    def records(self) -> list[Prediction]:
        with self._lock:
            return list(self._records)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            errors = [r.error for r in list(self._records)[-10:] if r.error is not None]
            return {
                **self._counts,
                "ewma_s_per_char": self._ewma,
                "recent_error": sum(errors) / len(errors) if errors else None,
                "late": sum(1 for r in self._records if r.late_s > 0),
                "lookahead": self._lookahead,
            }

    # --- worker -----------------------------------------------------------------------------

    def step(self) -> None:
        self.poll_s = self._wait_s()
        super().step()

    def on_control(self, msg: Control) -> None:
        if isinstance(msg, SetLookahead):
            with self._lock:
                self._lookahead = msg.sentences
            return
        self._drop_pending()
        if isinstance(msg, Interrupt):
            self._timeline.clear()
            self._count("dropped", len(self._held))
            self._held.clear()

    def handle(self, msg: Any) -> None:
        if not isinstance(msg, SpeakRequest):
            self.log.warning("speak: ignoring %s (expected SpeakRequest)", type(msg).__name__)
            return
        if msg.priority == Priority.HIGH:
            # HIGH preempts: what was waiting to be synthesized for NORMAL/LOW is dropped too.
            kept = [r for r in self._pending if r.priority == Priority.HIGH]
            self._count("dropped", len(self._pending) - len(kept))
            self._pending = deque([*kept, msg])
        else:
            self._pending.append(msg)
        self.idle()

    def idle(self) -> None:
        if self._pending and self._wait_s() <= 0:
            self._produce(self._pending.popleft())

    # --- scheduling -------------------------------------------------------------------------

    def _wait_s(self) -> float:
        """Seconds until the next pending sentence is due (capped at the poll interval)."""
        if not self._pending:
            return 0.1
        req = self._pending[0]
        if req.audio is not None or req.priority == Priority.HIGH:
            return 0.0
        now = self.clock()
        self._prune(now)
        if sum(1 for start, _ in self._timeline if start > now) >= self.lookahead:
            return 0.02
        ewma = self.ewma_s_per_char
        if ewma is None or not self._timeline:
            return 0.0
        start_at = self._timeline[-1][1] - self.margin_s - ewma * len(req.text)
        return min(0.1, max(0.0, start_at - now))

    def _prune(self, now: float) -> None:
        if not self.queue.busy():
            self._timeline.clear()  # nothing queued or playing (played out, or flushed)
        while self._timeline and self._timeline[0][1] <= now:
            self._timeline.popleft()

    def _drop_pending(self) -> None:
        self._count("dropped", len(self._pending))
        self._pending.clear()

    # --- producing --------------------------------------------------------------------------

    def _produce(self, req: SpeakRequest) -> None:
        if req.audio is not None:
            audio = self._convert(req.audio, req.rate)
            self._count("passed_through")
        else:
            synthesized = self._synthesize(req)
            if synthesized is None:
                return
            audio = synthesized
        if not len(audio):
            self._failed(req, "no audio")
            return
        utt = Utterance(
            audio, self.device_rate, req.priority, answer=req.answer, index=req.index,
            text=req.text, kind=req.kind, last=req.last, t_request=req.t,
        )
        if utt.kind == "announce" and not utt.last:
            self._held.append(utt)
            return
        held, self._held = (self._held, []) if utt.kind == "announce" else ([], self._held)
        for u in (*held, utt):
            self._queue(u)

    def _queue(self, utt: Utterance) -> None:
        if not self.queue.put(utt):  # its turn was interrupted while we worked
            self._count("dropped")
            return
        now = self.clock()
        start = max(now, self._timeline[-1][1]) if self._timeline else now
        self._timeline.append((start, start + utt.duration))

    def _failed(self, req: SpeakRequest, reason: str) -> None:
        """A sentence that will not play: its answer must still end (turn-taking, bridging),
        and an announcement plays what it has."""
        self.report(SpeechFailed(answer=req.answer, index=req.index, last=req.last,
                                 reason=reason[:200]))
        if req.last:
            self.queue.end_answer(req.answer)
            if req.kind == "announce":
                held, self._held = self._held, []
                for u in held:
                    self._queue(u)

    def _synthesize(self, req: SpeakRequest) -> np.ndarray | None:
        name = req.style or self.default_style
        style = self.styles.get(name)
        if style is None:
            self.log.warning("speak: unknown style %r; using %r", name, self.default_style)
            style = self.styles[self.default_style]
        now = self.clock()
        self._prune(now)
        deadline = (self._timeline[-1][1] - self.margin_s) if self._timeline else None
        ewma = self.ewma_s_per_char
        predicted = None if ewma is None else ewma * len(req.text)
        text = speakable(req.text)
        if not text:  # only markup or emoji: nothing a voice should read out
            self._count("dropped")
            self._failed(req, "nothing speakable (only markup or emoji)")
            return None
        try:
            raw = self.engine.synthesize(text, style)
        except Exception as exc:  # a bad sentence must not take the speaker down
            self.log.error("speak: synthesis failed for %r: %s", req.text[:80], exc)
            self._count("failed")
            self._failed(req, str(exc))
            return None
        done = self.clock()
        actual = done - now
        chars = max(1, len(req.text))
        with self._lock:
            x = actual / chars
            self._ewma = x if self._ewma is None else self.alpha * x + (1 - self.alpha) * self._ewma
            self._records.append(Prediction(
                req.answer, req.index, chars, predicted, actual,
                0.0 if deadline is None else max(0.0, done - deadline),
            ))
            self._counts["synthesized"] += 1
        return self._convert(raw, self.engine.sample_rate)

    def _convert(self, audio: np.ndarray, rate: int) -> np.ndarray:
        """Any engine/filler audio -> int16 mono at the device rate."""
        if rate == self.device_rate and audio.dtype == np.int16:
            return audio
        f = to_float32(audio) if audio.dtype == np.int16 else audio
        return to_int16(resample(f, rate, self.device_rate))

    def _count(self, key: str, n: int = 1) -> None:
        if n:
            with self._lock:
                self._counts[key] += n
