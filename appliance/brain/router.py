"""Instant answer or LLM? A learned intent classifier plus slot parsing, decided in microseconds.

The model is trained from the paraphrase data committed in appliance/brain/data (base data)
on first use and cached under the state directory; `appliance router retrain` (learning.py)
may later replace that cache with a model that also learned from the usage log, but only if it
is no worse on the held-out part of the base data. Low confidence goes to the LLM: a wrong
instant answer costs more than a filler and a slower right one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from appliance.brain import classifier
from appliance.brain.home import home_slots
from appliance.brain.normalize import detect_lang, normalize
from appliance.brain.numbers import parse_duration, parse_timer_name

INTENTS: tuple[str, ...] = (
    "greeting", "farewell", "thanks", "time", "date", "timer_set", "timer_cancel",
    "timer_query", "volume_up", "volume_down", "stop", "identity", "how_are_you", "affirm",
    "deny", "home",
)
LLM = "llm"
CLASSES: tuple[str, ...] = (*INTENTS, LLM)
DATA_PATH = Path(__file__).parent / "data" / "router_train.jsonl"
HELDOUT_PERCENT = 20
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    prev: str | None = None
    group: str = ""
    slots: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RouteResult:
    """route is 'template', 'home' (for Home Assistant) or 'llm'; intent is 'llm' when routed
    there, top_intent the best template intent the classifier saw (for logs and retraining)."""

    text: str
    route: str
    intent: str
    slots: dict
    confidence: float
    ms: float
    lang: str
    top_intent: str
    norm: str
    prev_intent: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def route_of(intent: str) -> str:
    return intent if intent in (LLM, "home") else "template"


def load_examples(path: Path = DATA_PATH) -> list[Example]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                out.append(Example(d["text"], d["intent"], d.get("prev"), d.get("group", ""),
                                   d.get("slots", {})))
            except (ValueError, KeyError) as exc:
                raise ValueError(f"{path}:{n}: bad training line ({exc})") from exc
    return out


def is_heldout(ex: Example, by: str = "text") -> bool:
    """Deterministic split by a stable hash. by='text': the normalized text (with the previous
    intent), so no held-out utterance occurs in training in either STT style. by='pattern':
    whole paraphrase patterns, i.e. sentence shapes never seen at all (a stricter figure that
    the benchmark reports too)."""
    key = (ex.group or ex.text) if by == "pattern" else f"{normalize(ex.text)}|{ex.prev}"
    return zlib.crc32(key.encode()) % 100 < HELDOUT_PERCENT


def split(examples: list[Example], by: str = "text") -> tuple[list[Example], list[Example]]:
    train = [e for e in examples if not is_heldout(e, by)]
    held = [e for e in examples if is_heldout(e, by)]
    return train, held


def data_digest(path: Path = DATA_PATH) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def featurize(text: str, prev: str | None) -> tuple[str, str, np.ndarray]:
    norm = normalize(text)
    lang = detect_lang(norm)
    return norm, lang, classifier.features(norm, prev, lang)


def train_model(examples: list[Example], weights: list[float] | None = None,
                seed: int = 0) -> classifier.LinearModel:
    samples = [featurize(e.text, e.prev)[2] for e in examples]
    sw = None if weights is None else np.asarray(weights, dtype=np.float32)
    model = classifier.train(samples, [e.intent for e in examples], CLASSES, sw, seed=seed)
    return model


def extract_slots(intent: str, norm: str) -> dict:
    if intent == "home":
        return home_slots(norm)
    slots: dict = {}
    if intent == "timer_set":
        seconds = parse_duration(norm)
        if seconds is not None:
            slots["seconds"] = seconds
    if intent in ("timer_set", "timer_cancel", "timer_query"):
        name = parse_timer_name(norm)
        if name:
            slots["name"] = name
    if intent in ("timer_cancel", "timer_query") and any(
        w in norm.split() for w in ("todos", "todas", "all", "every")
    ):
        slots["all"] = True
    return slots


class Router:
    """Thread-safe after construction: route() reads the model reference once per call (an
    attribute load is atomic, so readers take no lock); a reload swaps it under a lock."""

    def __init__(self, model: classifier.LinearModel, threshold: float = 0.6,
                 model_path: Path | None = None) -> None:
        self._model = model
        self.threshold = threshold
        self.model_path = model_path
        self._lock = threading.Lock()  # orders reloads; readers never wait on it
        self._mtime = model_path.stat().st_mtime_ns if model_path and model_path.exists() else 0

    @property
    def model(self) -> classifier.LinearModel:
        # No lock: the free-threaded build made every classify() take and release one shared
        # mutex, a cache line that two routing threads bounced between cores for nothing.
        return self._model

    @staticmethod
    def model_file(state_dir: str | Path) -> Path:
        return Path(state_dir) / "router" / "model.npz"

    @classmethod
    def load(cls, state_dir: str | Path, threshold: float = 0.6,
             data_path: Path = DATA_PATH) -> Router:
        """The cached model if it was built from this base data, else train (seconds) and cache."""
        path = cls.model_file(state_dir)
        digest = data_digest(data_path)
        if path.exists():
            try:
                model = classifier.LinearModel.load(path)
                ok = (model.meta.get("data") == digest and model.classes == CLASSES
                      and model.meta.get("feature_version") == classifier.FEATURE_VERSION)
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
                log.warning("router: cached model %s unreadable (%s); retraining", path, exc)
                ok = False
            if ok:
                return cls(model, threshold, path)
        model = build_base_model(data_path)
        try:
            model.save(path)
        except OSError as exc:  # read-only state: still route, just retrain next start
            log.warning("router: cannot cache the model at %s: %s", path, exc)
            return cls(model, threshold, None)
        return cls(model, threshold, path)

    def reload_if_changed(self) -> bool:
        """Pick up a model swapped in by `appliance router retrain` without a restart."""
        if not self.model_path or not self.model_path.exists():
            return False
        mtime = self.model_path.stat().st_mtime_ns
        if mtime == self._mtime:
            return False
        model = classifier.LinearModel.load(self.model_path)
        with self._lock:  # a pointer swap: route() keeps the model it already read
            self._model, self._mtime = model, mtime
        return True

    def classify(self, text: str, prev_intent: str | None = None) -> tuple[str, float, str, str]:
        """(top intent, its probability, normalized text, language)."""
        norm, lang, feats = featurize(text, prev_intent)
        model = self._model  # one snapshot: a concurrent reload cannot mix two models
        p = model.proba(feats)
        best = int(p.argmax())
        return model.classes[best], float(p[best]), norm, lang

    def route(self, text: str, prev_intent: str | None = None) -> RouteResult:
        t0 = time.perf_counter()
        top, conf, norm, lang = self.classify(text, prev_intent)
        if not norm:
            top, conf = LLM, 0.0
        templ = top != LLM and conf >= self.threshold
        intent = top if templ else LLM
        slots = extract_slots(intent, norm) if templ else {}
        ms = (time.perf_counter() - t0) * 1000.0
        return RouteResult(text, route_of(intent), intent, slots, round(conf, 4),
                           round(ms, 3), lang, top, norm, prev_intent)


def build_base_model(data_path: Path = DATA_PATH) -> classifier.LinearModel:
    train, held = split(load_examples(data_path))
    t0 = time.perf_counter()
    model = train_model(train)
    model.meta.update(data=data_digest(data_path), train_s=round(time.perf_counter() - t0, 2),
                      n_train=len(train), n_log=0)
    model.meta.update(evaluate(model, held))
    return model


def evaluate(model: classifier.LinearModel, examples: list[Example],
             threshold: float = 0.6) -> dict:
    """Route and intent accuracy (with the LLM fallback threshold applied)."""
    router = Router(model, threshold)
    route_ok = intent_ok = 0
    for e in examples:
        r = router.route(e.text, e.prev)
        route_ok += r.route == route_of(e.intent)
        intent_ok += r.intent == e.intent
    n = max(len(examples), 1)
    return {"route_acc": round(route_ok / n, 4), "intent_acc": round(intent_ok / n, 4),
            "n_heldout": len(examples)}
