"""The local LLM: llama-cpp-python, loaded once, streaming text pieces as they are sampled.

Why stream: the splitter can hand the first sentence to TTS while the rest is generated. Why
an Event: a barge-in must stop the model within one token, and the check sits between tokens
(the generator is closed, so llama.cpp computes nothing more). Prompt evaluation itself is not
interruptible, but the few-shot prefix stays in the KV cache, so only the new turn is
evaluated (tens of tokens).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, cast

from appliance.brain import prompt
from appliance.brain.context import Turn
from appliance.config import Settings
from appliance.pipeline.contracts import ModelResolver

log = logging.getLogger("appliance.llm")
PREFILL_CHUNK = 64  # prompt tokens evaluated between cancel checks / heartbeats
TEMPERATURE = 0.3  # low: short factual kitchen answers; the server backend samples the same
Source = Literal["local", "server"]


class LlmError(RuntimeError):
    """The model could not be loaded or run; the message says what to do."""


class LanguageModel(Protocol):
    """What the brain needs of a model: the local llama.cpp engine, a chat-completions server
    with the local model behind it (``backends.FallbackLlm``), or a scripted stand-in in tests
    of the brain's own routing and streaming logic. ``last``: the figures of the newest
    answer (None before the first)."""

    last: GenerationStats | None

    def count_tokens(self, text: str) -> int: ...

    def context_budget(self, max_tokens: int | None = None) -> int: ...

    def stream(
        self,
        question: str,
        turns: Sequence[Turn] = (),
        *,
        cancel: threading.Event | None = None,
        max_tokens: int | None = None,
        progress: Callable[[], None] | None = None,
    ) -> Generator[str, None, None]: ...


@dataclass(frozen=True)
class GenerationStats:
    prompt_tokens: int
    tokens: int
    first_token_s: float  # request -> first text piece (prompt evaluation included)
    total_s: float
    cancelled: bool
    source: Source = "local"  # who wrote the answer: the model in this process, or a server

    @property
    def tokens_per_s(self) -> float:
        gen = self.total_s - self.first_token_s
        return (self.tokens - 1) / gen if self.tokens > 1 and gen > 0 else 0.0


class LlmEngine:
    def __init__(
        self,
        model_path: str | Path,
        *,
        n_threads: int = 2,
        n_ctx: int = 2048,
        max_tokens: int = 160,
        mode: Literal["auto", "fewshot", "chat"] = "auto",
        temperature: float = TEMPERATURE,
        seed: int = 7,
    ) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise LlmError(
                "llama-cpp-python is not installed: pip install -e '.[llm]' "
                "(with --find-links ../shared/wheels to skip the long compile)"
            ) from exc
        self.model_path = Path(model_path)
        if self.model_path.is_dir():  # a fetched model resolves to its directory
            ggufs = sorted(self.model_path.glob("*.gguf"))
            if len(ggufs) == 1:
                self.model_path = ggufs[0]
        if not self.model_path.is_file():
            raise LlmError(f"LLM model file not found: {self.model_path}; "
                           "run `appliance models fetch` or check brain.llm_model")
        t0 = time.monotonic()
        self._llm = Llama(model_path=str(self.model_path), n_ctx=n_ctx, n_threads=n_threads,
                          n_threads_batch=n_threads, seed=seed, verbose=False)
        self.load_s = time.monotonic() - t0
        self.n_ctx = n_ctx
        self.max_tokens = max_tokens
        self.temperature = temperature
        has_template = bool(self._llm.metadata.get("tokenizer.chat_template"))
        self.mode = ("chat" if has_template else "fewshot") if mode == "auto" else mode
        self._lock = threading.Lock()  # one llama context: one generation at a time
        self.last: GenerationStats | None = None
        self.evaluated_tokens = 0  # prompt tokens run through the model so far
        log.info("llm: %s loaded in %.2f s (%s prompt)", self.model_path.name, self.load_s,
                 self.mode)

    @classmethod
    def from_settings(cls, settings: Settings, store: ModelResolver) -> LlmEngine:
        path = store.resolve(settings.brain.llm_model)
        b = settings.brain
        return cls(path, n_threads=b.llm_threads, n_ctx=b.llm_context_tokens,
                   max_tokens=b.llm_max_tokens)

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def context_budget(self, max_tokens: int | None = None) -> int:
        """Tokens left for earlier turns once the fixed prompt and the answer are reserved."""
        fixed = self.count_tokens(prompt.fewshot_prefix() if self.mode == "fewshot"
                                  else prompt.SYSTEM)
        return max(0, self.n_ctx - fixed - (max_tokens or self.max_tokens) - 64)

    def warm(self) -> float:
        """Evaluate the fixed part of the prompt now, at start-up, so the first question costs
        only its own tokens (on two cores the few-shot prefix alone takes seconds)."""
        t0 = time.monotonic()
        with self._lock:
            if self.mode == "fewshot":
                text = prompt.fewshot_prefix().rstrip("\n")
                tokens = self._llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
            else:
                tokens, _ = self._chat_tokens(prompt.chat((), ""))
            self._prefill(tokens, threading.Event(), None)
        took = time.monotonic() - t0
        log.info("llm: fixed prompt (%d tokens) evaluated in %.2f s", len(tokens), took)
        return took

    def render(self, question: str, turns: Sequence[Turn] = ()) -> str:
        """The exact prompt (chat mode: one message per line), for tests and logs."""
        if self.mode == "fewshot":
            return prompt.fewshot(turns, question)
        return "\n".join(f"{m['role']}: {m['content']}" for m in prompt.chat(turns, question))

    def stream(
        self,
        question: str,
        turns: Sequence[Turn] = (),
        *,
        cancel: threading.Event | None = None,
        max_tokens: int | None = None,
        progress: Callable[[], None] | None = None,
    ) -> Generator[str, None, None]:
        """Text pieces of the answer; stops before the next token once ``cancel`` is set.

        ``progress`` is called between prompt chunks and tokens (a worker's heartbeat).
        Close the generator (or exhaust it) to release the model for the next question.
        """
        cancel = cancel or threading.Event()
        limit = max_tokens or self.max_tokens
        with self._lock:
            t0 = time.monotonic()
            first, n, first_text = 0.0, 0, False
            tokens, stops = self._prompt_tokens(question, turns)
            chunks = None
            try:
                if self._prefill(tokens, cancel, progress):
                    chunks = self._chunks(tokens, stops, limit, cancel)
                while chunks is not None and not cancel.is_set():  # checked before each token
                    piece = next(chunks, None)
                    if piece is None:
                        break
                    n += 1
                    if n == 1:
                        first = time.monotonic() - t0
                    if progress is not None:
                        progress()
                    if not first_text:
                        piece = piece.lstrip()  # the model's leading space after "Asistente:"
                    if piece:
                        first_text = True
                        yield piece
            except Exception as exc:
                raise LlmError(f"LLM generation failed: {exc}") from exc
            finally:
                if chunks is not None:
                    chunks.close()  # stops llama.cpp: no token is computed after this
                self._free_sampler()
                self.last = GenerationStats(len(tokens), n, first, time.monotonic() - t0,
                                            cancel.is_set())

    def _free_sampler(self) -> None:
        """llama-cpp-python builds a sampler chain per generation and keeps it in a reference
        cycle (its ExitStack callback closes over it), so only a full garbage collection
        frees it, which a long-lived service with many objects seldom runs: ~1.5 MB of native
        memory per answer (heaptrack, issue 15's soak). Its own issue #1610 gives this fix."""
        sampler = self._llm._sampler
        if sampler is not None:
            sampler.close()
            self._llm._sampler = None

    def _prompt_tokens(self, question: str, turns: Sequence[Turn]) -> tuple[list[int], list[str]]:
        if self.mode == "fewshot":
            text = prompt.fewshot(turns, question)
            return self._llm.tokenize(text.encode("utf-8"), add_bos=True, special=True), list(
                prompt.STOPS)
        return self._chat_tokens(prompt.chat(turns, question))

    def _prefill(self, tokens: list[int], cancel: threading.Event,
                 progress: Callable[[], None] | None) -> bool:
        """Evaluate the prompt in chunks, reusing the KV cache of the longest common prefix
        (the fixed few-shot/system part), checking ``cancel`` between chunks. Afterwards the
        model state equals the prompt exactly, so create_completion samples at once."""
        llm = self._llm
        common = 0
        for a, b in zip(llm.input_ids[: llm.n_tokens].tolist(), tokens, strict=False):
            if a != b:
                break
            common += 1
        common = min(common, len(tokens) - 1)  # the last token is re-evaluated for its logits
        if common < llm.n_tokens and not llm._ctx.kv_cache_seq_rm(-1, common, -1):
            common = 0  # this cache cannot drop a suffix: start over
        llm.n_tokens = common
        for i in range(common, len(tokens), PREFILL_CHUNK):
            if cancel.is_set():
                return False
            chunk = tokens[i:i + PREFILL_CHUNK]
            llm.eval(chunk)
            self.evaluated_tokens += len(chunk)
            if progress is not None:
                progress()
        return not cancel.is_set()

    def _chunks(self, tokens: list[int], stops: list[str], limit: int,
                cancel: threading.Event) -> Generator[str, None, None]:
        from llama_cpp import StoppingCriteriaList

        # Checked by llama-cpp after every sampled token, even while it holds text back
        # (a possible stop-string prefix), so a cancel never costs more than one token.
        stop_now = StoppingCriteriaList([lambda _ids, _logits: cancel.is_set()])
        chunks = cast(Iterator[Any], self._llm.create_completion(
            tokens, stop=stops, max_tokens=limit, temperature=self.temperature, top_k=40,
            top_p=0.9, repeat_penalty=1.1, stream=True, stopping_criteria=stop_now,
        ))
        for chunk in chunks:
            yield str(chunk["choices"][0]["text"])

    def _chat_tokens(self, messages: list[dict[str, str]]) -> tuple[list[int], list[str]]:
        """The model's own chat template, rendered here so generation goes through
        create_completion (create_chat_completion takes no stopping criteria)."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        llm = self._llm
        special = {"eos_token": llm.token_eos(), "bos_token": llm.token_bos()}
        names = {k: llm.detokenize([v], special=True).decode("utf-8", "ignore")
                 if v >= 0 else "" for k, v in special.items()}
        fmt = Jinja2ChatFormatter(template=llm.metadata["tokenizer.chat_template"],
                                  eos_token=names["eos_token"], bos_token=names["bos_token"])
        res = fmt(messages=cast(Any, messages))
        tokens = llm.tokenize(res.prompt.encode("utf-8"), add_bos=not res.added_special,
                              special=True)
        stops = [s for s in ([res.stop] if isinstance(res.stop, str) else res.stop or []) if s]
        return tokens, stops
