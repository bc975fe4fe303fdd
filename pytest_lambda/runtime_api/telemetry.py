"""The Logs (2020-08-15) and Telemetry (2022-07-01) APIs: subscriptions, buffering, delivery.

An extension subscribes through the Extensions API (which checks who it is and that init is not
over); `Telemetry` validates the subscription, then each `Subscription` buffers the records it
wants and a thread of its own delivers them in batches (by count, size or age, as its
`buffering` says) to the destination the extension named: an HTTP POST of a JSON array, or
newline-delimited JSON on a TCP port. The environment resolves `sandbox.localdomain` to the
address the host reaches it at (the container's address on the session network, or loopback).

The service publishes the platform's records (`platform.initStart` ... `platform.report`) and
the function's output lines as an environment goes through init and each invocation.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

#: The schema versions each API serves (Lambda requires one).
SCHEMA_VERSIONS = {"Telemetry": ("2022-07-01", "2022-12-13", "2025-01-29"),
                   "Logs": ("2020-08-15", "2021-03-18")}
#: Host names a Logs/Telemetry destination may name: Lambda takes only the sandbox's own.
_SANDBOX_HOSTS = frozenset({"sandbox", "sandbox.localdomain"})
_SUBSCRIPTION_TYPES = ("platform", "function", "extension")
_BUFFERING = {  # name: (minimum, maximum, default)
    "maxItems": (1_000, 10_000, 10_000),
    "maxBytes": (262_144, 1_048_576, 262_144),
    "timeoutMs": (25, 30_000, 1_000),
}


def iso_time(wall: float) -> str:
    """Return `wall` (epoch seconds) as the APIs print times: `2022-10-12T00:00:15.064Z`."""
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wall))
            + f".{int(wall % 1 * 1000):03d}Z")


class Telemetry:
    """The Logs and Telemetry subscriptions of one environment, and what is published to them."""

    def __init__(self) -> None:
        self.function_name = "test_function"
        self.function_version = "$LATEST"
        #: Where the host reaches a destination the extension named `sandbox.localdomain`.
        self.resolve_host: Callable[[], str] = lambda: "127.0.0.1"
        self.subscribers: list[Subscription] = []

    def subscribe(self, api: str, extension: str, body: bytes) -> Subscription:
        """Start the subscription that `body` asks for, or raise ValueError saying what is
        wrong with it."""
        subscription = Subscription.parse(api, extension, body, self)
        self.subscribers.append(subscription)
        return subscription

    def records(self) -> list[tuple[str, Any]]:
        """Return the `platform.*Subscription` records of the init."""
        return [(f"platform.{sub.api.lower()}Subscription",
                 {"name": sub.extension, "state": "Subscribed", "types": list(sub.type_list)})
                for sub in self.subscribers]

    def _each(self, kinds: dict[str, Any]) -> None:
        """Publish records to each subscriber: `kinds` maps an API name to (time, type, record)."""
        for sub in list(self.subscribers):
            for when, kind, record in kinds.get(sub.api, ()):
                if sub.wants(kind):
                    sub.publish(when, kind, record)

    def publish_init(
        self, *, started_wall: float, ended_wall: float, output: str, status: str,
        error_type: str | None, init_ms: float, runtime_version: str | None,
        runtime_version_arn: str | None, extensions: list[tuple[str, Any]],
    ) -> None:
        """Give every subscriber the records of the init phase (successful or not).

        `extensions` are the `platform.extension` records of the extensions that registered
        (`ExtensionsAPI.records()`); the subscriptions' own records follow them.
        """
        start, end = iso_time(started_wall), iso_time(ended_wall)
        init: dict[str, Any] = {"initializationType": "on-demand", "phase": "init"}
        begin: dict[str, Any] = dict(init)
        if runtime_version:
            begin["runtimeVersion"] = runtime_version
        if runtime_version_arn:
            begin["runtimeVersionArn"] = runtime_version_arn
        begin.update(functionName=self.function_name, functionVersion=self.function_version)
        failed = {"errorType": error_type} if status != "success" and error_type else {}
        lines = [line for line in output.splitlines() if line]
        own = [(end, kind, record) for kind, record in [*extensions, *self.records()]]
        telemetry: list[tuple[str, str, Any]] = [(start, "platform.initStart", begin)]
        telemetry += [(start, "function", line) for line in lines]
        telemetry += own
        telemetry.append((end, "platform.initRuntimeDone", {**init, "status": status, **failed}))
        telemetry.append((end, "platform.initReport",
                          {**init, "status": status, **failed,
                           "metrics": {"durationMs": round(init_ms, 3)}}))
        logs: list[tuple[str, str, Any]] = [(start, "function", line) for line in lines]
        logs += own
        self._each({"Telemetry": telemetry, "Logs": logs})

    def publish_start(self, *, request_id: str, wall: float, trace_id: str | None) -> None:
        """Give every subscriber `platform.start`."""
        record: dict[str, Any] = {"requestId": request_id, "version": self.function_version}
        self._each({"Telemetry": [(iso_time(wall), "platform.start",
                                   self._traced(record, trace_id))],
                    "Logs": [(iso_time(wall), "platform.start", dict(record))]})

    def publish_runtime_done(
        self, *, request_id: str, wall: float, output: str, status: str,
        error_type: str | None, duration_ms: float, produced_bytes: int,
        trace_id: str | None,
    ) -> None:
        """Give every subscriber the invocation's output and `platform.runtimeDone`.

        Lambda publishes it as soon as the runtime is done, before the extensions have finished
        with the invocation: an extension may wait for it before asking for its next event.
        """
        when = iso_time(wall)
        failed = {"errorType": error_type} if status != "success" and error_type else {}
        lines = [(when, "function", line) for line in output.splitlines() if line]
        record = {"requestId": request_id, "status": status, **failed,
                  "metrics": {"durationMs": round(duration_ms, 3),
                              "producedBytes": produced_bytes}}
        self._each({"Telemetry": lines + [(when, "platform.runtimeDone",
                                            self._traced(record, trace_id))],
                    "Logs": lines + [(when, "platform.runtimeDone",
                                      {"requestId": request_id, "status": status})]})

    def publish_report(
        self, *, request_id: str, wall: float, output: str, status: str,
        error_type: str | None, duration_ms: float, billed_ms: int, memory_mb: int,
        max_memory_mb: int, init_ms: float | None, trace_id: str | None,
    ) -> None:
        """Give every subscriber what was printed after the runtime's part, and the report."""
        when = iso_time(wall)
        metrics: dict[str, Any] = {"durationMs": round(duration_ms, 3),
                                   "billedDurationMs": billed_ms, "memorySizeMB": memory_mb,
                                   "maxMemoryUsedMB": max_memory_mb}
        if init_ms is not None:
            metrics["initDurationMs"] = round(init_ms, 3)
        failed = {"errorType": error_type} if status != "success" and error_type else {}
        lines = [(when, "function", line) for line in output.splitlines() if line]
        record = {"requestId": request_id, "status": status, **failed, "metrics": metrics}
        self._each({"Telemetry": lines + [(when, "platform.report",
                                            self._traced(record, trace_id))],
                    "Logs": lines + [(when, "platform.end", {"requestId": request_id}),
                                     (when, "platform.report",
                                      {"requestId": request_id, "metrics": metrics})]})

    @staticmethod
    def _traced(record: dict[str, Any], trace_id: str | None) -> dict[str, Any]:
        # A 2022-07-01 subscriber gets it without `tracing` (`Subscription.publish`).
        if not trace_id:
            return record
        return dict(record, tracing={"type": "X-Amzn-Trace-Id", "value": trace_id})

    def flush(self, timeout: float) -> None:
        """Deliver what every subscriber has buffered, waiting up to `timeout` seconds."""
        for sub in list(self.subscribers):
            sub.flush(timeout)

    def close(self) -> None:
        """Stop every delivery thread."""
        for sub in list(self.subscribers):
            sub.close()


