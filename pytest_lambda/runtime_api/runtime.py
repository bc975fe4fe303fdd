"""The Runtime API's routes (2018-06-01): what the runtime inside an environment calls.

The runtime (awslambdaric, the Node.js client, a `bootstrap` script) polls
`GET /runtime/invocation/next`, then posts the outcome to `/response` or `/error`; before its
first poll it may post `/runtime/init/error`. The routes answer with Lambda's status codes,
error documents and state machine (`docs/api-behaviours.md` lists them) and move the shared
`Lifecycle`. An invocation ends when the runtime asks for its next event, not when it answers:
Lambda counts the work a runtime does after answering.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import socket

from pytest_lambda.config import limits as _limits
from pytest_lambda.runtime_api.lifecycle import (
    INIT_ERROR,
    READY,
    RESPONSE_SENT,
    RUNNING,
    STARTED,
    Invocation,
    Lifecycle,
)
from pytest_lambda.runtime_api.wire import (
    NOT_FOUND,
    Reply,
    Request,
    error_reply,
    json_reply,
    not_allowed,
    peer_closed,
)

API_PREFIX = "/2018-06-01"
NEXT_PATH = f"{API_PREFIX}/runtime/invocation/next"
INIT_ERROR_PATH = f"{API_PREFIX}/runtime/init/error"
PING_PATH = f"{API_PREFIX}/ping"

# Lambda checks with Go's regexp.MatchString, which is not anchored: "Runtime.Foo2" passes.
_ERROR_TYPE_RE = re.compile(r"(Runtime|Function)\.[A-Z][a-zA-Z]+")
_RESPONSE_MODE_HEADER = "lambda-runtime-function-response-mode"
_ERROR_TYPE_HEADER = "lambda-runtime-function-error-type"
_ERROR_TYPE_TRAILER = "lambda-runtime-function-error-type"
_ERROR_BODY_TRAILER = "lambda-runtime-function-error-body"
_ERROR_CAUSE_CONTENT_TYPE = "application/vnd.aws.lambda.error.cause+json"
_INVOCATION_PATH_RE = re.compile(
    rf"^{API_PREFIX}/runtime/invocation/(?P<id>[^/]*)/(?P<kind>response|error)$"
)

_ACCEPTED = json_reply(202, {"status": "OK"})


def sanitize_error_type(value: str | None) -> str:
    """Return the error type Lambda records for a `Lambda-Runtime-Function-Error-Type` value."""
    if value and _ERROR_TYPE_RE.search(value):
        return value
    if value and value.startswith("Function."):
        return "Function.Unknown"
    return "Runtime.Unknown"


def _transition_error(current: str, target: str) -> Reply:
    return error_reply(
        403,
        "InvalidStateTransition",
        f"State transition from {current} to {target} failed for runtime. "
        "Error: State transition is not allowed",
    )


def _too_large_reply() -> Reply:
    limit = _limits.RESPONSE_MAX_BYTES
    return error_reply(
        413,
        "RequestEntityTooLarge",
        f"Exceeded maximum allowed payload size ({limit} bytes).",
    )


class RuntimeRoutes:
    """Answer the runtime's requests, moving the environment's `Lifecycle`."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        self._life = lifecycle

    def route(self, req: Request, conn: socket.socket | None = None) -> Reply | None:
        """Answer a request under `/2018-06-01/`; None when the server closed meanwhile.

        `conn` is the runtime's connection, looked at before an event is handed over.
        """
        path = req.path.split("?", 1)[0]
        if path == NEXT_PATH:
            if req.method != "GET":
                return not_allowed("GET")
            return self._next(conn)
        match = _INVOCATION_PATH_RE.match(path)
        if match:
            if req.method != "POST":
                return not_allowed("POST")
            return self._invocation_answer(req, match["id"], match["kind"])
        if path == INIT_ERROR_PATH:
            if req.method != "POST":
                return not_allowed("POST")
            return self._init_error(req)
        if path == PING_PATH:
            if req.method != "GET":
                return not_allowed("GET")
            return 200, b"pong", "text/plain; charset=utf-8", []
        return NOT_FOUND

    def _next(self, conn: socket.socket | None) -> Reply | None:
        """Block until an invocation is dispatched, then hand it over (marked `delivered`).

        A runtime that died while it waited here (its end of `conn` closed) gets nothing: the
        invocation stays undelivered, so the service may serve it on a new environment.
        """
        life = self._life
        with life.cond:
            if life.state == INIT_ERROR:
                return _transition_error(INIT_ERROR, READY)
            if life.state == RUNNING and life.current is not None:
                # A repeated /next while the invocation runs gets the same event again.
                return _render_invocation(life.current)
            if life.current is not None and life.state == RESPONSE_SENT:
                life.current.finish()
            life.state = READY
            life.runtime_ready()
            life.current = None
            life.cond.notify_all()
            while life.pending is None:
                if life.closed:
                    return None
                if life.state == RUNNING and life.current is not None:
                    # Another /next took the invocation while this one waited: same event.
                    return _render_invocation(life.current)
                life.cond.wait()
            if conn is not None and peer_closed(conn):
                return None
            invocation, life.pending = life.pending, None
            invocation.delivered = True
            life.current = invocation
            life.state = RUNNING
            life.cond.notify_all()
            return _render_invocation(invocation)

    def _invocation_answer(self, req: Request, request_id: str, kind: str) -> Reply:
        life = self._life
        target = "InvocationResponse" if kind == "response" else "InvocationErrorResponse"
        with life.cond:
            current = life.current
            if current is None or current.request_id != request_id:
                # The id is checked before the body is looked at: a late, oversized
                # answer is still just an invalid request id.
                return error_reply(400, "InvalidRequestID", "Invalid request ID")
            echoed = req.header("lambda-runtime-invocation-id")
            if echoed is not None and echoed != current.invocation_id:
                return error_reply(400, "InvalidRequestID", "Invalid invocation ID")
            if life.state != RUNNING:
                return _transition_error(RESPONSE_SENT, target)
            life.state = RESPONSE_SENT
            if req.oversized:
                current.response_size = req.body_size
                current.complete("too_large", b"", None, None)
                life.cond.notify_all()
                return _too_large_reply()
            content_type = req.header("content-type")
            mode = req.header(_RESPONSE_MODE_HEADER)
            if kind == "response" and mode is not None and mode != "streaming":
                document = {"errorType": "Runtime.InvalidResponseModeHeader",
                            "errorMessage": f"The runtime answered with response mode {mode!r}; "
                                            f"the only mode is 'streaming'."}
                current.complete("error", json.dumps(document).encode(), "application/json",
                                 "Runtime.InvalidResponseModeHeader")
                life.cond.notify_all()
                return error_reply(400, "InvalidFunctionResponseMode",
                                   "Invalid function response mode")
            if kind == "response" and req.trailers.get(_ERROR_TYPE_TRAILER):
                # A streamed response that failed after it began: the runtime names the error
                # in trailers, its body base64 (Lambda passes both on as they are).
                current.complete("error", _decode_error_body(req.trailers.get(_ERROR_BODY_TRAILER)),
                                 "application/json", req.trailers[_ERROR_TYPE_TRAILER])
            elif kind == "response":
                current.complete("response", req.body, content_type, None)
            else:
                body = req.body
                if content_type and content_type.split(";")[0].strip() == _ERROR_CAUSE_CONTENT_TYPE:
                    body = _strip_error_cause(body)
                error_type = sanitize_error_type(req.header(_ERROR_TYPE_HEADER))
                current.complete("error", body, content_type, error_type)
            life.cond.notify_all()  # the service waits for the answer
        return _ACCEPTED

    def _init_error(self, req: Request) -> Reply:
        life = self._life
        with life.cond:
            if life.state != STARTED:
                return _transition_error(life.state, INIT_ERROR)
            if req.oversized:
                return _too_large_reply()
            error_type = sanitize_error_type(req.header(_ERROR_TYPE_HEADER))
            try:
                json.loads(req.body)
                content_type = "application/json"
            except ValueError:
                content_type = "application/octet-stream"
            life.runtime_init_error(error_type, req.body, content_type)
        return _ACCEPTED


