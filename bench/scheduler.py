"""Interrupt predictor: accuracy on a scripted user, and audio synthesized but never played.

SIMULATED, not measured on audio: sentence durations come from their length (14 chars/s) and
synthesis takes ``--rtf`` x the duration; playback and synthesis are stepped in 20 ms ticks.
The scripted user follows a pattern (with noise): long answers (>= 6 sentences) are usually
cut at the 3rd sentence, medium ones sometimes near their end, short ones rarely; during
"hurried" stretches (10 answers in every 40) the user cuts almost everything after the first
sentence. Both arms see the same answers; the predictor learns online from the stream.

    .venv/bin/python bench/scheduler.py [--answers 200] [--rtf 0.4] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass

from appliance.brain.scheduler import InterruptPredictor, Plan, may_start_next, plan

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
                j > cur + 1 or may_start_next(pl, left, rtf * dur[j], margin_s)))
            if allowed:
                busy_start, busy_until = t, t + rtf * dur[j]
        t += DT


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--answers", type=int, default=200)
    ap.add_argument("--rtf", type=float, default=0.4, help="synthesis time / audio time")
    ap.add_argument("--lookahead", type=int, default=3, help="the fixed arm (speak.lookahead)")
    ap.add_argument("--margin", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    answers = scripted_user(args.answers, random.Random(args.seed))
    learned = InterruptPredictor()
    rule_only = InterruptPredictor(warmup=10**9)
    waste = {"fixed": 0.0, "predictor": 0.0}
    gaps = {"fixed": 0.0, "predictor": 0.0}
    spoken = 0.0
    for ans in answers:
        n, chars = len(ans.chars), sum(ans.chars)
        w, g = simulate(ans, lambda cur: Plan(0.0, args.lookahead, False), args.rtf, args.margin)
        waste["fixed"] += w
        gaps["fixed"] += g
        w, g = simulate(ans, lambda cur, n=n, chars=chars: plan(learned.predict(cur, n, chars),
                                                                 args.lookahead),
                        args.rtf, args.margin)
        waste["predictor"] += w
        gaps["predictor"] += g
        last = n - 1 if ans.cut_at is None else ans.cut_at
        spoken += sum(ans.chars[: last + 1]) / CHARS_PER_S
        for i in range(last + 1):
            for pred in (learned, rule_only):
                pred.observe(i, n, chars, ans.cut_at is not None)
        for pred in (learned, rule_only):
            pred.answer_done(ans.cut_at is not None)

    print(f"scripted user: {args.answers} answers, {learned.samples} samples (one per sentence "
          f"started), {sum(a.cut_at is not None for a in answers)} interrupted; SIMULATED "
          f"timing (rtf {args.rtf}, {CHARS_PER_S:.0f} chars/s, margin {args.margin}s)")
    print(f"prediction accuracy after 100 samples: learned {learned.accuracy(100):.1%}  "
          f"(rule only: {rule_only.accuracy(100):.1%}; first 100: {learned.accuracy(0):.1%} "
          "overall incl. warm-up)")
    print(f"audio synthesized but never played: fixed look-ahead {args.lookahead}: "
          f"{waste['fixed']:.1f} s, with predictor: {waste['predictor']:.1f} s "
          f"({1 - waste['predictor'] / max(waste['fixed'], 1e-9):.0%} less)")
    print(f"gaps waiting for synthesis: fixed {gaps['fixed']:.1f} s, predictor "
          f"{gaps['predictor']:.1f} s; audio played {spoken:.0f} s")


if __name__ == "__main__":
    main()
