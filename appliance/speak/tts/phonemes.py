"""Text -> IPA with espeak-ng, keeping the punctuation the neural models use for prosody.

`espeak-ng --ipa` prints one line per clause and drops the punctuation itself, so the text is
cut at clause punctuation first, the pieces are phonemized in one call (one line each) and the
punctuation is put back between them. Kokoro and Piper both read IPA plus , . ; : ! ? marks.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

from appliance.speak.tts.base import TtsError

# Clause punctuation only where it ends a word ("3,5" and "10.30" stay whole for espeak).
_CLAUSE = re.compile(r"([.,;:!?…]+)(?=\s|$|[\"»”)])")
_DROP = str.maketrans({c: " " for c in "¿¡«»\"“”()[]"})
_HAS_WORD = re.compile(r"\w")
_PHONEME_INPUT = re.compile(r"\[\[.*?\]\]")  # espeak's own phoneme notation, e.g. [[m:]]


def espeak_binary() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        raise TtsError("espeak-ng is not installed; install it with: sudo apt install espeak-ng")
    return path


@dataclass(frozen=True)
class Clause:
    ipa: str
    punct: str  # the punctuation that ended the clause ("" for none)


def _split(text: str) -> list[tuple[str, str]]:
    """[(words, punct)] with punctuation normalised to what the models know."""
    # Keep [[...]] phoneme input intact through the bracket/quote removal.
    keep = _PHONEME_INPUT.findall(text)
    masked = _PHONEME_INPUT.sub("\x00", text).translate(_DROP)
    for k in keep:
        masked = masked.replace("\x00", k, 1)
    parts = _CLAUSE.split(masked)
    out: list[tuple[str, str]] = []
    for i in range(0, len(parts), 2):
        words = " ".join(parts[i].split())
        punct = parts[i + 1] if i + 1 < len(parts) else ""
        punct = "…" if punct.startswith("...") or "…" in punct else punct[-1:]
        if _HAS_WORD.search(words) or _PHONEME_INPUT.search(words):
            out.append((words, punct))
        elif out and punct:
            out[-1] = (out[-1][0], punct)
    return out


def _espeak(lines: list[str], voice: str) -> list[str]:
    try:
        proc = subprocess.run(
            [espeak_binary(), "-q", "--ipa", "-v", voice],
            input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TtsError(f"espeak-ng failed: {exc}") from exc
    if proc.returncode != 0:
        raise TtsError(f"espeak-ng -v {voice} failed: {proc.stderr.strip() or proc.returncode}")
    return [ln.strip() for ln in proc.stdout.splitlines() if ln.strip()]


def to_ipa(text: str, voice: str = "es") -> list[Clause]:
    """IPA per clause. One espeak call in the usual case; one per clause if espeak itself
    splits a clause (very long ones), so punctuation never lands in the wrong place."""
    pieces = _split(text)
    if not pieces:
        return []
    lines = _espeak([w for w, _ in pieces], voice)
    if len(lines) != len(pieces):
        lines = [" ".join(_espeak([w], voice)) for w, _ in pieces]
    return [Clause(ipa, punct) for ipa, (_, punct) in zip(lines, pieces, strict=True)]


def join(clauses: list[Clause]) -> str:
    return " ".join(c.ipa + c.punct for c in clauses)
