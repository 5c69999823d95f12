"""An OpenAI-compatible chat-completions server as the brain's language model.

Ollama, llama.cpp's server, vLLM and LocalAI all speak this API, so a home that already runs a
bigger model can lend it to the appliance. The answer streams as server-sent events (httpx
with httpx-sse) into a reader thread that hands the text pieces over a queue: the brain's
thread never blocks on the network. It waits in short slices, calling ``progress`` (the
worker's heartbeat and control check) between them, gives the turn up when no first token
came within ``first_token_timeout_s`` (the caller falls back to the local model), and stops
at once on ``cancel``; the reader then closes the HTTP stream as the next chunk arrives
(within one chunk), and the server stops generating when its client is gone.

A failure before the first token is a ``ServerError``; the caller counts it in the
endpoint's circuit breaker (``appliance.core.remote``).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import SSEError, connect_sse

from appliance.brain import prompt
from appliance.brain.context import Turn, approx_tokens
from appliance.brain.llm import TEMPERATURE, GenerationStats, LlmError
from appliance.config import LlmServerSettings
from appliance.core.remote import CircuitBreaker, Probe

log = logging.getLogger("appliance.llm.server")
POLL_S = 0.05  # how often the waiting brain checks for interrupts and beats its heartbeat
PROBE_QUESTION = "Di hola."


class ServerError(LlmError):
    """The server could not answer (unreachable, HTTP error, malformed stream, too slow)."""


@dataclass
class _End:
    error: Exception | None = None


@dataclass
class ReaderTrace:
    """What one request sent and what its reader thread did (the newest request's is
    ``ServerLlm.trace``): the interrupt contract and the context sent are checked on it."""

    request: dict[str, Any] = field(default_factory=dict)
    events: int = 0
    events_after_stop: int = 0  # chunks read once the brain had stopped listening
    closed: threading.Event = field(default_factory=threading.Event)  # HTTP stream closed


class ServerLlm:
    """``stream()`` as the local engine's; one request at a time is the brain's use, but
    ``probe`` (doctor) and the benchmark may run beside it."""

    def __init__(self, settings: LlmServerSettings, breaker: CircuitBreaker, *,
                 max_tokens: int) -> None:
        """Raises ConfigError when the API key's variable or file is missing."""
        self.settings = settings
        self.base = settings.url.rstrip("/")
        self.model = settings.model
        self.breaker = breaker
        self.max_tokens = max_tokens
        key = settings.resolved_api_key()
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(timeout=httpx.Timeout(settings.timeout_s), headers=headers)
        self._model_seen = threading.Event()  # the model was listed; checked again after a failure
        self.last: GenerationStats | None = None
        self.trace = ReaderTrace()  # the newest request's

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)  # the server's tokenizer is not ours to call per turn

    def context_budget(self, max_tokens: int | None = None) -> int:
        fixed = approx_tokens(prompt.SYSTEM)
        return max(0, self.settings.context_tokens - fixed - (max_tokens or self.max_tokens) - 64)

    def stream(
        self,
        question: str,
        turns: Sequence[Turn] = (),
        *,
        cancel: threading.Event | None = None,
        max_tokens: int | None = None,
        progress: Callable[[], None] | None = None,
    ) -> Generator[str, None, None]:
        """Text pieces as the server streams them. Raises ServerError when the server fails;
        after the first piece that means the answer was cut off."""
        cancel = cancel or threading.Event()
        body = {"model": self.model, "messages": prompt.chat(turns, question), "stream": True,
                "max_tokens": max_tokens or self.max_tokens, "temperature": TEMPERATURE}
        pieces: queue.Queue[str | _End] = queue.Queue()
        stop = threading.Event()
        trace = self.trace = ReaderTrace(body)
        reader = threading.Thread(target=self._read, args=(body, pieces, stop, trace),
                                  name="llm-server", daemon=True)
        t0 = time.monotonic()
        deadline = t0 + self.settings.first_token_timeout_s
        n, first = 0, 0.0
        reader.start()
        try:
            while not cancel.is_set():
                wait = deadline - time.monotonic()
                if wait <= 0:
                    raise ServerError(
                        f"no first token within {self.settings.first_token_timeout_s:g} s"
                        if n == 0 else f"the answer stalled for {self.settings.timeout_s:g} s")
                try:
                    item = pieces.get(timeout=min(POLL_S, wait))
                except queue.Empty:
                    if progress is not None:
                        progress()
                    continue
                if isinstance(item, _End):
                    if item.error is not None:
                        raise self._error(item.error, n) from item.error
                    if n == 0:
                        raise ServerError("the server ended the answer without any text")
                    break
                if n == 0:
                    item = item.lstrip()  # as the local engine: no leading space to say
                    if not item:
                        continue
                n += 1
                if n == 1:
                    first = time.monotonic() - t0
                deadline = time.monotonic() + self.settings.timeout_s
                if progress is not None:
                    progress()
                if not cancel.is_set():
                    yield item
        except ServerError:
            self._model_seen.clear()
            raise
        finally:
            stop.set()  # the reader closes the stream at its next chunk
            self.last = GenerationStats(0, n, first, time.monotonic() - t0, cancel.is_set(),
                                        "server")

    def _read(self, body: dict[str, Any], pieces: queue.Queue[str | _End],
              stop: threading.Event, trace: ReaderTrace) -> None:
        """The reader thread: check the model once, POST, put each text piece; always ends
        with one ``_End``."""
        try:
            if not self._model_seen.is_set():
                self._check_model()
            with connect_sse(self._client, "POST", f"{self.base}/chat/completions",
                             json=body) as source:
                if source.response.status_code != 200:
                    source.response.read()
                    raise ServerError(self._http_error(source.response))
                for event in source.iter_sse():
                    trace.events += 1
                    if stop.is_set():  # the brain stopped listening: close the stream now
                        trace.events_after_stop += 1
                        log.debug("llm server: stream closed at the first chunk after the stop")
                        break
                    if event.data.strip() == "[DONE]":
                        break
                    text = _delta_text(event.data)
                    if text:
                        pieces.put(text)
        except Exception as exc:  # everything the network and the server can do
            pieces.put(_End(exc))
        else:
            pieces.put(_End())
        finally:
            trace.closed.set()  # leaving ``with`` closed the response

    def _check_model(self) -> None:
        """The configured model must be on the server: llama.cpp's server answers any name
        with the model it has, so a typo would otherwise go unnoticed."""
        response = self._client.get(f"{self.base}/models")
        if response.status_code == 404:  # a server without the listing: nothing to check
            self._model_seen.set()
            return
        if response.status_code != 200:
            raise ServerError(self._http_error(response))
        names = served_models(response)
        if self.model not in names:
            raise ServerError(f"model {self.model!r} is not on the server (it has: "
                              f"{', '.join(names) or 'none'}); check brain.llm_server.model")
        self._model_seen.set()

    def _http_error(self, response: httpx.Response) -> str:
        try:
            detail = response.json()
            detail = detail.get("error", detail) if isinstance(detail, dict) else detail
            if isinstance(detail, dict):
                detail = detail.get("message", detail)
        except ValueError:
            detail = response.text
        text = f"HTTP {response.status_code} from {response.request.url}: {str(detail)[:200]}"
        if response.status_code in (401, 403):
            text += " (check brain.llm_server.api_key_env / api_key_file)"
        elif response.status_code == 404:
            text += " (does brain.llm_server.url end in /v1? is the model name right?)"
        return text

    def _error(self, exc: Exception, pieces: int) -> ServerError:
        """One clear sentence for what went wrong."""
        if isinstance(exc, ServerError):
            return exc
        if isinstance(exc, httpx.ConnectError):
            return ServerError(f"cannot connect to {self.base}: {exc}")
        if isinstance(exc, httpx.TimeoutException):
            return ServerError(f"no answer from {self.base} within {self.settings.timeout_s:g} s")
        if isinstance(exc, SSEError):
            return ServerError(f"the server did not stream the answer: {exc}")
        if isinstance(exc, httpx.HTTPError):
            where = "mid-answer" if pieces else "before answering"
            return ServerError(f"the connection to {self.base} broke {where}: {exc!r}")
        return ServerError(f"malformed answer from the server: {exc}")

    def probe(self) -> Probe:
        """For the doctor: reachable, model listed, first token latency (one tiny answer)."""
        cancel = threading.Event()
        try:
            text = ""
            for piece in self.stream(PROBE_QUESTION, max_tokens=8, cancel=cancel):
                text += piece
            last = self.last
            assert last is not None
        except LlmError as exc:
            return Probe(False, f"{self.base} model {self.model!r}: {exc}",
                         "start the server, check brain.llm_server.url/model and the API key; "
                         "the appliance answers with its local model meanwhile")
        return Probe(True, f"{self.base} model {self.model!r}: first token in "
                           f"{1000 * last.first_token_s:.0f} ms, {last.tokens_per_s:.1f} tokens/s "
                           f"({text.strip()[:30]!r})")


def served_models(response: httpx.Response) -> list[str]:
    """The model ids of an OpenAI ``GET /models`` answer."""
    try:
        data = response.json().get("data", [])
        return [str(m.get("id")) for m in data if isinstance(m, dict)]
    except (ValueError, AttributeError) as exc:
        raise ServerError(f"malformed model list from the server: {exc}") from exc


def _delta_text(data: str) -> str:
    """The text of one chat-completion chunk ("" for role-only and usage chunks); raises on
    what is not a chunk at all."""
    try:
        chunk = json.loads(data)
    except ValueError as exc:
        raise ServerError(f"malformed event from the server: {data[:80]!r}") from exc
    if not isinstance(chunk, dict):
        raise ServerError(f"malformed event from the server: {data[:80]!r}")
    if "error" in chunk:
        err = chunk["error"]
        raise ServerError(f"the server reported an error: "
                          f"{err.get('message', err) if isinstance(err, dict) else err}")
    choices = chunk.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        return ""
    delta = choices[0].get("delta") or {}
    return str(delta.get("content") or "") if isinstance(delta, dict) else ""
