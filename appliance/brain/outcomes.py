"""What happened to each answer, and who learns from it.

The brain hands sentences over and forgets them; playback later reports which ones started
(``Started``) and whether the answer played out (``Finished`` with ``last``) or was cut (an
``Interrupt``). Those facts teach the interrupt predictor, relabel the router's learning log
(answered -> interrupted) and set the producer's look-ahead for the answer being spoken.
Without playback events wired, answers simply expire (bounded memory, bounded age).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from appliance.brain.learning import RouterLog
from appliance.brain.router import RouteResult
from appliance.brain.scheduler import InterruptPredictor, Plan, plan

log = logging.getLogger("appliance.brain")
OPEN_FOR_S = 120.0  # an Interrupt later than this after an answer is not about that answer
KEEP = 8  # answers tracked at most


@dataclass
class _Answer:
    row: int | None  # router learning-log row
    t: float
    total: int = 0  # sentences handed over so far
    chars: int = 0
    started: int = 0  # sentences playback reported started


class AnswerTracker:
    """Thread-safe: playback events may be delivered from another thread."""

    def __init__(
        self,
        predictor: InterruptPredictor,
        *,
        base_lookahead: int = 3,
        learning: RouterLog | None = None,
        set_lookahead: Callable[[int], None] | None = None,  # sends the producer SetLookahead
    ) -> None:
        self.predictor = predictor
        self.base_lookahead = base_lookahead
        self.learning = learning
        self.set_lookahead = set_lookahead
        self.last_plan: Plan | None = None
        self._lock = threading.Lock()
        self._answers: dict[int, _Answer] = {}  # oldest first

    def open(self, answer_id: int, result: RouteResult) -> None:
        """A routed utterance gets an answer: log the decision (outcome comes later)."""
        row = None
        if self.learning is not None:
            try:
                row = self.learning.record(result)
            except Exception:
                log.exception("brain: learning log failed")
        with self._lock:
            self._answers[answer_id] = _Answer(row, time.monotonic())
            while len(self._answers) > KEEP:
                self._answers.pop(next(iter(self._answers)))

    def said(self, answer_id: int, index: int, chars: int) -> None:
        with self._lock:
            a = self._answers.get(answer_id)
            if a is not None:
                a.total, a.chars = index + 1, a.chars + chars
        self.schedule(answer_id)

    def started(self, answer_id: int, index: int) -> None:
        with self._lock:
            a = self._answers.get(answer_id)
            if a is not None:
                a.started = max(a.started, index + 1)
        self.schedule(answer_id)

    def schedule(self, answer_id: int) -> None:
        """Look-ahead from p(interrupt); the producer already synthesizes just in time, so
        look-ahead 1 is the p > 0.9 'wait until the current sentence is nearly done'."""
        with self._lock:
            a = self._answers.get(answer_id)
            if a is None:
                return
            index, total, chars = max(0, a.started - 1), a.total, a.chars
        pl = plan(self.predictor.predict(index, total, chars), self.base_lookahead)
        self.last_plan = pl
        if self.set_lookahead is not None:
            self.set_lookahead(1 if pl.wait_for_end else pl.lookahead)

    def done(self, answer_id: int, outcome: str) -> None:
        """Generation/templating finished: 'answered' or 'interrupted' (cut while generating)."""
        with self._lock:
            a = self._answers.get(answer_id)
            row = a.row if a is not None else None
        self._relabel(row, outcome)

    def finished(self, answer_id: int) -> None:
        """Playback played the answer's last sentence."""
        self._close([answer_id], interrupted=False)

    def interrupted(self, keep: int | None = None) -> None:
        """An Interrupt: every recent open answer (except ``keep``) was cut."""
        with self._lock:
            ids = [i for i in self._answers if i != keep]
        self._close(ids, interrupted=True)

    def _close(self, ids: list[int], interrupted: bool) -> None:
        now = time.monotonic()
        with self._lock:
            done = [self._answers.pop(i) for i in ids if i in self._answers]
        for a in done:
            if interrupted and now - a.t > OPEN_FOR_S:
                continue  # long over: this interrupt is about something else
            if interrupted:
                self._relabel(a.row, "interrupted")
            if a.started:
                for i in range(a.started):
                    self.predictor.observe(i, a.total, a.chars, interrupted)
                self.predictor.answer_done(interrupted)

    def _relabel(self, row: int | None, outcome: str) -> None:
        if self.learning is not None and row is not None:
            try:
                self.learning.outcome(row, outcome)
            except Exception:
                log.exception("brain: learning log failed")
