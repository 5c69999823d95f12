"""Speech to text on a Wyoming ASR server (wyoming-faster-whisper), a local engine behind it.

A session streams the utterance to the server while the person speaks (Transcribe,
AudioStart, then an AudioChunk per fed block), so at the end only AudioStop is left to send
and the transcript to read - streamed (transcript-start/-chunk/-stop) where the server offers
that, and then also shown as partials. ``early`` (at a pause) transcribes the audio so far on
a second connection; the streaming one stays open for the rest of the utterance.

The session also keeps the audio: when the server fails (unreachable, an error event, no
transcript within ``timeout_s``) the local engine - loaded when first needed - transcribes
it, so the turn is not lost. Each failure is one log line and counts in the server's circuit
breaker; while that is open the server is skipped.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable

import numpy as np
from wyoming.asr import Transcribe, Transcript, TranscriptChunk, TranscriptStop
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient
from wyoming.error import Error

from appliance.config import SttSettings
from appliance.core.pcm import SPEECH_RATE, to_int16
from appliance.core.remote import CircuitBreaker, Probe
from appliance.core.wyoming import WyomingError, WyomingLink
from appliance.listen.stt.base import SttEngine

log = logging.getLogger("appliance.stt.wyoming")
WIDTH, CHANNELS = 2, 1  # int16 mono, the pipeline's speech format


class WyomingAsr:
    """The protocol side: what the server offers, one utterance in, its transcript out."""

    def __init__(self, settings: SttSettings) -> None:
        w = settings.wyoming
        self.language = settings.language
        self.model = w.model
        self.link = WyomingLink(w.url, w.timeout_s)

    def check(self) -> bool:
        """The server is there and has the model; returns whether it streams transcripts."""
        info = self.link.describe()
        programs = [p for p in info.asr if p.installed]
        if not programs:
            raise WyomingError(f"{self.link.url} offers no speech recognition")
        models = [m.name for p in programs for m in p.models]
        if self.model and self.model not in models:
            raise WyomingError(f"model {self.model!r} is not on {self.link.url} (it has: "
                               f"{', '.join(models) or 'none'}); check stt.wyoming.model")
        return any(p.supports_transcript_streaming for p in programs)

    async def once(self, audio: np.ndarray) -> str:
        """A whole clip on its own connection."""
        client = await self.link.connect()
        try:
            await self.begin(client)
            pcm = to_int16(np.asarray(audio, np.float32)).tobytes()
            step = SPEECH_RATE * WIDTH  # one second per chunk
            for i in range(0, len(pcm), step):
                await client.write_event(
                    AudioChunk(SPEECH_RATE, WIDTH, CHANNELS, pcm[i:i + step]).event())
            await client.write_event(AudioStop().event())
            return await self.read_transcript(client, lambda _text: None)
        finally:
            await client.disconnect()

    async def begin(self, client: AsyncClient) -> None:
        await client.write_event(
            Transcribe(name=self.model or None, language=self.language).event())
        await client.write_event(AudioStart(SPEECH_RATE, WIDTH, CHANNELS).event())

    async def read_transcript(self, client: AsyncClient, partial: Callable[[str], None]) -> str:
        """The transcript; streamed chunks go to ``partial`` as they come."""
        chunks: list[str] = []
        while True:
            event = await self.link.expect(client)
            if Transcript.is_type(event.type):
                return Transcript.from_event(event).text.strip()
            if TranscriptChunk.is_type(event.type):
                chunks.append(TranscriptChunk.from_event(event).text)
                partial("".join(chunks).strip())
            elif TranscriptStop.is_type(event.type):
                return "".join(chunks).strip()
            elif Error.is_type(event.type):
                raise WyomingError(f"{self.link.url}: {Error.from_event(event).text}")

    def probe(self, audio: np.ndarray) -> Probe:
        """For the doctor: reachable, model there, how long ``audio`` (speech) takes."""
        try:
            self.check()
            t0 = time.monotonic()
            text = self.link.run(self.once(audio))
        except WyomingError as exc:
            return Probe(False, f"{self.link.url}: {exc}",
                         "start the server, check stt.wyoming.url and stt.wyoming.model; the "
                         "local stt.wyoming.fallback engine transcribes meanwhile")
        took = time.monotonic() - t0
        return Probe(True, f"{self.link.url}: {len(audio) / SPEECH_RATE:.1f} s of speech "
                           f"transcribed in {1000 * took:.0f} ms ({text[:40]!r})")


class WyomingSttEngine:
    name = "wyoming"

    def __init__(self, settings: SttSettings, breaker: CircuitBreaker,
                 local: Callable[[], SttEngine]) -> None:
        """``local`` loads the fallback engine (called once, when first needed)."""
        self.language = settings.language
        self.fallback = settings.wyoming.fallback
        self.asr = WyomingAsr(settings)
        self.link = self.asr.link
        self.breaker = breaker
        self.streaming = False  # True when the server streams transcript chunks
        self._load_local = local
        self._local: SttEngine | None = None
        self._local_failed = False
        self._local_lock = threading.Lock()
        self._session: WyomingSttSession | None = None
        try:
            self.streaming = self.asr.check()
            breaker.success()
        except WyomingError as exc:
            self.failed(exc, at_start=True)
            self.local()  # loaded now rather than in the middle of the first turn

    def start(self, prompt: str | None = None) -> WyomingSttSession:
        """``prompt`` reaches only the local fallback: Wyoming's transcribe has no prompt."""
        if self._session is not None:
            self._session.close()  # its turn was decided without a final: drop its stream
        self._session = WyomingSttSession(self, prompt)
        return self._session

    def transcribe(self, audio: np.ndarray, prompt: str | None = None) -> str:
        """One-shot: the whole clip to the server, or to the local engine when that fails."""
        if not self.breaker.allow():
            return self.local_transcribe(audio, prompt)
        try:
            text = self.link.run(self.asr.once(audio))
        except WyomingError as exc:
            self.failed(exc)
            return self.local_transcribe(audio, prompt)
        self.breaker.success()
        return text

    def failed(self, exc: Exception, at_start: bool = False) -> None:
        """One log line per failure; the circuit breaker decides when to try again (at once
        skipped for a while when the server was not there at start)."""
        log.error("stt: Wyoming server %s failed%s (%s); transcribing with the local %s "
                  "engine%s", self.link.url, " at start" if at_start else "", exc,
                  self.fallback, self.breaker.failed(str(exc), at_start=at_start))

    def local(self) -> SttEngine | None:
        """The fallback engine, loaded on first use (None, logged once, if it cannot load)."""
        with self._local_lock:
            if self._local is None and not self._local_failed:
                try:
                    self._local = self._load_local()
                except Exception as exc:
                    self._local_failed = True
                    log.error("stt: the local %s engine cannot load either (%s); utterances "
                              "get an empty transcript while the server is down",
                              self.fallback, exc)
            return self._local

    def local_transcribe(self, audio: np.ndarray, prompt: str | None = None) -> str:
        engine = self.local()
        return engine.transcribe(audio, prompt) if engine is not None else ""


