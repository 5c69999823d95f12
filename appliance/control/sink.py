"""The pipeline as the control plane sees it: MQTT and GPIO commands carried out.

Every command returns at once. ``interrupt`` runs in the caller's thread on purpose (the
interruption service stops the sound within a playback period, whatever the workers are
doing); an announcement becomes sentences in the TTS producer's inbox; the wake word and its
sensitivity go as a control message to the VAD, which owns the detector; settings and timers
go to thread-safe services. The collaborators are Protocols given by the composition root,
so the control plane imports no stage.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from appliance.pipeline.contracts import Interrupter, Refusal, Sink
from appliance.pipeline.events import Event, Finished, Interrupted, Sentence, SpeechFailed
from appliance.pipeline.messages import Flush, Priority, SpeakRequest, WakeWordSettings, new_id

PRIORITIES = {"high": Priority.HIGH, "normal": Priority.NORMAL, "low": Priority.LOW}


class TurnTaking(Protocol):
    """The listening gate (``appliance.listen.gate.ListenGate``)."""

    @property
    def muted(self) -> bool: ...

    def set_muted(self, muted: bool) -> None: ...

    def set_mode(self, mode: str) -> None: ...

    def ptt_start(self) -> None: ...

    def ptt_stop(self) -> None: ...


class VolumeControl(Protocol):
    def set(self, level: int, *, delta: int = 0) -> int: ...


class TimerControl(Protocol):
    """``appliance.brain.timers.TimerService``: refusals raise a ``Refusal`` with a code."""

    def add(self, seconds: int, name: str = "") -> Any: ...

    def cancel(self, name: str = "", timer_id: int | None = None) -> list[Any]: ...

    def pending(self) -> list[Any]: ...

    def cancel_all(self) -> list[Any]: ...


class PipelineCommands:
    """The ``CommandSink`` of the running pipeline."""

    def __init__(
        self,
        *,
        interrupter: Interrupter,
        turns: TurnTaking,
        listen_input: Sink,
        speech: Sink,
        events: Sink,
        split: Callable[[str], list[str]],
        volume: VolumeControl,
        timers: TimerControl,
        max_announcements: int = 5,
    ) -> None:
        """``listen_input``: the VAD's inbox (flushed on mute, told the wake word and its
        sensitivity); ``speech``: the TTS producer's inbox; ``split``: text to sentences, as
        the brain splits its answers; ``max_announcements``: how many may wait or play at once
        (100 queued announcements are minutes of talking nobody can get a word into)."""
        self.interrupter = interrupter
        self.turns = turns
        self.listen_input = listen_input
        self.speech = speech
        self.events = events
        self.split = split
        self.volume = volume
        self.timers = timers
        self.max_announcements = max_announcements
        self._lock = threading.Lock()
        self._announcing: set[int] = set()  # answer ids not yet played out, failed or cut

    def interrupt(self, source: str) -> None:
        self.interrupter.interrupt(source)

    def ptt_start(self) -> None:
        """Hold to talk: it stops speaking at once and listens without the wake word."""
        self.interrupter.interrupt("push-to-talk")
        self.turns.ptt_start()

    def ptt_stop(self) -> None:
        """Release: no new utterance starts; the one in progress ends with the VAD hangover."""
        self.turns.ptt_stop()

    def say(self, text: str, priority: str, style: str | None) -> None:
        """An announcement: spoken even while the microphone is muted."""
        answer = new_id()
        with self._lock:
            if len(self._announcing) >= self.max_announcements:
                raise Refusal("limit_reached", f"{len(self._announcing)} announcements are "
                              "already waiting; try again when one has played")
            self._announcing.add(answer)
        parts = self.split(text) or [text]
        prio = PRIORITIES.get(priority, Priority.NORMAL)
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            self.speech.put(SpeakRequest(text=part, priority=prio, style=style or "",
                                         answer=answer, index=i, kind="announce", last=last))
            self.events.put(Sentence(answer=answer, index=i, text=part, kind="announce",
                                     last=last))

    def on_event(self, ev: Event) -> None:
        """Listener (control worker): announcements leave the count once played, failed or
        cut off by an interrupt (which flushes them all)."""
        with self._lock:
            if isinstance(ev, Interrupted):
                self._announcing.clear()
            elif isinstance(ev, Finished | SpeechFailed) and ev.last:
                self._announcing.discard(ev.answer)

    def set_volume(self, volume: int) -> None:
        self.volume.set(volume)

    def set_mute(self, muted: bool) -> None:
        """The microphone is ignored from now on (announcements and alarms still play); what
        it was saying and a half-heard utterance are dropped."""
        was = self.turns.muted
        self.turns.set_muted(muted)
        if muted and not was:
            self.listen_input.put(Flush())
            self.interrupter.interrupt("mute")

    def set_mode(self, mode: str) -> None:
        self.turns.set_mode(mode)

    def set_wake_word(self, word: str) -> None:
        self.listen_input.put(WakeWordSettings(word=word))

    def set_sensitivity(self, sensitivity: float) -> None:
        self.listen_input.put(WakeWordSettings(sensitivity=sensitivity))

    def timer_set(self, seconds: float, name: str | None) -> None:
        self.timers.add(int(round(seconds)), name or "")

    def timer_cancel(self, name: str | None, timer_id: int | None, every: bool) -> None:
        """Every timer, or the one named or numbered; naming one that is not running is a
        ``not_found`` refusal (``all`` with none running is not: there is nothing left)."""
        if every:
            self.timers.cancel_all()
            return
        if not self.timers.cancel(name or "", timer_id):
            what = f"id {timer_id}" if timer_id is not None else f"name {name!r}"
            running = ", ".join(t.label for t in self.timers.pending()) or "none"
            raise Refusal("not_found", f"no running timer with {what} (running: {running})")
