"""Files and directories replaced atomically: a power cut leaves the old or the new, never half.

State files (timers, volume, the router model) and caches (rendered audio, assembled models)
all use these, so a crash or a full disk can never leave a truncated file that bricks the
next start.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to a temp file beside ``path``, fsync it (``durable``), rename over."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, doc: Any, *, durable: bool = True) -> None:
    write_bytes(path, json.dumps(doc, indent=1, ensure_ascii=False).encode("utf-8"),
                durable=durable)


@contextlib.contextmanager
def staged_dir(target: Path) -> Iterator[Path]:
    """A fresh directory beside ``target`` to fill; on a clean exit it replaces ``target``
    (the old copy is removed only after the new one is in place), on an error it vanishes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        replace_dir(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def replace_dir(staged: Path, target: Path) -> None:
    """Move ``staged`` to ``target``; an existing ``target`` is moved aside first and removed
    after, so a reader sees the old or the new tree."""
    old: Path | None = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
        os.replace(target, old / "content")
    try:
        os.replace(staged, target)
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
