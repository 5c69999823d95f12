"""Incremental Spanish sentence splitter for text that streams in token by token.

A sentence is emitted as soon as the first non-space character after its terminator proves it
really ended ("Sr. García" does not end at "Sr.", "etc. Luego" does). Every decision depends
only on characters already seen, so feeding a text whole or one token at a time gives the same
sentences - the producer can start synthesizing the first sentence while the LLM still writes.

An overlong first sentence is cut at a clause boundary (comma, ; :, or before y/pero/porque...)
so the first sound is not held back by a long opening sentence.
"""

from __future__ import annotations

import re

TERMINATORS = ".?!…"
CLOSERS = "»”’)]"
OPENERS = "«“‘\"([{-—–"
CLAUSE_PUNCT = ",;:"
# Cut *before* these words (they start the next clause).
CONJUNCTIONS = (
    "y", "e", "o", "u", "ni", "pero", "porque", "aunque", "pues", "sino", "mientras", "cuando",
)
_MAX_CONJ = max(len(c) for c in CONJUNCTIONS) + 1
# Abbreviations that precede a name, a number or another abbreviation: never a sentence end.
TITLES = frozenset({
    "sr", "sra", "srta", "sres", "sras", "dr", "dra", "dres", "dras", "prof", "profa", "lic",
    "ing", "arq", "dña", "sto", "sta", "núm", "num", "nº", "art", "arts", "pág",
    "págs", "pp", "cap", "caps", "vol", "vols", "tel", "telf", "tfno", "av", "avda", "fig", "ej",
    "cía", "admón", "dpto", "depto", "gral", "cnel", "sgto", "mons", "excmo", "excma",
    "ilmo", "ilma", "ud", "uds", "vd", "vds", "ee", "mr", "mrs", "ms", "aprox", "máx",
    "mín",
})
# How far a quote may run before its terminators count again (an unbalanced LLM quote must not
# swallow the rest of the answer).
QUOTE_CAP = 300
# The characters _next_cut acts on; between them it only moves on.
_SPECIAL = re.compile("[\n«“»”\"" + re.escape(TERMINATORS) + "]")


class SentenceSplitter:
    """Feed text as it arrives; collect complete sentences. One instance per answer stream."""

    def __init__(self, first_max_chars: int = 120) -> None:
        if first_max_chars < 20:
            raise ValueError(f"first_max_chars must be >= 20, got {first_max_chars}")
        self.first_max_chars = first_max_chars
        self._buf = ""
        self._emitted = 0

    def feed(self, text: str) -> list[str]:
        """Add streamed text; returns the sentences it completed (possibly none)."""
        self._buf += text
        return self._drain(final=False)

    def flush(self) -> list[str]:
        """End of the stream: whatever is left is the last sentence. Resets for a new stream."""
        out = self._drain(final=True)
        rest = " ".join(self._buf.split())
        if rest:
            out.append(rest)
        self._buf = ""
        self._emitted = 0
        return out

    @property
    def pending(self) -> str:
        return self._buf

    def _drain(self, final: bool) -> list[str]:
        out: list[str] = []
        while True:
            cut = self._next_cut(final)
            if cut is None:
                return out
            end, resume = cut
            piece = " ".join(self._buf[:end].split())
            self._buf = self._buf[resume:]
            if piece:
                out.append(piece)
                self._emitted += 1

    # --- scanning ---------------------------------------------------------------------------

    def _next_cut(self, final: bool) -> tuple[int, int] | None:
        """(end of piece, where the rest starts), or None until more text is needed."""
        buf = self._buf
        first = self._emitted == 0
        limit = self.first_max_chars + _MAX_CONJ + 1
        quote_depth = 0
        straight_open = False
        limit_checked = False
        i = 0
        n = len(buf)
        while i < n:
            if first and i >= limit:
                # Past the first sentence's limit: every position may be a clause cut.
                if not limit_checked:
                    limit_checked = True
                    cut = _clause_cut_before(buf, self.first_max_chars)
                    if cut is not None:
                        return cut
                if i > limit:
                    at = _clause_cut_at(buf, i, final)
                    if isinstance(at, str):  # "wait": a conjunction may follow
                        return None
                    if at is not None:
                        return at
            else:
                # Elsewhere only the characters in _SPECIAL matter: one C-level search skips the
                # rest, instead of a Python loop step per character (the interpreter's cost, and
                # on the free-threaded build a larger one).
                m = _SPECIAL.search(buf, i, limit if first else n)
                if m is None:
                    i = limit if first else n
                    continue
                i = m.start()
            ch = buf[i]
            if ch == "\n":
                verdict = _hard_break(buf, i, final)
                if verdict is None:
                    return None
                if verdict and buf[:i].strip():
                    return i, i + 1
            elif ch in "«“":
                quote_depth += 1
            elif ch in "»”":
                quote_depth = max(0, quote_depth - 1)
            elif ch == '"':
                straight_open = not straight_open
            elif ch in TERMINATORS:
                j = i
                while j < n and buf[j] in TERMINATORS:
                    j += 1
                depth, straight = quote_depth, straight_open
                while j < n and (buf[j] in CLOSERS or (buf[j] == '"' and straight)):
                    if buf[j] in "»”":
                        depth = max(0, depth - 1)
                    elif buf[j] == '"':
                        straight = False
                    j += 1
                inside = (depth > 0 or straight) and i < QUOTE_CAP
                verdict = _ends_sentence(buf, i, j, final)
                if verdict is None:
                    return None
                if verdict and not inside and buf[:i].strip():
                    return j, j
                quote_depth, straight_open = depth, straight
                i = j
                continue
            i += 1
        if final and n:
            return n, n
        return None


