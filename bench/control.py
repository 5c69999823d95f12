"""Control-plane latency and robustness: MQTT interrupt and GPIO press until playback is silent,
and a fuzz of the command handler.

The output half is real: PlaybackWorker on a PulseAudio null sink (real-time paced, started
here like the tests do) playing a tone; each try waits until the tone plays, then triggers an
interrupt and times it until the worker reports ``Silent`` (faded out, device buffer dropped).
The MQTT path runs through a real mosquitto and is reported next to the broker round trip
measured the same way (client -> broker -> client). The GPIO path runs gpiozero's Button code
on MockFactory pins and our debounce logic. The time to the pipeline's ``interrupt`` call is
printed too.

    .venv/bin/python bench/control.py [--tries 100] [--fuzz 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import queue as stdqueue
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance.audio.alsa import PcmSpec  # noqa: E402
from appliance.audio.playback import PlaybackWorker  # noqa: E402
from appliance.config import GpioSettings  # noqa: E402
from appliance.control.commands import Limits  # noqa: E402
from appliance.control.controller import Controller  # noqa: E402
from appliance.control.discovery import topics_for  # noqa: E402
from appliance.control.gpio import GpioWorker  # noqa: E402
from appliance.control.mqtt import MqttWorker  # noqa: E402
from appliance.control.schema import PARSERS  # noqa: E402
from appliance.control.state import StateMachine  # noqa: E402
from appliance.pipeline.supervisor import Supervisor  # noqa: E402
from appliance.speak.messages import PlaybackEvent, Silent, Started, Utterance  # noqa: E402
from appliance.speak.priority import PriorityQueue  # noqa: E402
from tests.support.broker import running_broker  # noqa: E402
from tests.support.control import Probe, RecordingSink, mqtt_settings  # noqa: E402
from tests.support.pulse import PulseServer  # noqa: E402

RATE = 24000


class PlaybackSink(RecordingSink):
    """Interrupts go to the real playback worker; the call time is noted for the figures."""

    def __init__(self, playback: PlaybackWorker) -> None:
        super().__init__()
        self.playback = playback
        self.t_call = 0.0

    def interrupt(self, source: str) -> None:
        self.t_call = time.monotonic()
        self.playback.interrupt(source)


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def show(label: str, ms: list[float]) -> None:
    print(f"{label:<46} n={len(ms):4d}  p50 {pct(ms, 50):7.2f} ms  p99 {pct(ms, 99):7.2f} ms"
          f"  max {max(ms):7.2f} ms")


class Output:
    """Playback worker + queue + an event stream to wait on."""

    def __init__(self) -> None:
        self.q = PriorityQueue()
        self.events: stdqueue.Queue[PlaybackEvent] = stdqueue.Queue()
        self.worker = PlaybackWorker(self.q, PcmSpec("pulse", RATE, 1, 240, 4),
                                     on_event=self.events.put, idle_close_s=60.0)
        t = np.arange(3 * RATE) / RATE
        self.tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)

    def wait(self, pred: Callable[[PlaybackEvent], bool], timeout: float = 10) -> PlaybackEvent:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            ev = self.events.get(timeout=left)
            if pred(ev):
                return ev
        raise TimeoutError("playback event not seen")

    def try_once(self, trigger: Callable[[], None], sink: PlaybackSink) -> tuple[float, float]:
        """Start a tone, trigger an interrupt; (ms to the sink call, ms to Silent)."""
        u = Utterance(self.tone, RATE, kind="announce")
        self.q.put(u)
        self.wait(lambda e: isinstance(e, Started) and e.id == u.id)
        time.sleep(0.1)
        t0 = time.monotonic()
        trigger()
        silent = self.wait(lambda e: isinstance(e, Silent) and e.id == u.id)
        return (sink.t_call - t0) * 1000, (silent.t - t0) * 1000


def bench_interrupts(tries: int, root: Path) -> None:
    from gpiozero.pins.mock import MockFactory

    pulse = PulseServer(root / "pulse")
    os.environ.update(pulse.env)
    pulse.start()
    # A low-latency reader on the monitor keeps the null sink awake; without one it runs in
    # 2 s blocks and a write can wait that long (a real card has no such mode).
    monitor = subprocess.Popen(
        ["parec", "-d", "null.monitor", "--raw", "--latency-msec=10", "/dev/null"],
        env={**os.environ, "PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    factory = MockFactory()
    try:
        with running_broker(root) as broker:
            out = Output()
            sink = PlaybackSink(out.worker)
            controller = Controller(StateMachine(), sink)
            mqtt = MqttWorker(mqtt_settings(broker), controller, device_id="bench")
            gpio = GpioWorker(GpioSettings(enabled=True), controller, pin_factory=factory)
            sup = Supervisor([out.worker, mqtt, gpio])
            sup.start()
            probe = Probe(broker, "bench-probe", "bench/echo")
            try:
                assert mqtt.wait_connected(10) and sup.wait_ready(10)
                out.try_once(out.worker.interrupt, sink)  # warm-up: the null sink wakes up
                t = topics_for("bench")
                calls, silent = [], []
                for _ in range(tries):
                    c, s = out.try_once(
                        lambda: probe.client.publish(t.cmd("interrupt"), "PRESS", qos=1), sink)
                    calls.append(c)
                    silent.append(s)
                show("MQTT cmd/interrupt -> sink.interrupt call", calls)
                show("MQTT cmd/interrupt -> playback Silent", silent)
                rtt = broker_rtt(probe, tries)
                show("broker round trip (client->broker->client)", rtt)
                print(f"  MQTT -> Silent beyond the broker round trip: p50 "
                      f"{pct(silent, 50) - pct(rtt, 50):.2f} ms, p99 "
                      f"{pct(silent, 99) - pct(rtt, 99):.2f} ms")
                pin = factory.pin(gpio.settings.interrupt_pin)
                calls, silent = [], []
                for _ in range(tries):
                    c, s = out.try_once(pin.drive_low, sink)
                    calls.append(c)
                    silent.append(s)
                    time.sleep(0.05)
                    pin.drive_high()
                    time.sleep(0.4)  # past the double-press window
                show("GPIO press -> sink.interrupt call", calls)
                show("GPIO press -> playback Silent", silent)
                stops = out.worker.stats()
                print(f"  playback: underruns {stops['underruns']}, "
                      f"device errors {stops['device_errors']}")
            finally:
                probe.close()
                sup.stop()
    finally:
        factory.close()
        monitor.kill()
        monitor.wait(5)
        pulse.stop()


def broker_rtt(probe: Probe, tries: int) -> list[float]:
    echo = threading.Event()
    t_echo = [0.0]

    def on_echo(client: object, userdata: object, msg: object) -> None:
        t_echo[0] = time.monotonic()
        echo.set()

    probe.client.message_callback_add("bench/echo", on_echo)
    rtt = []
    for _ in range(tries):
        echo.clear()
        t0 = time.monotonic()
        probe.client.publish("bench/echo", "x", qos=1)
        if not echo.wait(5):
            raise TimeoutError("echo did not come back")
        rtt.append((t_echo[0] - t0) * 1000)
        time.sleep(0.01)
    return rtt


SEEDS = [
    b"PRESS", b"start", b"stop", b"ON", b"OFF", b"42", b"wake_word", b"pasta",
    b'{"text": "hola", "priority": "high", "style": "urgent"}', b'{"seconds": 60, "name": "x"}',
    b'{"volume": 30}', b'{"muted": true}', b'{"mode": "always"}', b'{"action": "stop"}',
]
JUNK = [None, True, 0, -1, 1e308, "", "x" * 300, [], {}, {"text": None}, [[[]]], "\u0000"]


def fuzz_payload(rng: random.Random) -> bytes:
    kind = rng.random()
    if kind < 0.3:  # a valid seed with byte mutations
        b = bytearray(rng.choice(SEEDS))
        for _ in range(rng.randint(1, 4)):
            op, i = rng.random(), rng.randrange(len(b) + 1)
            if op < 0.4 and i < len(b):
                b[i] = rng.randrange(256)
            elif op < 0.7:
                b.insert(i, rng.randrange(256))
            elif i < len(b):
                del b[i]
        return bytes(b)
    if kind < 0.6:  # structurally valid JSON with wrong shapes and values
        keys = ["text", "priority", "style", "volume", "muted", "mode", "action", "seconds",
                "name", "source", "zzz"]
        doc = {rng.choice(keys): rng.choice(JUNK + ["high", "hola", 50, 100.5])
               for _ in range(rng.randint(0, 3))}
        return json.dumps(doc if rng.random() < 0.7 else rng.choice(JUNK)).encode()
    if kind < 0.9:
        return os.urandom(rng.randint(0, 64))
    return rng.choice([b"[" * 5000, b"{" * 3000, b'"' + b"a" * 70000 + b'"', b"9" * 5000])


def bench_fuzz(count: int) -> None:
    rng = random.Random(5)
    names = [*PARSERS, "bogus", "", "say/x", "\udcff"]
    payloads = [(rng.choice(names), fuzz_payload(rng)) for _ in range(count)]
    ctl = Controller(StateMachine(), RecordingSink(), Limits(max_text_chars=1000))
    crashes = errors = accepted = 0
    t0 = time.perf_counter()
    for name, payload in payloads:
        try:
            err = ctl.handle(name, payload)
        except Exception as exc:  # the thing this bench looks for
            crashes += 1
            print("CRASH", name, payload[:60], exc)
            continue
        errors += err is not None
        accepted += err is None
    dt = time.perf_counter() - t0
    print(f"fuzz: {count} generated payloads in {dt:.2f} s = "
          f"{count / dt:,.0f} payloads/s; rejected {errors}, accepted {accepted}, "
          f"crashes {crashes}")


def main() -> None:
    import logging

    logging.basicConfig(level=logging.ERROR)  # the fuzz logs a warning per rejected payload
    logging.getLogger("appliance.control").setLevel(logging.CRITICAL)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tries", type=int, default=100)
    ap.add_argument("--fuzz", type=int, default=100_000)
    args = ap.parse_args()
    print(f"python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f}, "
          f"{os.cpu_count()} cpus")
    with tempfile.TemporaryDirectory() as tmp:
        bench_interrupts(args.tries, Path(tmp))
    bench_fuzz(args.fuzz)


if __name__ == "__main__":
    main()
