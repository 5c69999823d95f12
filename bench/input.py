"""The input half on a real-time-paced device: how fast it hears the end of speech, how long
STT takes, and what listening to silence costs.

A private PulseAudio server with a null sink stands in for the sound card: the demo's Spanish
utterances are played into the sink while the real pipeline (CaptureWorker -> VadWorker ->
SttWorker) captures its monitor at real time. The true position of each utterance in the
captured stream is found by cross-correlating the captured audio with what was played, so
the figures do not depend on the sound server's latency. Prints figures; asserts nothing.

    .venv/bin/python bench/input.py [--silence-s 60] [--config FILE]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance import config  # noqa: E402
from appliance.pipeline.inbox import Inbox  # noqa: E402
from appliance.pipeline.messages import AudioFrame, Transcript  # noqa: E402


class TapInbox(Inbox):
    """The VAD's inbox, also keeping every captured sample for the ground truth."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize, drop_oldest=True)
        self._tap_lock = threading.Lock()
        self.chunks: list[np.ndarray] = []

    def put(self, msg, timeout=None):  # type: ignore[override]
        if isinstance(msg, AudioFrame):
            with self._tap_lock:
                self.chunks.append(msg.samples)
        super().put(msg, timeout)

    def audio(self) -> np.ndarray:
        with self._tap_lock:
            pcm = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)
        return pcm.astype(np.float32) / 32768


def play(signal: np.ndarray, started: threading.Event) -> None:
    from appliance.audio.alsa import PcmSpec, open_playback
    from appliance.demo.speech import to_int16

    pcm = open_playback(PcmSpec("pulse", 16000, 1, 320, 4))
    data = to_int16(signal)
    started.set()
    for i in range(0, len(data), 320):
        pcm.write(data[i : i + 320].tobytes())
    pcm.close()


def lag_of(played: np.ndarray, captured: np.ndarray) -> int:
    """Samples by which ``played`` appears delayed in ``captured`` (FFT cross-correlation)."""
    n = 1 << int(np.ceil(np.log2(len(played) + len(captured))))
    corr = np.fft.irfft(np.fft.rfft(captured, n) * np.conj(np.fft.rfft(played, n)), n)
    return int(np.argmax(corr[: len(captured)]))


def utterance_lags(signal: np.ndarray, captured: np.ndarray, truth: list) -> list[float]:
    """Per utterance, seconds from played time to captured stream time. Found one by one:
    a starved player (busy machine) underruns, and everything after the gap shifts."""
    rough = lag_of(signal, captured)
    lags = []
    for u in truth:
        a, b = int(u.start * 16000), int(u.end * 16000)
        lo = max(0, a + rough - 32000)
        window = captured[lo : b + rough + 32000]
        lags.append((lo + lag_of(signal[a:b], window) - a) / 16000)
    return lags


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=None)
    ap.add_argument("--silence-s", type=float, default=60.0,
                    help="how long to measure CPU while listening to silence (default 60)")
    args = ap.parse_args()

    from tests.support.pulse import PulseServer

    with tempfile.TemporaryDirectory(prefix="bench-input-") as tmp:
        server = PulseServer(Path(tmp))
        os.environ.update(server.env)
        server.start()
        try:
            subprocess.run(["pactl", "set-default-source", "null.monitor"], check=False,
                           capture_output=True)
            run(config.load(args.config), args.silence_s)
        finally:
            server.stop()


