"""A scripted conversation through the real pipeline, with what a person would hear measured.

A scripted person speaks (the script's audio) into a FIFO-backed ALSA microphone; the real
appliance (capture -> VAD -> STT -> brain -> TTS -> playback) answers into a FIFO-backed ALSA
loudspeaker that the demo drains in real time. The person waits for each answer to end before
the next turn; a turn may press the interrupt button (or send the MQTT interrupt, or say
"para") while the answer plays, have someone else talk over it, or make an announcement as
Home Assistant would. With the room simulated (``EchoPath``) the microphone also hears the
appliance itself, so the run shows whether it ever reacts to its own voice. Figures come from
the pipeline's own events (what it did and when) plus what the "ear" actually heard.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from appliance.app import Pipeline
from appliance.control.commands import Say, TimerSet
from appliance.core.pcm import SPEECH_RATE, to_int16
from appliance.core.text import strip_accents
from appliance.demo.fifo_devices import Ear, Mouth
from appliance.demo.script import Script, ScriptTurn
from appliance.pipeline.events import (
    BargeIn,
    Ducked,
    Event,
    Finished,
    Gap,
    Heard,
    Interrupted,
    OverSpeech,
    Routed,
    Sentence,
    Silent,
    SpeechDetected,
    Started,
    WakeWordDetected,
    speech_ended,
)

VOICE_STOPS = ("voice stop", "barge-in", "wake word")  # interrupts caused by what it heard
FIGURES = ("speech_end_to_transcript_ms", "transcript_to_first_sound_ms",
           "speech_end_to_first_sound_ms", "max_gap_ms")


@dataclass(frozen=True)
class Phase(Event):
    """A change of the published phase, logged with the pipeline's events."""

    phase: str = ""


@dataclass
class Log:
    """Every observed event with the monotonic time it was seen; appended on the observers'
    thread, read by the conversation (a snapshot: deque appends and pops are atomic)."""

    events: deque[tuple[float, Any]] = field(default_factory=deque)

    def add(self, event: Any) -> None:
        self.events.append((time.monotonic(), event))

    def forget(self, before: float) -> None:
        """Drop what was seen before ``before`` (a long run keeps only what it still reads)."""
        while self.events and self.events[0][0] < before:
            self.events.popleft()

    def since(self, t: float) -> list[tuple[float, Any]]:
        return [(w, e) for w, e in list(self.events) if w >= t]


