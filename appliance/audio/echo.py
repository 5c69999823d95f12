"""Software echo cancellation: the loudspeaker's own sound taken back out of the microphone.

A kitchen speaker at arm's length from its microphone hears itself as loud as the person, so
without this the input has to close while it talks (and then only a button can stop it).
WebRTC's AEC3 (``pywebrtc-audio``) needs the *far end* - exactly what the loudspeaker played,
aligned with the microphone. We own playback, so ``FarEnd`` keeps what the playback worker
wrote on the monotonic timeline of when it was written, at the microphone's rate; the capture
worker takes the matching stretch for every period it reads (its capture time: read time
less what ALSA still holds) and ``EchoCanceller`` removes it. Everything between - the
output buffer, the room, latency no driver reports - is delay that AEC3's estimator finds (up
to ~430 ms); the reference must only never arrive after its echo.

It also notices a person starting to talk over the appliance (several 10 ms blocks of the
cleaned signal that WebRTC's speech estimate calls voice while the far end plays) and stopping
again, so the answer can be ducked at once, long before the VAD has a whole syllable.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from appliance.core.pcm import StreamResampler, to_int16

log = logging.getLogger("appliance.echo")

BLOCK_S = 0.01  # AEC3 works on 10 ms blocks
HORIZON_S = 2.0  # how much of what was played is kept for the microphone to catch up
SNAP_S = 0.15  # timing estimates within this of the running stream are jitter: keep it whole
LOST_S, LOST_FOR_S = 0.3, 2.0  # capture reads this late for this long: samples were lost
AUDIBLE = 64  # int16 peak above which what was played counts as sound (not idle silence)
RING_S = 0.5  # after the last sound, its echo may still ring this long


class FarEnd:
    """What the loudspeaker played, at ``rate`` on the monotonic timeline it was heard on.
    Thread-safe: playback writes, capture reads."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._lock = threading.Lock()
        self._chunks: deque[tuple[int, np.ndarray]] = deque()  # (first sample index, int16)
        self._resampler: StreamResampler | None = None
        self._next: int | None = None  # index just past the last chunk (continuous stream)
        self.last_played = float("-inf")  # monotonic time the last sound ends being heard
        self.breaks = 0  # times the played stream started anew (opened, or fell behind)

    def played(self, samples: np.ndarray, rate: int, t_audible: float) -> None:
        """``samples`` (int16 at ``rate``) start being heard at ``t_audible``."""
        with self._lock:
            if self._resampler is None or self._resampler.src_rate != rate:
                self._resampler = StreamResampler(rate, self.rate)
                self._next = None
            x = self._resampler(samples.astype(np.float32) / 32768.0)
            start = int(round(t_audible * self.rate))
            # Back to back with the last chunk unless the stream really broke (the device was
            # closed, or fell behind): AEC3 needs a seamless reference, not jittery stamps.
            if self._next is not None and abs(start - self._next) < SNAP_S * self.rate:
                start = self._next
            else:
                self.breaks += 1
            self._chunks.append((start, to_int16(x)))
            self._next = start + len(x)
            if len(samples) and int(np.abs(samples).max()) > AUDIBLE:
                self.last_played = self._next / self.rate
            while self._chunks and self._chunks[0][0] < start - HORIZON_S * self.rate:
                self._chunks.popleft()

    def window(self, t_start: float, n: int) -> np.ndarray:
        """The ``n`` samples heard from ``t_start`` on (zeros where nothing played)."""
        return self.samples(int(round(t_start * self.rate)), n)

    def samples(self, a: int, n: int) -> np.ndarray:
        """The ``n`` samples from index ``a`` (``t * rate`` on the monotonic timeline)."""
        out = np.zeros(n, np.int16)
        b = a + n
        with self._lock:
            for start, x in reversed(self._chunks):
                end = start + len(x)
                if end <= a:
                    break
                lo, hi = max(a, start), min(b, end)
                if lo < hi:
                    out[lo - a:hi - a] = x[lo - start:hi - start]
        return out

    def active(self, t: float, within_s: float = RING_S) -> bool:
        """The loudspeaker made a sound within ``within_s`` before ``t`` (its echo may still
        ring); the silence fed to an idle device does not count."""
        with self._lock:
            return t <= self.last_played + within_s


@dataclass
class EchoStats:
    """Echo return loss enhancement over 1 s windows in which only the far end played."""

    erle_db: list[float] = field(default_factory=list)
    _near: float = 0.0
    _out: float = 0.0
    _n: int = 0

    def add(self, near: np.ndarray, out: np.ndarray, rate: int) -> None:
        self._near += float(np.mean(near.astype(np.float64) ** 2))
        self._out += float(np.mean(out.astype(np.float64) ** 2))
        self._n += len(near)
        if self._n >= rate:
            if self._near > 1e3:  # echo, not just the noise floor
                self.erle_db.append(10 * np.log10(self._near / max(self._out, 1e-3)))
                del self.erle_db[:-600]
            self._near = self._out = 0.0
            self._n = 0

    def median(self) -> float | None:
        return float(np.median(self.erle_db)) if self.erle_db else None


