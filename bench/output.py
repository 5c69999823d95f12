"""Output-half benchmark on a real-time-paced device (PulseAudio null sink through ALSA).

One run, both arms side by side on the same device and engine:
  streaming  - ProducerWorker (EWMA just-in-time synthesis) -> PriorityQueue -> PlaybackWorker
  blocking   - synthesize every sentence first, then play them (same queue and playback)
It prints: text-available -> first sample written (cached filler, fresh sentence); gaps between
sentences and underruns; total time of both arms; EWMA convergence; interrupt -> silence
latency p50/p99.

  .venv/bin/python bench/output.py [--quick] [--engine espeak|kokoro|vits] [--interrupts N]
                                   [--vits-model piper-en-joe-medium]
"""

from __future__ import annotations

import argparse
import os
import queue as stdqueue
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance import config  # noqa: E402
from appliance.audio.alsa import PcmSpec  # noqa: E402
from appliance.audio.playback import PlaybackWorker  # noqa: E402
from appliance.core.pcm import resample, to_int16  # noqa: E402
from appliance.pipeline.events import Event, Finished, Gap, Silent, Started  # noqa: E402
from appliance.pipeline.interruption import InterruptionService  # noqa: E402
from appliance.pipeline.messages import Priority, SpeakRequest  # noqa: E402
from appliance.pipeline.priority import PriorityQueue  # noqa: E402
from appliance.pipeline.supervisor import Supervisor  # noqa: E402
from appliance.speak.producer import ProducerWorker  # noqa: E402
from appliance.speak.tts.factory import create_engine  # noqa: E402
from appliance.system.modelstore import ModelStore  # noqa: E402
from tests.support.pulse import PulseServer  # noqa: E402

RATE = 24000
ANSWER = [
    "Claro, te explico cómo hacer una tortilla de patatas.",
    "Necesitas cuatro patatas medianas, seis huevos, una cebolla y aceite de oliva.",
    "Primero pela las patatas y córtalas en láminas finas.",
    "Pica la cebolla y ponla con las patatas en una sartén con bastante aceite.",
    "Fríelas a fuego medio unos veinte minutos, hasta que estén tiernas.",
    "Mientras tanto, bate los huevos con una pizca de sal.",
    "Escurre bien las patatas y mézclalas con el huevo batido.",
    "Cuaja la mezcla en la sartén a fuego medio durante unos cinco minutos.",
    "Dale la vuelta con ayuda de un plato y deja que se haga por el otro lado.",
    "Sírvela templada, y si quieres, acompáñala con un poco de pan.",
]
FILLER = "Déjame pensar."


class Events:
    """The workers' events sink: a queue the benchmark waits on."""

    def __init__(self) -> None:
        self.q: stdqueue.Queue[Event] = stdqueue.Queue()

    def put(self, ev: Event, timeout: float | None = None) -> None:
        self.q.put(ev)

    def clear(self) -> None:
        while not self.q.empty():
            self.q.get_nowait()

    def until(self, pred, timeout: float = 120.0) -> tuple[Event, list[Event]]:
        seen: list[Event] = []
        deadline = time.monotonic() + timeout
        while True:
            ev = self.q.get(timeout=max(0.001, deadline - time.monotonic()))
            seen.append(ev)
            if pred(ev):
                return ev, seen


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(np.array(values), p)) if values else float("nan")


