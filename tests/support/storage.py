"""A real small filesystem for state-storage faults: a tmpfs of a few KiB mounted on a test
directory, which can be filled up or remounted read-only (needs root, as CI runs; the
tests that use it are skipped with the reason elsewhere)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path


class SmallFs:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._ballast = path / "ballast"

    def fill(self) -> None:
        """Take every free block (ENOSPC for the next write)."""
        fd = os.open(self._ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * 4096)
        finally:
            os.close(fd)

    def free(self) -> None:
        self._ballast.unlink(missing_ok=True)

    def read_only(self, on: bool) -> None:
        _mount("-o", f"remount,{'ro' if on else 'rw'}", str(self.path))


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, text=True)


def can_mount() -> str:
    """'' if a tmpfs can be mounted here, else why not."""
    if os.geteuid() != 0:
        return "mounting a small tmpfs needs root"
    return ""


@contextlib.contextmanager
def small_fs(path: Path, size_kib: int = 64) -> Iterator[SmallFs]:
    path.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(path))
    try:
        yield SmallFs(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)
