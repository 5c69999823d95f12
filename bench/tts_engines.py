"""Real-time factor of each TTS engine on this machine (synthesis seconds / audio seconds).

Kokoro and espeak-ng speak Spanish sentences; the vits engine runs the packaged English Piper
voice (no Spanish Piper voice ships in a package) on English sentences of similar length.
The first call per engine (warm-up: session init, caches) is reported apart. The load average
is printed because the figures depend on what else the CPU is doing.

    .venv/bin/python bench/tts_engines.py [--engines kokoro vits espeak] [--style normal]
"""

from __future__ import annotations

import argparse
import os
import time

from appliance import config
from appliance.speak.tts.factory import create_engine
from appliance.system.modelstore import ModelStore

SPANISH = (
    "El horno ya está caliente, puedes meter la bandeja.",
    "Pon el temporizador en doce minutos y remueve la salsa de vez en cuando.",
    "Mañana por la mañana va a llover, así que lleva paraguas.",
)
ENGLISH = (
    "The oven is hot now, you can put the tray in.",
    "Set the timer to twelve minutes and stir the sauce from time to time.",
    "It will rain tomorrow morning, so take an umbrella.",
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", nargs="+", default=["kokoro", "vits", "espeak"])
    ap.add_argument("--style", default="normal")
    args = ap.parse_args()
    settings = config.replace(config.load(None), tts={"vits_model": "piper-en-joe-medium"})
    store = ModelStore(settings.cache_path)
    style = settings.tts.styles[args.style]
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"{os.cpu_count()} CPUs, style {args.style} (speed {style.speed})")
    for name in args.engines:
        t0 = time.perf_counter()
        engine = create_engine(settings, store, engine=name)
        load_s = time.perf_counter() - t0
        texts = ENGLISH if engine.name == "vits" else SPANISH
        t0 = time.perf_counter()
        warm = engine.synthesize("Hola.", style)
        warm_s = time.perf_counter() - t0
        synth = audio = 0.0
        for text in texts:
            t0 = time.perf_counter()
            out = engine.synthesize(text, style)
            synth += time.perf_counter() - t0
            audio += out.size / engine.sample_rate
        print(f"{engine.name:7s} load {load_s:5.2f}s  first call {warm_s:5.2f}s "
              f"({warm.size / engine.sample_rate:.2f}s audio)  "
              f"RTF {synth / audio:5.3f} over {audio:.1f}s of audio ({len(texts)} sentences)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
