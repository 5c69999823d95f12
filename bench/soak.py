"""Weeks of uptime, in minutes: does the real appliance's memory grow while it works?

    .venv/bin/python bench/soak.py --minutes 35 --warmup-min 8 --every 30 [--tracemalloc]
        [--script bench/soak.yaml] [--json soak.json] [--malloc-trim] [--log turns.txt]

Why: a field report (issue 15) saw the service's resident memory grow about 170 MB/hour
after its first minutes, with threads and file descriptors steady. This drives the REAL
pipeline exactly as ``appliance demo`` does - the same ``staged()`` (appliance/demo/run.py:
FIFO-backed ALSA devices, ``build_pipeline(settings, prerender="all")``, the configured
settings, models and rendered-audio cache) and the same ``Conversation`` - with a scripted
kitchen (default bench/soak.yaml: times, a timer set and cancelled, open LLM questions, one
interrupt, an announcement, ~20 s between turns) repeated for ``--minutes``. The rig forgets
each turn's events and audio once the turn is over (``Conversation.forget``), so what grows is
the appliance, not the recording the demo would keep.

Every ``--every`` seconds it samples /proc/self (VmRSS, RssAnon, RssFile, threads, open fds,
CPU seconds, memory mappings), glibc's ``mallinfo2`` (bytes in use and free-but-held by
malloc), CPython's allocated blocks, and the load average; it prints one row per sample and
at the end the growth per hour after ``--warmup-min`` by a least-squares fit, the turns run,
the unanswered turns (an "error" in the Conversation's figures, not counting the turns the
script interrupts on purpose), worker restarts (the Supervisor's, and WorkerCrashed events).

``--tracemalloc`` starts tracing at the end of the warm-up (so loading and the warm-up run at
full speed), snapshots then and at the end, and prints the top 15 growth lines
(``compare_to(..., "lineno")``, or ``"traceback"`` with ``--traceback N``): Python objects
that piled up. If RssAnon grows while those are flat, the growth is native (malloc arenas,
ONNX Runtime / CTranslate2 / llama.cpp): compare a run with ``MALLOC_ARENA_MAX=2`` in the
environment, and ``--malloc-trim`` (calls glibc ``malloc_trim(0)`` before each sample and
records what it gave back). ``--json FILE`` writes every sample and the results.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import dataclasses
import json
import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance import config  # noqa: E402
from appliance.demo.conversation import Conversation  # noqa: E402
from appliance.demo.run import StageError, staged  # noqa: E402
from appliance.demo.script import load_script  # noqa: E402
from appliance.pipeline.events import Event, WorkerCrashed  # noqa: E402
from appliance.pipeline.heap import glibc_trim, process_status  # noqa: E402

SOAK_SCRIPT = Path(__file__).resolve().parent / "soak.yaml"
MB = 1024 * 1024
COLUMNS = (("min", "t_min", 6, 1), ("rss", "rss_mb", 7, 1), ("anon", "anon_mb", 7, 1),
           ("file", "file_mb", 6, 1), ("m_used", "malloc_used_mb", 7, 1),
           ("m_free", "malloc_free_mb", 7, 1), ("trim", "trimmed_mb", 6, 1),
           ("py_blk", "py_blocks_k", 7, 0), ("traced", "traced_mb", 7, 1),
           ("thr", "threads", 4, 0), ("fds", "fds", 4, 0), ("maps", "maps", 5, 0),
           ("cpu%", "cpu_pct", 5, 0), ("load1", "load1", 5, 2), ("turns", "turns", 5, 0))


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


class Glibc:
    """glibc's malloc statistics and the service's own trim, when the C library is glibc
    (else None/nothing)."""

    def __init__(self) -> None:
        self._libc: Any = None
        self._trim = glibc_trim()
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            libc.mallinfo2.restype = _Mallinfo2
            self._libc = libc
        except (OSError, AttributeError):
            pass

    def mallinfo(self) -> tuple[float, float] | None:
        """(MB in use, MB free but held by malloc) over every arena and mmapped block."""
        if self._libc is None:
            return None
        m = self._libc.mallinfo2()
        return (m.uordblks + m.hblkhd) / MB, m.fordblks / MB

    def trim(self) -> None:
        if self._trim is not None:
            self._trim()


class Sampler:
    """Samples the process every ``every_s`` seconds on its own thread."""

    def __init__(self, every_s: float, warmup_s: float, *, trace: bool, frames: int,
                 trim: bool, turns: list[dict[str, Any]]) -> None:
        self.every_s = every_s
        self.warmup_s = warmup_s
        self.trace = trace
        self.frames = frames
        self.trim = trim
        self.turns = turns
        self.glibc = Glibc()
        self.samples: list[dict[str, Any]] = []
        self.snapshot0: tracemalloc.Snapshot | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-sampler", daemon=True)
        self._t0 = time.monotonic()
        self._cpu0 = time.process_time()
        self._last = (self._t0, self._cpu0)

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._cpu0 = time.process_time()
        self._last = (self._t0, self._cpu0)
        print(" ".join(f"{name:>{width}}" for name, _, width, _ in COLUMNS), flush=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.sample()  # the last row, at the very end

    def _run(self) -> None:
        self.sample()
        while not self._stop.wait(self.every_s):
            if self.trace and self.snapshot0 is None and self.elapsed() >= self.warmup_s:
                tracemalloc.start(self.frames)
                self.snapshot0 = tracemalloc.take_snapshot()
                print(f"-- warm-up over at {self.elapsed() / 60:.1f} min: tracemalloc "
                      f"started ({self.frames} frame(s)), first snapshot taken", flush=True)
            self.sample()

    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    def sample(self) -> dict[str, Any]:
        row: dict[str, Any] = {}
        if self.trim:  # what malloc held free and gave back, before measuring
            before = process_status()["RssAnon"]
            self.glibc.trim()
            row["trimmed_mb"] = round(before - process_status()["RssAnon"], 1)
        now, cpu = time.monotonic(), time.process_time()
        st = process_status()
        row.update(
            t_min=round((now - self._t0) / 60, 2), rss_mb=round(st["VmRSS"], 1),
            anon_mb=round(st["RssAnon"], 1), file_mb=round(st["RssFile"], 1),
            threads=int(st["Threads"]), fds=len(os.listdir("/proc/self/fd")),
            maps=sum(1 for _ in open("/proc/self/maps", "rb")),  # noqa: SIM115
            cpu_s=round(cpu - self._cpu0, 1),
            cpu_pct=round(100 * (cpu - self._last[1]) / max(1e-9, now - self._last[0])),
            load1=os.getloadavg()[0], load=[round(x, 2) for x in os.getloadavg()],
            py_blocks_k=round(sys.getallocatedblocks() / 1000), turns=len(self.turns),
        )
        info = self.glibc.mallinfo()
        if info is not None:
            row["malloc_used_mb"], row["malloc_free_mb"] = round(info[0], 1), round(info[1], 1)
        if tracemalloc.is_tracing():
            row["traced_mb"] = round(tracemalloc.get_traced_memory()[0] / MB, 1)
            row["tracemalloc_overhead_mb"] = round(tracemalloc.get_tracemalloc_memory() / MB, 1)
        self._last = (now, cpu)
        self.samples.append(row)
        print(" ".join(_cell(row.get(key), width, digits) for _, key, width, digits in COLUMNS),
              flush=True)
        return row


def _cell(value: Any, width: int, digits: int) -> str:
    if value is None:
        return f"{'-':>{width}}"
    return f"{value:>{width}.{digits}f}"


def slope_per_hour(samples: list[dict[str, Any]], key: str, from_min: float) -> float | None:
    """Least-squares growth of ``key`` per hour over the samples at or after ``from_min``."""
    pts = [(s["t_min"] / 60, float(s[key])) for s in samples
           if s["t_min"] >= from_min and s.get(key) is not None]
    if len(pts) < 3:
        return None
    n = len(pts)
    mx = sum(x for x, _ in pts) / n
    my = sum(y for _, y in pts) / n
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in pts) / sxx


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=35.0, help="how long to talk (default 35)")
    ap.add_argument("--every", type=float, default=30.0, metavar="S",
                    help="seconds between samples (default 30)")
    ap.add_argument("--warmup-min", type=float, default=15.0, metavar="MIN",
                    help="the fit (and tracemalloc) start after this many minutes (default 15)")
    ap.add_argument("--tracemalloc", action="store_true",
                    help="snapshot Python allocations at warm-up end and at the end")
    ap.add_argument("--traceback", type=int, default=0, metavar="N",
                    help="with --tracemalloc: group growth by N-frame tracebacks, not lines")
    ap.add_argument("--malloc-trim", action="store_true",
                    help="glibc malloc_trim(0) before each sample (what it gives back)")
    ap.add_argument("--script", type=Path, default=SOAK_SCRIPT,
                    help="the conversation to repeat (default bench/soak.yaml)")
    ap.add_argument("--config", default=None, help="settings file (default: as appliance demo)")
    ap.add_argument("--json", type=Path, default=None, metavar="FILE",
                    help="write every sample and the results here")
    ap.add_argument("--log", type=Path, default=None, metavar="FILE",
                    help="the Conversation's per-turn printout (default: not kept)")
    ap.add_argument("--timeout", type=float, default=600.0, metavar="S",
                    help="give up on start-up after this many seconds (default 600)")
    args = ap.parse_args()

    settings = config.load(args.config)
    script = load_script(args.script)
    log_file = args.log.open("w", encoding="utf-8") if args.log else None

    def say(text: str) -> None:
        if text.startswith("demo:"):
            print(text, flush=True)
        if log_file is not None:
            print(text, file=log_file, flush=True)

    turns: list[dict[str, Any]] = []
    crashes: list[str] = []
    sampler = Sampler(args.every, args.warmup_min * 60, trace=args.tracemalloc,
                      frames=max(1, args.traceback), trim=args.malloc_trim, turns=turns)
    snapshot1: tracemalloc.Snapshot | None = None
    restarts: dict[str, int] = {}
    loads = [os.getloadavg()]
    try:
        with staged(settings, script, timeout_s=args.timeout, say=say) as stage:
            app = stage.app

            def watch(event: Event) -> None:
                if isinstance(event, WorkerCrashed):
                    crashes.append(f"{event.worker}: {event.error}")

            app.observe(watch)
            conversation = Conversation(app, stage.mouth, stage.ear, out=say)
            print(f"soak: {args.minutes:g} min of {script.name!r} ({len(script.turns)} turns, "
                  f"repeated), a sample every {args.every:g} s, fit after {args.warmup_min:g} "
                  f"min; MALLOC_ARENA_MAX={os.environ.get('MALLOC_ARENA_MAX', '-')}",
                  flush=True)
            sampler.start()
            end = time.monotonic() + args.minutes * 60
            i = 0
            while time.monotonic() < end:
                turn = script.turns[i % len(script.turns)]
                conversation.forget(time.monotonic())  # only this turn's events and audio
                fig = conversation.run(dataclasses.replace(script, turns=(turn,)))[0]
                fig.update(round=i // len(script.turns) + 1, t_min=round(sampler.elapsed() / 60,
                                                                          2),
                           interrupted=turn.interrupt is not None)
                turns.append(fig)
                if "error" in fig or fig.get("unexpected"):
                    print(f"   turn {len(turns)} ({turn.label[:40]}): "
                          f"{fig.get('error') or fig.get('unexpected')}", flush=True)
                i += 1
            loads.append(os.getloadavg())
            sampler.stop()
            if sampler.snapshot0 is not None:
                snapshot1 = tracemalloc.take_snapshot()
                tracemalloc.stop()
            restarts = {s.name: s.restarts for s in app.supervisor.status()}
            print(f"soak: heap trims after replies: {app.heap.trims}, longest "
                  f"{app.heap.longest_ms:.1f} ms", flush=True)
    except StageError as exc:
        print(f"soak: {exc}", file=sys.stderr)
        return 1
    finally:
        if log_file is not None:
            log_file.close()

    return report(args, sampler, turns, crashes, restarts, loads, snapshot1)


def report(args: argparse.Namespace, sampler: Sampler, turns: list[dict[str, Any]],
           crashes: list[str], restarts: dict[str, int], loads: list[tuple[float, float, float]],
           snapshot1: tracemalloc.Snapshot | None) -> int:
    samples = sampler.samples
    slopes = {key: slope_per_hour(samples, key, args.warmup_min)
              for key in ("rss_mb", "anon_mb", "file_mb", "malloc_used_mb", "malloc_free_mb",
                          "traced_mb", "tracemalloc_overhead_mb", "threads", "fds")}
    unanswered = [t for t in turns if "error" in t and not t["interrupted"]]
    interrupted_errors = [t for t in turns if "error" in t and t["interrupted"]]
    unexpected = [t for t in turns if t.get("unexpected")]
    print(f"\nsoak: growth per hour after {args.warmup_min:g} min (least squares over "
          f"{sum(1 for s in samples if s['t_min'] >= args.warmup_min)} samples):")
    for key, value in slopes.items():
        if value is not None:
            print(f"  {key:24s} {value:+9.1f} /h")
    last_hour = max(args.warmup_min, args.minutes - 60)
    rss_last_hour = slope_per_hour(samples, "rss_mb", last_hour)
    if rss_last_hour is not None and last_hour > args.warmup_min:
        print(f"  rss_mb over the last hour (after {last_hour:g} min) {rss_last_hour:+9.1f} /h")
    load_seen = [s["load"] for s in samples]
    print(f"soak: {len(turns)} turns, {len(unanswered)} unanswered"
          f" ({len(interrupted_errors)} errors on turns interrupted on purpose not counted), "
          f"{len(unexpected)} not as expected; worker restarts "
          f"{sum(restarts.values())} {restarts if any(restarts.values()) else ''}"
          f"(WorkerCrashed events: {len(crashes)})")
    for t in unanswered:
        print(f"   unanswered turn at {t['t_min']} min: {t['said'][:50]!r}: {t['error']}")
    for c in crashes:
        print(f"   crashed: {c}")
    if load_seen:
        mean = [sum(x[i] for x in load_seen) / len(load_seen) for i in range(3)]
        print(f"soak: load average at start {loads[0]}, end {loads[-1]}; mean of samples "
              f"{[round(x, 2) for x in mean]}, max 1-min {max(x[0] for x in load_seen):.2f}")
    top: list[str] = []
    if snapshot1 is not None and sampler.snapshot0 is not None:
        by = "traceback" if args.traceback else "lineno"
        filters = [tracemalloc.Filter(False, tracemalloc.__file__)]
        stats = snapshot1.filter_traces(filters).compare_to(
            sampler.snapshot0.filter_traces(filters), by)
        total = sum(s.size_diff for s in stats)
        print(f"\nsoak: tracemalloc, growth from warm-up end to the end: {total / MB:+.1f} MB "
              f"in Python allocations; top 15 by {by}:")
        for stat in stats[:15]:
            line = (f"{stat.size_diff / 1024:+10.1f} KiB {stat.count_diff:+8d} blocks  "
                    f"{stat.traceback[-1] if by == 'lineno' else ''}")
            top.append(line.rstrip())
            print("  " + line)
            if by == "traceback":
                for frame in stat.traceback.format():
                    print("        " + frame)
    if args.json is not None:
        args.json.write_text(json.dumps({
            "args": {k: str(v) for k, v in vars(args).items()},
            "malloc_arena_max": os.environ.get("MALLOC_ARENA_MAX"),
            "samples": samples, "slopes_per_hour": slopes, "rss_last_hour_per_hour":
            rss_last_hour, "turns": turns,
            "unanswered": len(unanswered), "restarts": restarts, "crashes": crashes,
            "loads": loads, "tracemalloc_top": top,
        }, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        print(f"soak: samples in {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