def _ends_sentence(buf: str, start: int, end: int, final: bool) -> bool | None:
    """Whether the terminator run buf[start:end] ends a sentence; None = need more text."""
    n = len(buf)
    k = end
    while k < n and buf[k].isspace():
        k += 1
    if k == n:
        return True if final else None
    spaced = k > end
    nxt = buf[k]
    if nxt in "¿¡":
        return True
    if not spaced:
        return False  # 3.14, www.x.es, a.m., EE.UU., ?, ...
    while k < n and buf[k] in OPENERS:
        k += 1
    if k == n:
        return True if final else None
    nxt = buf[k]
    if nxt in "¿¡":
        return True
    if nxt.islower():
        return False  # "etc. y", "p. m. del", "Pues... no", "¡Qué frío! dijo"
    run = buf[start:end]
    if "?" in run or "!" in run or "…" in run or ".." in run:
        return True
    if end > start + 1:  # a period followed by closers: «... así.» Luego
        return True
    word = _word_before(buf, start)
    bare = word.lower().rstrip(".")
    if bare in TITLES:
        return False
    return not (len(word) == 1 and word.isalpha() and word.isupper())  # initials: J. R. R.


def _hard_break(buf: str, i: int, final: bool) -> bool | None:
    """A newline ends a sentence before a blank line or a list item; else it is a space."""
    k = i + 1
    while k < len(buf) and buf[k] in " \t\r":
        k += 1
    if k == len(buf):
        return True if final else None
    return buf[k] in "\n-*•" or buf[k].isdigit()


def _word_before(buf: str, pos: int) -> str:
    k = pos
    while k > 0:
        c = buf[k - 1]
        # Two literals rather than OPENERS + "¿¡", a new string at every step.
        if c.isspace() or c in OPENERS or c in "¿¡":
            break
        k -= 1
    return buf[k:pos]


def _clause_points(buf: str, upto: int) -> list[int]:
    """Clause-boundary piece ends in buf[:upto] (after , ; : or before a conjunction)."""
    points = []
    for i in range(1, min(upto, len(buf) - 1)):
        if buf[i - 1] in CLAUSE_PUNCT and buf[i].isspace():
            points.append(i)
        elif buf[i].isspace() and not buf[i - 1].isspace():
            word = _word_after(buf, i + 1)
            if word is not None and word.lower() in CONJUNCTIONS:
                points.append(i)
    return points


def _word_after(buf: str, pos: int) -> str | None:
    """The word starting at pos if it is followed by whitespace; None if undetermined/none."""
    k = pos
    while k < len(buf) and buf[k].isalpha():
        k += 1
    if k == pos or k >= len(buf) or not buf[k].isspace():
        return None
    return buf[pos:k]


def _clause_cut_before(buf: str, max_chars: int) -> tuple[int, int] | None:
    """The last clause boundary that keeps the first piece within max_chars (and not tiny)."""
    candidates = [
        p for p in _clause_points(buf, max_chars + 1)
        if max_chars // 3 <= len(buf[:p].strip()) <= max_chars
    ]
    if not candidates:
        return None
    return candidates[-1], candidates[-1]


def _clause_cut_at(buf: str, i: int, final: bool) -> tuple[int, int] | str | None:
    """A clause boundary exactly at i (past the limit); "wait" while a conjunction may follow."""
    if buf[i - 1] in CLAUSE_PUNCT and buf[i].isspace():
        return i, i
    if buf[i].isspace() and not buf[i - 1].isspace():
        k = i + 1
        while k < len(buf) and buf[k].isalpha():
            k += 1
        if k < len(buf):
            word = buf[i + 1 : k].lower()
            return (i, i) if buf[k].isspace() and word in CONJUNCTIONS else None
        partial = buf[i + 1 :].lower()
        if not final and any(c.startswith(partial) for c in CONJUNCTIONS):
            return "wait"
    return None


def split(text: str, first_max_chars: int = 120) -> list[str]:
    """All sentences of a complete text."""
    s = SentenceSplitter(first_max_chars)
    return s.feed(text) + s.flush()
