"""A real local HTTP server (http.server in a thread) serving in-memory files, with Range
support and scripted faults: a connection that drops mid-body, a server that ignores Range."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Served:
    body: bytes
    cut_after: int | None = None  # announce the full length, send this many bytes, hang up
    cuts_left: int = 0  # how many requests get cut (then it behaves)
    ranges: bool = True  # honour Range requests


@dataclass
class FileServer:
    files: dict[str, Served] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, Range header)
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _handler(server: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            rng = self.headers.get("Range", "")
            with server.lock:
                server.requests.append((self.path, rng))
                f = server.files.get(self.path)
                cut = f is not None and f.cut_after is not None and f.cuts_left > 0
                if cut:
                    f.cuts_left -= 1
            if f is None:
                self.send_error(404)
                return
            start = 0
            m = re.fullmatch(r"bytes=(\d+)-", rng)
            if m and f.ranges:
                start = int(m.group(1))
                if start >= len(f.body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(f.body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(f.body) - 1}/{len(f.body)}")
            else:
                self.send_response(200)
            body = f.body[start:]
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes" if f.ranges else "none")
            if cut:
                self.send_header("Connection", "close")
            self.end_headers()
            if cut:
                assert f.cut_after is not None
                self.wfile.write(body[: f.cut_after])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    state = FileServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, name="http-files", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
