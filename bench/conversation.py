"""What a person hears, per route: the shipped demo script through the real pipeline.

    .venv/bin/python bench/conversation.py [--script FILE.yaml] [--runs N] [--out DIR]

Runs the script (default: the built-in demo conversation) ``--runs`` times through
``appliance demo``'s own runner (FIFO-backed ALSA devices, Whisper, Kokoro, the configured
LLM) and prints, per route, p50/p95/max of end of speech -> transcript, transcript -> first
sound, end of speech -> first sound and the longest silence inside an answer, over every
turn of every run, with the load average. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance import config  # noqa: E402
from appliance.demo.conversation import FIGURES, summary  # noqa: E402
from appliance.demo.run import run_script  # noqa: E402
from appliance.demo.script import BUILTIN, load_script  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--script", type=Path, default=BUILTIN)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--config", default=None)
    ap.add_argument("--out", type=Path, default=None, help="keep each run's report here")
    args = ap.parse_args()
    settings = config.load(args.config)
    script = load_script(args.script)
    turns: list[dict] = []
    loads = [os.getloadavg()[0]]
    for run in range(args.runs):
        out = (args.out / f"run{run + 1}") if args.out else Path(tempfile.mkdtemp())
        with open(os.devnull, "w") as quiet:
            run_script(settings, script, out, out=quiet)
        turns += json.loads((out / "report.json").read_text())["turns"]
        loads.append(os.getloadavg()[0])
    print(f"{script.name}: {args.runs} run(s), {len(turns)} turns; load average "
          f"{min(loads):.2f}-{max(loads):.2f} on {os.cpu_count()} CPUs; STT "
          f"{settings.stt.engine}, TTS {settings.tts.engine}, LLM {settings.brain.llm_model}, "
          f"end of turn {settings.turn.model or 'fixed hangover'}")
    print(f"{'route':<9} {'figure':<30} {'n':>3} {'p50':>7} {'p95':>7} {'max':>7}  (ms)")
    for route, figures in summary(turns).items():
        for key in FIGURES:
            if key in figures:
                f = figures[key]
                print(f"{route:<9} {key:<30} {f['n']:>3} {f['p50']:>7.0f} {f['p95']:>7.0f} "
                      f"{f['max']:>7.0f}")
    cut = [t["interrupt_to_silent_ms"] for t in turns if "interrupt_to_silent_ms" in t]
    if cut:
        print(f"interrupt -> silent: {', '.join(str(c) for c in cut)} ms")
    problems = [t for t in turns if "error" in t or "unexpected" in t]
    print(f"turns with an error or not as the script expected: {len(problems)}; underruns "
          f"{sum(t.get('underruns', 0) for t in turns)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
