"""Turn-taking: when captured audio may become an utterance.

Modes (``listen.mode``):

- ``always``: any speech is an utterance.
- ``wake_word``: speech counts only after the wake word (until that utterance ends, or
  ``listen.wake_timeout_s`` passes with no speech) or inside the follow-up window.
- ``push_to_talk``: speech counts while the button is held, or inside the follow-up window.

While the appliance speaks, input is gated in every mode, so it never wakes itself or
transcribes its own voice - unless its echo is cancelled (by the capture device, or by the
software canceller while it reports itself working): then speech over an answer is heard, in
every mode (a stop phrase needs no wake word), marked as over speech for the brain to judge.
When playback ends, the follow-up window opens after ``settle_ms`` (the room's echo dies down)
and lasts ``follow_up_s``. An utterance already under way when a window closes is heard to its
end, and so is one under way when an alarm or an announcement starts: the person was not
answering the appliance, and their request must not be lost to a timer that began to ring.

What the appliance says reaches the gate as playback events (``on_event``, from the control
worker); buttons and MQTT change the mode, mute and push-to-talk; the VAD asks and reports
wake words and utterances. Those come from several threads, so every state change and every
decision happens under one lock. Times are ``time.monotonic()`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from appliance.config import MODES, ListenSettings
from appliance.pipeline.events import EchoCancellation, Event, Started, speech_ended

UNPROMPTED = ("alarm", "announce")  # kinds of speech that may start while a person is talking


class ListenGate:
    def __init__(self, settings: ListenSettings, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.mode: str = settings.mode
        self.follow_up_s = settings.follow_up_s
        self.settle_s = settings.settle_ms / 1000
        self.hardware_echo_cancellation = settings.echo_cancellation
        self._software_echo_cancellation = False
        self.wake_timeout_s = settings.wake_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._speaking = False
        self._unprompted = False  # what plays is an alarm or announcement, not an answer
        self._follow_from = self._follow_until = float("-inf")
        self._ptt = False
        self._awake_until = float("-inf")  # wake word heard: open until this time ...
        self._awake_utterance = False  # ... or, once speech started, until it ends
        self._muted = False

    # --- settings changed at run time (MQTT, buttons) ----------------------------------------

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"listening mode: got {mode!r}, expected one of {', '.join(MODES)}")
        with self._lock:
            self.mode = mode
            self._awake_until, self._awake_utterance = float("-inf"), False

    def set_muted(self, muted: bool) -> None:
        """A muted microphone hears nothing, not even the wake word."""
        with self._lock:
            self._muted = muted

    @property
    def muted(self) -> bool:
        with self._lock:
            return self._muted

    # --- events -----------------------------------------------------------------------------

    def on_event(self, ev: Event) -> None:
        """Playback started speaking, or an answer ended (its last sentence played, was
        stopped, or could not be synthesized): close or reopen the input accordingly."""
        if isinstance(ev, Started):
            self.speaking_started(unprompted=ev.kind in UNPROMPTED)
        elif speech_ended(ev):
            self.speaking_ended(ev.t)
        elif isinstance(ev, EchoCancellation):
            with self._lock:
                self._software_echo_cancellation = ev.active

    @property
    def echo_cancellation(self) -> bool:
        """The appliance's own voice is taken out of what the microphone hears."""
        return self.hardware_echo_cancellation or self._software_echo_cancellation

    @property
    def speaking(self) -> bool:
        with self._lock:
            return self._speaking

    @property
    def addressed(self) -> bool:
        """The wake word or the push-to-talk button opened the input: what is said now is
        for the appliance, even over its own voice."""
        with self._lock:
            return self._ptt or self._awake_utterance or self._clock() < self._awake_until

    def speaking_started(self, *, unprompted: bool = False) -> None:
        """Playback of an answer (or filler, or alarm) began."""
        with self._lock:
            self._speaking = True
            self._unprompted = unprompted
            self._follow_from = self._follow_until = float("-inf")

    def speaking_ended(self, t: float | None = None) -> None:
        """Playback finished (or was interrupted): schedule the follow-up window."""
        t = self._clock() if t is None else t
        with self._lock:
            self._speaking = False
            self._follow_from = t + self.settle_s
            self._follow_until = self._follow_from + self.follow_up_s

    def ptt_start(self) -> None:
        with self._lock:
            self._ptt = True

    def ptt_stop(self) -> None:
        with self._lock:
            self._ptt = False

    def wake(self, t: float | None = None) -> None:
        """The wake word was heard."""
        t = self._clock() if t is None else t
        with self._lock:
            self._awake_until = t + self.wake_timeout_s
            self._awake_utterance = False

    def speech_started(self) -> None:
        """The VAD opened an utterance that ``allow`` let through."""
        with self._lock:
            if self._awake_until > float("-inf"):
                self._awake_utterance = True

    def utterance_ended(self) -> None:
        """The utterance that the wake word opened is over: back to waiting for it."""
        with self._lock:
            self._awake_until = float("-inf")
            self._awake_utterance = False

    # --- decisions --------------------------------------------------------------------------

    def allow(self, t: float | None = None, *, in_speech: bool = False) -> bool:
        """May audio captured at ``t`` reach the VAD? ``in_speech``: an utterance is open."""
        t = self._clock() if t is None else t
        with self._lock:
            if self._muted:
                return False
            if self._speaking:
                return self.echo_cancellation or (in_speech and self._unprompted)
            if in_speech or self.mode == "always":
                return True
            if self._follow_from <= t < self._follow_until:
                return True
            if self.mode == "push_to_talk":
                return self._ptt
            return self._awake_utterance or t < self._awake_until

    def listens_for_wake_word(self, t: float | None = None) -> bool:
        """Should the wake word detector run on audio captured at ``t``?"""
        t = self._clock() if t is None else t
        with self._lock:
            if self.mode != "wake_word" or self._muted:
                return False
            if self._speaking and not self.echo_cancellation:
                return False
            return not (self._awake_utterance or t < self._awake_until)

    def state(self, t: float | None = None) -> str:
        """One word for logs and MQTT: muted, speaking, settling, follow_up, listening,
        waiting."""
        t = self._clock() if t is None else t
        with self._lock:
            if self._muted:
                return "muted"
            if self._speaking:
                return "speaking"
            if t < self._follow_from < float("inf") and self._follow_until > t:
                return "settling"
            if self._follow_from <= t < self._follow_until:
                return "follow_up"
        if self.allow(t):
            return "listening"
        return "waiting"
