"""The MQTT face of the control plane: one worker thread owning one paho client.

The worker drives paho's network loop itself (``loop()`` in ``step``), so reconnects use our
own backoff, the supervisor's heartbeat stays fresh while the broker is away, and a crash is
restarted like any other stage. State, events and errors may be published from any thread:
paho queues them and only this worker's thread writes the socket (two threads writing one
socket could interleave partial packets). State publishes are ordered by a sequence number so
a reconnect's full republish can never overwrite a newer change with an older one.

Commands arrive with QoS 1 on a persistent session (clean session off), so the broker keeps
what was sent while we were away. QoS 1 may deliver twice when an acknowledgement was lost in a
disconnect; a redelivery (DUP flag) of a message already executed is dropped. The session
belongs to a client id that is stable on one unit and different on every other one
(``default_client_id``), so two appliances never log each other off the broker.

Nothing may escape a paho callback: paho would abandon the CONNACK or message it was handling
and the worker would crash-loop while the broker still shows it online. Every callback is
guarded, and a document that cannot be published is logged and skipped, never raised.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import json
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from appliance import __version__
from appliance.config import MqttSettings
from appliance.control.commands import CommandError
from appliance.control.controller import Controller
from appliance.control.discovery import Topics, discovery_payload, topics_for
from appliance.control.state import EntityEvent, Snapshot
from appliance.pipeline.backoff import Backoff
from appliance.pipeline.worker import Worker

MACHINE_ID = Path("/etc/machine-id")


def default_client_id(device_id: str, machine_id: Path = MACHINE_ID) -> str:
    """``<device id>-<12 hex>``: an app-specific hash of the machine id (never the id itself,
    which systemd asks to keep private), or of the host name where there is none."""
    try:
        seed = machine_id.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        seed = ""
    digest = hashlib.sha256(f"appliance-mqtt:{seed or socket.gethostname()}".encode())
    return f"{device_id}-{digest.hexdigest()[:12]}"


class MqttWorker(Worker):
    name = "mqtt"

    def __init__(
        self,
        settings: MqttSettings,
        controller: Controller,
        *,
        device_id: str,
        device_name: str = "",
        machine_id: Path = MACHINE_ID,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.client_id = settings.client_id or default_client_id(device_id, machine_id)
        self.controller = controller
        self.state = controller.state
        self.device_id = device_id
        self.device_name = device_name or device_id
        self.topics: Topics = topics_for(device_id, settings.base_topic, settings.discovery_prefix)
        self._client: paho.Client | None = None
        self._connected = threading.Event()
        self._subscribed = threading.Event()  # the broker acknowledged our subscriptions
        self._sub_mid = -1
        self._socket_open = False
        self._answered = False  # a CONNACK arrived for the current attempt
        self._next_try = 0.0
        self._next_diag = 0.0
        self._pub_lock = threading.Lock()
        self._last_seq = -1
        self._seen: collections.deque[tuple[int, str, int]] = collections.deque(maxlen=256)
        self._backoff = Backoff(self.log, settings.reconnect_min_s, settings.reconnect_max_s)
        self._unsubscribe: list[Callable[[], None]] = []
        self.connects = 0  # successful connections so far (read by tests and the bench)
        self.attempts = 0  # connection attempts so far

    # --- lifecycle --------------------------------------------------------------------------

    def setup(self) -> None:
        s = self.settings
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=False,
            protocol=paho.MQTTv311,
            reconnect_on_failure=False,
        )
        client.will_set(self.topics.availability, "offline", qos=1, retain=True)
        if s.username:
            client.username_pw_set(s.username, s.resolved_password())
        if s.tls.ca_file:
            client.tls_set(
                ca_certs=s.tls.ca_file,
                certfile=s.tls.cert_file or None,
                keyfile=s.tls.key_file or None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        client.on_connect = self._guarded(self._on_connect)
        client.on_disconnect = self._guarded(self._on_disconnect)
        client.on_subscribe = self._guarded(self._on_subscribe)
        client.on_message = self._guarded(self._on_message)
        # Registering a write callback stops publish() from writing the socket in the caller's
        # thread: every socket write then happens here, in loop(), woken by paho's socketpair.
        client.on_socket_register_write = _writes_happen_in_loop
        client.connect_async(s.host, s.port, keepalive=s.keepalive)
        self._client = client
        self._socket_open = False
        self._next_try = 0.0
        self._unsubscribe = [
            self.state.subscribe(self._on_state),
            self.state.subscribe_events(self._on_event),
        ]

    def step(self) -> None:
        client = self._client
        assert client is not None
        now = time.monotonic()
        if not self._socket_open:
            if now < self._next_try:
                time.sleep(min(0.1, self._next_try - now))
                return
            self.attempts += 1
            try:
                self._answered = False
                client.reconnect()
                self._socket_open = True
            except (OSError, ssl.SSLError, ValueError) as exc:
                self._retry_later(f"MQTT connect to {self.settings.host}:{self.settings.port}", exc)
            return
        rc = client.loop(timeout=0.1)
        if rc != paho.MQTT_ERR_SUCCESS:
            self._socket_open = False
            self._connected.clear()
            self._subscribed.clear()
            why = paho.error_string(rc)
            if not self._answered:
                why = "the broker closed the connection before answering the CONNECT"
                if self.settings.tls.ca_file and not self.settings.tls.cert_file:
                    why += " (does it require a client certificate? see mqtt.tls.cert_file)"
            self._retry_later("MQTT connection", ConnectionError(why))
            return
        if self._connected.is_set() and now >= self._next_diag:
            self._next_diag = now + self.settings.diagnostics_interval_s
            self._publish(self.topics.diagnostics, self.state.diagnostics(), retain=True)

    def teardown(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        client, self._client = self._client, None
        if client is None:
            return
        if self._connected.is_set():
            info = client.publish(self.topics.availability, "offline", qos=1, retain=True)
            deadline = time.monotonic() + 1.0
            while not info.is_published() and time.monotonic() < deadline:
                client.loop(timeout=0.05)
        self._connected.clear()
        self._subscribed.clear()
        try:
            client.disconnect()
            client.loop(timeout=0.05)
        except Exception:  # a half-open socket: nothing left to release politely
            self.log.debug("disconnect during teardown failed", exc_info=True)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        """Connected and subscribed: commands published from now on are received."""
        return self._subscribed.wait(timeout)

    # --- paho callbacks (run in this worker's thread, inside loop()) -------------------------

    def _guarded(self, callback: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(callback)
        def guarded(*args: Any) -> None:
            try:
                callback(*args)
            except Exception:
                self.log.exception("MQTT %s failed; the connection goes on", callback.__name__)

        return guarded

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        self._answered = True
        if reason.is_failure:
            hint = ""
            if str(reason) in ("Not authorized", "Bad user name or password"):
                hint = " - check mqtt.username and the password (password_env/password_file)"
            self.log.error("MQTT broker %s:%d refused the connection: %s%s; retrying",
                           self.settings.host, self.settings.port, reason, hint)
            return
        self._backoff.succeeded("MQTT connection")
        self.connects += 1
        self.log.info("MQTT connected to %s:%d (session present: %s)", self.settings.host,
                      self.settings.port, bool(flags.session_present))
        self._subscribed.clear()
        _, mid = client.subscribe([(self.topics.commands, 1), (self.topics.ha_status, 1)])
        self._sub_mid = -1 if mid is None else mid
        client.publish(self.topics.availability, "online", qos=1, retain=True)
        self._connected.set()
        self._publish_discovery()
        self._publish_state(force=True)
        self._next_diag = 0.0

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any,
                       properties: Any) -> None:
        if self._connected.is_set():
            self.log.warning("MQTT disconnected: %s", reason)
        self._connected.clear()
        self._subscribed.clear()

    def _on_subscribe(self, client: paho.Client, userdata: Any, mid: int, reasons: Any,
                      properties: Any) -> None:
        if mid != self._sub_mid:
            return
        refused = [str(r) for r in reasons if r.is_failure]
        if refused:
            self.log.error("MQTT broker refused our subscriptions (%s): commands will not arrive;"
                           " check the broker ACL for %s", ", ".join(refused), self.topics.commands)
            return
        self._subscribed.set()

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        try:
            self._handle(msg)
        except Exception:
            self.log.exception("MQTT message on %s could not be handled", msg.topic)
            self.publish_error(CommandError("internal_error", "the command handler failed; "
                                            "see the appliance log", None, msg.topic[-60:]))

    def _handle(self, msg: paho.MQTTMessage) -> None:
        if msg.topic == self.topics.ha_status:
            if msg.payload.strip().lower() == b"online":
                self.log.info("Home Assistant came online: republishing discovery and state")
                self._publish_discovery()
                self._publish_state(force=True)
            return
        if msg.retain:  # it would run again after every reconnect
            self.publish_error(CommandError(
                "retained_command", "retained commands are ignored: they would run again on "
                "every reconnect; publish without the retain flag (and clear this one with an "
                "empty retained message)", None, msg.topic[-60:]))
            return
        key = (msg.mid, msg.topic, zlib.crc32(msg.payload))
        if msg.qos > 0:
            if msg.dup and key in self._seen:
                self.log.info("dropped a redelivered command on %s (already executed)", msg.topic)
                return
            self._seen.append(key)
        prefix = self.topics.base + "/cmd/"
        name = msg.topic[len(prefix):] if msg.topic.startswith(prefix) else msg.topic
        error = self.controller.handle(name, bytes(msg.payload))
        if error is not None:
            self.publish_error(error)

    # --- publishing -------------------------------------------------------------------------

    def _on_state(self, snap: Snapshot, changed: frozenset[str]) -> None:
        self._publish_state()

    def _on_event(self, event: EntityEvent) -> None:
        self._publish(self.topics.event, event.as_dict(), qos=1)

    def publish_error(self, error: CommandError) -> None:
        self._publish(self.topics.error, error.as_dict(), qos=1)

    def _publish_discovery(self) -> None:
        doc = discovery_payload(self.topics, self.device_name, __version__,
                                self.controller.limits.wake_words)
        self._publish(self.topics.discovery, doc, qos=1, retain=True)

    def _publish_state(self, force: bool = False) -> None:
        with self._pub_lock:
            snap = self.state.snapshot()
            if not force and snap.seq <= self._last_seq:
                return
            if self._publish(self.topics.state, snap.as_dict(), qos=1, retain=True):
                self._last_seq = snap.seq

    def _publish(self, topic: str, doc: dict[str, Any], *, qos: int = 0,
                 retain: bool = False) -> bool:
        """Publish when connected; a reconnect republishes state, so nothing needs queueing.
        Text that UTF-8 cannot carry (a lone surrogate from any source) becomes ``?`` rather
        than freezing every later publish; any other failure is logged and reported as
        False."""
        client = self._client
        if client is None or not self._connected.is_set():
            return False
        try:
            payload = json.dumps(doc, ensure_ascii=False).encode("utf-8", "replace")
            info = client.publish(topic, payload, qos=qos, retain=retain)
        except Exception:
            self.log.exception("MQTT publish on %s failed; skipped", topic)
            return False
        return info.rc == paho.MQTT_ERR_SUCCESS

    def _retry_later(self, what: str, exc: BaseException) -> None:
        delay = self._backoff.failed(what, exc)
        self._next_try = time.monotonic() + delay


def _writes_happen_in_loop(client: paho.Client, userdata: Any, sock: Any) -> None:
    """paho's external-loop hook: nothing to do, the worker's ``loop()`` writes queued data."""
