"""The Extensions API (2020-01-01) and the Logs (2020-08-15) and Telemetry (2022-07-01) APIs.

They share the environment's Runtime API port and its lock (`RuntimeAPIServer._cond`), because
the lifecycle joins them: the runtime starts only once every launched extension has registered
(or exited), init ends when the runtime and every registered extension have asked for their next
event, an invocation ends when the runtime has answered and asked for its next event and every
INVOKE-subscribed extension has asked for its next event, and a SHUTDOWN event goes to the
SHUTDOWN-subscribed extensions when the environment is torn down. Statuses, error documents and
the per-extension state machine are Lambda's (`docs/api-behaviours.md` lists them).

Logs and Telemetry subscribers get batches POSTed to the HTTP destination they named (or
newline-delimited JSON on a TCP port): the environment resolves `sandbox.localdomain` to the
address the host reaches it at (the container's address on the session network, or loopback).
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
import urllib.parse
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_lambda.config import limits as _limits

if TYPE_CHECKING:
    from pytest_lambda.runtime_api.server import RuntimeAPIServer, _Request

Reply = tuple[int, bytes, "str | None", list[tuple[str, str]]]

EXTENSION_PREFIX = "/2020-01-01/extension/"
LOGS_PATH = "/2020-08-15/logs"
TELEMETRY_PATH = "/2022-07-01/telemetry"

#: Shutdown reasons as the platform sends them (the documentation prints them upper-case).
SPINDOWN, TIMEOUT, FAILURE = "spindown", "timeout", "failure"

# Extension states, named as Lambda's messages name them.
REGISTERED, READY, RUNNING = "Registered", "Ready", "Running"
INIT_ERROR, EXIT_ERROR = "InitError", "ExitError"

_EVENT_TYPES = ("INVOKE", "SHUTDOWN")
_EXTENSION_ERROR_TYPE_RE = re.compile(r"^Extension\.[A-Z][a-zA-Z]+$")
#: Host names a Logs/Telemetry destination may name: Lambda takes only the sandbox's own.
_SANDBOX_HOSTS = frozenset({"sandbox", "sandbox.localdomain"})
#: The schema versions each API serves (Lambda requires one).
SCHEMA_VERSIONS = {"Telemetry": ("2022-07-01", "2022-12-13", "2025-01-29"),
                   "Logs": ("2020-08-15", "2021-03-18")}
_SUBSCRIPTION_TYPES = ("platform", "function", "extension")
_BUFFERING = {  # name: (minimum, maximum, default)
    "maxItems": (1_000, 10_000, 10_000),
    "maxBytes": (262_144, 1_048_576, 262_144),
    "timeoutMs": (25, 30_000, 1_000),
}


def _json(document: object) -> bytes:
    # Lambda's Go server renders compact JSON followed by a newline.
    return json.dumps(document, separators=(",", ":")).encode() + b"\n"


def _error(status: int, error_type: str, message: str) -> Reply:
    return (status, _json({"errorMessage": message, "errorType": error_type}), "application/json",
            [])


def _not_allowed(allow: str) -> Reply:
    return 405, b"", None, [("Allow", allow)]


def _transition_refused(current: str, target: str, who: str) -> Reply:
    return _error(403, "Extension.InvalidExtensionState",
                  f"State transition from {current} to {target} failed for extension {who}. "
                  "Error: State transition is not allowed")


def iso_time(wall: float) -> str:
    """Return `wall` (epoch seconds) as the APIs print times: `2022-10-12T00:00:15.064Z`."""
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wall))
            + f".{int(wall % 1 * 1000):03d}Z")


def extension_environment(env: dict[str, str]) -> dict[str, str]:
    """Return the variables Lambda gives extensions: the runtime's minus `_*` and X-Ray's mode."""
    return {k: v for k, v in env.items()
            if not k.startswith("_") and k != "AWS_XRAY_CONTEXT_MISSING"}


def external_extensions(opt_dir: Path | None) -> list[Path]:
    """Return the executables Lambda starts from the merged layers' `extensions/`, by name.

    Lambda's rule: every non-directory entry, none when `disable-extensions-jwigqn8j` exists at
    the layers' root.
    """
    if opt_dir is None or (opt_dir / "disable-extensions-jwigqn8j").exists():
        return []
    try:
        return sorted(p for p in (opt_dir / "extensions").iterdir() if not p.is_dir())
    except OSError:
        return []


def _missing_body() -> Any:
    raise ValueError("unexpected end of JSON input")


def extension_error_type(value: str | None, default: str) -> str:
    """Return the error type Lambda records for a `Lambda-Extension-Function-Error-Type`."""
    return value if value and _EXTENSION_ERROR_TYPE_RE.match(value) else default


@dataclass
class Extension:
    """One registered extension and the events it has not taken or not finished yet."""

    name: str
    id: str
    events: frozenset[str]
    external: bool
    state: str = REGISTERED
    event_order: tuple[str, ...] = ()
    error_type: str | None = None
    pending: deque[bytes] = field(default_factory=deque)
    in_flight: bool = False
    exited: bool = False

    @property
    def busy(self) -> bool:
        """Whether it still holds an event (queued, or taken and not yet followed by `next`)."""
        return not self.exited and (bool(self.pending) or self.in_flight)


class ExtensionsAPI:
    """The extensions of one environment; every method runs under the server's lock."""

    def __init__(self, server: RuntimeAPIServer) -> None:
        self._server = server
        self._cond = server._cond
        self.function_name = "test_function"
        self.function_version = "$LATEST"
        self.handler = ""
        self.account_id: str | None = None
        self.by_id: dict[str, Extension] = {}
        self.by_name: dict[str, Extension] = {}
        self.launched: frozenset[str] = frozenset()
        self.exit_codes: dict[str, int] = {}
        self.registration_open = True
        self.subscriptions_open = True
        self.subscribers: list[_Subscriber] = []
        #: An extension failed after init: the environment must not serve another invocation.
        self.failed = False
        self.shutdown_reason: str | None = None
        #: Where the host reaches a destination the extension named `sandbox.localdomain`.
        self.resolve_host: Callable[[], str] = lambda: "127.0.0.1"
        self.idle_at: float | None = None

    # -- the environment's and the service's side ---------------------------------------------

    def configure(self, *, function_name: str, handler: str, account_id: str | None) -> None:
        """Set what the register response tells extensions about the function."""
        self.function_name = function_name
        self.handler = handler
        self.account_id = account_id

    @property
    def registered(self) -> bool:
        """Whether any extension has registered."""
        return bool(self.by_id)

    @property
    def has_internal(self) -> bool:
        """Whether an extension registered that the environment did not launch."""
        return any(not ext.external for ext in self.by_id.values())

    def expect(self, names: list[str]) -> None:
        """Record the extensions about to be launched, so that they register as external."""
        with self._cond:
            self.launched = frozenset(names)

    def announce(self, names: list[str]) -> bool:
        """Record the extensions launched and block until each registered or exited.

        Returns False when init failed or the server closed first (the runtime must not start).
        """
        server = self._server
        with self._cond:
            self.launched = frozenset(names)
            self._cond.notify_all()
            while True:
                if server.closed or server.init_error is not None:
                    return False
                if all(n in self.by_name or n in self.exit_codes for n in names):
                    return True
                self._cond.wait()

    def extension_exited(self, name: str, code: int) -> None:
        """Record that the launched extension `name` exited with `code`."""
        server = self._server
        with self._cond:
            self.exit_codes[name] = code
            ext = self.by_name.get(name)
            if ext is not None:
                ext.exited = True
                ext.pending.clear()
                ext.in_flight = False
            if server.ready_at is None:
                if ext is None or ext.state not in (INIT_ERROR, EXIT_ERROR):
                    status = (f"exit status {code}" if code <= 128
                              else f"signal {code - 128}")
                    self._fail_init("Extension.Crash",
                                    f"Extension {name} exited during init ({status}).")
            elif self.shutdown_reason is None:
                self.failed = True
            self._update_idle()
            self._cond.notify_all()

    def launch_failed(self, name: str, reason: str) -> None:
        """Fail the init because the extension `name` could not be started (`reason` says why)."""
        with self._cond:
            self._fail_init("Extension.LaunchError", f"Extension {name} could not be started: "
                                                     f"{reason}")
            self._cond.notify_all()

    def runtime_ready(self) -> None:
        """Close registration: the runtime has asked for its first invocation."""
        self.registration_open = False

    def all_ready(self) -> bool:
        """Whether every registered extension has asked for its first event."""
        return all(ext.state != REGISTERED or ext.exited for ext in self.by_id.values())

    def init_done(self) -> None:
        """Close the Logs and Telemetry subscriptions: init is over."""
        self.subscriptions_open = False

    def invoke(self, request_id: str, deadline_ms: int, function_arn: str,
               trace_id: str | None) -> None:
        """Queue an INVOKE event for every INVOKE-subscribed extension."""
        event: dict[str, Any] = {"eventType": "INVOKE", "deadlineMs": deadline_ms,
                                 "requestId": request_id, "invokedFunctionArn": function_arn}
        if trace_id:
            event["tracing"] = {"type": "X-Amzn-Trace-Id", "value": trace_id}
        body = _json(event)
        for ext in self.by_id.values():
            if "INVOKE" in ext.events and not ext.exited:
                ext.pending.append(body)
        self.idle_at = None
        self._update_idle()

    def idle(self) -> bool:
        """Whether no INVOKE-subscribed extension still holds an event."""
        return not any(ext.busy for ext in self.by_id.values())

    def _update_idle(self) -> None:
        if self.idle_at is None and self.idle():
            self.idle_at = time.perf_counter()

    def begin_shutdown(self, reason: str) -> bool:
        """Queue SHUTDOWN for the SHUTDOWN-subscribed extensions; True if any will get it."""
        deadline_ms = int(time.time() * 1000) + _limits.SHUTDOWN_MAX_MS
        body = _json({"eventType": "SHUTDOWN", "shutdownReason": reason,
                      "deadlineMs": deadline_ms})
        any_subscribed = False
        with self._cond:
            self.shutdown_reason = reason
            for ext in self.by_id.values():
                if "SHUTDOWN" in ext.events and not ext.exited:
                    ext.pending.clear()
                    ext.pending.append(body)
                    any_subscribed = True
            self._cond.notify_all()
        return any_subscribed

    def shutdown_done(self) -> bool:
        """Whether every SHUTDOWN-subscribed extension has finished with SHUTDOWN (or exited)."""
        return not any(ext.busy for ext in self.by_id.values() if "SHUTDOWN" in ext.events)

    def _fail_init(self, error_type: str, message: str) -> None:
        server = self._server
        if server.ready_at is None and server.init_error is None:
            document = {"errorType": error_type, "errorMessage": message}
            server.init_error = (error_type, json.dumps(document).encode(), "application/json")
            server.init_error_source = "extension"

    # -- routing --------------------------------------------------------------------------------

    def route(self, req: _Request, path: str) -> Reply | None:
        """Answer a request under one of the extension-facing prefixes."""
        if path.startswith(EXTENSION_PREFIX):
            action = path[len(EXTENSION_PREFIX):]
            if action == "register":
                return self._register(req) if req.method == "POST" else _not_allowed("POST")
            if action == "event/next":
                return self._next(req) if req.method == "GET" else _not_allowed("GET")
            if action in ("init/error", "exit/error"):
                if req.method != "POST":
                    return _not_allowed("POST")
                return self._report_error(req, INIT_ERROR if action == "init/error"
                                          else EXIT_ERROR)
        elif path in (LOGS_PATH, TELEMETRY_PATH):
            if req.method != "PUT":
                return _not_allowed("PUT")
            return self._subscribe(req, "Logs" if path == LOGS_PATH else "Telemetry")
        return 404, b"404 page not found\n", "text/plain; charset=utf-8", []

    def _identify(self, req: _Request, unknown: str | None = None) -> Extension | Reply:
        value = req.header("lambda-extension-identifier")
        if not value:
            return _error(403, "Extension.MissingExtensionIdentifier",
                          "Missing Lambda-Extension-Identifier header")
        try:
            uuid.UUID(value)
        except ValueError:
            return _error(403, "Extension.InvalidExtensionIdentifier",
                          "Invalid Lambda-Extension-Identifier")
        ext = self.by_id.get(value)
        if ext is None:
            return _error(403, "Extension.UnknownExtensionIdentifier",
                          unknown or f"Unknown extension {value}")
        return ext

    def _register(self, req: _Request) -> Reply:
        name = req.header("lambda-extension-name") or ""
        if not name:
            return _error(403, "Extension.InvalidExtensionName", "Empty extension name")
        try:
            # Like Go's json.Unmarshal into a struct: `null` is an empty request, an empty body
            # is not JSON at all.
            doc = json.loads(req.body) if req.body else _missing_body()
            if doc is None:
                doc = {}
            if not isinstance(doc, dict):
                raise ValueError("the body must be a JSON object like {\"events\": [\"INVOKE\"]}")
            events = doc.get("events") or []
            if not isinstance(events, list):
                raise ValueError("events must be a list")
        except ValueError as exc:
            return _error(403, "InvalidRequestFormat", str(exc))
        if doc.get("configurationKeys"):
            return _error(403, "InvalidRequestFormat",
                          "configurationKeys are deprecated; use environment variables instead")
        for event in events:
            if event not in _EVENT_TYPES:
                return _error(403, "Extension.InvalidEventType",
                              f"{event}: ErrorInvalidEventType")
        with self._cond:
            external = name in self.launched
            if not external and "SHUTDOWN" in events:  # internal extensions cannot
                return _error(403, "Extension.InvalidEventType",
                              "SHUTDOWN: ErrorInvalidEventType")
            existing = self.by_name.get(name)
            if existing is not None:
                return _error(403, "Extension.InvalidExtensionState",
                              f"State transition from {existing.state} to {REGISTERED} failed "
                              f"for extension {name}. Error: State transition is not allowed")
            if not self.registration_open or self._server.ready_at is not None:
                return _error(403, "Extension.RegistrationClosed",
                              "Extension registration closed already")
            if len(self.by_id) >= _limits.EXTENSIONS_MAX:
                return _error(403, "Extension.TooManyExtensions",
                              f"Extension limit ({_limits.EXTENSIONS_MAX}) reached")
            ext = Extension(name=name, id=str(uuid.uuid4()), events=frozenset(events),
                            external=external, event_order=tuple(dict.fromkeys(events)))
            self.by_id[ext.id] = ext
            self.by_name[name] = ext
            self._cond.notify_all()
        body: dict[str, str] = {"functionName": self.function_name,
                                "functionVersion": self.function_version,
                                "handler": self.handler}
        features = (req.header("lambda-extension-accept-feature") or "").split(",")
        if self.account_id and "accountId" in (f.strip() for f in features):
            body["accountId"] = self.account_id
        return 200, _json(body), "application/json", [("Lambda-Extension-Identifier", ext.id)]

    def _next(self, req: _Request) -> Reply | None:
        server = self._server
        with self._cond:
            found = self._identify(req)
            if not isinstance(found, Extension):
                return found
            ext = found
            if ext.state not in (REGISTERED, RUNNING):
                return _transition_refused(ext.state, READY, ext.id)
            ext.in_flight = False
            first = ext.state == REGISTERED
            ext.state = READY
            if first:
                server._check_init_done()
            self._update_idle()
            self._cond.notify_all()
            while not ext.pending:
                if server.closed:
                    return None
                if ext.state != READY:  # it reported an error from another connection
                    return _transition_refused(ext.state, READY, ext.id)
                self._cond.wait()
            body = ext.pending.popleft()
            ext.in_flight = True
            ext.state = RUNNING
            self._cond.notify_all()
        return (200, body, "application/json",
                [("Lambda-Extension-Event-Identifier", str(uuid.uuid4()))])

    def _report_error(self, req: _Request, target: str) -> Reply:
        with self._cond:
            found = self._identify(req, unknown="Unknown Lambda-Extension-Identifier")
            reported = req.header("lambda-extension-function-error-type")
            # Lambda checks the identifier's form, then the error type, then whether it knows
            # the identifier.
            if not reported and (isinstance(found, Extension)
                                 or b"UnknownExtensionIdentifier" in found[1]):
                return _error(403, "Extension.MissingHeader",
                              "Lambda-Extension-Function-Error-Type not found")
            if not isinstance(found, Extension):
                return found
            ext = found
            in_init = self._server.ready_at is None
            # Lambda's per-extension states: init/error only from Registered (or again from
            # InitError), exit/error from Registered, Ready or Running (or again from ExitError);
            # a refused exit/error names "Exited" as its target.
            allowed = ((REGISTERED, INIT_ERROR) if target == INIT_ERROR
                       else (REGISTERED, READY, RUNNING, EXIT_ERROR))
            if ext.state not in allowed or (target == INIT_ERROR and not in_init):
                return _transition_refused(ext.state, target if target == INIT_ERROR
                                           else "Exited", ext.id)
            if ext.state == target:
                return 202, _json({"status": "OK"}), "application/json", []
            ext.state = target
            default = "Extension.InitError" if target == INIT_ERROR else "Extension.ExitError"
            error_type = extension_error_type(reported, default)
            ext.error_type = error_type
            if in_init:
                self._fail_init(error_type, f"Extension {ext.name} reported {error_type} "
                                            f"during init.")
            else:
                self.failed = True
            self._cond.notify_all()
        return 202, _json({"status": "OK"}), "application/json", []

    def _subscribe(self, req: _Request, api: str) -> Reply:
        with self._cond:
            found = self._identify(req)
            if not isinstance(found, Extension):
                return found
            ext = found
            if not self.subscriptions_open:
                return _error(403, f"{api}.SubscriptionClosed",
                              f"{api} API subscription is closed")
        try:
            subscriber = _Subscriber.parse(api, ext.name, req.body, self)
        except ValueError as exc:
            body = json.dumps({"errorType": "ValidationError", "errorMessage": str(exc)})
            return 400, body.encode(), "application/json", []
        with self._cond:
            self.subscribers.append(subscriber)
        return 200, b'"OK"', "application/json", []

    # -- Logs and Telemetry delivery -----------------------------------------------------------

    def init_records(self) -> list[tuple[str, Any]]:
        """Return the `platform.extension` and `platform.*Subscription` records of the init."""
        records: list[tuple[str, Any]] = []
        for ext in self.by_id.values():
            record: dict[str, Any] = {"name": ext.name, "state": "Ready",
                                      "events": list(ext.event_order)}
            if ext.state in (INIT_ERROR, EXIT_ERROR):
                record["state"] = ext.state
                if ext.error_type:
                    record["errorType"] = ext.error_type
            records.append(("platform.extension", record))
        for sub in self.subscribers:
            records.append((f"platform.{sub.api.lower()}Subscription",
                            {"name": sub.extension, "state": "Subscribed",
                             "types": list(sub.type_list)}))
        return records

    def _each(self, kinds: dict[str, Any]) -> None:
        """Publish records to each subscriber: `kinds` maps an API name to (time, type, record)."""
        for sub in list(self.subscribers):
            for when, kind, record in kinds.get(sub.api, ()):
                if sub.wants(kind):
                    sub.publish(when, kind, record)

    def publish_init(
        self, *, started_wall: float, ended_wall: float, output: str, status: str,
        error_type: str | None, init_ms: float, runtime_version: str | None,
        runtime_version_arn: str | None,
    ) -> None:
        """Give every subscriber the records of the init phase (successful or not)."""
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
        own = [(end, kind, record) for kind, record in self.init_records()]
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
        # A 2022-07-01 subscriber gets it without `tracing` (`_Subscriber.publish`).
        if not trace_id:
            return record
        return dict(record, tracing={"type": "X-Amzn-Trace-Id", "value": trace_id})

    def flush_subscribers(self, timeout: float) -> None:
        """Deliver what every subscriber has buffered, waiting up to `timeout` seconds."""
        for sub in list(self.subscribers):
            sub.flush(timeout)

    def close_subscribers(self) -> None:
        """Stop every delivery thread."""
        for sub in list(self.subscribers):
            sub.close()


class _Subscriber:
    """One Logs or Telemetry subscription: a buffer and the thread that delivers it."""

    def __init__(self, api: str, extension: str, types: frozenset[str], protocol: str,
                 port: int, path: str, buffering: dict[str, int], owner: ExtensionsAPI) -> None:
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
    def parse(cls, api: str, extension: str, body: bytes, owner: ExtensionsAPI) -> _Subscriber:
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
