"""Voice activity detection: Silero VAD cutting the capture stream into utterances.

Three layers, so each can be replaced or tested alone:

- ``SileroDetector`` is the only code that touches sherpa-onnx. A later free-threaded build
  can swap it for the sherpa-onnx C API through ctypes without changing anything else.
- ``Segmenter`` is pure stream logic (no threads, no clock of its own): it turns float32
  chunks into SpeechStart / SpeechAudio / SpeechPause / SpeechResumed / SpeechEnd messages,
  decides when a turn is over (with the end-of-turn model, appliance/listen/turn.py),
  enforces the utterance cap and is what tests, ``appliance transcribe`` and the benchmark
  use on whole signals.
- ``VadWorker`` is the pipeline stage: AudioFrame in, speech messages out. With a
  ``ListenGate`` (turn-taking) it hears only what the gate allows - gated audio reaches
  Silero as silence, so the stream clock never jumps - and runs the wake word detector. It
  reports when the gate opens or closes (``GateChanged``: what "listening" means) and swaps
  or retunes the wake word detector it owns when told to (``WakeWordSettings``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from appliance.config import TurnSettings, VadSettings
from appliance.core.pcm import SPEECH_RATE, StreamResampler, to_float32
from appliance.listen.gate import ListenGate
from appliance.listen.turn import TurnModel, load_turn_model
from appliance.listen.wakeword import WakeWordDetector
from appliance.pipeline.contracts import Sink
from appliance.pipeline.events import GateChanged, SpeechDetected, WakeWordDetected
from appliance.pipeline.inbox import Full, Inbox
from appliance.pipeline.messages import (
    AudioFrame,
    Control,
    EndTurn,
    SpeechAudio,
    SpeechEnd,
    SpeechPause,
    SpeechResumed,
    SpeechStart,
    WakeWordSettings,
    now,
)
from appliance.pipeline.worker import InboxWorker

CHUNK = 320  # 20 ms: how ``segment_signal`` feeds a whole signal, like a capture period


SpeechMessage = SpeechStart | SpeechAudio | SpeechPause | SpeechResumed | SpeechEnd


class Detector(Protocol):
    def accept(self, samples: np.ndarray) -> None: ...
    def is_speech(self) -> bool: ...
    def current_start(self) -> int: ...
    def current_samples(self) -> np.ndarray: ...
    def pop_segments(self) -> list[tuple[int, int]]: ...
    def flush(self) -> None: ...
    def reset(self) -> None: ...


class SileroDetector:
    """sherpa-onnx's VoiceActivityDetector behind the few calls we need.

    Sample indices count from the last ``reset``. Not thread-safe: one owner (the worker).
    """

    def __init__(self, model: str | Path, settings: VadSettings, rate: int = SPEECH_RATE) -> None:
        import sherpa_onnx

        cfg = sherpa_onnx.VadModelConfig()
        cfg.silero_vad.model = str(model)
        cfg.silero_vad.threshold = settings.threshold
        cfg.silero_vad.min_speech_duration = settings.min_speech_ms / 1000
        cfg.silero_vad.min_silence_duration = settings.min_silence_ms / 1000
        # Our Segmenter enforces the cap; sherpa's own limit sits beyond it.
        cfg.silero_vad.max_speech_duration = settings.max_utterance_s + 5
        cfg.sample_rate = rate
        cfg.num_threads = 1
        if not cfg.validate():
            raise ValueError(f"invalid Silero VAD configuration (model {model})")
        self._vad = sherpa_onnx.VoiceActivityDetector(
            cfg, buffer_size_in_seconds=settings.max_utterance_s + 10
        )

    def accept(self, samples: np.ndarray) -> None:
        self._vad.accept_waveform(samples)

    def is_speech(self) -> bool:
        return bool(self._vad.is_speech_detected())

    def current_start(self) -> int:
        return int(self._vad.current_segment.start)

    def current_samples(self) -> np.ndarray:
        return np.asarray(self._vad.current_segment.samples, dtype=np.float32)

    def pop_segments(self) -> list[tuple[int, int]]:
        out = []
        while not self._vad.empty():
            seg = self._vad.front
            out.append((int(seg.start), len(seg.samples)))
            self._vad.pop()
        return out

    def flush(self) -> None:
        self._vad.flush()

    def reset(self) -> None:
        self._vad.reset()


@dataclass(frozen=True)
class TurnTiming:
    """How an utterance ends once the person pauses (see appliance/listen/turn.py)."""

    model: TurnModel | None = None
    threshold: float = 0.5
    doubt_s: float = 0.7  # finished words, doubtful model: end after this much silence
    max_pause_s: float = 1.8  # with the model: end anyway after this much silence
    hangover_s: float = 0.5  # without the model: the fixed hangover

    @classmethod
    def from_settings(cls, vad: VadSettings, turn: TurnSettings,
                      model: TurnModel | None) -> TurnTiming:
        return cls(model, turn.threshold, turn.doubt_ms / 1000, turn.max_pause_ms / 1000,
                   vad.min_silence_ms / 1000)


@dataclass
class _Pause:
    seq: int
    end: int  # absolute index just past the last speech sample
    p: float | None
    end_at: int | None = None  # absolute sample at which the turn ends (a doubted EndTurn)


@dataclass
class _Open:
    utterance: int
    start: int  # absolute sample index
    audio: list[np.ndarray] = field(default_factory=list)  # what was sent as SpeechAudio
    pause: _Pause | None = None


class Segmenter:
    """Stream logic over a Detector; times are seconds since the first sample fed.

    The detector's own segments end after a short silence; here that is a *pause*
    (SpeechPause, with the end-of-turn model's verdict), and the utterance stays open: speech
    again resumes it (SpeechResumed), ``end_turn`` (the STT judged the early transcript
    finished) or enough silence ends it (SpeechEnd)."""

    def __init__(self, detector: Detector, max_utterance_s: float, rate: int = SPEECH_RATE,
                 quiet_after_cap_s: float = 0.75, timing: TurnTiming | None = None) -> None:
        self.det = detector
        self.rate = rate
        self.timing = timing or TurnTiming()
        self.max_samples = int(max_utterance_s * rate)
        self.quiet_after_cap = int(quiet_after_cap_s * rate)
        self.pos = 0  # absolute samples fed so far
        self._base = 0  # absolute index of the detector's sample 0 (moves on reset)
        self._open: _Open | None = None
        self._next_utterance = 1
        self._next_pause = 1
        self._suppress = False  # after a cap: ignore speech until the room is quiet again
        self._quiet = 0

    def feed(self, chunk: np.ndarray) -> list[SpeechMessage]:
        """Feed float32 samples; returns the speech messages they caused, in order."""
        self.det.accept(chunk)
        self.pos += len(chunk)
        if self._suppress:
            return self._while_suppressed(len(chunk))
        out: list[SpeechMessage] = []
        for start, n in self.det.pop_segments():
            out += self._paused(self._base + start, n)
        opened = self._open
        if opened is None:
            if self.det.is_speech():
                start = self._base + self.det.current_start()
                opened = self._open = _Open(self._next_utterance, start)
                self._next_utterance += 1
                out.append(SpeechStart(opened.utterance, start / self.rate))
                out.append(self._audio(opened, self.det.current_samples()))
            return out
        if opened.pause is not None and self.det.is_speech():
            out.append(SpeechResumed(opened.utterance, opened.pause.seq))
            opened.pause = None
        out.append(self._audio(opened, chunk.astype(np.float32, copy=False)))
        if self.pos - opened.start >= self.max_samples:
            out.append(self._end(self.pos, capped=True))
            self._restart_detector()
            self._suppress, self._quiet = True, 0
        elif opened.pause is not None:
            out += self._end_if_due(opened.pause)
        return out

    def end_turn(self, utterance: int, pause: int) -> list[SpeechMessage]:
        """The early transcript of ``pause`` has finished words: end the turn now if the
        model agrees (or there is none), after ``doubt_s`` of silence if it doubts. Ignored if
        the person has spoken again since that pause."""
        opened = self._open
        if opened is None or opened.utterance != utterance or opened.pause is None \
                or opened.pause.seq != pause:
            return []
        t = self.timing
        p = opened.pause
        if p.p is None or p.p >= t.threshold:
            return [self._end(p.end, capped=False)]
        p.end_at = p.end + int(t.doubt_s * self.rate)
        return self._end_if_due(p)

    def finish(self) -> list[SpeechMessage]:
        """End of stream: close an utterance still open."""
        if self._suppress:
            return []
        self.det.flush()
        out: list[SpeechMessage] = []
        for start, n in self.det.pop_segments():
            out += self._paused(self._base + start, n)
        if self._open is not None:
            pause = self._open.pause
            out.append(self._end(pause.end if pause else self.pos, capped=False))
        return out

    def reset(self) -> None:
        """Forget any open utterance (interrupt, flush); the clock keeps running."""
        self._open = None
        self._suppress = False
        self._restart_detector()

    @property
    def in_speech(self) -> bool:
        return self._open is not None

    # --- internals --------------------------------------------------------------------------

    def _audio(self, opened: _Open, samples: np.ndarray) -> SpeechAudio:
        opened.audio.append(samples)
        return SpeechAudio(opened.utterance, samples)

    def _paused(self, start: int, n: int) -> list[SpeechMessage]:
        """A detector segment ended: the person paused."""
        out: list[SpeechMessage] = []
        opened = self._open
        if opened is None:  # started and paused within one chunk
            opened = self._open = _Open(self._next_utterance, start)
            self._next_utterance += 1
            out.append(SpeechStart(opened.utterance, start / self.rate))
            out.append(self._audio(opened, np.zeros(0, np.float32)))
        if opened.pause is not None:
            return out
        model = self.timing.model
        p = None if model is None else model.probability(np.concatenate(opened.audio))
        opened.pause = _Pause(self._next_pause, start + n, p)
        self._next_pause += 1
        out.append(SpeechPause(opened.utterance, opened.pause.seq, (start + n) / self.rate, p))
        return out

    def _end_if_due(self, pause: _Pause) -> list[SpeechMessage]:
        t = self.timing
        limit = t.max_pause_s if t.model is not None else t.hangover_s
        due = pause.end + int(limit * self.rate)
        if pause.end_at is not None:
            due = min(due, pause.end_at)
        return [self._end(pause.end, capped=False)] if self.pos >= due else []

    def _end(self, end: int, *, capped: bool) -> SpeechEnd:
        assert self._open is not None
        msg = SpeechEnd(self._open.utterance, self._open.start / self.rate, end / self.rate,
                        now(), capped)
        self._open = None
        return msg

    def _restart_detector(self) -> None:
        self.det.reset()
        self._base = self.pos

    def _while_suppressed(self, n: int) -> list[SpeechMessage]:
        self.det.pop_segments()
        if self.det.is_speech():
            self._quiet = 0
            if self.pos - self._base >= self.max_samples:  # bound the detector's buffer
                self._restart_detector()
        else:
            self._quiet += n
            if self._quiet >= self.quiet_after_cap:
                self._suppress = False
                self._restart_detector()
        return []


def segment_signal(signal: np.ndarray, detector: Detector, settings: VadSettings,
                   timing: TurnTiming | None = None) -> list[SpeechMessage]:
    """All speech messages for a whole float32 16 kHz signal, fed in 20 ms chunks (without an
    end-of-turn model: each pause that reaches the hangover ends an utterance)."""
    timing = timing or TurnTiming(hangover_s=settings.min_silence_ms / 1000)
    seg = Segmenter(detector, settings.max_utterance_s, timing=timing)
    x = np.asarray(signal, dtype=np.float32)
    out: list[SpeechMessage] = []
    for i in range(0, len(x), CHUNK):
        out += seg.feed(x[i : i + CHUNK])
    return out + seg.finish()


def speech_spans(messages: list[SpeechMessage]) -> list[tuple[float, float]]:
    """(start, end) seconds of each finished utterance in a message list."""
    return [(m.t_start, m.t_end) for m in messages if isinstance(m, SpeechEnd)]


class VadWorker(InboxWorker):
    """AudioFrame in; SpeechStart, SpeechAudio (while speaking), SpeechPause / SpeechResumed
    and SpeechEnd out. ``EndTurn`` (from the STT worker, ahead of the audio) ends a paused
    turn whose early transcript is finished.

    Stream time 0 is the capture time of the first frame seen (``t0``, monotonic), so a
    stream time ``s`` happened at monotonic ``t0 + s``.
    """

    name = "vad"

    def __init__(self, settings: VadSettings, model: str | Path, downstream: Sink, *,
                 turn: TurnSettings | None = None, turn_model: Path | None = None,
                 events: Sink | None = None, gate: ListenGate | None = None,
                 wakeword: WakeWordDetector | None = None,
                 load_wakeword: Callable[[str, float], WakeWordDetector] | None = None,
                 sensitivity: float = 0.5, name: str | None = None,
                 inbox: Inbox | None = None) -> None:
        """``turn_model``: the end-of-turn model file (None: the fixed hangover);
        ``load_wakeword(word, sensitivity)``: another detector, when told to switch;
        ``sensitivity``: the wake word sensitivity in force (``wakeword`` is tuned to it)."""
        super().__init__(name, inbox if inbox is not None else Inbox(256, drop_oldest=True),
                         events=events)
        self.settings = settings
        self.turn = turn or TurnSettings(model="")
        self.turn_model = turn_model
        self.gate = gate
        self.wakeword = wakeword
        self.load_wakeword = load_wakeword
        self.sensitivity = sensitivity
        self.wakes = 0
        self._ww_listening = False
        self._gate_open: bool | None = None  # as last reported
        self.model = Path(model)
        self.downstream = downstream
        self.t0: float | None = None
        self._seg: Segmenter | None = None
        self._resampler: StreamResampler | None = None
        self._next_seq: int | None = None
        self.gaps = 0  # frames lost upstream (inbox dropped the oldest)
        self.utterances = 0
        self.capped = 0
        self.dropped = 0  # messages STT had no room for

    def setup(self) -> None:
        # sherpa-onnx's C API through ctypes: the one code path for the GIL build and
        # python3.13t (no free-threaded sherpa_onnx module); same segments, same CPU cost.
        from appliance.listen.sherpa_capi import CapiSileroDetector

        # The detector's segments end at a short pause; the Segmenter decides the turn.
        pause_ms = min(self.turn.pause_ms, self.settings.min_silence_ms)
        detector = CapiSileroDetector(self.model, replace(self.settings, min_silence_ms=pause_ms))
        model = load_turn_model(self.turn_model, self.turn.threads) if self.turn_model else None
        timing = TurnTiming.from_settings(self.settings, self.turn, model)
        self._seg = Segmenter(detector, self.settings.max_utterance_s, timing=timing)
        self._next_seq = None
        self.t0 = None

    def teardown(self) -> None:
        self._seg = None

    def handle(self, msg: object) -> None:
        if not isinstance(msg, AudioFrame):
            self.log.warning("ignoring unexpected message %s", type(msg).__name__)
            return
        assert self._seg is not None
        if self.t0 is None:
            self.t0 = msg.t
        if self._next_seq is not None and msg.seq > self._next_seq:
            lost = min(msg.seq - self._next_seq, 50)
            self.gaps += msg.seq - self._next_seq
            self._emit(self._seg.feed(np.zeros(lost * len(msg.samples) * SPEECH_RATE // msg.rate,
                                               np.float32)))
        self._next_seq = msg.seq + 1
        chunk = self._to_float(msg)
        if self.gate is not None:
            chunk = self._through_gate(msg, chunk)
        self._emit(self._seg.feed(chunk))

    def on_control(self, msg: Control) -> None:
        if isinstance(msg, WakeWordSettings):
            self._wake_word_settings(msg)
        elif self._seg is None:
            return
        elif isinstance(msg, EndTurn):
            self._emit(self._seg.end_turn(msg.utterance, msg.pause))
        else:  # flush (mute) or interrupt: drop a half-heard utterance
            self._seg.reset()

    def _wake_word_settings(self, msg: WakeWordSettings) -> None:
        """Between two frames, on this thread: the detector is never used half-changed."""
        if msg.sensitivity is not None:
            self.sensitivity = msg.sensitivity
        current = self.wakeword
        word = msg.word or (current.word if current is not None else None)
        if current is not None and word == current.word:
            current.set_sensitivity(self.sensitivity)
            self.log.info("wake word %r: sensitivity %.2f", word, self.sensitivity)
            return
        if word is None:  # none loaded: the sensitivity applies to the next one
            return
        if self.load_wakeword is None:
            self.log.error("wake word: cannot switch to %r (no model loader)", word)
            return
        try:
            self.wakeword = self.load_wakeword(word, self.sensitivity)
        except Exception as exc:  # keep listening for the old word rather than for none
            self.log.error("wake word: cannot switch to %r (%s); keeping %r", word, exc,
                           current.word if current is not None else None)
            return
        self._ww_listening = False
        self.log.info("wake word: now %r", word)

    def stats(self) -> dict[str, Any]:
        return {"utterances": self.utterances, "capped": self.capped, "gaps": self.gaps,
                "wakes": self.wakes, "dropped": self.dropped}

    def _through_gate(self, frame: AudioFrame, chunk: np.ndarray) -> np.ndarray:
        assert self.gate is not None and self._seg is not None
        listening = self.gate.listens_for_wake_word(frame.t)
        if self.wakeword is not None and listening:
            if self.wakeword.process(frame.samples):
                self.wakes += 1
                over = self.gate.speaking
                self.log.info("wake word %r heard%s", self.wakeword.word,
                              " over the appliance's speech" if over else "")
                self.gate.wake(frame.t)
                self.report(WakeWordDetected(word=self.wakeword.word, over_speech=over))
                return np.zeros_like(chunk)  # the wake word itself is not the command
        elif self.wakeword is not None and self._ww_listening:
            self.wakeword.reset()  # stale audio must not complete a word later
        self._ww_listening = listening
        allowed = self.gate.allow(frame.t, in_speech=self._seg.in_speech)
        if allowed != self._gate_open:
            self._gate_open = allowed
            self.report(GateChanged(open=allowed))
        if allowed:
            return chunk
        if self._seg.in_speech:  # the appliance started speaking over it: drop it
            self._seg.reset()
        return np.zeros_like(chunk)

    def _to_float(self, frame: AudioFrame) -> np.ndarray:
        x = to_float32(frame.samples)
        if frame.rate == SPEECH_RATE:
            return x
        if self._resampler is None or self._resampler.src_rate != frame.rate:
            self._resampler = StreamResampler(frame.rate, SPEECH_RATE)
        return self._resampler(x)

    def _emit(self, messages: list[SpeechMessage]) -> None:
        for m in messages:
            if isinstance(m, SpeechStart):
                if self.gate is not None:
                    # Over the appliance's own voice, not after the wake word or button: the brain
                    # judges it (a stop phrase, a request, or someone else talking).
                    over = self.gate.speaking and not self.gate.addressed
                    self.gate.speech_started()
                    if over:
                        m = replace(m, over_speech=True)
                self.report(SpeechDetected(utterance=m.utterance, over_speech=m.over_speech))
            if isinstance(m, SpeechEnd):
                self.utterances += 1
                self.capped += int(m.capped)
                if self.gate is not None:
                    self.gate.utterance_ended()
            try:
                self.downstream.put(m, timeout=1.0)
            except Full:
                # STT is stuck: losing a message beats crashing and losing the VAD's state.
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 100 == 0:
                    self.log.error("STT inbox full: dropped %d messages", self.dropped)
