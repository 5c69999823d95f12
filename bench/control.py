"""Control-plane latency and robustness: MQTT interrupt and GPIO press to the pipeline call,
and a fuzz of the command handler.

The pipeline side is a timing CommandSink: the playback worker is not part of this tree yet,
so latencies end at the ``interrupt`` call into the pipeline (which must then silence playback
within a period). The MQTT path runs through a real mosquitto (started here, as in the tests)
and is reported next to the broker round trip measured the same way (client -> broker ->
client), so the figure beyond the broker is the difference. The GPIO path runs the real
gpiozero Button code on MockFactory pins and our debounce logic.

    .venv/bin/python bench/control.py [--tries 100] [--fuzz 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance.config import GpioSettings  # noqa: E402
from appliance.control.commands import PARSERS, Limits  # noqa: E402
from appliance.control.controller import Controller  # noqa: E402
from appliance.control.discovery import topics_for  # noqa: E402
from appliance.control.gpio import GpioWorker  # noqa: E402
from appliance.control.mqtt import MqttWorker  # noqa: E402
from appliance.control.state import StateMachine  # noqa: E402
from appliance.pipeline.supervisor import Supervisor  # noqa: E402
from tests.support.broker import running_broker  # noqa: E402
from tests.support.control import Probe, RecordingSink, mqtt_settings  # noqa: E402


class TimingSink(RecordingSink):
    """Records calls and wakes the bench when an interrupt arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.hit = threading.Event()
        self.t_hit = 0.0

    def interrupt(self, source: str) -> None:
        self.t_hit = time.perf_counter()
        self.hit.set()


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def show(label: str, ms: list[float]) -> None:
    print(f"{label:<44} n={len(ms):4d}  p50 {pct(ms, 50):7.2f} ms  p99 {pct(ms, 99):7.2f} ms"
          f"  max {max(ms):7.2f} ms")


def bench_mqtt(tries: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, running_broker(Path(tmp)) as broker:
        sink = TimingSink()
        worker = MqttWorker(mqtt_settings(broker), Controller(StateMachine(), sink),
                            device_id="bench")
        sup = Supervisor([worker])
        sup.start()
        probe = Probe(broker, "bench-probe", "bench/echo")
        try:
            assert worker.wait_connected(10)
            t = topics_for("bench")
            echo = threading.Event()
            t_echo = [0.0]

            def on_echo(client: object, userdata: object, msg: object) -> None:
                t_echo[0] = time.perf_counter()
                echo.set()

            probe.client.message_callback_add("bench/echo", on_echo)
            cmd, rtt = [], []
            for _ in range(tries):
                sink.hit.clear()
                t0 = time.perf_counter()
                probe.client.publish(t.cmd("interrupt"), "PRESS", qos=1)
                assert sink.hit.wait(5), "interrupt did not arrive"
                cmd.append((sink.t_hit - t0) * 1000)
                echo.clear()
                t0 = time.perf_counter()
                probe.client.publish("bench/echo", "x", qos=1)
                assert echo.wait(5)
                rtt.append((t_echo[0] - t0) * 1000)
                time.sleep(0.01)
            show("MQTT cmd/interrupt -> sink.interrupt (QoS 1)", cmd)
            show("broker round trip (client->broker->client)", rtt)
            beyond = [c - r for c, r in zip(cmd, rtt, strict=True)]
            show("  difference (beyond the broker), per try", beyond)
        finally:
            probe.close()
            sup.stop()


def bench_gpio(tries: int) -> None:
    from gpiozero.pins.mock import MockFactory

    factory = MockFactory()
    sink = TimingSink()
    worker = GpioWorker(GpioSettings(enabled=True), Controller(StateMachine(), sink),
                        pin_factory=factory)
    sup = Supervisor([worker])
    sup.start()
    try:
        assert sup.wait_ready(5)
        pin = factory.pin(worker.settings.interrupt_pin)
        ms = []
        for _ in range(tries):
            sink.hit.clear()
            t0 = time.perf_counter()
            pin.drive_low()
            assert sink.hit.wait(5)
            ms.append((sink.t_hit - t0) * 1000)
            time.sleep(0.04)
            pin.drive_high()
            time.sleep(0.45)  # past debounce and the double-press window
        show("GPIO press (MockFactory) -> sink.interrupt", ms)
    finally:
        sup.stop()
        factory.close()


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
    bench_mqtt(args.tries)
    bench_gpio(args.tries)
    bench_fuzz(args.fuzz)


if __name__ == "__main__":
    main()
