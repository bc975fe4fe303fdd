"""The Extensions API (2020-01-01): extensions register, take their events, report errors.

It shares the environment's Runtime API port and its `Lifecycle` with the runtime's routes,
because the lifecycle joins them: the runtime starts only once every launched extension has
registered (or exited), init ends when the runtime and every registered extension have asked for
their next event, an invocation ends when the runtime has answered and asked for its next event
and every INVOKE-subscribed extension has asked for its next event, and a SHUTDOWN event goes to
the SHUTDOWN-subscribed extensions when the environment is torn down. Statuses, error documents
and the per-extension state machine are Lambda's (`docs/api-behaviours.md` lists them).

The Logs and Telemetry subscription routes are answered here too (they need the extension's
identity and the init phase), and handed to `Telemetry` (`telemetry.py`), which delivers.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_lambda.config import limits as _limits
from pytest_lambda.runtime_api.lifecycle import Invocation, Lifecycle
from pytest_lambda.runtime_api.telemetry import Telemetry
from pytest_lambda.runtime_api.wire import (
    NOT_FOUND,
    Reply,
    Request,
    compact_json,
    error_reply,
    json_reply,
    not_allowed,
)

EXTENSION_PREFIX = "/2020-01-01/extension/"
LOGS_PATH = "/2020-08-15/logs"
TELEMETRY_PATH = "/2022-07-01/telemetry"
#: The path prefixes this API answers under.
PREFIXES = ("/2020-01-01/", "/2020-08-15/", "/2022-07-01/")

# Extension states, named as Lambda's messages name them.
REGISTERED, READY, RUNNING = "Registered", "Ready", "Running"
INIT_ERROR, EXIT_ERROR = "InitError", "ExitError"

_EVENT_TYPES = ("INVOKE", "SHUTDOWN")
_EXTENSION_ERROR_TYPE_RE = re.compile(r"^Extension\.[A-Z][a-zA-Z]+$")
_ACCEPTED = json_reply(202, {"status": "OK"})


def _transition_refused(current: str, target: str, who: str) -> Reply:
    return error_reply(403, "Extension.InvalidExtensionState",
                       f"State transition from {current} to {target} failed for extension {who}. "
                       "Error: State transition is not allowed")


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
    """The extensions of one environment: their registry, events and routes.

    It moves the environment's `Lifecycle` (and waits on its lock) and hands Logs and Telemetry
    subscriptions to `telemetry`.
    """

    def __init__(self, lifecycle: Lifecycle, telemetry: Telemetry) -> None:
        self._life = lifecycle
        self._cond = lifecycle.cond
        self.telemetry = telemetry
        self.handler = ""
        self.account_id: str | None = None
        self.by_id: dict[str, Extension] = {}
        self.by_name: dict[str, Extension] = {}
        self.launched: frozenset[str] = frozenset()
        self.exit_codes: dict[str, int] = {}
        #: An extension failed after init: the environment must not serve another invocation.
        self.failed = False
        #: When the last INVOKE-subscribed extension finished with the invocation (perf_counter).
        self.idle_at: float | None = None

    # -- the environment's and the service's side ---------------------------------------------

    def configure(self, *, function_name: str, handler: str, account_id: str | None,
                  function_version: str = "$LATEST") -> None:
        """Set what the register response (and Telemetry) tell extensions about the function."""
        self.telemetry.function_name = function_name
        self.telemetry.function_version = function_version
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
        life = self._life
        with self._cond:
            self.launched = frozenset(names)
            self._cond.notify_all()
            while True:
                if life.closed or life.init_error is not None:
                    return False
                if all(n in self.by_name or n in self.exit_codes for n in names):
                    return True
                self._cond.wait()

    def extension_exited(self, name: str, code: int) -> None:
        """Record that the launched extension `name` exited with `code`."""
        life = self._life
        with self._cond:
            self.exit_codes[name] = code
            ext = self.by_name.get(name)
            if ext is not None:
                ext.exited = True
                ext.pending.clear()
                ext.in_flight = False
            if life.in_init:
                if ext is None or ext.state not in (INIT_ERROR, EXIT_ERROR):
                    status = (f"exit status {code}" if code <= 128
                              else f"signal {code - 128}")
                    self._fail_init("Extension.Crash",
                                    f"Extension {name} exited during init ({status}).")
            elif life.shutdown_reason is None:
                self.failed = True
            if ext is not None:
                life.extension_ready(ext.id)  # it holds init up no longer
            self._update_idle()
            self._cond.notify_all()

    def launch_failed(self, name: str, reason: str) -> None:
        """Fail the init because the extension `name` could not be started (`reason` says why)."""
        with self._cond:
            self._fail_init("Extension.LaunchError", f"Extension {name} could not be started: "
                                                     f"{reason}")
            self._cond.notify_all()

    def invoke(self, invocation: Invocation) -> None:
        """Queue an INVOKE event for every INVOKE-subscribed extension. With the lock."""
        event: dict[str, Any] = {"eventType": "INVOKE", "deadlineMs": invocation.deadline_ms,
                                 "requestId": invocation.request_id,
                                 "invokedFunctionArn": invocation.function_arn}
        if invocation.trace_id:
            event["tracing"] = {"type": "X-Amzn-Trace-Id", "value": invocation.trace_id}
        body = compact_json(event)
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
        body = compact_json({"eventType": "SHUTDOWN", "shutdownReason": reason,
                             "deadlineMs": deadline_ms})
        any_subscribed = False
        with self._cond:
            self._life.begin_shutdown(reason)
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

    def flush_subscribers(self, timeout: float) -> None:
        """Deliver what the Logs and Telemetry subscribers hold (the shutdown phase's first
        step), waiting up to `timeout` seconds."""
        self.telemetry.flush(timeout)

    def close_subscribers(self) -> None:
        """Stop every Logs and Telemetry delivery thread (the shutdown phase's last step)."""
        self.telemetry.close()

    def records(self) -> list[tuple[str, Any]]:
        """Return the `platform.extension` records of the init, one per registered extension."""
        records: list[tuple[str, Any]] = []
        for ext in self.by_id.values():
            record: dict[str, Any] = {"name": ext.name, "state": "Ready",
                                      "events": list(ext.event_order)}
            if ext.state in (INIT_ERROR, EXIT_ERROR):
                record["state"] = ext.state
                if ext.error_type:
                    record["errorType"] = ext.error_type
            records.append(("platform.extension", record))
        return records

    def _fail_init(self, error_type: str, message: str) -> None:
        document = {"errorType": error_type, "errorMessage": message}
        self._life.fail_init(error_type, json.dumps(document).encode(), "application/json",
                             source="extension")

    # -- routing --------------------------------------------------------------------------------

    def route(self, req: Request) -> Reply | None:
        """Answer a request under one of `PREFIXES`; None when the server closed meanwhile."""
        path = req.path.split("?", 1)[0]
        if path.startswith(EXTENSION_PREFIX):
            action = path[len(EXTENSION_PREFIX):]
            if action == "register":
                return self._register(req) if req.method == "POST" else not_allowed("POST")
            if action == "event/next":
                return self._next(req) if req.method == "GET" else not_allowed("GET")
            if action in ("init/error", "exit/error"):
                if req.method != "POST":
                    return not_allowed("POST")
                return self._report_error(req, INIT_ERROR if action == "init/error"
                                          else EXIT_ERROR)
        elif path in (LOGS_PATH, TELEMETRY_PATH):
            if req.method != "PUT":
                return not_allowed("PUT")
            return self._subscribe(req, "Logs" if path == LOGS_PATH else "Telemetry")
        return NOT_FOUND

    def _identify(self, req: Request, unknown: str | None = None) -> Extension | Reply:
        value = req.header("lambda-extension-identifier")
        if not value:
            return error_reply(403, "Extension.MissingExtensionIdentifier",
                               "Missing Lambda-Extension-Identifier header")
        try:
            uuid.UUID(value)
        except ValueError:
            return error_reply(403, "Extension.InvalidExtensionIdentifier",
                               "Invalid Lambda-Extension-Identifier")
        ext = self.by_id.get(value)
        if ext is None:
            return error_reply(403, "Extension.UnknownExtensionIdentifier",
                               unknown or f"Unknown extension {value}")
        return ext

    def _register(self, req: Request) -> Reply:
        name = req.header("lambda-extension-name") or ""
        if not name:
            return error_reply(403, "Extension.InvalidExtensionName", "Empty extension name")
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
            return error_reply(403, "InvalidRequestFormat", str(exc))
        if doc.get("configurationKeys"):
            return error_reply(
                403, "InvalidRequestFormat",
                "configurationKeys are deprecated; use environment variables instead")
        for event in events:
            if event not in _EVENT_TYPES:
                return error_reply(403, "Extension.InvalidEventType",
                                   f"{event}: ErrorInvalidEventType")
        with self._cond:
            external = name in self.launched
            if not external and "SHUTDOWN" in events:  # internal extensions cannot
                return error_reply(403, "Extension.InvalidEventType",
                                   "SHUTDOWN: ErrorInvalidEventType")
            existing = self.by_name.get(name)
            if existing is not None:
                return error_reply(403, "Extension.InvalidExtensionState",
                                   f"State transition from {existing.state} to {REGISTERED} failed "
                                   f"for extension {name}. Error: State transition is not allowed")
            if not self._life.registration_open or not self._life.in_init:
                return error_reply(403, "Extension.RegistrationClosed",
                                   "Extension registration closed already")
            if len(self.by_id) >= _limits.EXTENSIONS_MAX:
                return error_reply(403, "Extension.TooManyExtensions",
                                   f"Extension limit ({_limits.EXTENSIONS_MAX}) reached")
            ext = Extension(name=name, id=str(uuid.uuid4()), events=frozenset(events),
                            external=external, event_order=tuple(dict.fromkeys(events)))
            self.by_id[ext.id] = ext
            self.by_name[name] = ext
            self._life.extension_joined(ext.id)
            self._cond.notify_all()
        body: dict[str, str] = {"functionName": self.telemetry.function_name,
                                "functionVersion": self.telemetry.function_version,
                                "handler": self.handler}
        features = (req.header("lambda-extension-accept-feature") or "").split(",")
        if self.account_id and "accountId" in (f.strip() for f in features):
            body["accountId"] = self.account_id
        return json_reply(200, body, [("Lambda-Extension-Identifier", ext.id)])

    def _next(self, req: Request) -> Reply | None:
        life = self._life
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
                life.extension_ready(ext.id)
            self._update_idle()
            self._cond.notify_all()
            while not ext.pending:
                if life.closed:
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

    def _report_error(self, req: Request, target: str) -> Reply:
        with self._cond:
            found = self._identify(req, unknown="Unknown Lambda-Extension-Identifier")
            reported = req.header("lambda-extension-function-error-type")
            # Lambda checks the identifier's form, then the error type, then whether it knows
            # the identifier.
            if not reported and (isinstance(found, Extension)
                                 or b"UnknownExtensionIdentifier" in found[1]):
                return error_reply(403, "Extension.MissingHeader",
                                   "Lambda-Extension-Function-Error-Type not found")
            if not isinstance(found, Extension):
                return found
            ext = found
            in_init = self._life.in_init
            # Lambda's per-extension states: init/error only from Registered (or again from
            # InitError), exit/error from Registered, Ready or Running (or again from ExitError);
            # a refused exit/error names "Exited" as its target.
            allowed = ((REGISTERED, INIT_ERROR) if target == INIT_ERROR
                       else (REGISTERED, READY, RUNNING, EXIT_ERROR))
            if ext.state not in allowed or (target == INIT_ERROR and not in_init):
                return _transition_refused(ext.state, target if target == INIT_ERROR
                                           else "Exited", ext.id)
            if ext.state == target:
                return _ACCEPTED
            ext.state = target
            default = "Extension.InitError" if target == INIT_ERROR else "Extension.ExitError"
            error_type = extension_error_type(reported, default)
            ext.error_type = error_type
            if in_init:
                self._fail_init(error_type, f"Extension {ext.name} reported {error_type} "
                                            f"during init.")
            else:
                self.failed = True
            self._life.extension_ready(ext.id)  # it holds init up no longer
            self._cond.notify_all()
        return _ACCEPTED

    def _subscribe(self, req: Request, api: str) -> Reply:
        with self._cond:
            found = self._identify(req)
            if not isinstance(found, Extension):
                return found
            ext = found
            if not self._life.subscriptions_open:
                return error_reply(403, f"{api}.SubscriptionClosed",
                                   f"{api} API subscription is closed")
        try:
            with self._cond:
                self.telemetry.subscribe(api, ext.name, req.body)
        except ValueError as exc:
            body = json.dumps({"errorType": "ValidationError", "errorMessage": str(exc)})
            return 400, body.encode(), "application/json", []
        return 200, b'"OK"', "application/json", []
