"""Control-plane latency and robustness: MQTT interrupt and GPIO press until the appliance is
silent, and a fuzz of the command handler.

The appliance is the real one, built by the composition root (``build_pipeline``) as the
service builds it: espeak-ng TTS, playback on a PulseAudio null sink (real-time paced, started
here like the tests do), MQTT on a real mosquitto, gpiozero's Button code on MockFactory pins.
Each try makes it speak an announcement (``say`` over MQTT), waits until it plays, triggers an
interrupt and times it until the interruption service reports ``Interrupted`` and playback
reports ``Silent`` (faded out, device buffer dropped). The MQTT figure is reported next to the
broker round trip measured the same way (client -> broker -> client).

    .venv/bin/python bench/control.py [--tries 100] [--fuzz 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gpiozero.pins.mock import MockFactory  # noqa: E402

from appliance import config  # noqa: E402
from appliance.app import Pipeline, build_pipeline  # noqa: E402
from appliance.control.commands import Limits  # noqa: E402
from appliance.control.controller import Controller  # noqa: E402
from appliance.control.discovery import topics_for  # noqa: E402
from appliance.control.mqtt import MqttWorker  # noqa: E402
from appliance.control.schema import PARSERS  # noqa: E402
from appliance.control.state import StateMachine  # noqa: E402
from appliance.pipeline.events import Interrupted, Silent, Started  # noqa: E402
from tests.support.broker import PASSWORD, USER, running_broker  # noqa: E402
from tests.support.control import Probe, RecordingSink  # noqa: E402
from tests.support.harness import Collector  # noqa: E402
from tests.support.pulse import PulseServer  # noqa: E402

LONG = ("Atención: la lavadora ha terminado. Recuerda sacar la ropa y tenderla pronto, "
        "porque si se queda mucho rato dentro huele a humedad y habrá que lavarla otra vez.")


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def show(label: str, ms: list[float]) -> None:
    print(f"{label:<46} n={len(ms):4d}  p50 {pct(ms, 50):7.2f} ms  p99 {pct(ms, 99):7.2f} ms"
          f"  max {max(ms):7.2f} ms")


def try_once(app: Pipeline, events: Collector, probe: Probe,
             trigger: Callable[[], None]) -> tuple[float, float]:
    """An announcement, then an interrupt while it plays: (ms to the interruption service,
    ms to playback's Silent)."""
    t = topics_for(app.settings.device.id)
    t_say = time.monotonic()
    probe.client.publish(t.cmd("say"), json.dumps({"text": LONG}), qos=1)
    events.wait_for(Started, lambda e: e.kind == "announce", since=t_say, timeout=30)
    time.sleep(0.1)
    t0 = time.monotonic()
    trigger()
    interrupted = events.wait_for(Interrupted, since=t0, timeout=10)
    silent = events.wait_for(Silent, since=t0, timeout=10)
    time.sleep(0.3)  # let the follow-up settle before the next announcement
    return (interrupted.t - t0) * 1000, (silent.t - t0) * 1000


def bench_interrupts(tries: int, root: Path) -> None:
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
            settings = config.from_dict({
                "device": {"id": "bench", "state_dir": str(root / "state")},
                "audio": {"capture_device": "pulse", "playback_device": "pulse"},
                "tts": {"engine": "espeak"},
                "brain": {"llm_model": ""},
                "listen": {"mode": "push_to_talk"},
                "mqtt": {"enabled": True, "host": "127.0.0.1", "port": broker.port,
                         "username": USER, "password": PASSWORD},
                "gpio": {"enabled": True},
            })
            app = build_pipeline(settings, prerender="none", pin_factory=factory)
            events = Collector()
            app.observe(events)
            app.start()
            probe = Probe(broker, "bench-probe", "bench/echo")
            try:
                mqtt = app.control.faces[0]
                assert isinstance(mqtt, MqttWorker) and mqtt.wait_connected(30)
                assert app.supervisor.wait_ready(120)
                t = topics_for("bench")
                press_mqtt = lambda: probe.client.publish(t.cmd("interrupt"), "PRESS", qos=1)  # noqa: E731
                try_once(app, events, probe, press_mqtt)  # warm-up: the null sink wakes up
                calls, silent = [], []
                for _ in range(tries):
                    c, s = try_once(app, events, probe, press_mqtt)
                    calls.append(c)
                    silent.append(s)
                show("MQTT cmd/interrupt -> interruption service", calls)
                show("MQTT cmd/interrupt -> playback Silent", silent)
                rtt = broker_rtt(probe, tries)
                show("broker round trip (client->broker->client)", rtt)
                print(f"  MQTT -> Silent beyond the broker round trip: p50 "
                      f"{pct(silent, 50) - pct(rtt, 50):.2f} ms, p99 "
                      f"{pct(silent, 99) - pct(rtt, 99):.2f} ms")
                pin = factory.pin(settings.gpio.interrupt_pin)
                calls, silent = [], []
                for _ in range(tries):
                    c, s = try_once(app, events, probe, pin.drive_low)
                    calls.append(c)
                    silent.append(s)
                    pin.drive_high()
                    time.sleep(0.4)  # past the double-press window
                show("GPIO press -> interruption service", calls)
                show("GPIO press -> playback Silent", silent)
                stats = app.playback.stats()
                print(f"  playback: underruns {stats['underruns']} (while speech played: "
                      f"{stats['speech_underruns']}; the rest in the silence written between "
                      f"utterances), device errors {stats['device_errors']}")
            finally:
                probe.close()
                app.stop(2.0)
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
