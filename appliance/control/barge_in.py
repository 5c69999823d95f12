"""Talking over the appliance: the answer ducks at once and comes back if it was not for it.

A listener on the control worker (the events arrive in order there, and nothing here touches
audio): a voice starting over an answer (``OverSpeech``, from the echo canceller within a few
tens of milliseconds) ducks playback; the brain's verdict on the words (``BargeIn``) either
stops the answer itself (stop, answer) or lets it carry on at full level (ignored; a voice
that keeps talking does not duck it again until it stops and starts anew). A voice that never
became words un-ducks when it stops.
The wake word over an answer stops it through the one interruption service, then it listens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from appliance.pipeline.contracts import Interrupter
from appliance.pipeline.events import (
    BargeIn,
    Event,
    OverSpeech,
    SpeechDetected,
    Started,
    WakeWordDetected,
    speech_ended,
)

log = logging.getLogger("appliance.barge_in")


class BargeInListener:
    def __init__(self, duck: Callable[[bool], None], interrupter: Interrupter) -> None:
        self.duck = duck
        self.interrupter = interrupter
        self._speaking = False
        self._voice = False  # someone is talking over the answer now
        self._judging = False  # their words are with STT and the brain
        self._ducked = False

    def on_event(self, ev: Event) -> None:
        if isinstance(ev, Started):
            self._speaking = True
        elif speech_ended(ev):
            self._speaking = self._voice = self._judging = False
            self._set(False)
        elif isinstance(ev, OverSpeech):
            self._voice = ev.active
            if ev.active and self._speaking:
                self._set(True)
            elif not ev.active and not self._judging:
                self._set(False)
        elif isinstance(ev, SpeechDetected) and ev.over_speech:
            self._judging = True
        elif isinstance(ev, BargeIn):
            self._judging = False
            self._set(False)  # stopped, answered, or not for it: full level for what comes
        elif isinstance(ev, WakeWordDetected) and ev.over_speech:
            self.interrupter.interrupt("wake word")

    def _set(self, on: bool) -> None:
        if on != self._ducked:
            self._ducked = on
            self.duck(on)
