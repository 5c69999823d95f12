"""The router learns from use: every decision and what happened next goes to SQLite, and a
nightly retrain folds that log into the model only if it does not get worse.

Outcomes: `answered` (the answer played out), `interrupted` (the user cut it off), `repeated`
(within 10 s the user said it again or rephrased it - the answer was probably wrong). A
repeated utterance whose rephrasing was then answered is relabelled with the rephrasing's
intent: that is the correction signal. Interrupted ones are kept in the log but not trained on
(an interruption may just mean "enough"). Held-out texts of the base data never enter training
from the log, so the swap gate stays an honest measurement.
"""

from __future__ import annotations

import difflib
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from appliance.brain.normalize import normalize
from appliance.brain.router import (
    CLASSES,
    DATA_PATH,
    Example,
    Router,
    RouteResult,
    data_digest,
    evaluate,
    load_examples,
    split,
    train_model,
)

OUTCOMES = ("answered", "interrupted", "repeated")
REPEAT_WINDOW_S = 10.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS routed (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    text TEXT NOT NULL,
    norm TEXT NOT NULL,
    prev_intent TEXT,
    route TEXT NOT NULL,
    intent TEXT NOT NULL,
    top_intent TEXT NOT NULL,
    confidence REAL NOT NULL,
    outcome TEXT,
    repeat_of INTEGER REFERENCES routed(id)
);
CREATE INDEX IF NOT EXISTS routed_ts ON routed(ts);
"""


def similar(a: str, b: str) -> bool:
    """Same request again: near-identical text, or mostly the same words in another order."""
    if not a or not b:
        return False
    wa, wb = set(a.split()), set(b.split())
    jaccard = len(wa & wb) / len(wa | wb)
    return jaccard >= 0.5 or difflib.SequenceMatcher(None, a, b).ratio() >= 0.7


class RouterLog:
    """One connection, guarded by a lock: safe from the brain worker and other threads."""

    def __init__(self, state_dir: str | Path, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(state_dir) / "router" / "log.sqlite3"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable enough, one fsync less
        self._db.executescript(_SCHEMA)
        self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def record(self, result: RouteResult, outcome: str | None = None,
               ts: float | None = None) -> int:
        """Log a routing decision (with its outcome if already known, else set it later with
        `outcome()`); if it repeats the previous one within 10 s, mark that one `repeated`
        and link them. Returns the new row id."""
        if outcome is not None and outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
        ts = self.clock() if ts is None else ts
        with self._lock, self._db:
            prev = self._db.execute(
                "SELECT id, ts, norm FROM routed ORDER BY id DESC LIMIT 1").fetchone()
            repeat_of = None
            if prev and 0 <= ts - prev[1] <= REPEAT_WINDOW_S and similar(prev[2], result.norm):
                repeat_of = prev[0]
                self._db.execute("UPDATE routed SET outcome='repeated' WHERE id=?", (prev[0],))
            cur = self._db.execute(
                "INSERT INTO routed (ts, text, norm, prev_intent, route, intent, top_intent,"
                " confidence, outcome, repeat_of) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (ts, result.text, result.norm, result.prev_intent, result.route, result.intent,
                 result.top_intent, result.confidence, outcome, repeat_of))
            return int(cur.lastrowid or 0)

    def outcome(self, row_id: int, outcome: str) -> None:
        """answered / interrupted; never overrides `repeated` (the stronger signal)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
        with self._lock, self._db:
            self._db.execute(
                "UPDATE routed SET outcome=? WHERE id=? AND (outcome IS NULL OR outcome!="
                "'repeated')", (outcome, row_id))

    def rows(self) -> list[dict]:
        with self._lock:
            cur = self._db.execute("SELECT * FROM routed ORDER BY id")
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def training_examples(self) -> list[Example]:
        """Answered decisions as they were made, and repeated ones relabelled with the intent
        of the rephrasing that finally got answered."""
        rows = self.rows()
        by_id = {r["id"]: r for r in rows}
        fixed: dict[int, str] = {}
        for r in rows:
            if r["repeat_of"] is not None and r["outcome"] == "answered":
                first = by_id.get(r["repeat_of"])
                while first is not None:
                    fixed.setdefault(first["id"], r["intent"])
                    first = by_id.get(first["repeat_of"]) if first["repeat_of"] else None
        out = []
        for r in rows:
            if r["outcome"] == "answered":
                out.append(Example(r["text"], r["intent"], r["prev_intent"], "log"))
            elif r["outcome"] == "repeated" and r["id"] in fixed:
                out.append(Example(r["text"], fixed[r["id"]], r["prev_intent"], "log"))
        return out


def retrain(state_dir: str | Path, threshold: float = 0.6,
            data_path: Path = DATA_PATH) -> dict:
    """Train on base data + log; replace the cached model (atomically) only if held-out route
    and intent accuracy both stay at least as good as the current model's."""
    t0 = time.perf_counter()
    train, held = split(load_examples(data_path))
    current = Router.load(state_dir, threshold, data_path)
    old = evaluate(current.model, held, threshold)
    held_texts = {(normalize(e.text), e.prev) for e in held}
    log = RouterLog(state_dir)
    try:
        logged = [e for e in log.training_examples() if e.intent in CLASSES
                  and (normalize(e.text), e.prev) not in held_texts]
    finally:
        log.close()
    if not logged:
        return {"swapped": False, "reason": "nothing new in the log", "old": old, "new": old,
                "n_log": 0, "seconds": round(time.perf_counter() - t0, 2),
                "model": str(Router.model_file(state_dir))}
    model = train_model(train + logged)
    new = evaluate(model, held, threshold)
    swap = new["route_acc"] >= old["route_acc"] and new["intent_acc"] >= old["intent_acc"]
    if swap:
        model.meta.update(new, data=data_digest(data_path), n_train=len(train),
                          n_log=len(logged), trained_at=time.time())
        model.save(Router.model_file(state_dir))
    return {"swapped": swap, "old": old, "new": new, "n_log": len(logged),
            "seconds": round(time.perf_counter() - t0, 2),
            "model": str(Router.model_file(state_dir))}
