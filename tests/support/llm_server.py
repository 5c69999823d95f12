"""Chat-completions servers on loopback for the LLM backend's tests.

- ``LlamaServer``: llama-cpp-python's own OpenAI-compatible server (``python -m
  llama_cpp.server``, the package's ``server`` extra) serving the packaged Gemma model, a child
  process on a free port with an API key; killed in a ``finally``.
- ``FaultyServer``: a tiny ``http.server`` of ours for what llama.cpp's server cannot be made
  to do - answer HTTP 500, accept a request and never answer, send malformed event-stream
  lines. Those faults come from servers and networks we do not own, so a stand-in plays them;
  everything else is tested against the real server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from appliance.system.modelstore import ModelStore
from tests.support.broker import free_port

MODEL = "gemma-3-270m"
API_KEY = "s3cret-llm-key"


@dataclass
class LlamaServer:
    port: int
    log: Path
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@contextmanager
def llama_server(directory: Path, cache_dir: Path, threads: int = 1) -> Iterator[LlamaServer]:
    """The packaged Gemma behind llama.cpp's server, ready (its model list answers)."""
    model = ModelStore(cache_dir).resolve(MODEL)
    port = free_port()
    log = directory / f"llama-server-{port}.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model),
           "--model_alias", MODEL, "--n_ctx", "1024", "--n_threads", str(threads),
           "--n_threads_batch", str(threads), "--chat_format",
           "gemma", "--host", "127.0.0.1", "--port", str(port), "--api_key", API_KEY]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    server = LlamaServer(port, log, proc)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"llama server died:\n{server.log_text()[-2000:]}"
            assert time.monotonic() < deadline, "llama server did not start in 120 s"
            try:
                r = httpx.get(f"{server.url}/models", timeout=2,
                              headers={"Authorization": f"Bearer {API_KEY}"})
                if r.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield server
    finally:
        server.kill()


@dataclass
class FaultyServer:
    """Base URLs ``url(mode)``: ``http500``, ``hang`` (reads the request, never answers),
    ``garbage`` (an event stream of malformed lines). ``posts`` counts requests per mode."""

    port: int = 0
    posts: Counter[str] = field(default_factory=Counter)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.port}/{mode}/v1"


def _handler(state: FaultyServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
            pass

        def _send(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            listing = {"object": "list", "data": [{"id": MODEL, "object": "model"}]}
            self._send(200, json.dumps(listing).encode(), "application/json")

        def do_POST(self) -> None:  # noqa: N802
            mode = self.path.split("/")[1]
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.posts[mode] += 1
            if mode == "http500":
                err = {"error": {"message": "the model crashed", "type": "server_error"}}
                self._send(500, json.dumps(err).encode(), "application/json")
            elif mode == "hang":
                state.release.wait(60)  # accepted, read, never answered
                self.close_connection = True
            elif mode == "garbage":
                body = (b": a comment\n\nthis line has no colon\n\n"
                        b"data: {\"choices\": [{\"delta\": {\"content\": \"Hola\"\n\n"
                        b"data: [DONE]\n\n")
                self._send(200, body, "text/event-stream")
            else:
                self._send(404, b"{}", "application/json")

    return Handler


@contextmanager
def faulty_server() -> Iterator[FaultyServer]:
    state = FaultyServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, name="faulty-llm", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
