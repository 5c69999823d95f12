"""The queue between the TTS producer and playback: HIGH preempts, LOW waits (but not forever).

HIGH (alarms, corrections) stops the NORMAL/LOW utterance now playing and flushes queued
NORMAL/LOW items, including late sentences of the preempted answers. ``interrupt`` stops and
flushes everything whose text was requested before it, and every later sentence of an answer
begun before it: a brain that had not yet seen the interrupt may still hand one over, and a
sentence that played alone, with no last one after it, would leave turn-taking waiting. Every
utterance put here ends with exactly one outcome - played, stopped (cut while playing) or
flushed - reported through ``on_outcome`` and counted, so nothing is lost or played twice
without anyone noticing.

An answer that has started is never left silent: when its next sentence is not here
``bridge_grace_s`` after the last one ended, ``get`` hands out a *bridge* (a short pre-rendered
"mm", "a ver" from ``bridge``) in its place, for at most ``max_bridge_s`` per gap - what a
person does while finding the next words. The producer says when an answer will get nothing
more (``end_answer``), so a lost last sentence is not bridged for.

The clock is injectable for the LOW boost and the bridging; the interrupt cutoff compares
against ``Utterance.t_request``, which is always ``time.monotonic``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from appliance.pipeline.messages import Priority, Utterance, new_id

log = logging.getLogger("appliance.queue")

PLAYED, STOPPED, FLUSHED = "played", "stopped", "flushed"
OutcomeFn = Callable[[Utterance, str, str], None]  # (utterance, outcome, reason)
BridgeFn = Callable[[int], "Utterance | None"]  # answer id -> a bridge utterance, or None
BRIDGED_KINDS = ("answer", "filler", "bridge")  # an unfinished one of these gets bridged


@dataclass
class _Entry:
    utt: Utterance
    t_put: float
    seq: int
    boosted: bool = False


@dataclass
class _WaitStats:
    count: int = 0
    total_s: float = 0.0
    max_s: float = 0.0

    def add(self, s: float) -> None:
        self.count += 1
        self.total_s += s
        self.max_s = max(self.max_s, s)


class PriorityQueue:
    def __init__(
        self,
        low_boost_s: float = 30.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_outcome: OutcomeFn | None = None,
        ledger_size: int = 1024,
        bridge: BridgeFn | None = None,
        bridge_grace_s: float = 0.03,
        max_bridge_s: float = 6.0,
    ) -> None:
        self.low_boost_s = low_boost_s
        self.clock = clock
        self.on_outcome = on_outcome
        self.bridge = bridge
        self.bridge_grace_s = bridge_grace_s
        self.max_bridge_s = max_bridge_s
        # Set while the utterance now playing must stop; playback polls it between periods.
        self.stop_event = threading.Event()
        self._cond = threading.Condition()
        self._items: list[_Entry] = []
        self._seq = 0
        self._current: Utterance | None = None
        self._stop: tuple[int, str, float] | None = None  # (utterance id, reason, t requested)
        self._cutoff = float("-inf")  # utterances requested before this belong to a cut turn
        self._cut_below = 0  # answers with a lower id (ids only grow) were begun before it...
        self._keep_answer = 0  # ... except this one, which asked for the interrupt ("vale")
        self._dead_answers: deque[int] = deque(maxlen=64)
        self._seen: set[int] = set()  # recent ids, to refuse a second put of one utterance
        self._seen_order: deque[int] = deque()
        self._ledger: deque[tuple[int, str]] = deque(maxlen=ledger_size)
        self._counts = {PLAYED: 0, STOPPED: 0, FLUSHED: 0}
        self._waits = {p: _WaitStats() for p in Priority}
        self._preemptions = 0
        self._boosts = 0
        self._interrupts = 0
        self._open: int | None = None  # answer handed out whose last sentence has not been
        self._dry_since: float | None = None  # when its last utterance ended (nothing queued)
        self._bridged_s = 0.0  # bridge audio handed out in the current gap
        self._bridges = 0

    # --- producer side ----------------------------------------------------------------------

    def put(self, utt: Utterance) -> bool:
        """Queue an utterance; False if it was flushed at once (its turn was cut)."""
        done: list[tuple[Utterance, str, str]] = []
        accepted = False
        with self._cond:
            if utt.id in self._seen:
                raise ValueError(f"utterance {utt.id} was already queued once")
            self._seen.add(utt.id)
            self._seen_order.append(utt.id)
            if len(self._seen_order) > 4096:
                self._seen.discard(self._seen_order.popleft())
            if utt.t_request <= self._cutoff and not self._kept(utt):
                self._finish(utt, FLUSHED, "interrupted before it was queued", done)
            elif 0 < utt.answer < self._cut_below and not self._kept(utt):
                self._finish(utt, FLUSHED, "its answer was cut by an interrupt", done)
            elif utt.priority < Priority.HIGH and utt.answer and utt.answer in self._dead_answers:
                self._finish(utt, FLUSHED, "its answer was preempted", done)
            else:
                accepted = True
                if utt.priority == Priority.HIGH:
                    self._preempt(done)
                self._seq += 1
                self._items.append(_Entry(utt, self.clock(), self._seq))
                self._cond.notify_all()
        self._report(done)
        return accepted

    def _kept(self, utt: Utterance) -> bool:
        """Of the answer the last interrupt was told to keep (caller holds the lock)."""
        return bool(self._keep_answer) and utt.answer == self._keep_answer

    def _preempt(self, done: list[tuple[Utterance, str, str]]) -> None:
        """HIGH arrived: flush queued NORMAL/LOW, stop the NORMAL/LOW one playing."""
        keep = []
        for e in self._items:
            if e.utt.priority == Priority.HIGH:
                keep.append(e)
            else:
                self._kill_answer(e.utt.answer)
                self._finish(e.utt, FLUSHED, "preempted by HIGH", done)
        self._items = keep
        cur = self._current
        if cur is not None and cur.priority < Priority.HIGH and self._stop is None:
            self._kill_answer(cur.answer)
            self._stop = (cur.id, "preempted by HIGH", time.monotonic())
            self._preemptions += 1
            self.stop_event.set()

    def _kill_answer(self, answer: int) -> None:
        if answer and answer not in self._dead_answers:
            self._dead_answers.append(answer)
        if answer == self._open:
            self._open = self._dry_since = None

    def end_answer(self, answer: int) -> None:
        """Nothing more of ``answer`` will come (its last sentence failed): stop bridging."""
        with self._cond:
            if answer == self._open:
                self._open = self._dry_since = None

    def interrupt(self, reason: str = "interrupt", t: float | None = None,
                  keep_answer: int = 0) -> bool:
        """Stop what plays and flush everything requested until ``t`` (default now), and any
        later sentence of an answer begun before now - all but ``keep_answer``'s, the answer
        that asked for it or that the person is waiting for. True if this call asked the
        utterance playing to stop: playback then reports ``Silent``."""
        done: list[tuple[Utterance, str, str]] = []
        stopping = False
        with self._cond:
            self._interrupts += 1
            self._cut_below, self._keep_answer = new_id(), keep_answer
            if not keep_answer or self._open != keep_answer:
                self._open = self._dry_since = None
            self._cutoff = max(self._cutoff, time.monotonic() if t is None else t)
            kept = []
            for e in self._items:
                if self._kept(e.utt):
                    kept.append(e)
                else:
                    self._finish(e.utt, FLUSHED, reason, done)
            self._items = kept
            if self._current is not None and self._stop is None \
                    and not self._kept(self._current):
                self._stop = (self._current.id, reason, self._cutoff)
                self.stop_event.set()
                stopping = True
            self._cond.notify_all()
        self._report(done)
        return stopping

    # --- playback side ----------------------------------------------------------------------

    def get(self, timeout: float | None = None) -> Utterance | None:
        """The next utterance to play (now marked as playing), or None on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._items:
                bridge = self._bridge_due()
                if bridge is not None:
                    return bridge
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                if self._dry_since is not None:  # wake up when a bridge falls due
                    due = self._dry_since + self.bridge_grace_s - self.clock()
                    remaining = max(0.001, due if remaining is None else min(remaining, due))
                self._cond.wait(remaining)
            now = self.clock()
            best: _Entry | None = None
            for e in self._items:
                if (
                    not e.boosted
                    and e.utt.priority == Priority.LOW
                    and now - e.t_put > self.low_boost_s
                ):
                    e.boosted = True
                    self._boosts += 1
                if best is None or (self._rank(e), -e.seq) > (self._rank(best), -best.seq):
                    best = e
            assert best is not None
            self._items.remove(best)
            self._waits[best.utt.priority].add(now - best.t_put)
            self._handing_out(best.utt)
            return best.utt

    def _handing_out(self, utt: Utterance) -> None:
        """``utt`` plays next: note whether an answer is left open behind it."""
        self._current = utt
        self._dry_since = None
        if utt.kind != "bridge":
            self._bridged_s = 0.0
            unfinished = not utt.last and utt.kind in BRIDGED_KINDS and bool(utt.answer)
            self._open = utt.answer if unfinished else None

    def _bridge_due(self) -> Utterance | None:
        """A bridge for the open answer if its next sentence is late (lock held)."""
        if self.bridge is None or self._open is None or self._dry_since is None \
                or self._current is not None or self._bridged_s >= self.max_bridge_s:
            return None
        if self.clock() - self._dry_since < self.bridge_grace_s:
            return None
        utt = self.bridge(self._open)
        if utt is None or self._bridged_s + utt.duration > self.max_bridge_s:
            return None
        self._seen.add(utt.id)
        self._bridged_s += utt.duration
        self._bridges += 1
        log.debug("bridging answer %d with %r (%.2f s so far)", self._open, utt.text,
                  self._bridged_s)
        self._handing_out(utt)
        return utt

    @staticmethod
    def _rank(e: _Entry) -> int:
        return max(e.utt.priority, Priority.NORMAL) if e.boosted else e.utt.priority

    def busy(self) -> bool:
        """Something is queued or playing (the producer resets its timeline when not)."""
        with self._cond:
            return bool(self._items) or self._current is not None

    def should_stop(self, utt: Utterance) -> tuple[str, float] | None:
        """(reason, t requested) if ``utt`` must stop now. Cheap while nothing is requested."""
        if not self.stop_event.is_set():
            return None
        with self._cond:
            if self._stop is not None and self._stop[0] == utt.id:
                return self._stop[1], self._stop[2]
            return None

    def done(self, utt: Utterance, stopped: bool = False) -> tuple[str, float] | None:
        """Playback finished ``utt`` (played to the end, or cut on request). Returns the stop
        request (reason, t requested) that came too late to cut it, if any: it ended anyway,
        and whoever asked must still hear that it is silent."""
        done: list[tuple[Utterance, str, str]] = []
        with self._cond:
            if self._current is None or self._current.id != utt.id:
                raise ValueError(f"utterance {utt.id} is not the one playing")
            pending = self._stop[1:] if self._stop and self._stop[0] == utt.id else None
            self._finish(utt, STOPPED if stopped else PLAYED, pending[0] if pending else "", done)
            self._current = None
            if stopped or pending:
                self._open = self._dry_since = None
            elif utt.answer == self._open:
                self._dry_since = self.clock()
            self._stop = None
            self.stop_event.clear()
            self._cond.notify_all()
        self._report(done)
        return None if stopped else pending

    # --- bookkeeping ------------------------------------------------------------------------

    def _finish(
        self, utt: Utterance, outcome: str, reason: str, done: list[tuple[Utterance, str, str]]
    ) -> None:
        self._counts[outcome] += 1
        self._ledger.append((utt.id, outcome))
        done.append((utt, outcome, reason))

    def _report(self, done: list[tuple[Utterance, str, str]]) -> None:
        if self.on_outcome is not None:
            for utt, outcome, reason in done:  # outside the lock: the callback may call back
                self.on_outcome(utt, outcome, reason)

    def ledger(self) -> list[tuple[int, str]]:
        """Recent (utterance id, outcome) pairs, oldest first."""
        with self._cond:
            return list(self._ledger)

    def stats(self) -> dict[str, object]:
        with self._cond:
            depth = {p.name: 0 for p in Priority}
            for e in self._items:
                depth[e.utt.priority.name] += 1
            waits = {
                p.name: {
                    "count": w.count,
                    "mean_s": w.total_s / w.count if w.count else 0.0,
                    "max_s": w.max_s,
                }
                for p, w in self._waits.items()
            }
            return {
                "depth": depth,
                "waits": waits,
                "preemptions": self._preemptions,
                "boosts": self._boosts,
                "interrupts": self._interrupts,
                "bridges": self._bridges,
                "playing": self._current.id if self._current else None,
                **self._counts,
            }

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
