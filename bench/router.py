"""Router figures: training time, decision latency (p50/p99 over thousands of calls) and
accuracy on held-out data it never trained on.

Two held-out figures: by text (no held-out utterance, in either STT style, occurs in training -
the split the tests and the retrain gate use) and by pattern (whole paraphrase patterns held
out: sentence shapes never seen; stricter).

    .venv/bin/python bench/router.py [--calls 3000]
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import tempfile
import time
from pathlib import Path

from appliance.brain.router import Router, evaluate, load_examples, split, train_model
from appliance.brain.templates import Templates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--threshold", type=float, default=0.6)
    args = ap.parse_args()
    examples = load_examples()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        router = Router.load(Path(tmp), args.threshold)  # trains from the committed data
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        Router.load(Path(tmp), args.threshold)
        load_ms = (time.perf_counter() - t0) * 1000
    train, held = split(examples)
    print(f"data: {len(examples)} examples, train {len(train)}, held-out {len(held)}")
    print(f"training (features + fit + cache) : {train_s:.2f} s;  load from cache: "
          f"{load_ms:.0f} ms")

    texts = [(e.text, e.prev) for e in held]
    for text, prev in texts[:200]:  # warm up
        router.route(text, prev)
    lat, cpu = [], []
    for i in range(args.calls):
        text, prev = texts[i % len(texts)]
        c0, t0 = time.thread_time(), time.perf_counter()
        router.route(text, prev)
        lat.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    for name, xs in (("wall", lat), ("thread CPU", cpu)):
        xs.sort()
        q = statistics.quantiles(xs, n=100)
        print(f"route() over {args.calls} calls, {name:10s}: p50 {q[49]:.3f} ms  "
              f"p99 {q[98]:.3f} ms  max {xs[-1]:.3f} ms")
    print(f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: wall-clock "
          "tails include time the OS gave to other processes)")

    templates = Templates.load(seed=0)
    now = datetime.datetime.now()
    rend = []
    for i in range(args.calls):
        intent, slots = (("timer_set", {"seconds": 90 + i % 600, "name": "la pasta"}),
                         ("time", {}), ("thanks", {}))[i % 3]
        t0 = time.perf_counter()
        templates.render(intent, slots, now)
        rend.append((time.perf_counter() - t0) * 1000)
    q = statistics.quantiles(rend, n=100)
    print(f"Templates.render() ({len(templates)} templates, {len(templates.static_texts())} "
          f"static texts/openings): p50 {q[49]:.3f} ms  p99 {q[98]:.3f} ms")
    print("held-out by text    (threshold: route acc / intent acc)")
    for thr in (0.4, 0.5, args.threshold, 0.7, 0.8):
        r = evaluate(router.model, held, thr)
        mark = "  <- configured" if thr == args.threshold else ""
        print(f"  {thr:.2f}: {r['route_acc']:.3f} / {r['intent_acc']:.3f}{mark}")
    ptrain, pheld = split(examples, by="pattern")
    t0 = time.perf_counter()
    pmodel = train_model(ptrain)
    fit_s = time.perf_counter() - t0
    print(f"held-out by pattern ({len(pheld)} examples; fit {fit_s:.2f} s)")
    for thr in (0.4, 0.5, args.threshold, 0.7):
        r = evaluate(pmodel, pheld, thr)
        mark = "  <- configured" if thr == args.threshold else ""
        print(f"  {thr:.2f}: {r['route_acc']:.3f} / {r['intent_acc']:.3f}{mark}")


if __name__ == "__main__":
    main()
