"""Checks that an installed model is what the manifest says, byte for byte.

Fetched models are checked against the file list recorded at install time (the archive itself
is gone); assembled packaged models against the manifest's sha256 and their package sources.
Used by `appliance models verify` and `appliance doctor`.
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.system.fetch import check_file_list
from appliance.system.modelstore import ModelMissing, ModelStore, package_file, sha256_file


@dataclass(frozen=True)
class Verdict:
    name: str
    ok: bool
    status: str  # ok | missing | assemble | corrupt
    detail: str


def verify_model(store: ModelStore, name: str) -> Verdict:
    spec = store.spec(name)
    status = store.status(name)
    fix = store.how_to_get(spec)
    if status == "missing":
        return Verdict(name, False, "missing", f"not installed; get it with: {fix}")
    if status == "assemble":
        return Verdict(name, False, "assemble",
                       "packaged parts installed but not assembled; run: appliance models prepare")
    if spec.path:
        return Verdict(name, True, "ok", f"in package ({package_file(spec.path)})")
    target = store.dir_for(name)
    problems: list[str] = []
    try:
        if spec.pip:
            if spec.concat_target and spec.concat_sha256:
                digest = sha256_file(target / spec.concat_target)
                if digest != spec.concat_sha256:
                    problems.append(f"{spec.concat_target} sha256 {digest[:12]}... differs")
            for ref in spec.copy:
                src = package_file(ref)
                dst = target / src.name
                if not dst.is_file():
                    problems.append(f"{src.name} is missing")
                elif sha256_file(dst) != sha256_file(src):
                    problems.append(f"{src.name} differs from its package copy")
        else:
            problems = check_file_list(target)
    except (OSError, ModelMissing) as exc:
        problems.append(str(exc))
    if problems:
        again = "appliance models prepare" if spec.pip else f"appliance models fetch --force {name}"
        return Verdict(name, False, "corrupt", "; ".join(problems) + f"; reinstall: {again}")
    unverified = not spec.pip and (target / ".complete").read_text().strip() == "unverified"
    note = " (installed without a manifest sha256)" if unverified else ""
    return Verdict(name, True, "ok", f"verified {target}{note}")
