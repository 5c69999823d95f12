"""Usage log and nightly retrain: outcomes are recorded, repeats are detected, and a retrained
model replaces the current one only if held-out accuracy does not drop (both branches)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.brain.learning import RouterLog, retrain
from appliance.brain.router import (
    Router,
    RouteResult,
    data_digest,
    load_examples,
    split,
    train_model,
)

REPO = Path(__file__).resolve().parents[1]


def result(text: str, intent: str, prev: str | None = None) -> RouteResult:
    from appliance.brain.normalize import normalize

    route = "llm" if intent == "llm" else "template"
    return RouteResult(text, route, intent, {}, 0.9, 0.1, "es", intent, normalize(text), prev)


def test_outcomes_are_logged_and_persist(tmp_path: Path) -> None:
    log = RouterLog(tmp_path)
    a = log.record(result("¿Qué hora es?", "time"), ts=100.0)
    log.outcome(a, "answered")
    b = log.record(result("Cuéntame un cuento", "llm"), "interrupted", ts=200.0)  # as the
    # brain worker calls it: outcome known once the answer ended
    with pytest.raises(ValueError, match="outcome must be one of"):
        log.outcome(b, "great")
    log.close()
    rows = RouterLog(tmp_path).rows()  # reopened: it is on disk
    assert [(r["text"], r["intent"], r["outcome"]) for r in rows] == [
        ("¿Qué hora es?", "time", "answered"), ("Cuéntame un cuento", "llm", "interrupted")]
    assert rows[0]["norm"] == "que hora es" and rows[0]["route"] == "template"


def test_repeat_or_rephrase_within_10_s_is_detected(tmp_path: Path) -> None:
    log = RouterLog(tmp_path)
    first = log.record(result("pon el temporizador de cinco minutos", "farewell"), ts=10.0)
    log.outcome(first, "answered")  # played, then the user repeats: the repeat wins
    second = log.record(result("pon un temporizador de cinco minutos", "timer_set"), ts=14.0)
    log.outcome(second, "answered")
    late = log.record(result("pon un temporizador de cinco minutos", "timer_set"), ts=30.0)
    other = log.record(result("¿qué hora es?", "time"), ts=32.0)
    rows = {r["id"]: r for r in log.rows()}
    assert rows[first]["outcome"] == "repeated" and rows[second]["repeat_of"] == first
    assert rows[late]["repeat_of"] is None  # 16 s later: a new request, not a repeat
    assert rows[other]["repeat_of"] is None and rows[late]["outcome"] is None
    # the misrouted first try is learned with the intent of the answered rephrasing
    examples = {(e.text, e.intent) for e in log.training_examples()}
    assert ("pon el temporizador de cinco minutos", "timer_set") in examples
    assert ("pon un temporizador de cinco minutos", "timer_set") in examples
    assert not any(intent == "farewell" for _, intent in examples)


def _cli_retrain(state_dir: Path) -> dict:
    cfg = state_dir / "config.yaml"
    cfg.write_text(f"device:\n  state_dir: {state_dir}\n")
    p = subprocess.run([sys.executable, "-m", "appliance", "router", "retrain", "-c", str(cfg)],
                       capture_output=True, text=True, cwd=REPO, timeout=300)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_retrain_keeps_the_model_when_the_log_makes_it_worse(tmp_path: Path) -> None:
    Router.load(tmp_path)  # base model, cached
    path = Router.model_file(tmp_path)
    before = path.read_bytes()
    train, _ = split(load_examples())
    log = RouterLog(tmp_path)
    for i, ex in enumerate(e for e in train if e.intent == "time"):  # wrong "answered" labels
        for k in range(2):
            log.record(result(ex.text, "farewell", ex.prev), "answered", ts=i * 100.0 + k * 30)
    log.close()
    report = _cli_retrain(tmp_path)  # `appliance router retrain`, as the nightly timer runs it
    assert report["swapped"] is False
    assert report["n_log"] > 50
    assert report["new"]["intent_acc"] < report["old"]["intent_acc"]
    assert path.read_bytes() == before  # untouched


def test_retrain_swaps_in_a_model_that_is_not_worse(tmp_path: Path) -> None:
    train, _ = split(load_examples())
    weak = train_model(train[::8])  # e.g. the model an older, smaller data set gave
    weak.meta.update(data=data_digest())
    weak.save(Router.model_file(tmp_path))
    router = Router.load(tmp_path)
    assert router.model.meta.get("n_log") is None  # the weak one really is in use
    assert retrain(tmp_path)["swapped"] is False  # empty log: nothing to learn, no swap
    new_phrase = "échale un vistazo al reloj y dime cómo vamos de hora"
    log = RouterLog(tmp_path)
    for i in range(4):
        log.outcome(log.record(result(new_phrase, "time"), ts=i * 100.0), "answered")
    log.close()
    report = retrain(tmp_path)
    assert report["swapped"] is True, report
    assert report["new"]["intent_acc"] >= report["old"]["intent_acc"]
    assert report["n_log"] == 4
    assert router.reload_if_changed()  # a running service picks the new model up
    assert router.model.meta["n_log"] == 4
    assert router.route(new_phrase).intent == "time"
    assert not list(Router.model_file(tmp_path).parent.glob(".*.tmp"))  # atomic, no leftovers
