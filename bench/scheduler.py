"""Interrupt predictor: accuracy on a scripted user, and audio synthesized but never played.

SIMULATED, not measured on audio: sentence durations come from their length (14 chars/s) and
synthesis takes ``--rtf`` x the duration; playback and synthesis are stepped in 20 ms ticks.
The scripted user follows a pattern (with noise): long answers (>= 6 sentences) are usually
cut at the 3rd sentence, medium ones sometimes near their end, short ones rarely; during
"hurried" stretches (10 answers in every 40) the user cuts almost everything after the first
sentence. Both arms see the same answers; the predictor learns online from the stream.

    .venv/bin/python bench/scheduler.py [--answers 200] [--rtf 0.4] [--seeds 5]
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass

from appliance.brain.scheduler import InterruptPredictor, Plan, plan

CHARS_PER_S = 14.0
DT = 0.02


@dataclass
class Answer:
    chars: list[int]
    cut_at: int | None  # sentence index the user interrupts, None = listened to the end
    cut_frac: float


def scripted_user(n_answers: int, rng: random.Random) -> list[Answer]:
    answers = []
    for i in range(n_answers):
        n = rng.choice([1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 8, 10, 12])
        hurried = (i % 40) >= 30
        cut: int | None = None
        if hurried and n >= 2 and rng.random() < 0.85:
            cut = 1
        elif n >= 6 and rng.random() < 0.85:
            cut = 2
        elif 4 <= n <= 5 and rng.random() < 0.3:
            cut = n - 2
        elif n <= 3 and rng.random() < 0.05:
            cut = n - 1
        answers.append(Answer([rng.randint(40, 140) for _ in range(n)], cut,
                              rng.uniform(0.2, 0.8)))
    return answers


def producer_may_start(pl: Plan, current_left_s: float, next_synth_s: float,
                       margin_s: float) -> bool:
    """The TTS producer's just-in-time rule (appliance/speak/producer.py) as this simulation
    models it: with look-ahead 1 ("wait for the end"), the next sentence starts only when its
    predicted synthesis would finish ``margin_s`` before the current one runs out."""
    return not pl.wait_for_end or current_left_s <= next_synth_s + margin_s


def simulate(ans: Answer, plan_at, rtf: float, margin_s: float) -> tuple[float, float]:
    """Returns (seconds of audio synthesized but never played, seconds of gap between sentences)."""
    dur = [c / CHARS_PER_S for c in ans.chars]
    n = len(dur)
    synth_done = 0  # sentences fully synthesized
    busy_until: float | None = None
    busy_start = 0.0
    playing, play_start = -1, 0.0
    gaps = 0.0
    t = 0.0
    while True:
        if busy_until is not None and t >= busy_until:
            synth_done += 1
            busy_until = None
        # playback
        if playing >= 0 and t >= play_start + dur[playing]:
            if playing == n - 1:
                return 0.0, gaps
            if synth_done > playing + 1:
                playing, play_start = playing + 1, play_start + dur[playing]
        if playing < 0 and synth_done > 0:
            playing, play_start = 0, t
        if playing >= 0 and t > play_start + dur[playing] and synth_done <= playing + 1:
            gaps += DT  # waiting for synthesis after the previous sentence ended
        # the user
        if ans.cut_at is not None and playing == ans.cut_at and \
                t >= play_start + ans.cut_frac * dur[playing]:
            wasted = dur[playing] * (1 - ans.cut_frac)
            wasted += sum(dur[playing + 1:synth_done])
            if busy_until is not None:
                j = synth_done
                wasted += dur[j] * min(1.0, (t - busy_start) / (rtf * dur[j]))
            return wasted, gaps
        # the producer
        if busy_until is None and synth_done < n:
            j = synth_done
            cur = max(playing, 0)
            pl: Plan = plan_at(cur)
            left = dur[cur] - (t - play_start) if playing >= 0 else dur[0]
            allowed = j <= cur or (j <= cur + pl.lookahead and (
                j > cur + 1 or producer_may_start(pl, left, rtf * dur[j], margin_s)))
            if allowed:
                busy_start, busy_until = t, t + rtf * dur[j]
        t += DT


def run_seed(args: argparse.Namespace, seed: int) -> dict[str, float]:
    answers = scripted_user(args.answers, random.Random(seed))
    learned = InterruptPredictor()
    rule_only = InterruptPredictor(warmup=10**9)
    r = {"waste_fixed": 0.0, "waste_pred": 0.0, "gap_fixed": 0.0, "gap_pred": 0.0,
         "played": 0.0, "cut": float(sum(a.cut_at is not None for a in answers))}
    for ans in answers:
        n, chars = len(ans.chars), sum(ans.chars)
        w, g = simulate(ans, lambda cur: Plan(0.0, args.lookahead, False), args.rtf, args.margin)
        r["waste_fixed"] += w
        r["gap_fixed"] += g
        w, g = simulate(ans, lambda cur, n=n, chars=chars: plan(learned.predict(cur, n, chars),
                                                                 args.lookahead),
                        args.rtf, args.margin)
        r["waste_pred"] += w
        r["gap_pred"] += g
        last = n - 1 if ans.cut_at is None else ans.cut_at
        r["played"] += sum(ans.chars[: last + 1]) / CHARS_PER_S
        for i in range(last + 1):
            for pred in (learned, rule_only):
                pred.observe(i, n, chars, ans.cut_at is not None)
        for pred in (learned, rule_only):
            pred.answer_done(ans.cut_at is not None)
    r.update(samples=learned.samples, acc=learned.accuracy(100), acc_rule=rule_only.accuracy(100))
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--answers", type=int, default=200)
    ap.add_argument("--rtf", type=float, default=0.4, help="synthesis time / audio time")
    ap.add_argument("--lookahead", type=int, default=3, help="the fixed arm (speak.lookahead)")
    ap.add_argument("--margin", type=float, default=0.3)
    ap.add_argument("--seeds", type=int, default=5, help="scripted users (seeds 1..N)")
    args = ap.parse_args()

    print(f"SIMULATED timing: rtf {args.rtf}, {CHARS_PER_S:.0f} chars/s, margin {args.margin} s; "
          f"{args.answers} answers per scripted user; one sample per sentence started")
    rows = [run_seed(args, seed) for seed in range(1, args.seeds + 1)]
    for seed, r in enumerate(rows, 1):
        print(f"user {seed}: {r['samples']} samples, {r['cut']:.0f} answers cut; accuracy after "
              f"100 samples: learned {r['acc']:.1%} (rule only {r['acc_rule']:.1%}); wasted "
              f"synthesis: fixed {r['waste_fixed']:.0f} s, predictor {r['waste_pred']:.0f} s")

    def mean(k: str) -> float:
        return sum(r[k] for r in rows) / len(rows)

    print(f"MEAN over {len(rows)} users: prediction accuracy after 100 samples "
          f"{mean('acc'):.1%} (rule only {mean('acc_rule'):.1%}; target > 75%)")
    print(f"MEAN audio synthesized but never played: fixed look-ahead {args.lookahead}: "
          f"{mean('waste_fixed'):.0f} s, with predictor {mean('waste_pred'):.0f} s "
          f"({1 - mean('waste_pred') / max(mean('waste_fixed'), 1e-9):.0%} less) per "
          f"{mean('played'):.0f} s played; gaps waiting for synthesis: fixed "
          f"{mean('gap_fixed'):.1f} s, predictor {mean('gap_pred'):.1f} s")


if __name__ == "__main__":
    main()