def ms(x: float) -> str:
    return f"{x * 1000:8.1f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 sentences, 20 interrupts")
    ap.add_argument("--engine", default="espeak", choices=["espeak", "kokoro", "vits"])
    ap.add_argument("--interrupts", type=int, default=None)
    ap.add_argument("--vits-model", default=None, metavar="NAME",
                    help="manifest name of the VITS voice (e.g. piper-en-joe-medium)")
    args = ap.parse_args()
    sentences = ANSWER[:4] if args.quick else ANSWER
    n_int = args.interrupts or (20 if args.quick else 100)

    settings = config.load(None)
    if args.vits_model:
        settings = config.replace(settings, tts={"vits_model": args.vits_model})
    engine = create_engine(settings, ModelStore(settings.cache_path), engine=args.engine)
    style = settings.tts.styles[settings.tts.style]
    print(f"engine: {engine.name} ({engine.sample_rate} Hz) -> device {RATE} Hz, period 10 ms, "
          f"buffer 40 ms, PulseAudio null sink (real-time paced)")

    root = Path(tempfile.mkdtemp(prefix="bench-output-"))
    server = PulseServer(root / "pulse")
    os.environ.update(server.env)
    server.start()
    # A low-latency monitor stream keeps the null sink awake (it otherwise sleeps in 2 s
    # blocks and delays a starting stream by up to 2 s, which no real card does).
    monitor = subprocess.Popen(
        ["parec", "-d", "null.monitor", "--raw", "--latency-msec=10", "/dev/null"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(2.2)
    q = PriorityQueue()
    events = Events()
    playback = PlaybackWorker(q, PcmSpec("pulse", RATE, 1, 240, 4), events=events,
                              idle_close_s=600.0)
    sup = Supervisor([playback], restart_backoff_s=0.05)
    sup.start()
    producers: list[Supervisor] = []

    def new_producer() -> ProducerWorker:
        w = ProducerWorker.from_settings(engine, q, config.replace(
            settings, audio={"playback_rate": RATE}), events=events)
        s = Supervisor([w], restart_backoff_s=0.05)
        s.start()
        producers.append(s)
        return w

    try:
        # warm-up: the stream runs before anything is measured
        warm = new_producer()
        warm.inbox.put(SpeakRequest(audio=np.zeros(RATE // 10, np.int16), rate=RATE))
        events.until(lambda e: isinstance(e, Finished))

        # 1. cached filler and fresh sentence: text available -> first sample written
        filler = to_int16(resample(engine.synthesize(FILLER, style), engine.sample_rate, RATE))
        filler_lat = []
        for _ in range(3 if args.quick else 10):
            events.clear()
            warm.inbox.put(SpeakRequest(audio=filler, rate=RATE, priority=Priority.LOW,
                                        kind="filler"))
            ev, _ = events.until(lambda e: isinstance(e, Started))
            filler_lat.append(ev.latency_s)
            events.until(lambda e: isinstance(e, Finished))
        fresh_lat = []
        for text in sentences[:3]:
            events.clear()
            warm.inbox.put(SpeakRequest(text=text, answer=1, last=True))
            ev, _ = events.until(lambda e: isinstance(e, Started))
            fresh_lat.append(ev.latency_s)
            events.until(lambda e: isinstance(e, Finished))

        # 2. streaming arm: all sentences available at t0, EWMA-paced synthesis
        producer = new_producer()  # a fresh EWMA, to measure its convergence
        under0 = playback.stats()["underruns"]
        events.clear()
        t0 = time.monotonic()
        for i, text in enumerate(sentences):
            producer.inbox.put(SpeakRequest(text=text, answer=100, index=i,
                                            last=i == len(sentences) - 1))
        fin, seen = events.until(lambda e: isinstance(e, Finished) and e.answer == 100 and e.last)
        stream_total = fin.t - t0
        stream_first = next(e.t for e in seen if isinstance(e, Started)) - t0
        stream_gaps = [e.gap_s for e in seen if isinstance(e, Gap)]
        stream_under = playback.stats()["underruns"] - under0
        records = producer.records()

        # 3. blocking arm: synthesize everything, then play
        under0 = playback.stats()["underruns"]
        events.clear()
        t0 = time.monotonic()
        synth_s, audio_s = 0.0, 0.0
        rendered = []
        for text in sentences:
            ts = time.monotonic()
            a = to_int16(resample(engine.synthesize(text, style), engine.sample_rate, RATE))
            synth_s += time.monotonic() - ts
            audio_s += len(a) / RATE
            rendered.append(a)
        for i, a in enumerate(rendered):
            producer.inbox.put(SpeakRequest(audio=a, rate=RATE, answer=200, index=i,
                                            last=i == len(rendered) - 1, t=t0))
        fin, seen = events.until(lambda e: isinstance(e, Finished) and e.answer == 200 and e.last)
        block_total = fin.t - t0
        block_first = next(e.t for e in seen if isinstance(e, Started)) - t0
        block_gaps = [e.gap_s for e in seen if isinstance(e, Gap)]
        block_under = playback.stats()["underruns"] - under0

        # 4. interrupt -> silent
        rng = random.Random(7)
        long = np.concatenate(rendered[:2])
        service = InterruptionService(q, events, flush=[producer.inbox])
        stops = []
        for _ in range(n_int):
            events.clear()
            producer.inbox.put(SpeakRequest(audio=long, rate=RATE, answer=300))
            events.until(lambda e: isinstance(e, Started))
            time.sleep(rng.uniform(0.05, 0.25))
            service.interrupt("bench")
            ev, _ = events.until(lambda e: isinstance(e, Silent))
            stops.append(ev.latency_s)
        total_under = playback.stats()["underruns"]
    finally:
        for s in producers:
            s.stop(5)
        sup.stop(5)
        monitor.terminate()
        monitor.wait(5)
        server.stop()

    errors = [r.error for r in records]
    converged = next((i + 1 for i, e in enumerate(errors) if e is not None and e < 0.15), None)
    late = sum(1 for r in records if r.late_s > 0)
    print(f"TTS real-time factor (blocking arm): {synth_s / audio_s:.3f} "
          f"({synth_s:.2f} s synthesis for {audio_s:.2f} s of speech)")
    print()
    print("text available -> first sample written")
    print(f"  cached filler   p50 {ms(pct(filler_lat, 50))}  max {ms(max(filler_lat))}  "
          f"(n={len(filler_lat)}; goal <= 20 ms)")
    print(f"  fresh sentence  p50 {ms(pct(fresh_lat, 50))}  max {ms(max(fresh_lat))}  "
          f"(n={len(fresh_lat)}; includes its synthesis)")
    print()
    print(f"{len(sentences)}-sentence answer      {'streaming':>14} {'blocking':>14}")
    print(f"  first sample written  {ms(stream_first):>14} {ms(block_first):>14}")
    print(f"  total (last written)  {stream_total:12.2f} s {block_total:12.2f} s"
          f"   ratio {stream_total / block_total:.3f} (goal <= 0.6)")
    print(f"  gaps: count / max     {len(stream_gaps):>5} / {ms(max(stream_gaps, default=0))}"
          f" {len(block_gaps):>3} / {ms(max(block_gaps, default=0))}")
    print(f"  gaps > 0              {sum(1 for g in stream_gaps if g > 0):>14} "
          f"{sum(1 for g in block_gaps if g > 0):>14}")
    print(f"  underruns             {stream_under:>14} {block_under:>14}")
    print()
    print("EWMA (streaming arm): predicted vs actual synthesis per sentence")
    for r in records:
        pred = "     -" if r.predicted_s is None else f"{r.predicted_s * 1000:6.0f}"
        err = "    -" if r.error is None else f"{r.error * 100:4.0f}%"
        print(f"  #{r.index:<2} {r.chars:3d} chars  predicted {pred} ms  actual "
              f"{r.actual_s * 1000:6.0f} ms  error {err}  late {r.late_s * 1000:5.0f} ms")
    print(f"  sentences until prediction error < 15%: {converged or 'not reached'}; "
          f"finished after their deadline: {late}")
    print()
    print(f"interrupt -> silent over {len(stops)} interrupts: p50 {ms(pct(stops, 50))}  "
          f"p99 {ms(pct(stops, 99))}  max {ms(max(stops))}  (goal p99 <= 30 ms)")
    print(f"underruns over the whole run: {total_under}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
