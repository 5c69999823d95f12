"""The one way to silence the appliance.

Button, MQTT, mute, push-to-talk, the spoken "stop" intent and a ringing alarm's end all call
``interrupt(reason)``; nothing else stops speech. In this order, all in the caller's thread so
the sound stops within the playback period whatever the workers are busy with:

1. the priority queue flushes everything requested until now and asks playback to fade out
   the utterance playing: the sound stops first, before any other thread is woken. Nothing
   of a cut answer plays after it: a sentence still being synthesized, or one the brain
   hands over before it sees the interrupt, is refused when it arrives;
2. an ``Interrupt`` goes ahead of all data into each flushed inbox (the brain, which stops
   generating before its next token and says nothing more for the cut turn; the TTS producer,
   which drops the sentences it holds);
3. ringing alarms stop;
4. ``Interrupted`` is reported, and ``Silent`` too when nothing was playing; otherwise
   playback reports ``Silent`` once the fade is out. So every interrupt ends in exactly one
   ``Silent``, and turn-taking always learns that the appliance has stopped talking.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from appliance.pipeline.contracts import Sink
from appliance.pipeline.events import Interrupted, Silent
from appliance.pipeline.messages import Interrupt, now
from appliance.pipeline.priority import PriorityQueue

log = logging.getLogger("appliance.interrupt")


class InterruptionService:
    """Thread-safe: every collaborator is (inboxes, the queue, the timer service)."""

    def __init__(
        self,
        queue: PriorityQueue,
        events: Sink,
        *,
        flush: Sequence[Sink] = (),
        stop_alarms: Callable[[], object] | None = None,
    ) -> None:
        self.queue = queue
        self.events = events
        self.flush = list(flush)
        self.stop_alarms = stop_alarms

    def interrupt(self, reason: str, *, keep_answer: int = 0) -> None:
        """Silence everything requested until now. ``keep_answer``: the answer that asked
        for it (a spoken "para" is answered with a short "vale", which must survive)."""
        msg = Interrupt(reason=reason, keep_answer=keep_answer)
        stopping = self.queue.interrupt(reason, msg.t, keep_answer)
        for inbox in self.flush:
            inbox.put(msg)
        if self.stop_alarms is not None:
            try:
                self.stop_alarms()
            except Exception:  # the speech is stopped already; an alarm error must not undo that
                log.exception("interrupt (%s): stopping the alarms failed", reason)
        self.events.put(Interrupted(reason=reason))
        if not stopping:
            self.events.put(Silent(id=0, answer=0, reason=reason, latency_s=now() - msg.t))
        log.info("interrupt: %s%s", reason, "" if stopping else " (nothing was playing)")
