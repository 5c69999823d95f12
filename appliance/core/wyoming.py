"""A Wyoming server (wyoming-faster-whisper, wyoming-piper) reached from worker threads.

The ``wyoming`` library is asyncio and the pipeline is threads, so each link runs one event
loop in a daemon thread and a caller waits for its coroutine with a timeout: a dead or silent
server costs at most ``timeout_s``, never a hung stage. The STT and TTS engines speak the
protocol over it; this module knows only connecting, waiting and describing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from wyoming.client import AsyncClient
from wyoming.event import Event
from wyoming.info import Describe, Info

T = TypeVar("T")


class WyomingError(RuntimeError):
    """The server could not be reached or did not answer as the protocol says."""


class WyomingLink:
    def __init__(self, url: str, timeout_s: float) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="wyoming",
                                        daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T:
        """Run ``coro`` on the link's loop and wait for it; every failure is a WyomingError
        that says what happened."""
        return self.wait(self.submit(coro), timeout_s)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def wait(self, future: concurrent.futures.Future[T], timeout_s: float | None = None) -> T:
        limit = self.timeout_s if timeout_s is None else timeout_s
        try:
            return future.result(limit)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise WyomingError(f"no answer from {self.url} within {limit:g} s") from exc
        except WyomingError:
            raise
        except (OSError, EOFError, ValueError, asyncio.IncompleteReadError) as exc:
            raise WyomingError(f"{self.url}: {exc or type(exc).__name__}") from exc

    def call_soon(self, fn: Any, *args: Any) -> None:
        """Call ``fn(*args)`` in the loop's thread (e.g. put into an asyncio.Queue)."""
        self._loop.call_soon_threadsafe(fn, *args)

    async def connect(self) -> AsyncClient:
        """A connected client (unix:// or tcp://); the caller disconnects it."""
        client = AsyncClient.from_uri(self.url)
        try:
            await asyncio.wait_for(client.connect(), self.timeout_s)
        except TimeoutError as exc:
            raise WyomingError(f"cannot connect to {self.url} within {self.timeout_s:g} s") \
                from exc
        except OSError as exc:
            raise WyomingError(f"cannot connect to {self.url}: {exc}") from exc
        return client

    async def expect(self, client: AsyncClient) -> Event:
        """The next event; a closed connection is an error (the server gave up)."""
        event = await client.read_event()
        if event is None:
            raise WyomingError(f"{self.url} closed the connection")
        return event

    def describe(self) -> Info:
        """What the server offers (its programs, models, voices)."""

        async def ask() -> Info:
            client = await self.connect()
            try:
                await client.write_event(Describe().event())
                while True:
                    event = await self.expect(client)
                    if Info.is_type(event.type):
                        return Info.from_event(event)
            finally:
                await client.disconnect()

        return self.run(ask())
