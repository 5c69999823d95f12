"""Multi-turn memory: the last few exchanges, cut to fit a token budget.

"¿Capital de Francia?" then "¿Habitantes?" only works if the first turn is in the second
prompt; a kitchen conversation from an hour ago should not be, hence the age limit.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Turn:
    user: str
    assistant: str
    t: float  # monotonic time the answer ended
    interrupted: bool = False  # the user cut the answer; ``assistant`` is what was generated


def approx_tokens(text: str) -> int:
    """A tokenizer-free estimate (Spanish averages about 3.5 characters per token)."""
    return max(1, round(len(text) / 3.5))


class Conversation:
    def __init__(
        self,
        max_turns: int = 4,
        *,
        max_age_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_turns = max_turns
        self.max_age_s = max_age_s
        self.clock = clock
        self._turns: deque[Turn] = deque(maxlen=max(1, max_turns))
        self._lock = threading.Lock()

    def add(self, user: str, assistant: str, *, interrupted: bool = False) -> None:
        if self.max_turns <= 0 or not user.strip():
            return
        with self._lock:
            self._turns.append(Turn(user.strip(), assistant.strip(), self.clock(), interrupted))

    def clear(self) -> None:
        with self._lock:
            self._turns.clear()

    def window(
        self, budget_tokens: int, count: Callable[[str], int] = approx_tokens
    ) -> list[Turn]:
        """The newest turns (oldest first) whose text fits ``budget_tokens`` and is recent."""
        now = self.clock()
        with self._lock:
            turns = [t for t in self._turns if now - t.t <= self.max_age_s]
        chosen: list[Turn] = []
        used = 0
        for turn in reversed(turns[-self.max_turns:] if self.max_turns > 0 else []):
            cost = count(turn.user) + count(turn.assistant) + 8  # role labels, separators
            if used + cost > budget_tokens:
                break
            chosen.append(turn)
            used += cost
        return chosen[::-1]

    def __len__(self) -> int:
        with self._lock:
            return len(self._turns)