class Conversation:
    def __init__(self, app: Pipeline, mouth: Mouth, ear: Ear, *, turn_timeout_s: float = 300.0,
                 out: Callable[[str], None] = print) -> None:
        self.app = app
        self.mouth = mouth
        self.ear = ear
        self.turn_timeout_s = turn_timeout_s
        self.out = out
        self.log = Log()
        app.observe(self.log.add)
        app.control.state.subscribe(lambda snap, changed: self.log.add(Phase(phase=snap.phase))
                                    if "phase" in changed else None)
        self.settle_s = app.settings.listen.settle_ms / 1000 + 0.3

    def forget(self, before: float) -> None:
        """Drop the events, speech and sound from before ``before``: the demo keeps the whole
        conversation for its recording and report, a long run (bench/soak.py) only the
        current turn's, so what grows is the appliance, not the rig."""
        self.log.forget(before)
        self.mouth.forget(before)
        self.ear.forget(before)

    # --- the script ---------------------------------------------------------------------

    def run(self, script: Script) -> list[dict[str, Any]]:
        turns: list[dict[str, Any]] = []
        for turn in script.turns:
            if turn.scenario:
                self.out(f"\n== {turn.scenario} ==")
            if turn.wait_s:
                time.sleep(turn.wait_s)
            if turn.audio is not None:
                figures = self.speech_turn(turn)
            elif turn.timer is not None:
                figures = self.alarm(turn)
            else:
                figures = self.announce(turn)
            figures.update(turn=turn.index, scenario=turn.scenario)
            _check(turn, figures)
            turns.append(figures)
            self.print_turn(figures)
        return turns

    def speech_turn(self, turn: ScriptTurn) -> dict[str, Any]:
        assert turn.audio is not None
        t_begin = time.monotonic()
        underruns0 = self.app.playback.stats()["underruns"]
        duration = self.mouth.say(to_int16(turn.audio))
        self.mouth.wait_said(duration + 10)
        start_t, _ = self.mouth.said()[-1]
        t_end_speech = start_t + duration
        fig: dict[str, Any] = {"said": turn.label, "speech_s": round(duration, 2)}
        heard_ev = self._wait(t_begin, lambda e: isinstance(e, Heard)
                              and bool(e.transcript.text.strip()), 60)
        if heard_ev is None:
            fig["heard"] = []
            fig["error"] = "no transcript"
            return fig
        t_tr, tr = heard_ev[0], heard_ev[1].transcript
        fig["speech_end_to_transcript_ms"] = _ms(tr.t_done - t_end_speech)
        first = self._wait(t_tr, lambda e: isinstance(e, Started), 60)
        if first is None:
            fig["error"] = "no answer"
            fig["heard"] = self._transcripts(t_begin)
            return fig
        t_first, started = first
        fig["first_sound"] = started.kind
        fig["transcript_to_first_sound_ms"] = _ms(started.t - tr.t_done)
        fig["speech_end_to_first_sound_ms"] = _ms(started.t - t_end_speech)
        heard_at = self.ear.sound_since(t_tr)
        self._play_out(turn, t_first, fig)
        heard_at = self.ear.sound_since(t_tr) if heard_at is None else heard_at
        if heard_at is not None:
            fig["speech_end_to_heard_ms"] = _ms(heard_at - t_end_speech)
        fig["heard"] = self._transcripts(t_begin)
        routed = [e for _, e in self.log.since(t_tr) if isinstance(e, Routed)]
        if routed:
            fig["route"], fig["intent"] = routed[0].route, routed[0].intent
        self._answer_figures(t_tr, fig)
        fig["underruns"] = self.app.playback.stats()["underruns"] - underruns0
        time.sleep(self.settle_s)
        return fig

    def announce(self, turn: ScriptTurn) -> dict[str, Any]:
        """What the MQTT ``say`` command does, through the same command path."""
        underruns0 = self.app.playback.stats()["underruns"]
        fig: dict[str, Any] = {"said": f"(aviso) {turn.announce}", "heard": []}
        t0 = time.monotonic()
        error = self.app.control.controller.execute(Say(turn.announce), "say")
        if error is not None:
            fig["error"] = f"announcement refused: {error.message}"
            return fig
        first = self._wait(t0, lambda e: isinstance(e, Started) and e.kind == "announce", 60)
        if first is None:
            fig["error"] = "the announcement was never heard"
            return fig
        fig["first_sound"] = "announce"
        fig["request_to_first_sound_ms"] = _ms(first[1].t - t0)
        self._play_out(turn, first[0], fig)
        self._answer_figures(t0, fig)
        fig["underruns"] = self.app.playback.stats()["underruns"] - underruns0
        time.sleep(self.settle_s)
        return fig

    def alarm(self, turn: ScriptTurn) -> dict[str, Any]:
        """A timer set as Home Assistant would (``timer/set``), left to ring, then the button."""
        assert turn.timer is not None
        seconds, ring_s = turn.timer
        fig: dict[str, Any] = {"said": turn.label, "heard": []}
        t0 = time.monotonic()
        error = self.app.control.controller.execute(TimerSet(seconds, "demo"), "timer/set")
        if error is not None:
            fig["error"] = f"timer refused: {error.message}"
            return fig
        rang = self._wait(t0, lambda e: isinstance(e, Started) and e.kind == "alarm",
                          seconds + 30)
        if rang is None:
            fig["error"] = "the alarm never rang"
            return fig
        fig["alarm_late_ms"] = _ms(rang[0] - t0 - seconds)
        time.sleep(ring_s)
        self.app.control.controller.interrupt("button")
        fig["rang_s"] = round(time.monotonic() - rang[0], 1)
        self._wait_quiet(1.0, time.monotonic() + 30)
        fig["heard"] = self._transcripts(t0)
        return fig

    def _play_out(self, turn: ScriptTurn, t_first: float, fig: dict[str, Any]) -> None:
        """Until the answer has played out, pressing the interrupt on the way if the turn
        says so."""
        deadline = time.monotonic() + self.turn_timeout_s
        if turn.interrupt is not None and turn.interrupt.kind == "voice":
            self._talk_over(turn, t_first, deadline, fig, stop=True)
            return
        if turn.background is not None:
            self._talk_over(turn, t_first, deadline, fig, stop=False)
            return
        if turn.interrupt is None:
            done = self._wait(t_first, speech_ended, max(1.0, deadline - time.monotonic()))
            if done is None:
                fig["error"] = "answer did not finish in time"
                self.app.control.controller.interrupt("demo timeout")  # or the next turn fails
            self._wait_quiet(1.0, deadline + 10)
            return
        if not self._press_during_answer(t_first, t_first + turn.interrupt.at_s, deadline):
            fig["error"] = "the answer never played, so there was nothing to interrupt"
            return
        t_press = time.monotonic()
        fig["pressed_after_first_sound_s"] = round(t_press - t_first, 2)
        controller = self.app.control.controller
        if turn.interrupt.kind == "button":
            controller.interrupt("button")  # what a GPIO press does
        else:
            controller.handle("interrupt", b"PRESS")  # what cmd/interrupt does
        silent = self._wait(t_press, lambda e: isinstance(e, Silent), 5)
        if silent is not None:
            fig["interrupt_to_silent_ms"] = _ms(silent[1].latency_s)
        time.sleep(1.0)
        fig["interrupt_to_heard_silence_ms"] = _ms(max(0.0, self.ear.last_sound() - t_press))
        again = self._wait(t_press, lambda e: isinstance(e, Phase) and e.phase == "listening",
                           0.1)
        if again is not None:  # the follow-up window opens after the settle delay
            settle = self.app.settings.listen.settle_ms / 1000
            fig["listening_again_after_press_ms"] = _ms(again[0] - t_press + settle)
        self._wait_quiet(1.0, deadline + 10)

    def _talk_over(self, turn: ScriptTurn, t_first: float, deadline: float,
                   fig: dict[str, Any], *, stop: bool) -> None:
        """The person says a stop phrase over the answer (``stop``), or someone else talks
        over it: was it ducked, and did it stop (or carry on)?"""
        if stop:
            assert turn.interrupt is not None and turn.interrupt.audio is not None
            audio, at_s = turn.interrupt.audio, turn.interrupt.at_s
        else:
            assert turn.background is not None
            audio, at_s = turn.background.audio, turn.background.at_s
        if not self._press_during_answer(t_first, t_first + at_s, deadline):
            fig["error"] = "the answer never played, so there was nothing to talk over"
            return
        duration = self.mouth.say(to_int16(audio))
        self.mouth.wait_said(duration + 10)
        start_t, _ = self.mouth.said()[-1]
        first, last = _voiced_span(audio)
        onset, end = start_t + first, start_t + last
        fig["over_s"] = round(onset - t_first, 2)
        fig["over_label"] = (turn.interrupt.label if stop and turn.interrupt else
                             turn.background.label if turn.background else "")
        if stop:
            silent = self._wait(start_t, lambda e: isinstance(e, Silent), max(0.1, end + 5
                                - time.monotonic()))
            cut = [e for _, e in self.log.since(start_t)
                   if isinstance(e, Interrupted) and e.reason in VOICE_STOPS]
            fig["stopped"] = silent is not None and bool(cut)
            if silent is not None:
                fig["interrupt_to_silent_ms"] = _ms(silent[1].t - end)
            heard = self._wait(start_t, lambda e: isinstance(e, Heard)
                               and e.transcript.over_speech, 0.0)
            if heard is not None:  # where the time went: end of turn, then the transcript
                tr = heard[1].transcript
                fig["phrase_end_to_turn_end_ms"] = _ms(tr.t_detected - end)
                fig["phrase_end_to_transcript_ms"] = _ms(tr.t_done - end)
        done = self._wait(t_first, speech_ended, max(1.0, deadline - time.monotonic()))
        if done is None:
            fig["error"] = "answer did not finish in time"
            self.app.control.controller.interrupt("demo timeout")
        if not stop:
            fig["stopped"] = done is not None and isinstance(done[1], Silent)
        ducked = self._wait(onset - 0.2, lambda e: isinstance(e, Ducked) and e.on, 0.0)
        if ducked is not None:
            fig["duck_ms"] = _ms(ducked[1].t - onset)
        verdicts = [e.decision for _, e in self.log.since(start_t) if isinstance(e, BargeIn)]
        fig["barge_in"] = verdicts
        fig["heard"] = self._transcripts(start_t)
        self._wait_quiet(1.0, deadline + 10)

    def self_triggers(self) -> dict[str, int]:
        """Over the whole run, reactions to something the person did not say: the
        appliance's own voice ducking it, stopping it, waking it or being transcribed."""
        spans = [(t, t + len(a) / SPEECH_RATE) for t, a in self.mouth.said()]

        def explained(w: float, after_s: float) -> bool:
            return any(a - 0.2 <= w <= b + after_s for a, b in spans)

        events = list(self.log.events)
        ducks = [w for w, e in events if isinstance(e, OverSpeech) and e.active
                 and not explained(w, 1.0)]
        stops = [w for w, e in events if isinstance(e, Interrupted)
                 and e.reason in VOICE_STOPS and not explained(w, 6.0)]
        wakes = [w for w, e in events if isinstance(e, WakeWordDetected)
                 and not explained(w, 1.0)]
        heard = [w for w, e in events if isinstance(e, Heard) and e.transcript.text.strip()
                 and not explained(w, 8.0)]
        opened = [w for w, e in events if isinstance(e, SpeechDetected)
                  and not explained(w, 1.0)]
        return {"false_barge_ins": len(ducks) + len(stops), "false_ducks": len(ducks),
                "false_stops": len(stops), "self_wake_words": len(wakes),
                "own_speech_transcripts": len(heard), "own_speech_utterances": len(opened)}

    def _answer_figures(self, since: float, fig: dict[str, Any]) -> None:
        events = [e for _, e in self.log.since(since)]
        said = [e for e in events if isinstance(e, Sentence)]
        fig["answer"] = " ".join(e.text for e in said if e.kind in ("answer", "announce")
                                 and e.text)
        fig["filler"] = any(e.kind == "filler" for e in said)
        fig["sentences"] = len([e for e in said if e.kind in ("answer", "announce")])
        answers = {e.answer for e in said}
        gaps = [e.gap_s for e in events if isinstance(e, Gap) and e.answer in answers]
        fig["max_gap_ms"] = _ms(max(gaps, default=0.0))
        fig["answer_audio_s"] = round(sum(
            e.frames for e in events if isinstance(e, Finished) and e.answer in answers
        ) / self.app.settings.audio.playback_rate, 2)

    # --- waiting on the pipeline --------------------------------------------------------

    def _transcripts(self, since: float) -> list[str]:
        return [e.transcript.text for _, e in self.log.since(since)
                if isinstance(e, Heard) and e.transcript.text.strip()]

    def _wait(self, since: float, pred: Callable[[Any], bool],
              timeout: float) -> tuple[float, Any] | None:
        deadline = time.monotonic() + timeout
        while True:
            for w, e in self.log.since(since):
                if pred(e):
                    return w, e
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def _press_during_answer(self, since: float, target: float, deadline: float) -> bool:
        """Sleep until the moment to press: ``target`` if speech is audible then, else within
        the next sentence (at least 1 s or half of it in, at most three quarters), so the
        press always lands on speech however slow the machine or short the answer. False if
        nothing plays before ``deadline``."""
        while time.monotonic() < deadline:
            playing = self._speech_playing(since)
            if playing is not None:
                start, dur = playing
                early = start + min(1.0, dur / 2)
                press_at = min(max(target, early), start + 0.75 * dur)
                if time.monotonic() >= press_at:
                    return True
            time.sleep(0.01)
        return False

    def _speech_playing(self, since: float) -> tuple[float, float] | None:
        """(start, duration) of the answer or announcement sentence playing now, if any."""
        playing: dict[int, tuple[float, float]] = {}
        for w, e in self.log.since(since):
            if isinstance(e, Started) and e.kind in ("answer", "announce"):
                playing[e.id] = (w, e.duration_s)
            elif isinstance(e, Finished | Silent):
                playing.pop(e.id, None)
        return next(iter(playing.values()), None)

    def _wait_quiet(self, quiet_s: float, deadline: float) -> None:
        while time.monotonic() < deadline:
            busy = (len(self.app.queue) or len(self.app.producer.inbox)
                    or len(self.app.brain.inbox))
            if not busy and time.monotonic() - self.ear.last_sound() >= quiet_s:
                return
            time.sleep(0.05)

    # --- output -------------------------------------------------------------------------

    def print_turn(self, f: dict[str, Any]) -> None:
        self.out(f"  persona:   {f['said']}")
        self.out(f"  oído:      {' | '.join(f.get('heard') or ['-'])}")
        if "route" in f:
            self.out(f"  ruta:      {f['route']} ({f.get('intent')})")
        if f.get("answer"):
            self.out(f"  respuesta: {f['answer']}")
        keys = (*FIGURES, "request_to_first_sound_ms", "sentences", "underruns",
                "interrupt_to_silent_ms", "pressed_after_first_sound_s",
                "interrupt_to_heard_silence_ms", "listening_again_after_press_ms",
                "over_s", "duck_ms", "stopped", "barge_in")
        parts = [f"{k}={f[k]}" for k in keys if k in f]
        if f.get("filler"):
            parts.append("filler=yes")
        self.out("  cifras:    " + ", ".join(parts))
        for problem in f.get("unexpected", []):
            self.out(f"  NO ESPERADO: {problem}")
        if "error" in f:
            self.out(f"  ERROR:     {f['error']}")


