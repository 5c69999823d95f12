"""Hashed n-gram features and a multinomial logistic regression trained by our own AdaGrad.

Why this and not a neural model: a few thousand short utterances, decisions in microseconds on
a Pi, training in seconds on the device at night, and nothing to install but numpy. Words,
word bigrams and character n-grams (robust to STT misspellings) are hashed with CRC32 (stable
across processes, unlike hash()) into a fixed table; the previous turn's intent is a feature on
its own and crossed with each word, so "sí" can mean `affirm` after a template question and
stay with the LLM in the middle of an LLM conversation.
"""

from __future__ import annotations

import io
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from appliance.core import atomic

DIM = 1 << 17
FEATURE_VERSION = 1


def features(norm: str, prev_intent: str | None, lang: str) -> np.ndarray:
    """Hashed feature indices of one normalized utterance (duplicates count twice)."""
    words = norm.split()
    feats = [f"w:{w}" for w in words]
    padded = ["<s>", *words, "</s>"]
    feats += [f"b:{a}_{b}" for a, b in zip(padded, padded[1:], strict=False)]
    text = f" {norm} "
    for n in (3, 4):
        tag = f"c{n}:"  # once, not an int formatted per n-gram
        feats += [tag + text[i:i + n] for i in range(len(text) - n + 1)]
    feats.append(f"len:{min(len(words), 8)}")
    prev = prev_intent or "none"
    feats.append(f"prev:{prev}")
    feats += [f"pw:{prev}|{w}" for w in words[:6]]
    feats.append(f"lang:{lang}")
    # Hashed by map() over builtins, reduced in numpy: no bytecode and no module global per
    # feature. The generator this replaces was a fifth of the router's time, and its `% DIM`
    # loaded a shared int once per feature, whose reference count two free-threaded routing
    # threads bounced between their cores (about 700 times per bench call).
    idx = np.fromiter(map(zlib.crc32, map(str.encode, feats)), dtype=np.int64, count=len(feats))
    idx %= DIM
    return idx


@dataclass
class LinearModel:
    """Weights (DIM x classes), bias and class names; immutable once trained."""

    weights: np.ndarray
    bias: np.ndarray
    classes: tuple[str, ...]
    meta: dict

    def proba(self, idx: np.ndarray) -> np.ndarray:
        # The ufunc reductions directly: ndarray.sum/max go through Python wrappers in numpy.
        scale = 1.0 / np.sqrt(max(len(idx), 1))
        logits = np.add.reduce(self.weights[idx], axis=0) * scale + self.bias
        logits -= np.maximum.reduce(logits)
        e = np.exp(logits)
        return e / np.add.reduce(e)

    def save(self, path: Path) -> None:
        """Atomic, so a running service that reloads it never reads half a model."""
        buf = io.BytesIO()
        rows = np.flatnonzero(np.any(self.weights != 0, axis=1))
        np.savez(buf, rows=rows, values=self.weights[rows].astype(np.float32), bias=self.bias,
                 classes=np.array(self.classes), meta=np.array(json.dumps(self.meta)))
        atomic.write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        with np.load(path, allow_pickle=False) as z:
            classes = tuple(str(c) for c in z["classes"])
            weights = np.zeros((DIM, len(classes)), dtype=np.float32)
            weights[z["rows"]] = z["values"]
            return cls(weights, z["bias"].astype(np.float32), classes,
                       json.loads(str(z["meta"])))


def train(
    samples: list[np.ndarray], labels: list[str], classes: tuple[str, ...],
    sample_weight: np.ndarray | None = None, epochs: int = 8, batch: int = 64,
    lr: float = 1.0, l2: float = 1e-6, seed: int = 0,
) -> LinearModel:
    """Softmax regression by minibatch AdaGrad over sparse rows; deterministic for a seed.

    Works on a compact table of the hashed indices that occur (tens of thousands, not DIM),
    so a few thousand utterances train in a couple of seconds on a Pi-class CPU.
    """
    k = len(classes)
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[c] for c in labels], dtype=np.int64)
    sw = np.ones(len(y), np.float32) if sample_weight is None else sample_weight.astype(
        np.float32)
    lens_all = np.array([len(s) for s in samples])
    ids, compact = np.unique(np.concatenate(samples), return_inverse=True)
    bounds = np.concatenate([[0], np.cumsum(lens_all)])
    local = [compact[bounds[i]:bounds[i + 1]] for i in range(len(samples))]
    weights = np.zeros((len(ids), k), dtype=np.float32)
    accum = np.full((len(ids), k), 1e-8, dtype=np.float32)
    bias = np.zeros(k, dtype=np.float32)
    bias_accum = np.full(k, 1e-8, dtype=np.float32)
    scales = (1.0 / np.sqrt(np.maximum(lens_all, 1))).astype(np.float32)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(order), batch):
            rows_b = order[start:start + batch]
            lens = lens_all[rows_b]
            flat = np.concatenate([local[r] for r in rows_b])
            owner = np.repeat(np.arange(len(rows_b)), lens)
            occ_scale = scales[rows_b][owner][:, None]
            contrib = (weights[flat] * occ_scale).T
            logits: np.ndarray = np.stack(
                [np.bincount(owner, c, len(rows_b)) for c in contrib], axis=1)
            logits += bias
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(rows_b)), y[rows_b]] -= 1.0
            g = p * sw[rows_b][:, None] / len(rows_b)
            uniq, inv = np.unique(flat, return_inverse=True)
            occ_grad = (g[owner] * occ_scale).T
            grad = np.stack([np.bincount(inv, c, len(uniq)) for c in occ_grad], axis=1)
            grad += l2 * weights[uniq]
            accum[uniq] += grad * grad
            weights[uniq] -= lr * grad / np.sqrt(accum[uniq])
            gb = g.sum(axis=0)
            bias_accum += gb * gb
            bias -= lr * gb / np.sqrt(bias_accum)
    table = np.zeros((DIM, k), dtype=np.float32)
    table[ids] = weights
    return LinearModel(table, bias, classes, {"feature_version": FEATURE_VERSION})