class WyomingSttSession:
    """One utterance: streamed to the server as it comes, kept for the fallback."""

    def __init__(self, engine: WyomingSttEngine, prompt: str | None = None) -> None:
        self.engine = engine
        self.prompt = prompt
        self._chunks: list[np.ndarray] = []
        self._lock = threading.Lock()
        self._partial = ""
        self._audio: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._stream: concurrent.futures.Future[str] | None = None
        if engine.breaker.allow():
            self._stream = engine.link.submit(self._run())

    async def _run(self) -> str:
        asr = self.engine.asr
        client = await asr.link.connect()
        reader = asyncio.ensure_future(asr.read_transcript(client, self._set_partial))
        try:
            await asr.begin(client)
            while (pcm := await self._audio.get()) is not None:
                await client.write_event(AudioChunk(SPEECH_RATE, WIDTH, CHANNELS, pcm).event())
            await client.write_event(AudioStop().event())
            return await reader
        finally:
            reader.cancel()  # a no-op once it has the transcript
            await client.disconnect()

    def _set_partial(self, text: str) -> None:
        with self._lock:
            self._partial = text

    def feed(self, samples: np.ndarray) -> None:
        samples = np.asarray(samples, dtype=np.float32)
        self._chunks.append(samples)
        if self._stream is not None and not self._stream.done():
            self.engine.link.call_soon(self._audio.put_nowait, to_int16(samples).tobytes())

    def partial(self) -> str:
        with self._lock:
            return self._partial

    def early(self) -> str:
        return self.engine.transcribe(self._audio_so_far())

    def final(self) -> str:
        audio = self._audio_so_far()
        stream, self._stream = self._stream, None
        if stream is None:  # the server is being skipped
            return self.engine.local_transcribe(audio, self.prompt)
        self.engine.link.call_soon(self._audio.put_nowait, None)
        try:
            text = self.engine.link.wait(stream)
        except WyomingError as exc:
            self.engine.failed(exc)
            return self.engine.local_transcribe(audio, self.prompt)
        self.engine.breaker.success()
        return text

    def close(self) -> None:
        """Drop the server stream (its connection closes); the session is done."""
        if self._stream is not None:
            self._stream.cancel()
            self._stream = None

    def _audio_so_far(self) -> np.ndarray:
        return np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