class VoiceOverEcho:
    """Is a person talking over the loudspeaker? Decided per 10 ms block from what echo
    cancellation left: once AEC3 has converged its output is near silence (tens of dB below
    the microphone), and a voice in the room stands well above that. The typical residual is
    tracked (the median over the last couple of seconds), so a canceller still converging -
    its residual only ~10 dB down - is not taken for a voice; and for the first
    ``warmup_blocks`` of loudspeaker sound it ever hears (AEC3 learning the room: a few
    bursts of echo leak through) no voice is declared at all.

    ``onset_blocks`` loud blocks in a row start a voice; ``offset_blocks`` quiet ones (or the
    loudspeaker falling silent) end it."""

    def __init__(self, *, floor: float = 200.0, margin_db: float = 15.0, onset_blocks: int = 4,
                 offset_blocks: int = 40, history: int = 200,
                 warmup_blocks: int = 150) -> None:
        self.floor = floor  # int16 RMS: about -44 dBFS
        self.margin_db = margin_db
        self.onset_blocks = onset_blocks
        self.offset_blocks = offset_blocks
        self._residual_db: deque[float] = deque(maxlen=history)
        self._loud = 0
        self._quiet = 0
        self._warmup = warmup_blocks
        self.active = False

    def block(self, near: np.ndarray, out: np.ndarray, talking: bool) -> None:
        if not talking:
            self.active = False
            self._loud = self._quiet = 0
            return
        near_rms = float(np.sqrt(np.mean(near.astype(np.float64) ** 2)))
        out_rms = float(np.sqrt(np.mean(out.astype(np.float64) ** 2)))
        ratio_db = 20 * np.log10((out_rms + 1.0) / (near_rms + 1.0))
        typical = float(np.median(self._residual_db)) if self._residual_db else -6.0
        if self._warmup > 0:
            self._warmup -= 1
            self._residual_db.append(ratio_db)
            return
        loud = out_rms >= self.floor and (self.active or ratio_db >= typical + self.margin_db)
        if loud:
            self._loud += 1
            self._quiet = 0
            if self._loud >= self.onset_blocks:
                self.active = True
        else:
            self._loud = 0
            self._quiet += 1
            if self._quiet >= self.offset_blocks:
                self.active = False
            if not self.active and near_rms >= self.floor:  # the echo alone: what is left
                self._residual_db.append(ratio_db)


class EchoCanceller:
    """AEC3 on one microphone stream; one owner thread (the capture worker). ``process`` also
    says when a voice starts or stops over the loudspeaker (``VoiceOverEcho``)."""

    def __init__(self, far: FarEnd, rate: int, *, stream_delay_ms: int = 0,
                 voice: VoiceOverEcho | None = None) -> None:
        from pywebrtc_audio import AudioProcessor

        self.far = far
        self.rate = rate
        self.block = int(rate * BLOCK_S)
        self._ap = AudioProcessor(sample_rate=rate, echo_cancellation=True,
                                  stream_delay_ms=stream_delay_ms)
        self.voice = voice or VoiceOverEcho()
        self._origin: float | None = None  # monotonic time of the capture stream's start
        self._count = 0  # samples since then
        self._late_s = 0.0  # how long reads have come later than LOST_S
        self._far_pos = 0  # far-end index of the period being cleaned
        self.anchors = 0  # times the capture stream started anew
        self.stats = EchoStats()

    def process(self, near: np.ndarray, t_end: float,
                restart: bool = False) -> tuple[np.ndarray, bool | None]:
        """Clean one captured period (int16, its last sample captured at ``t_end``; ``restart``:
        the capture stream broke before it - opened, reopened or overrun). Returns the cleaned
        period and True/False when a voice over the far end just started/stopped (None: no
        change)."""
        n = len(near)
        # A read can only come late, never early, so the earliest stream origin any read
        # implies is the truest; the reference then runs on sample for sample. Only reads
        # late by more than LOST_S for LOST_FOR_S on end mean samples were lost unreported.
        est = t_end - (self._count + n) / self.rate
        if restart or self._origin is None:
            self._origin, self._count, self._late_s = t_end - n / self.rate, 0, 0.0
            self.anchors += 1
        elif est < self._origin:
            self._origin = est
        elif est - self._origin > LOST_S:
            self._late_s += n / self.rate
            if self._late_s >= LOST_FOR_S:
                self._origin, self._late_s = est, 0.0
                self.anchors += 1
        else:
            self._late_s = 0.0
        self._far_pos = int(round(self._origin * self.rate)) + self._count
        self._count += n
        far = self.far.samples(self._far_pos, n)
        return self.cancel(near, far, self.far.active(t_end))

    def cancel(self, near: np.ndarray, far: np.ndarray,
               talking: bool) -> tuple[np.ndarray, bool | None]:
        """``process`` with the reference given (``talking``: the loudspeaker is sounding)."""
        n = len(near)
        out = near.copy()  # a partial block at the end (never, with 10 ms multiples) passes
        was = self.voice.active
        for i in range(0, n - self.block + 1, self.block):
            out[i:i + self.block] = self._ap.process(near[i:i + self.block],
                                                      far[i:i + self.block])
            self.voice.block(near[i:i + self.block], out[i:i + self.block], talking)
        if talking and not self.voice.active:
            self.stats.add(near, out, self.rate)
        now = self.voice.active
        return out, (now if now != was else None)


def load_echo_canceller(far: FarEnd, rate: int, stream_delay_ms: int) -> EchoCanceller | None:
    """The canceller, or None (one clear log line: the input then closes while the appliance
    speaks, as it always did) when pywebrtc-audio is missing or refuses the stream."""
    try:
        return EchoCanceller(far, rate, stream_delay_ms=stream_delay_ms)
    except Exception as exc:
        log.error("echo cancellation unavailable (%s); the microphone is closed while the "
                  "appliance speaks", exc)
        return None
