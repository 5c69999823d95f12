"""A real Debian mosquitto for tests: plain and TLS listeners, password auth, persistence.

The broker runs as a child process on free loopback ports with its own directory (config,
self-signed CA and server certificate with SAN, password file, persistence file). ``restart``
stops it with SIGTERM (mosquitto then saves its persistent sessions) and starts it again on the
same ports. The process is always killed in a ``finally``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

USER = "appliance"
PASSWORD = "s3cret-pw"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(*cmd: str, cwd: Path) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certs(d: Path) -> None:
    """CA + server certificate for localhost / 127.0.0.1 (SAN), signed by that CA."""
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _run("openssl", "req", "-x509", *ec, "-days", "2", "-keyout", "ca.key", "-out", "ca.crt",
         "-subj", "/CN=appliance test CA", cwd=d)
    _run("openssl", "req", *ec, "-keyout", "server.key", "-out", "server.csr",
         "-subj", "/CN=localhost", cwd=d)
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext", cwd=d)
    _run("openssl", "req", *ec, "-keyout", "client.key", "-out", "client.csr",
         "-subj", "/CN=appliance", cwd=d)
    _run("openssl", "x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "client.crt", "-days", "2", cwd=d)


@dataclass
class Broker:
    dir: Path
    port: int
    tls_port: int
    mtls_port: int = 0  # TLS that also requires a client certificate signed by the CA
    proc: subprocess.Popen[bytes] | None = None

    @property
    def ca_file(self) -> str:
        return str(self.dir / "ca.crt")

    @property
    def log(self) -> str:
        p = self.dir / "mosquitto.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def write_config(self) -> None:
        if not (self.dir / "ca.crt").exists():
            make_certs(self.dir)
        pw = self.dir / "passwd"
        if not pw.exists():
            pw.touch(mode=0o600)
            _run("mosquitto_passwd", "-b", str(pw), USER, PASSWORD, cwd=self.dir)
        lines = [
            "per_listener_settings false",
            "allow_anonymous false",
            f"password_file {pw}",
            # mosquitto drops QoS 1 messages past 1,000 queued for a slow subscriber: a test
            # probe watching a flood of 2,000 events would miss some that were sent.
            "max_queued_messages 100000",
            "persistence true",
            f"persistence_location {self.dir}/",
            f"log_dest file {self.dir / 'mosquitto.log'}",
            "log_type all",
            f"listener {self.port} 127.0.0.1",
            f"listener {self.tls_port} 127.0.0.1",
            f"cafile {self.dir / 'ca.crt'}",
            f"certfile {self.dir / 'server.crt'}",
            f"keyfile {self.dir / 'server.key'}",
        ]
        if self.mtls_port:
            lines += [
                f"listener {self.mtls_port} 127.0.0.1",
                f"cafile {self.dir / 'ca.crt'}",
                f"certfile {self.dir / 'server.crt'}",
                f"keyfile {self.dir / 'server.key'}",
                "require_certificate true",
            ]
        if os.geteuid() == 0:
            lines.insert(0, "user root")
        (self.dir / "mosquitto.conf").write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        self.write_config()
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.dir / "mosquitto.conf")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}:\n{self.log}")
            with contextlib.suppress(OSError), socket.create_connection(
                ("127.0.0.1", self.port), timeout=0.2
            ):
                return
            time.sleep(0.02)
        raise RuntimeError(f"mosquitto did not listen on {self.port}:\n{self.log}")

    def stop(self) -> None:
        """SIGTERM: mosquitto writes its persistence file (sessions, queued QoS 1) and exits."""
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        finally:
            self.proc = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextlib.contextmanager
def running_broker(tmp: Path) -> Iterator[Broker]:
    d = tmp / "broker"
    d.mkdir(parents=True, exist_ok=True)
    broker = Broker(d, free_port(), free_port(), free_port())
    try:
        broker.start()
        yield broker
    finally:
        broker.kill()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    if shutil.which("mosquitto") is None:
        pytest.fail("mosquitto is not installed (scripts/setup.sh installs it)")
    with running_broker(tmp_path) as b:
        yield b