class Subscription:
    """One Logs or Telemetry subscription: a buffer and the thread that delivers it."""

    def __init__(self, api: str, extension: str, types: frozenset[str], protocol: str,
                 port: int, path: str, buffering: dict[str, int], owner: Telemetry) -> None:
        self.api = api
        self.extension = extension
        self.types = types
        self.type_list = sorted(types)
        self.schema_version = SCHEMA_VERSIONS[api][-1]
        self.protocol = protocol
        self.port = port
        self.path = path
        self.max_items = buffering["maxItems"]
        self.max_bytes = buffering["maxBytes"]
        self.timeout_s = buffering["timeoutMs"] / 1000
        self._owner = owner
        self._cond = threading.Condition()
        self._items: list[bytes] = []
        self._size = 0
        self._first_at: float | None = None
        self._flush_now = False
        self._sending = False
        self._closed = False
        self._tcp: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name=f"lambda-{api.lower()}-delivery",
                                        daemon=True)
        self._thread.start()

    @classmethod
    def parse(cls, api: str, extension: str, body: bytes, owner: Telemetry) -> Subscription:
        """Validate a subscription request body, or raise ValueError saying what is wrong."""
        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise ValueError(f"Invalid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise ValueError("The subscription must be a JSON object.")
        versions = SCHEMA_VERSIONS[api]
        schema_version = doc.get("schemaVersion")
        if schema_version not in versions:
            raise ValueError(f"schemaVersion must be one of {', '.join(versions)} for the {api} "
                             f"API, not {schema_version!r}.")
        types = doc.get("types")
        if (not isinstance(types, list) or not types
                or any(t not in _SUBSCRIPTION_TYPES for t in types)):
            raise ValueError(f"types must be a non-empty list of {', '.join(_SUBSCRIPTION_TYPES)}.")
        destination = doc.get("destination")
        if not isinstance(destination, dict):
            raise ValueError("destination is required: {\"protocol\": \"HTTP\", \"URI\": "
                             "\"http://sandbox.localdomain:<port>/<path>\"}.")
        protocol = destination.get("protocol")
        if protocol == "HTTP":
            uri = destination.get("URI")
            parsed = urllib.parse.urlsplit(uri) if isinstance(uri, str) else None
            if parsed is None or parsed.scheme != "http" or parsed.hostname is None:
                raise ValueError("destination.URI must be an http:// URI.")
            if parsed.hostname not in _SANDBOX_HOSTS:
                raise ValueError(f"destination.URI must name sandbox.localdomain (the extension "
                                 f"listens in the execution environment), not {parsed.hostname}.")
            port = parsed.port or 80
            path = (parsed.path or "/") + (f"?{parsed.query}" if parsed.query else "")
        elif protocol == "TCP":
            tcp_port = destination.get("port")
            if not isinstance(tcp_port, int) or not 1 <= tcp_port <= 65535:
                raise ValueError("destination.port must be a port number for protocol TCP.")
            port, path = tcp_port, ""
        else:
            raise ValueError("destination.protocol must be HTTP or TCP.")
        buffering = doc.get("buffering") or {}
        if not isinstance(buffering, dict):
            raise ValueError("buffering must be an object.")
        values = {}
        for key, (low, high, default) in _BUFFERING.items():
            value = buffering.get(key, default)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ValueError(f"buffering.{key} must be an integer from {low} to {high}.")
            values[key] = value
        subscriber = cls(api, extension, frozenset(types), protocol, port, path, values, owner)
        subscriber.schema_version = schema_version
        subscriber.type_list = list(types)
        return subscriber

    def wants(self, kind: str) -> bool:
        """Whether this subscription gets records of `kind` (by category and schema version)."""
        category = "function" if kind == "function" else "platform"
        if category not in self.types:
            return False
        # The Logs API's first schema has no platform.runtimeDone (2021-03-18 added it).
        return not (kind == "platform.runtimeDone" and self.schema_version == "2020-08-15")

    def publish(self, when: str, kind: str, record: Any) -> None:
        if isinstance(record, dict) and "tracing" in record and (
                self.schema_version == "2022-07-01"):
            record = {k: v for k, v in record.items() if k != "tracing"}
        item = json.dumps({"time": when, "type": kind, "record": record}).encode()
        with self._cond:
            if self._closed:
                return
            self._items.append(item)
            self._size += len(item)
            if self._first_at is None:
                self._first_at = time.monotonic()
            self._cond.notify_all()

    def flush(self, timeout: float) -> None:
        with self._cond:
            self._flush_now = True
            self._cond.notify_all()
            self._cond.wait_for(lambda: (not self._items and not self._sending) or self._closed,
                                timeout)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._tcp is not None:
            try:
                self._tcp.close()
            except OSError:
                pass

    def _due(self) -> bool:
        if not self._items:
            return False
        return (self._flush_now or len(self._items) >= self.max_items
                or self._size >= self.max_bytes
                or time.monotonic() - (self._first_at or 0.0) >= self.timeout_s)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and not self._due():
                    wait = None
                    if self._first_at is not None:
                        wait = max(0.0, self._first_at + self.timeout_s - time.monotonic())
                    self._cond.wait(wait)
                if self._closed:
                    return
                batch: list[bytes] = []
                size = 0
                while self._items and len(batch) < self.max_items:
                    if batch and size + len(self._items[0]) > self.max_bytes:
                        break
                    item = self._items.pop(0)
                    batch.append(item)
                    size += len(item)
                self._size -= size
                self._first_at = time.monotonic() if self._items else None
                if not self._items:
                    self._flush_now = False
                self._sending = True
            try:
                self._deliver(batch)
            finally:
                with self._cond:
                    self._sending = False
                    self._cond.notify_all()

    def _deliver(self, batch: list[bytes]) -> None:
        host = self._owner.resolve_host()
        for _attempt in range(3):  # the extension may not be listening yet
            try:
                if self.protocol == "TCP":
                    if self._tcp is None:
                        self._tcp = socket.create_connection((host, self.port), timeout=5)
                    self._tcp.sendall(b"".join(item + b"\n" for item in batch))
                else:
                    conn = http.client.HTTPConnection(host, self.port, timeout=5)
                    try:
                        conn.request("POST", self.path, body=b"[" + b",".join(batch) + b"]",
                                     headers={"Content-Type": "application/json"})
                        conn.getresponse().read()
                    finally:
                        conn.close()
                return
            except OSError:
                self._tcp = None
                with self._cond:
                    if self._closed:
                        return
                    self._cond.wait(0.05)
