"""Interrupt predictor and look-ahead policy; filler policy (pure logic, no models)."""

from __future__ import annotations

import random

from appliance.brain.filler_policy import FillerPolicy
from appliance.brain.scheduler import InterruptPredictor, plan


def test_rule_based_until_warmup():
    pred = InterruptPredictor(warmup=50)
    assert pred.predict(0, 8, 600) == 0.6
    assert pred.predict(0, 3, 200) == 0.2
    for _ in range(49):
        pred.observe(0, 8, 600, False)
    assert not pred.trained and pred.predict(0, 8, 600) == 0.6


def test_learns_a_pattern_and_retrains_every_50():
    """A user who always cuts long answers and never short ones: learned p separates them."""
    rng = random.Random(3)
    pred = InterruptPredictor(warmup=50, retrain_every=50)
    for _ in range(60):
        n = rng.choice([1, 2, 3, 7, 9])
        cut = n > 5
        for i in range(min(n, 3)):
            pred.observe(i, n, n * 80, cut)
        pred.answer_done(cut)
    assert pred.trained
    assert pred.predict(1, 9, 720) > 0.8
    assert pred.predict(0, 2, 160) < 0.2
    assert pred.accuracy(skip=100) > 0.9


def test_plan_thresholds():
    assert plan(0.5, 3).lookahead == 3 and not plan(0.5, 3).wait_for_end
    assert plan(0.75, 3).lookahead == 2 and not plan(0.75, 3).wait_for_end
    hold = plan(0.95, 3)
    assert hold.wait_for_end and hold.lookahead == 1


def test_filler_policy_follows_the_ewma():
    pol = FillerPolicy(threshold_s=0.6, alpha=0.5)
    assert pol.should_fill()  # nothing measured: cover the wait
    pol.observe(2.0)
    assert pol.should_fill()
    for _ in range(6):
        pol.observe(0.2)
    assert not pol.should_fill() and pol.predicted_s < 0.6
    pol.observe(3.0)
    assert pol.should_fill()
