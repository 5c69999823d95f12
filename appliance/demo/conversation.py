"""The demo conversation: the seed's five scenarios, end to end through the real pipeline.

A scripted person (shipped Kokoro clips) speaks into a FIFO-backed ALSA microphone; the real
appliance (capture -> VAD -> STT -> brain -> TTS -> playback) answers into a FIFO-backed ALSA
loudspeaker that the demo drains in real time. The person waits for each answer to end before
the next line, and in scenario 4 presses the interrupt button 5 s into the answer. Figures
come from the pipeline's own events plus what the "ear" actually heard.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from appliance.app import Pipeline
from appliance.core.pcm import to_int16
from appliance.demo import voices
from appliance.demo.fifo_devices import Ear, Mouth
from appliance.pipeline.events import (
    Finished,
    Gap,
    Heard,
    Routed,
    Sentence,
    Silent,
    Started,
    speech_ended,
)


@dataclass(frozen=True)
class Turn:
    line: str  # key in voices.LINES
    interrupt_after_s: float | None = None  # press the button this long after the first sound


@dataclass(frozen=True)
class Phase:
    phase: str


@dataclass(frozen=True)
class Scenario:
    name: str
    turns: tuple[Turn, ...]


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("1. Consulta corta", (Turn("time"), Turn("timer"))),
    Scenario("2. Explicación media", (Turn("bread"),)),
    Scenario("3. Respuesta larga", (Turn("paella"),)),
    Scenario("4. Interrupción a los 5 s", (Turn("tortilla", interrupt_after_s=5.0),)),
    Scenario("5. Multi-turno", (Turn("capital"), Turn("people"))),
    Scenario("6. Cancelar el temporizador", (Turn("cancel"),)),
)


@dataclass
class Log:
    """Every pipeline event with the monotonic time it was seen; filled from worker threads
    (list.append of a tuple under the GIL-free build is still one call, but the reader takes a
    snapshot with list() only after the writers are quiet for the turn)."""

    events: list[tuple[float, Any]] = field(default_factory=list)

    def add(self, event: Any) -> None:
        self.events.append((time.monotonic(), event))

    def since(self, t: float) -> list[tuple[float, Any]]:
        return [(w, e) for w, e in list(self.events) if w >= t]


class Conversation:
    def __init__(self, app: Pipeline, mouth: Mouth, ear: Ear, *, turn_timeout_s: float = 300.0,
                 out: Any = print) -> None:
        self.app = app
        self.mouth = mouth
        self.ear = ear
        self.turn_timeout_s = turn_timeout_s
        self.out = out
        self.log = Log()
        app.observe(self.log.add)
        app.control.state.subscribe(lambda snap, changed: self.log.add(Phase(snap.phase))
                                    if "phase" in changed else None)
        self.settle_s = app.settings.listen.settle_ms / 1000 + 0.3

    # --- the script ---------------------------------------------------------------------

    def run(self, scenarios: tuple[Scenario, ...] = SCENARIOS) -> list[dict[str, Any]]:
        turns: list[dict[str, Any]] = []
        for scenario in scenarios:
            self.out(f"\n== {scenario.name} ==")
            for turn in scenario.turns:
                figures = self.turn(turn)
                figures["scenario"] = scenario.name
                turns.append(figures)
                self.print_turn(figures)
        return turns

    def turn(self, turn: Turn) -> dict[str, Any]:
        clip = voices.clip(turn.line)
        t_begin = time.monotonic()
        underruns0 = self.app.playback.stats()["underruns"]
        duration = self.mouth.say(to_int16(clip))
        self.mouth.wait_said(duration + 10)
        start_t, _ = self.mouth.said()[-1]
        t_end_speech = start_t + duration
        fig: dict[str, Any] = {"said": voices.LINES[turn.line], "speech_s": round(duration, 2)}

        heard_ev = self._wait(t_begin, lambda e: isinstance(e, Heard), 60)
        if heard_ev is None:
            fig["error"] = "no transcript"
            return fig
        t_tr, tr = heard_ev[0], heard_ev[1].transcript
        fig["heard"] = tr.text
        fig["vad_end_after_speech_ms"] = _ms(tr.t_detected - t_end_speech)
        fig["transcript_after_speech_ms"] = _ms(tr.t_done - t_end_speech)
        first = self._wait(t_tr, lambda e: isinstance(e, Started), 60)
        if first is None:
            fig["error"] = "no answer"
            return fig
        t_first, started = first
        routed = self._wait(t_tr, lambda e: isinstance(e, Routed), 0)
        if routed is not None:  # reported before anything is said
            fig["route"], fig["intent"] = routed[1].route, routed[1].intent
        fig["first_sound"] = started.kind
        fig["transcript_to_first_sound_ms"] = _ms(t_first - tr.t_done)
        heard = self.ear.sound_since(t_tr)
        deadline = time.monotonic() + self.turn_timeout_s
        if turn.interrupt_after_s is not None:
            if not self._press_during_answer(t_first, t_first + turn.interrupt_after_s,
                                            deadline):
                fig["error"] = "the answer never played, so there was nothing to interrupt"
                return fig
            t_press = time.monotonic()
            fig["pressed_after_first_sound_s"] = round(t_press - t_first, 2)
            self.app.control.controller.interrupt("button")  # what a GPIO press does
            silent = self._wait(t_press, lambda e: isinstance(e, Silent), 5)
            if silent is not None:
                fig["interrupt_to_silent_ms"] = _ms(silent[1].latency_s)
            time.sleep(1.0)
            last = self.ear.last_sound()
            fig["interrupt_to_heard_silence_ms"] = _ms(max(0.0, last - t_press))
            again = self._wait(t_press, lambda e: isinstance(e, Phase) and e.phase == "listening",
                               0.1)
            if again is not None:  # the follow-up window opens after the settle delay
                settle = self.app.settings.listen.settle_ms / 1000
                fig["listening_again_after_press_ms"] = _ms(again[0] - t_press + settle)
        else:
            done = self._wait(t_first, self._answer_done, max(1.0, deadline - time.monotonic()))
            if done is None:
                fig["error"] = "answer did not finish in time"
                self.app.control.controller.interrupt("demo timeout")  # or every turn after fails
            self._wait_quiet(1.0, deadline + 10)

        heard = self.ear.sound_since(t_tr) if heard is None else heard
        if heard is not None:
            fig["speech_end_to_heard_ms"] = _ms(heard - t_end_speech)
        events = self.log.since(t_tr)
        requests = [e for _, e in events if isinstance(e, Sentence)]
        fig["answer"] = " ".join(r.text for r in requests if r.kind == "answer" and r.text)
        fig["filler"] = any(r.kind == "filler" for r in requests)
        answer_starts = [w for w, e in events
                         if isinstance(e, Started) and e.kind == "answer" and e.index == 0]
        if answer_starts:
            fig["transcript_to_answer_sound_ms"] = _ms(answer_starts[0] - tr.t_done)
        fig["sentences"] = len([r for r in requests if r.kind == "answer"])
        gaps = [e.gap_s for _, e in events if isinstance(e, Gap)]
        fig["max_gap_ms"] = _ms(max(gaps, default=0.0))
        fig["underruns"] = self.app.playback.stats()["underruns"] - underruns0
        fig["answer_audio_s"] = round(sum(
            e.frames for _, e in events if isinstance(e, Finished)
        ) / self.app.settings.audio.playback_rate, 2)
        time.sleep(self.settle_s)
        return fig

    # --- waiting on the pipeline --------------------------------------------------------

    def _wait(self, since: float, pred: Any, timeout: float) -> tuple[float, Any] | None:
        deadline = time.monotonic() + timeout
        while True:
            for w, e in self.log.since(since):
                if pred(e):
                    return w, e
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def _press_during_answer(self, since: float, target: float, deadline: float) -> bool:
        """Sleep until the moment to press: ``target`` if an answer sentence is audible then,
        else within the next answer sentence (at least 1 s or half of it in, at most three
        quarters), so the press always lands on speech however slow the machine or short the
        answer. False if no answer sentence plays before ``deadline``."""
        while time.monotonic() < deadline:
            playing = self._answer_playing(since)
            if playing is not None:
                start, dur = playing
                early = start + min(1.0, dur / 2)
                press_at = min(max(target, early), start + 0.75 * dur)
                if time.monotonic() >= press_at:
                    return True
            time.sleep(0.01)
        return False

    def _answer_playing(self, since: float) -> tuple[float, float] | None:
        """(start, duration) of the answer sentence being played now, if one is."""
        playing: dict[int, tuple[float, float]] = {}
        for w, e in self.log.since(since):
            if isinstance(e, Started) and e.kind == "answer":
                playing[e.id] = (w, e.duration_s)
            elif isinstance(e, Finished | Silent):
                playing.pop(e.id, None)
        return next(iter(playing.values()), None)

    @staticmethod
    def _answer_done(e: Any) -> bool:
        return speech_ended(e)

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
        self.out(f"  oído:      {f.get('heard', '-')}")
        if "route" in f:
            self.out(f"  ruta:      {f['route']} ({f.get('intent')})")
        if f.get("answer"):
            self.out(f"  respuesta: {f['answer']}")
        parts = [
            f"{k}={f[k]}" for k in (
                "transcript_after_speech_ms", "transcript_to_first_sound_ms",
                "transcript_to_answer_sound_ms", "speech_end_to_heard_ms", "sentences",
                "max_gap_ms", "underruns", "interrupt_to_silent_ms",
                "pressed_after_first_sound_s", "interrupt_to_heard_silence_ms",
                "listening_again_after_press_ms") if k in f
        ]
        if f.get("filler"):
            parts.append("filler=yes")
        self.out("  cifras:    " + ", ".join(parts))
        if "error" in f:
            self.out(f"  ERROR:     {f['error']}")


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