def _render_invocation(inv: Invocation) -> Reply:
    headers = [
        ("Lambda-Runtime-Aws-Request-Id", inv.request_id),
        ("Lambda-Runtime-Deadline-Ms", str(inv.deadline_ms)),
        ("Lambda-Runtime-Invoked-Function-Arn", inv.function_arn),
        ("Lambda-Runtime-Invocation-Id", inv.invocation_id),
    ]
    if inv.trace_id:
        headers.append(("Lambda-Runtime-Trace-Id", inv.trace_id))
    if inv.client_context:
        headers.append(("Lambda-Runtime-Client-Context", inv.client_context))
    if inv.cognito_identity:
        headers.append(("Lambda-Runtime-Cognito-Identity", inv.cognito_identity))
    if inv.tenant_id:
        headers.append(("Lambda-Runtime-Aws-Tenant-Id", inv.tenant_id))
    return 200, inv.payload, "application/json", headers


def _strip_error_cause(body: bytes) -> bytes:
    # Lambda re-renders the cause as its own error document: errorMessage and errorType always
    # (empty when missing), stackTrace when not empty; errorCause goes to X-Ray only.
    try:
        doc = json.loads(body)
        if not isinstance(doc, dict):
            raise ValueError
        kept: dict[str, object] = {"errorMessage": doc.get("errorMessage") or "",
                                   "errorType": doc.get("errorType") or ""}
        if doc.get("stackTrace"):
            kept["stackTrace"] = doc["stackTrace"]
    except (ValueError, TypeError):
        return b'"Invalid error body"'
    return json.dumps(kept, separators=(",", ":")).encode()


def _decode_error_body(value: str | None) -> bytes:
    """Return the error document of a `Lambda-Runtime-Function-Error-Body` trailer (base64)."""
    if not value:
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value.encode("utf-8", "replace")
