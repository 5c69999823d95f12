"""Speech from a Wyoming TTS server (wyoming-piper), a local engine behind it.

One sentence per request (the brain already streams its answer sentence by sentence, and the
producer synthesizes each just in time); the server streams the audio back in chunks, read
as they come, and the first chunk's delay is what the doctor reports. The server speaks at
its own rate: its audio is resampled to the local engine's, so everything downstream (the
rendered-audio cache, the producer) sees one fixed rate whichever engine spoke.

When the server fails (unreachable, an error event, no audio within ``timeout_s``) the local
engine says the sentence instead - one log line per failure, counted in the server's circuit
breaker - and that audio is not cached as the server's voice (``stood_in``).
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.tts import Synthesize, SynthesizeVoice

from appliance.config import StyleSettings, WyomingTtsSettings
from appliance.core.pcm import resample, to_float32
from appliance.core.remote import CircuitBreaker, Probe
from appliance.core.wyoming import WyomingError, WyomingLink
from appliance.speak.tts.base import TtsEngine

log = logging.getLogger("appliance.tts.wyoming")
PROBE_TEXT = "Hola."


class WyomingSpeech:
    """The protocol side: what the server offers, one text in, its audio out."""

    def __init__(self, settings: WyomingTtsSettings) -> None:
        self.link = WyomingLink(settings.url, settings.timeout_s)
        self.voice = settings.voice  # "" = the server's default

    def check(self) -> None:
        info = self.link.describe()
        programs = [p for p in info.tts if p.installed]
        if not programs:
            raise WyomingError(f"{self.link.url} offers no speech synthesis")
        voices = [v.name for p in programs for v in p.voices]
        if self.voice and self.voice not in voices:
            raise WyomingError(f"voice {self.voice!r} is not on {self.link.url}; check "
                               "tts.wyoming.voice")

    async def synthesize(self, text: str) -> tuple[np.ndarray, int, float]:
        """Audio (float32), its rate, and seconds to the first audio chunk."""
        t0 = time.monotonic()
        client = await self.link.connect()
        try:
            voice = SynthesizeVoice(name=self.voice) if self.voice else None
            await client.write_event(Synthesize(text=text, voice=voice).event())
            convert = AudioChunkConverter(width=2, channels=1)  # int16 mono, any rate
            chunks: list[bytes] = []
            rate, first = 0, 0.0
            while True:
                event = await self.link.expect(client)
                if AudioStart.is_type(event.type):
                    rate = AudioStart.from_event(event).rate
                elif AudioChunk.is_type(event.type):
                    chunk = convert.convert(AudioChunk.from_event(event))
                    first = first or time.monotonic() - t0
                    rate = chunk.rate
                    chunks.append(chunk.audio)
                elif AudioStop.is_type(event.type):
                    break
                elif Error.is_type(event.type):
                    raise WyomingError(f"{self.link.url}: {Error.from_event(event).text}")
        finally:
            await client.disconnect()
        if not chunks or rate <= 0:
            raise WyomingError(f"{self.link.url} sent no audio")
        return to_float32(b"".join(chunks)), rate, first

    def probe(self) -> Probe:
        """For the doctor: reachable, voice there, how soon the first audio comes."""
        try:
            self.check()
            audio, rate, first = self.link.run(self.synthesize(PROBE_TEXT))
        except WyomingError as exc:
            return Probe(False, f"{self.link.url}: {exc}",
                         "start the server, check tts.wyoming.url and tts.wyoming.voice; the "
                         "local tts.wyoming.fallback engine speaks meanwhile")
        return Probe(True, f"{self.link.url}: first audio in {1000 * first:.0f} ms "
                           f"({len(audio) / rate:.2f} s of speech at {rate} Hz)")


class WyomingTtsEngine:
    name = "wyoming"

    def __init__(self, settings: WyomingTtsSettings, breaker: CircuitBreaker,
                 local: TtsEngine) -> None:
        self.server = WyomingSpeech(settings)
        self.link = self.server.link
        self.breaker = breaker
        self.local = local
        self.sample_rate = local.sample_rate
        self.voice = f"{settings.voice or 'default'}@{settings.url}"  # cache keys: which voice
        self._thread = threading.local()
        self._style_noted = threading.Event()
        try:
            self.server.check()
            breaker.success()
        except WyomingError as exc:
            self._failed(exc, at_start=True)

    def synthesize(self, text: str, style: StyleSettings) -> np.ndarray:
        self._thread.stood_in = False
        if not text.strip():
            return np.zeros(0, np.float32)
        if not self._style_noted.is_set():
            self._style_noted.set()
            log.info("tts: a Wyoming server speaks in its own style (the protocol carries no "
                     "speed or noise settings)")
        if self.breaker.allow():
            try:
                audio, rate, _ = self.link.run(self.server.synthesize(text))
            except WyomingError as exc:
                self._failed(exc)
            else:
                self.breaker.success()
                return resample(audio, rate, self.sample_rate)
        self._thread.stood_in = True
        return self.local.synthesize(text, style)

    def stood_in(self) -> bool:
        return bool(getattr(self._thread, "stood_in", False))

    def _failed(self, exc: Exception, at_start: bool = False) -> None:
        """One log line per failure; the circuit breaker decides when to try again (at once
        skipped for a while when the server was not there at start)."""
        log.error("tts: Wyoming server %s failed%s (%s); speaking with the local %s engine%s",
                  self.link.url, " at start" if at_start else "", exc, self.local.name,
                  self.breaker.failed(str(exc), at_start=at_start))