def summary(turns: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per route, p50 and p95 of each figure over the turns that have it."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    routes = sorted({t["route"] for t in turns if "route" in t})
    for route in routes:
        rows = [t for t in turns if t.get("route") == route]
        out[route] = {}
        for key in FIGURES:
            values = sorted(float(t[key]) for t in rows if key in t)
            if values:
                out[route][key] = {"n": len(values), "p50": statistics.median(values),
                                   "p95": _percentile(values, 95), "max": values[-1]}
    return out


def _percentile(sorted_values: list[float], p: float) -> float:
    k = (len(sorted_values) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def _check(turn: ScriptTurn, fig: dict[str, Any]) -> None:
    """The script's ``expect`` against what happened; misses are listed, not fatal."""
    problems = []
    heard = [strip_accents(h.lower()) for h in fig.get("heard", [])]
    for key, want in turn.expect:
        if key in ("route", "intent") and fig.get(key) != want:
            problems.append(f"{key} {fig.get(key)!r}, expected {want!r}")
        elif key == "transcripts" and len(heard) != want:
            problems.append(f"{len(heard)} transcripts, expected {want}")
        elif key == "heard":
            words = want if isinstance(want, list) else [want]
            missing = [w for w in words if not any(strip_accents(str(w).lower()) in h
                                                   for h in heard)]
            if missing:
                problems.append(f"heard {fig.get('heard')}, missing {missing}")
    if problems:
        fig["unexpected"] = problems


def _voiced_span(audio: np.ndarray, threshold: float = 0.02) -> tuple[float, float]:
    """Seconds from the start of ``audio`` (float32) to its first and last loud sample."""
    loud = np.flatnonzero(np.abs(audio) > threshold)
    if not len(loud):
        return 0.0, len(audio) / SPEECH_RATE
    return loud[0] / SPEECH_RATE, (loud[-1] + 1) / SPEECH_RATE


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
