"""A scripted language model, so the brain's own routing and streaming logic is tested fast.

It stands in for llama.cpp (whose real behaviour the slow tests in test_brain.py and
test_llm.py cover with the packaged Gemma model): it streams the pieces it was given, calls
``progress`` between them like the real engine, and stops before the next piece once
``cancel`` is set.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Sequence

from appliance.brain.context import Turn, approx_tokens
from appliance.brain.llm import GenerationStats


class ScriptedLlm:
    def __init__(self, *answers: Sequence[str], before_piece: Callable[[int], None] | None = None
                 ) -> None:
        """``answers``: for each question in turn, the pieces of text to stream.
        ``before_piece(i)``: called before piece ``i`` (a test can interrupt mid-stream)."""
        self.answers = [list(a) for a in answers]
        self.before_piece = before_piece
        self.questions: list[tuple[str, tuple[Turn, ...]]] = []
        self.streamed: list[int] = []  # pieces streamed per question
        self.cancelled: list[bool] = []
        self.last: GenerationStats | None = None

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)

    def context_budget(self, max_tokens: int | None = None) -> int:
        return 1000

    def stream(
        self,
        question: str,
        turns: Sequence[Turn] = (),
        *,
        cancel: threading.Event | None = None,
        max_tokens: int | None = None,
        progress: Callable[[], None] | None = None,
    ) -> Generator[str, None, None]:
        cancel = cancel or threading.Event()
        pieces = self.answers[len(self.questions)] if len(self.questions) < len(self.answers) \
            else []
        self.questions.append((question, tuple(turns)))
        self.streamed.append(0)
        self.cancelled.append(False)
        try:
            for i, piece in enumerate(pieces):
                if self.before_piece is not None:
                    self.before_piece(i)
                if progress is not None:
                    progress()
                if cancel.is_set():
                    self.cancelled[-1] = True
                    return
                self.streamed[-1] += 1
                yield piece
        finally:
            self.last = GenerationStats(0, self.streamed[-1], 0.0, 0.0, cancel.is_set())