def run(settings: config.Settings, silence_s: float) -> None:
    from appliance.audio.capture import CaptureWorker
    from appliance.demo.speech import DEMO_SENTENCES, compose, recorded
    from appliance.listen.stt.worker import SttWorker
    from appliance.listen.vad import VadWorker
    from appliance.listen.wer import wer
    from appliance.pipeline.supervisor import Supervisor
    from appliance.system.modelstore import ModelStore

    settings = config.replace(settings, audio={"capture_device": "pulse", "sample_rate": 16000})
    store = ModelStore(settings.cache_path)
    signal, truth = compose(recorded(DEMO_SENTENCES), lead_s=1.0, gap_s=2.0, tail_s=1.0)
    transcripts = Inbox(256)
    tap = TapInbox(256)
    stt = SttWorker(settings.stt, transcripts, store=store, turns=tap)
    turn_model = store.resolve(settings.turn.model) if settings.turn.model else None
    vad = VadWorker(settings.vad, store.resolve(settings.vad.model), stt.inbox,
                    turn=settings.turn, turn_model=turn_model, inbox=tap)
    capture = CaptureWorker(settings.audio, tap)
    sup = Supervisor([capture, vad, stt])
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
          f"STT {settings.stt.engine} ({settings.stt.language})")
    t = time.monotonic()
    sup.start()
    if not sup.wait_ready(300):
        print("pipeline did not start")
        sup.stop()
        return
    print(f"models loaded and capture open in {time.monotonic() - t:.1f} s")
    time.sleep(0.5)
    started = threading.Event()
    player = threading.Thread(target=play, args=(signal, started), daemon=True)
    player.start()
    finals: list[Transcript] = []
    deadline = time.monotonic() + len(signal) / 16000 + 120
    while len(finals) < len(truth) and time.monotonic() < deadline:
        msg = transcripts.get(0.5)
        if isinstance(msg, Transcript) and msg.final:
            finals.append(msg)
    player.join(10)

    captured = tap.audio()
    lags = utterance_lags(signal, captured, truth)  # played time 0 -> stream time
    assert vad.t0 is not None
    print(f"\n{'utt':>3} {'start err':>9} {'end err':>8} {'VAD end delay':>13} "
          f"{'STT final':>9} {'STT RTF':>7}  transcript")
    delays, finals_s, rtfs = [], [], []
    for f in finals:
        u = truth[f.utterance - 1] if f.utterance <= len(truth) else None
        if u is None:
            print(f"{f.utterance:>3} (no such utterance was played) {f.text}")
            continue
        lag = lags[f.utterance - 1]
        true_end = vad.t0 + lag + u.end  # monotonic time the last speech sample was captured
        delay = f.t_detected - true_end
        stt_s = f.t_done - f.t_detected
        decode = stt.decode_time(f.utterance) or stt_s
        rtf = decode / (f.t_end - f.t_start)
        delays.append(delay)
        finals_s.append(stt_s)
        rtfs.append(rtf)
        print(f"{f.utterance:>3} {1000 * (f.t_start - lag - u.start):>+7.0f}ms "
              f"{1000 * (f.t_end - lag - u.end):>+6.0f}ms {1000 * delay:>11.0f}ms "
              f"{1000 * stt_s:>7.0f}ms {rtf:>7.2f}  {f.text}")
    if delays:
        score = wer([truth[f.utterance - 1].text for f in finals], [f.text for f in finals],
                    settings.stt.language)
        print(f"\nend of speech -> VAD speech-end: mean {1000 * np.mean(delays):.0f} ms "
              f"(end of turn: {settings.turn.model or 'none'}; pause {settings.turn.pause_ms} ms"
              f", else the {settings.vad.min_silence_ms} ms hangover)")
        print(f"speech end -> final transcript: mean {1000 * np.mean(finals_s):.0f} ms")
        print(f"STT real-time factor: mean {np.mean(rtfs):.2f}; WER {score:.0%}")
    print(f"utterances heard {len(finals)}/{len(truth)}; capture {capture.stats()}; "
          f"vad {vad.stats()}")

    time.sleep(1.0)
    c0, w0 = time.process_time(), time.monotonic()
    time.sleep(silence_s)
    cpu = (time.process_time() - c0) / (time.monotonic() - w0)
    print(f"CPU while listening to {silence_s:.0f} s of silence: {100 * cpu:.1f}% of one core "
          f"(goal <= 10%); utterances during it: {vad.stats()['utterances'] - len(finals)}")
    sup.stop(3.0)


if __name__ == "__main__":
    main()
