"""The playback worker: utterances from the priority queue to an ALSA device, fast to stop.

Audio is written one small period at a time (about 10 ms) into a buffer of at most about 40 ms.
Before each period the worker waits for room on the queue's stop event, so a stop request is
seen at once, not after a blocking write. Stopping fades out over ``fade_ms`` from the sample
being heard (no click), drops the device buffer and reports ``Silent`` with the latency.

Idle policy: after an utterance the device stays open and is fed silence for ``idle_close_s``,
then it is closed. Feeding silence keeps the stream running between sentences and between a
filler and its answer, so the next utterance starts with its first period (opening a PulseAudio
PCM takes about 50 ms) and a late sentence shows up as a measured gap, not as an underrun.
Closing after a quiet spell stops the ~100 wake-ups a second, so an idle speaker holds no CPU.

A device error closes the PCM, reopens it with backoff and resumes the utterance one buffer
back from where it was, so at most a buffer is repeated and nothing is skipped.

What happens (started, finished, silent, gaps, underruns, device errors) is reported as events;
this thread never does more than put them into the events inbox. Everything written is also
handed to the echo canceller's far end (``FarEnd``), stamped with when it was written. While a
person talks over an answer it is *ducked* (``duck_db`` quieter), ramping over a few periods.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any

import numpy as np

from appliance.audio.alsa import PcmSpec
from appliance.audio.echo import FarEnd
from appliance.audio.output_device import DeviceLost, OutputDevice
from appliance.config import AudioSettings
from appliance.pipeline.contracts import Sink
from appliance.pipeline.events import (
    DeviceError,
    Ducked,
    Finished,
    Gap,
    Silent,
    Started,
    Underrun,
)
from appliance.pipeline.messages import Utterance
from appliance.pipeline.priority import PriorityQueue
from appliance.pipeline.worker import Worker

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
        events: Sink | None = None,
        fade_ms: float = 10.0,
        idle_close_s: float = 5.0,
        reopen_initial_s: float = 0.1,
        reopen_max_s: float = 5.0,
        gain: float = 1.0,
        nice: int | None = -10,
        far_end: FarEnd | None = None,
        duck_db: float = -12.0,
        name: str | None = None,
    ) -> None:
        super().__init__(name, events=events)
        self.queue = queue
        self.spec = spec
        self.fade_frames = max(1, int(spec.rate * fade_ms / 1000))
        self.idle_close_s = idle_close_s
        self.nice = nice
        self.device = OutputDevice(spec, self.log, reopen_initial_s=reopen_initial_s,
                                   reopen_max_s=reopen_max_s)
        self._lock = threading.Lock()  # guards gain, ducking and the figures read by stats()
        self._gain = float(gain)
        self.far_end = far_end
        self._duck_to = 10 ** (duck_db / 20)
        self._ducked = False  # wanted (any thread)
        self._duck = 1.0  # applied now (this thread), ramping toward the wanted level
        self._duck_step = (1.0 - self._duck_to) / 3  # three periods: about 30 ms
        self._utt: Utterance | None = None
        self._pos = 0  # next frame of _utt to write
        self._started = False
        self._idle_since = time.monotonic()
        self._silence_frames = 0  # silence written since the last utterance ended
        self._prev: tuple[int, bool, float] | None = None  # answer, ended it, t_end
        self._continuous = False  # device open without a break since the last utterance
        self._faulted = False  # a DeviceError was reported and the device is not back yet
        self.speech_frames = 0
        self.speech_underruns = 0  # the audible ones: met while an utterance was playing
        self.gaps: list[float] = []
        self.stop_latencies: list[float] = []

    @classmethod
    def from_settings(
        cls, queue: PriorityQueue, audio: AudioSettings, events: Sink | None = None,
        far_end: FarEnd | None = None, duck_db: float = -12.0,
    ) -> PlaybackWorker:
        return cls(
            queue, playback_spec(audio), events=events, far_end=far_end, duck_db=duck_db,
            fade_ms=audio.playback_fade_ms, idle_close_s=audio.playback_idle_close_s,
            reopen_initial_s=audio.reopen_initial_s, reopen_max_s=audio.reopen_max_s,
        )

    # --- thread-safe controls ---------------------------------------------------------------

    def set_gain(self, gain: float) -> None:
        """Linear sample gain 0..1 (appliance.brain.volume.Volume's apply target)."""
        with self._lock:
            self._gain = min(1.0, max(0.0, float(gain)))

    @property
    def gain(self) -> float:
        with self._lock:
            return self._gain

    def set_duck(self, on: bool) -> None:
        """Duck (or restore) what plays: a person is talking over it (any thread)."""
        with self._lock:
            self._ducked = on

    # --- worker -----------------------------------------------------------------------------

    def setup(self) -> None:
        """Best effort: a higher scheduling priority for this thread, so a CPU busy with TTS
        or the LLM starves the 40 ms device buffer less (needs CAP_SYS_NICE or LimitNICE)."""
        if self.nice is None:
            return
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)
        except OSError as exc:
            self.log.info("playback: cannot raise thread priority to nice %d (%s)", self.nice,
                          exc.strerror or exc)

    def teardown(self) -> None:
        if self._utt is not None:  # a crash mid-utterance: account for it, do not replay
            with contextlib.suppress(ValueError):
                self.queue.done(self._utt, stopped=True)
            self._utt = None
        self.device.shutdown()
        self._continuous = False

    def step(self) -> None:
        if self._utt is None:
            # Device running: wait for an utterance only until it needs the next silence period.
            open_ = self.device.is_open
            utt = self.queue.get(self.device.room_wait_s(self.spec.period_frames) if open_ else 0.1)
            if utt is None:
                self._idle()
                return
            if utt.rate != self.spec.rate:
                self.log.error("playback: utterance at %d Hz on a %d Hz device; resampling is "
                               "the producer's job - dropping it", utt.rate, self.spec.rate)
                self.queue.done(utt, stopped=True)
                return
            self._utt, self._pos, self._started = utt, 0, False
        self._play_slice(self._utt)

    def is_ready(self) -> bool:
        """READY=1 waits until the loudspeaker has opened once (a missing device is retried
        with backoff here, the same way it is after it vanishes)."""
        return self.device.opens > 0

    def _idle(self) -> None:
        if not self.device.is_open:
            if self.device.opens == 0 and self._open():
                self._idle_since = time.monotonic()  # proven: close again after idle_close_s
            return
        if time.monotonic() - self._idle_since > self.idle_close_s:
            self.log.debug("playback: idle for %.1fs, closing the device", self.idle_close_s)
            self._close()
            return
        silence = np.zeros(self.spec.period_frames, np.int16)
        self._silence_frames += self._write(silence) or 0

    def _play_slice(self, utt: Utterance) -> None:
        deadline = time.monotonic() + _SLICE_S
        period = self.spec.period_frames
        while time.monotonic() < deadline:
            stop = self.queue.should_stop(utt)
            if stop is not None:
                self._stop(utt, *stop)
                return
            if not self._open():
                time.sleep(min(0.02, self.device.retry_in()))
                return
            if self._pos >= len(utt.audio):
                self._finish(utt)
                return
            chunk = utt.audio[self._pos : self._pos + period]
            if not self._started:
                self._note_start(utt)
            else:
                wait = self.device.room_wait_s(len(chunk))
                if wait > 0 and self.queue.stop_event.wait(wait):
                    continue  # a stop came while waiting: handled at the top of the loop
            taken = self._write(self._apply_gain(chunk))
            if taken is None:
                return  # device lost: resume after reopening
            self._pos += taken
            with self._lock:
                self.speech_frames += taken
            self.heartbeat.beat()

    def _note_start(self, utt: Utterance) -> None:
        self._started = True
        now = time.monotonic()
        prev = self._prev
        if prev is not None and utt.answer and prev[0] == utt.answer and not prev[1]:
            # Silence written is the audible gap; across a closed device, wall time is.
            gap = self._silence_frames / self.spec.rate if self._continuous else now - prev[2]
            with self._lock:
                self.gaps.append(gap)
                del self.gaps[:-1000]
            self.report(Gap(answer=utt.answer, index=utt.index, gap_s=gap))
        self.report(Started(id=utt.id, answer=utt.answer, index=utt.index, kind=utt.kind,
                           latency_s=now - utt.t_request, duration_s=utt.duration))

    def _finish(self, utt: Utterance) -> None:
        late_stop = self._end(utt, stopped=False)
        self.report(Finished(id=utt.id, answer=utt.answer, index=utt.index,
                             frames=len(utt.audio), last=utt.last))
        if late_stop is not None:  # asked to stop as it ended: it is silent all the same
            reason, t_requested = late_stop
            self.report(Silent(id=utt.id, answer=utt.answer, reason=reason,
                               latency_s=time.monotonic() - t_requested))

    def _end(self, utt: Utterance, stopped: bool) -> tuple[str, float] | None:
        self._utt = None
        self._prev = (utt.answer, utt.last or stopped, time.monotonic())
        self._silence_frames = 0
        self._continuous = self.device.is_open
        self._idle_since = time.monotonic()
        return self.queue.done(utt, stopped=stopped)

    def _stop(self, utt: Utterance, reason: str, t_requested: float) -> None:
        """Fade out from the sample being heard, drop the rest, report Silent."""
        if self.device.is_open:
            heard = max(0, self._pos - self.device.buffered_frames())
            tail = utt.audio[heard : heard + self.fade_frames].astype(np.float32)
            ramp = np.linspace(1.0, 0.0, len(tail), dtype=np.float32)
            try:
                self.device.fade_out((tail * ramp * self.gain).astype(np.int16))
            except DeviceLost as exc:
                self._device_error(str(exc))
        latency = time.monotonic() - t_requested
        with self._lock:
            self.stop_latencies.append(latency)
            del self.stop_latencies[:-1000]
        self._end(utt, stopped=True)
        self.report(Silent(id=utt.id, answer=utt.answer, reason=reason, latency_s=latency))

    # --- device -----------------------------------------------------------------------------

    def _apply_gain(self, chunk: np.ndarray) -> np.ndarray:
        with self._lock:
            g, ducked = self._gain, self._ducked
        target = self._duck_to if ducked else 1.0
        if self._duck != target:
            if self._duck > target:
                self._duck = max(target, self._duck - self._duck_step)
            else:
                self._duck = min(target, self._duck + self._duck_step)
            if self._duck == target:
                self.report(Ducked(on=ducked))
        g *= self._duck
        if g >= 1.0:
            return chunk
        return (chunk.astype(np.float32) * g).astype(np.int16)

    def _open(self) -> bool:
        if self.device.is_open:
            return True
        if not self.device.open():
            if self.device.failure and not self._faulted:
                self._device_error(self.device.failure)
            return False
        if self.device.recovered or self._faulted:
            self._faulted = False
            self.report(DeviceError(device="playback", message="device reopened", reopened=True))
        return True

    def _device_error(self, message: str) -> None:
        """Reported once per streak of failures; ``device reopened`` ends it."""
        self._faulted = True
        self.report(DeviceError(device="playback", message=message))

    def _write(self, chunk: np.ndarray) -> int | None:
        """Write one period; returns the frames taken (fewer once a stop is requested), None
        if the device failed (closed or set aside; reopened with backoff)."""
        # Stamped when written, not when (we estimate) it is heard: the device, the room and
        # any latency we cannot see only add delay, which AEC3 measures; an estimate that came
        # out late would put the echo ahead of its reference, which it cannot cancel.
        t_written = time.monotonic()
        try:
            taken, underruns = self.device.write(chunk, self.queue.stop_event)
            if self.far_end is not None and taken:
                self.far_end.played(chunk[:taken], self.spec.rate, t_written)
        except DeviceLost as exc:
            self._continuous = False
            if self._utt is not None:  # replay what sat in the lost buffer
                self._pos = max(0, self._pos - self.device.buffer_frames)
            self._device_error(str(exc))
            return None
        if underruns:
            speaking = self._utt is not None
            if speaking:
                with self._lock:
                    self.speech_underruns += underruns
            self.report(Underrun(count=self.device.stats()["underruns"], during_speech=speaking))
        return taken

    def _close(self) -> None:
        self.device.close()
        self._continuous = False

    def stats(self) -> dict[str, Any]:
        with self._lock:
            lat = sorted(self.stop_latencies)
            figures = {
                "speech_frames": self.speech_frames,
                "speech_underruns": self.speech_underruns,
                "gaps": len(self.gaps),
                "max_gap_s": max(self.gaps, default=0.0),
                "stop_p50_s": lat[len(lat) // 2] if lat else None,
            }
        return {**self.device.stats(), **figures}
