"""Answers the brain can know before it is asked, rendered to audio ahead of time.

A template answer with a slot ("son las ocho y cuarto") cannot come from the start-up cache,
and synthesizing it after the question is the hole a person hears after "Vale,". But many are
predictable: the time this minute and the next, today's date, an unnamed timer of a common
length. This renders those in the background (one short synthesis a minute) and tells the
brain which exact text is ready, so the whole answer plays the moment it is asked for.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from appliance.brain.templates import Templates

log = logging.getLogger("appliance.prepare")

# Unnamed kitchen timers people set most: one rendered confirmation each.
COMMON_TIMERS_S = (30, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600, 720, 900, 1200, 1500,
                   1800, 2400, 2700, 3600, 5400, 7200)
NO_END_TIME = frozenset({"end_time"})  # "sonará a las ocho" goes stale: not said ahead
REFRESH_S = 10.0  # how often the time answers are checked


class AnswerPreparer:
    """Thread-safe: the prepare loop writes, the brain's thread reads."""

    def __init__(self, templates: Templates, render: Callable[[str], object], *,
                 now: Callable[[], dt.datetime] = dt.datetime.now) -> None:
        """``render(text)``: synthesize ``text`` into the audio cache the brain plays from."""
        self.templates = templates
        self.render = render
        self.now = now
        self._lock = threading.Lock()
        self._ready: dict[tuple[str, str], str] = {}  # (intent, key) -> text in the cache

    # --- the brain's side -----------------------------------------------------------------

    def answer(self, intent: str, slots: dict[str, object],
               now: dt.datetime) -> str | None:
        """The rendered answer for this request, if one was prepared."""
        key = self._key(intent, slots, now)
        if key is None:
            return None
        with self._lock:
            return self._ready.get((intent, key))

    @staticmethod
    def _key(intent: str, slots: dict[str, object], now: dt.datetime) -> str | None:
        if intent == "time":
            return now.strftime("%Y-%m-%d %H:%M")
        if intent == "date":
            return now.strftime("%Y-%m-%d")
        if intent == "timer_set" and not slots.get("name") and slots.get("seconds"):
            return str(slots["seconds"])
        return None

    # --- the background side --------------------------------------------------------------

    def prepare(self, stop: threading.Event) -> None:
        """One pass: the fixed answers, and the time and date for now and the next minute."""
        for seconds in COMMON_TIMERS_S:
            if stop.is_set():
                return
            self._prepare("timer_set", {"seconds": seconds}, self.now())
        self.refresh()

    def run(self, stop: threading.Event) -> None:
        """Keep the time answers a minute ahead until ``stop``."""
        while not stop.wait(REFRESH_S):
            self.refresh()

    def refresh(self) -> None:
        now = self.now().replace(second=0, microsecond=0)
        for at in (now, now + dt.timedelta(minutes=1)):
            self._prepare("time", {}, at)
        self._prepare("date", {}, now)
        self._forget_before(now)

    def _prepare(self, intent: str, slots: dict[str, object], at: dt.datetime) -> None:
        key = self._key(intent, slots, at)
        assert key is not None
        with self._lock:
            if (intent, key) in self._ready:
                return
        text = self.templates.render(intent, slots, at, {}, avoid=NO_END_TIME).text
        try:
            self.render(text)
        except Exception as exc:  # a synthesis failure: the brain says it the usual way
            log.warning("prepare: could not render %r: %s", text, exc)
            return
        with self._lock:
            self._ready[(intent, key)] = text

    def _forget_before(self, now: dt.datetime) -> None:
        """Drop the minutes and days gone by (keys sort as times do)."""
        current = now.strftime("%Y-%m-%d %H:%M")
        with self._lock:
            gone = [k for k in self._ready
                    if k[0] in ("time", "date") and k[1] < current[:len(k[1])]]
            for k in gone:
                del self._ready[k]
