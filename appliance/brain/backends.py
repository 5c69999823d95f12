"""Which model answers an open question: the home server first, the local model when the
server fails, a spoken apology when there is neither.

A failure before the first token costs the turn nothing but the wait (at most the server's
first-token timeout): the same question goes to the local model. A failure mid-answer cannot
be taken back - part of the answer was already said - so the answer ends there
(``AnswerCutOff``) and the brain apologises. Every failure is one log line and counts in the
server's circuit breaker; while it is open the server is skipped without waiting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import replace

from appliance.brain.context import Turn
from appliance.brain.llm import GenerationStats, LanguageModel, LlmEngine, LlmError
from appliance.brain.llm_server import ServerError, ServerLlm
from appliance.config import Settings
from appliance.pipeline.contracts import ModelResolver

log = logging.getLogger("appliance.llm")


class AnswerCutOff(LlmError):
    """The server failed after part of the answer was streamed (already logged)."""


class FallbackLlm:
    """A ``LanguageModel``: ``server`` while it answers, else ``local`` (None: no text, so the
    brain apologises). ``last`` is the answer that was used, its first token timed from the
    question (a failed server attempt included)."""

    def __init__(self, server: ServerLlm, local: LanguageModel | None) -> None:
        self.server = server
        self.local = local
        self.last: GenerationStats | None = None

    def count_tokens(self, text: str) -> int:
        return (self.local or self.server).count_tokens(text)

    def context_budget(self, max_tokens: int | None = None) -> int:
        """The smaller budget: the turns must fit whichever model answers."""
        budgets = [m.context_budget(max_tokens) for m in (self.server, self.local) if m]
        return min(budgets)

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
        t0 = time.monotonic()
        first: list[float] = []

        def timed(model: LanguageModel) -> Generator[str, None, None]:
            gen = model.stream(question, turns, cancel=cancel, max_tokens=max_tokens,
                               progress=progress)
            try:
                for piece in gen:
                    if not first:
                        first.append(time.monotonic() - t0)
                    yield piece
            finally:
                gen.close()
                if model.last is not None:
                    self.last = replace(model.last, first_token_s=first[0] if first else 0.0,
                                        total_s=time.monotonic() - t0)

        breaker = self.server.breaker
        if breaker.allow():
            try:
                yield from timed(self.server)
                if not cancel.is_set():
                    breaker.success()
                return
            except ServerError as exc:
                skip = breaker.failed(str(exc))
                if first:
                    log.error("llm server %s failed mid-answer: %s; the answer ends here%s",
                              self.server.base, exc, skip)
                    raise AnswerCutOff(str(exc)) from exc
                then = ("answering with the local model" if self.local is not None
                        else "no local model (brain.llm_model is empty): answering with an "
                             "apology")
                log.error("llm server %s: %s; %s%s", self.server.base, exc, then, skip)
        else:
            log.debug("llm server %s skipped (circuit open)", self.server.base)
        if self.local is None or cancel.is_set():
            return
        yield from timed(self.local)


def load_language_model(settings: Settings, store: ModelResolver | None,
                        server: ServerLlm | None) -> LanguageModel | None:
    """The brain's model as configured: the local engine (loaded and warmed: slow, call it in
    the brain's thread), the server with the local engine behind it, or None (templates and
    apologies only). A local model that cannot load is logged; the server still answers."""
    local: LanguageModel | None = None
    if not settings.brain.llm_model:
        log.info("brain: no local LLM (brain.llm_model is empty)%s",
                 "" if server else "; open questions get an apology")
    elif store is None:
        log.error("brain: no model store to load the LLM from")
    else:
        try:
            engine = LlmEngine.from_settings(settings, store)
            engine.warm()
            local = engine
        except Exception as exc:  # missing model/wheel: templates (and the server) keep working
            log.error("brain: no local LLM (%s); open questions get %s", exc,
                      "the server's answer or an apology" if server else "an apology")
    if server is None:
        return local
    log.info("brain: open questions go to %s (model %s) first, then to %s", server.base,
             server.model, "the local model" if local else "an apology")
    return FallbackLlm(server, local)
