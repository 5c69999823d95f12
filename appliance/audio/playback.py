"""The playback worker: utterances from the priority queue to an ALSA device, fast to stop.

Audio is written one small period at a time (about 10 ms) into a buffer of at most about 40 ms,
and the stop flag is checked between periods, so an interrupt is heard within about one period
plus the fade. Stopping fades out over ``fade_ms`` from the sample being played (no click),
drops the device buffer and reports ``Silent`` with the measured latency.

Idle policy: after an utterance the device stays open and is fed silence for ``idle_close_s``,
then it is closed. Feeding silence keeps the stream running between sentences and between a
filler and its answer, so the next utterance starts with its first period (opening a PulseAudio
PCM takes about 50 ms) and a late sentence shows up as a measured gap, not as an underrun.
Closing after a quiet spell stops the ~100 wake-ups a second, so an idle speaker holds no CPU.

A device error closes the PCM, reopens it with backoff and resumes the utterance one buffer
back from where it was, so at most a buffer is repeated and nothing is skipped.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from appliance.audio.alsa import ALSAAudioError, Backoff, PcmSpec, open_playback
from appliance.config import AudioSettings
from appliance.pipeline.worker import Worker
from appliance.speak.messages import (
    DeviceError,
    Finished,
    Gap,
    PlaybackEvent,
    Silent,
    Started,
    Underrun,
    Utterance,
)
from appliance.speak.priority import PriorityQueue

EventSink = Callable[[PlaybackEvent], None]
_SLICE_S = 0.1  # longest a step writes before returning (heartbeat, prompt shutdown)


def playback_spec(audio: AudioSettings) -> PcmSpec:
    period = max(1, audio.playback_rate * audio.playback_period_ms // 1000)
    return PcmSpec(
        device=audio.playback_device,
        rate=audio.playback_rate,
        channels=1,
        period_frames=period,
        periods=max(2, audio.playback_buffer_ms // audio.playback_period_ms),
    )


class PlaybackWorker(Worker):
    name = "playback"

    def __init__(
        self,
        queue: PriorityQueue,
        spec: PcmSpec,
        *,
        on_event: EventSink | None = None,
        fade_ms: float = 10.0,
        idle_close_s: float = 5.0,
        reopen_initial_s: float = 0.1,
        reopen_max_s: float = 5.0,
        gain: float = 1.0,
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        self.queue = queue
        self.spec = spec
        self.on_event = on_event
        self.fade_frames = max(1, int(spec.rate * fade_ms / 1000))
        self.idle_close_s = idle_close_s
        self.backoff = Backoff(self.log, reopen_initial_s, reopen_max_s)
        self._lock = threading.Lock()  # guards gain and the counters read by stats()
        self._gain = float(gain)
        self._pcm: Any = None
        self._retry_at = 0.0
        self._utt: Utterance | None = None
        self._pos = 0  # next frame of _utt to write
        self._idle_since = time.monotonic()
        self._silence_frames = 0  # silence written since the last utterance ended
        self._prev: tuple[int, int, bool, float] | None = None  # answer, index, last, t_end
        self._device_lost = False
        self._continuous = False  # device open without a break since the last utterance ended
        self._started = False
        self._prefill = False
        self.frames_written = 0
        self.speech_frames = 0
        self.underruns = 0
        self.opens = 0
        self.device_errors = 0
        self.gaps: list[float] = []
        self.stop_latencies: list[float] = []

    @classmethod
    def from_settings(
        cls, queue: PriorityQueue, audio: AudioSettings, on_event: EventSink | None = None
    ) -> PlaybackWorker:
        return cls(
            queue, playback_spec(audio), on_event=on_event,
            fade_ms=audio.playback_fade_ms, idle_close_s=audio.playback_idle_close_s,
            reopen_initial_s=audio.reopen_initial_s, reopen_max_s=audio.reopen_max_s,
        )

    # --- thread-safe controls ---------------------------------------------------------------

    def set_gain(self, gain: float) -> None:
        """Linear sample gain 0..1 (appliance.brain.volume.Volume's apply target)."""
        with self._lock:
            self._gain = min(1.0, max(0.0, float(gain)))

    def set_volume(self, level: int) -> None:
        """Volume 0-100, quadratic like the volume module: equal steps sound equal."""
        self.set_gain((min(100, max(0, level)) / 100.0) ** 2)

    @property
    def gain(self) -> float:
        with self._lock:
            return self._gain

    def interrupt(self, reason: str = "interrupt") -> int:
        """From any thread: stop what plays, flush the queue; returns items flushed."""
        return self.queue.interrupt(reason)

    # --- worker -----------------------------------------------------------------------------

    def teardown(self) -> None:
        if self._utt is not None:  # a crash mid-utterance: account for it, do not replay
            with contextlib.suppress(ValueError):
                self.queue.done(self._utt, stopped=True)
            self._utt = None
        self._close()

    def step(self) -> None:
        if self._utt is None:
            wait = 0.0 if self._pcm is not None else 0.1
            utt = self.queue.get(wait)
            if utt is None:
                self._idle()
                return
            self._begin(utt)
            if self._utt is None:
                return
        self._play_slice()

    def _idle(self) -> None:
        if self._pcm is None:
            return
        if time.monotonic() - self._idle_since > self.idle_close_s:
            self.log.debug("playback: idle for %.1fs, closing the device", self.idle_close_s)
            self._close()
            return
        silence = np.zeros(self.spec.period_frames, np.int16)
        if self._write(silence, speech=False):
            self._silence_frames += len(silence)

    def _begin(self, utt: Utterance) -> None:
        if utt.rate != self.spec.rate:
            self.log.error("playback: utterance at %d Hz on a %d Hz device; resampling is the "
                           "producer's job - dropping it", utt.rate, self.spec.rate)
            self.queue.done(utt, stopped=True)
            return
        self._utt, self._pos = utt, 0
        self._started = False

    def _play_slice(self) -> None:
        utt = self._utt
        assert utt is not None
        deadline = time.monotonic() + _SLICE_S
        period = self.spec.period_frames
        while time.monotonic() < deadline:
            stop = self.queue.should_stop(utt)
            if stop is not None:
                self._stop(utt, *stop)
                return
            if self._pcm is None and not self._open():
                time.sleep(min(0.02, max(0.0, self._retry_at - time.monotonic())))
                return
            if self._pos >= len(utt.audio):
                self._finish(utt)
                return
            chunk = utt.audio[self._pos : self._pos + period]
            if not self._started:
                self._note_start(utt)
            if not self._write(self._apply_gain(chunk), speech=True):
                return  # device lost: resume after reopening
            self._pos += len(chunk)
            self.heartbeat.beat()

    def _note_start(self, utt: Utterance) -> None:
        self._started = True
        now = time.monotonic()
        prev = self._prev
        if prev is not None and prev[0] == utt.answer and utt.answer and not prev[2]:
            # Silence written is the audible gap; across a closed device, wall time is.
            gap = self._silence_frames / self.spec.rate if self._continuous else now - prev[3]
            with self._lock:
                self.gaps.append(gap)
            self._emit(Gap(answer=utt.answer, index=utt.index, gap_s=gap))
        self._device_lost = False
        self._emit(Started(id=utt.id, answer=utt.answer, index=utt.index, kind=utt.kind,
                           latency_s=now - utt.t_request))

    def _finish(self, utt: Utterance) -> None:
        self._end(utt, stopped=False)
        self._emit(Finished(id=utt.id, answer=utt.answer, index=utt.index, frames=len(utt.audio),
                            last=utt.last))

    def _end(self, utt: Utterance, stopped: bool) -> None:
        self._utt = None
        self._prev = (utt.answer, utt.index, utt.last or stopped, time.monotonic())
        self._silence_frames = 0
        self._continuous = self._pcm is not None
        self._idle_since = time.monotonic()
        self.queue.done(utt, stopped=stopped)

    def _stop(self, utt: Utterance, reason: str, t_requested: float) -> None:
        """Fade out from the sample being heard, drop the rest, report Silent."""
        pcm = self._pcm
        if pcm is not None:
            try:
                buffered = self.spec.period_frames * self.spec.periods - pcm.avail()
                heard = max(0, self._pos - max(0, buffered))
                pcm.drop()
                tail = utt.audio[heard : heard + self.fade_frames].astype(np.float32)
                ramp = np.linspace(1.0, 0.0, len(tail), dtype=np.float32)
                fade = np.zeros(self.spec.period_frames * self.spec.periods, np.int16)
                fade[: len(tail)] = (tail * ramp * self.gain).astype(np.int16)
                # A whole buffer (fade, then silence): a stream restarted on a nearly empty
                # buffer underruns at once on some devices (PulseAudio does, repeatedly).
                pcm.write(fade.tobytes())
                time.sleep(self.fade_frames / self.spec.rate)
            except ALSAAudioError as exc:
                self._lost(exc)
        latency = time.monotonic() - t_requested
        with self._lock:
            self.stop_latencies.append(latency)
            del self.stop_latencies[:-1000]
        self._end(utt, stopped=True)
        self._emit(Silent(id=utt.id, answer=utt.answer, reason=reason, latency_s=latency))

    # --- device -----------------------------------------------------------------------------

    def _apply_gain(self, chunk: np.ndarray) -> np.ndarray:
        g = self.gain
        if g >= 1.0:
            return chunk
        return (chunk.astype(np.float32) * g).astype(np.int16)

    def _write(self, chunk: np.ndarray, speech: bool) -> bool:
        """Write one period; False if the device failed (it is closed and will be reopened)."""
        data = chunk.tobytes()
        if self._prefill:  # a fresh stream starts on a full buffer (see _stop)
            self._prefill = False
            data = self._padded(chunk)
        try:
            for _ in range(3):
                n = self._pcm.write(data)
                if n >= 0:
                    with self._lock:
                        self.frames_written += len(chunk)
                        if speech:
                            self.speech_frames += len(chunk)
                    return True
                # -EPIPE: the device ran dry and alsaaudio re-prepared it; the data was not
                # taken, so write it again, behind silence that restarts it on a full buffer.
                with self._lock:
                    self.underruns += 1
                    count = self.underruns
                self._emit(Underrun(count=count))
                data = self._padded(chunk)
            return True
        except ALSAAudioError as exc:
            self._lost(exc)
            return False

    def _padded(self, chunk: np.ndarray) -> bytes:
        pad = max(0, self.spec.period_frames * (self.spec.periods - 1))
        return np.concatenate([np.zeros(pad, np.int16), chunk]).tobytes()

    def _lost(self, exc: ALSAAudioError) -> None:
        with self._lock:
            self.device_errors += 1
        self._close()
        self._device_lost = True
        self._retry_at = time.monotonic() + self.backoff.failed("playback", exc)
        if self._utt is not None:  # replay what sat in the lost buffer
            buffer = self.spec.period_frames * self.spec.periods
            self._pos = max(0, self._pos - buffer)
        self._emit(DeviceError(message=str(exc)))

    def _open(self) -> bool:
        if time.monotonic() < self._retry_at:
            return False
        try:
            self._pcm = open_playback(self.spec)
        except ALSAAudioError as exc:
            self._retry_at = time.monotonic() + self.backoff.failed("playback", exc)
            return False
        self._prefill = True
        reopened = self.backoff.failures > 0
        self.backoff.succeeded("playback")
        with self._lock:
            self.opens += 1
        if reopened:
            self._emit(DeviceError(message="device reopened", reopened=True))
        return True

    def _close(self) -> None:
        pcm, self._pcm = self._pcm, None
        self._continuous = False
        if pcm is not None:
            with contextlib.suppress(ALSAAudioError):
                pcm.close()

    def _emit(self, ev: PlaybackEvent) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(ev)
        except Exception:  # a broken listener must not stop the sound
            self.log.exception("playback: event listener failed on %s", type(ev).__name__)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            lat = sorted(self.stop_latencies)
            return {
                "frames_written": self.frames_written,
                "speech_frames": self.speech_frames,
                "underruns": self.underruns,
                "opens": self.opens,
                "device_errors": self.device_errors,
                "gaps": len(self.gaps),
                "max_gap_s": max(self.gaps, default=0.0),
                "stop_p50_s": lat[len(lat) // 2] if lat else None,
                "device_open": self._pcm is not None,
            }
