"""Runtime, Extensions and Telemetry API behaviours where Lambda's answer is easy to miss.

Each test pins one row of the table in `docs/api-behaviours.md`: the answer Lambda gives (from
AWS's API references and the Runtime Interface Emulator's Go source), driven by a raw HTTP
client. The end-to-end counterparts with the real runtime clients are in
`tests/integration/test_api_clients.py`.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_lambda.config import names as _aws
from pytest_lambda.runtime_api.lifecycle import Invocation
from pytest_lambda.runtime_api.runtime import sanitize_error_type
from pytest_lambda.runtime_api.server import RuntimeAPIServer

TIMEOUT = 10.0
NEXT = "/2018-06-01/runtime/invocation/next"
REGISTER = "/2020-01-01/extension/register"
EXT_NEXT = "/2020-01-01/extension/event/next"
EXT_INIT_ERROR = "/2020-01-01/extension/init/error"
EXT_EXIT_ERROR = "/2020-01-01/extension/exit/error"
TELEMETRY = "/2022-07-01/telemetry"
LOGS = "/2020-08-15/logs"
ARN = "arn:aws:lambda:us-east-1:012345678912:function:test_function"
ACCEPTED = b'{"status":"OK"}\n'


def doc(message: str, error_type: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type},
                      separators=(",", ":")).encode() + b"\n"


@pytest.fixture
def server() -> Iterator[RuntimeAPIServer]:
    srv = RuntimeAPIServer("127.0.0.1")
    yield srv
    srv.telemetry.close()
    srv.close()


def call(
    server: RuntimeAPIServer, method: str, path: str, body: object = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, http.client.HTTPResponse]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    try:
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        conn.request(method, path, body=data, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read(), resp
    finally:
        conn.close()


def quiet_call(
    server: RuntimeAPIServer, method: str, route: str, headers: dict[str, str] | None = None,
) -> None:
    """Call from a thread that may still be waiting when the test's server closes."""
    try:
        call(server, method, route, headers=headers)
    except OSError:
        pass


def raw(
    server: RuntimeAPIServer, data: bytes, *, wait_for_continue: bool = False,
) -> tuple[bytes, int, bytes]:
    """Send `data` (head, then body) on a fresh socket; return (interim lines, status, body)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        head, sep, body = data.partition(b"\r\n\r\n")
        sock.sendall(head + sep)
        interim = b""
        if wait_for_continue:
            sock.settimeout(3.0)  # curl waits 1 s, then sends anyway; 3 s proves no answer
            try:
                while not interim.endswith(b"\r\n\r\n"):
                    chunk = sock.recv(1)
                    if not chunk:
                        break
                    interim += chunk
            except TimeoutError:
                pass
            sock.settimeout(TIMEOUT)
        sock.sendall(body)
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        return interim, resp.status, resp.read()


def invocation(**kwargs: Any) -> Invocation:
    return Invocation(payload=b"{}", deadline_ms=1_700_000_000_000, function_arn=ARN, **kwargs)


def start(
    server: RuntimeAPIServer, inv: Invocation | None = None,
) -> tuple[Invocation, http.client.HTTPResponse]:
    inv = inv or invocation()
    server.dispatch(inv)
    status, _body, resp = call(server, "GET", NEXT)
    assert status == 200
    return inv, resp


def path(inv: Invocation, kind: str = "response") -> str:
    return f"/2018-06-01/runtime/invocation/{inv.request_id}/{kind}"


# -- 2. request headers up to Go's 1 MiB ----------------------------------------------------

def test_an_error_cause_header_of_a_megabyte_is_accepted(server: RuntimeAPIServer) -> None:
    # awslambdaric sends the X-Ray error cause in a header of up to 1 MiB.
    inv, _ = start(server)
    cause = json.dumps({"working_directory": "/var/task",
                        "exceptions": [{"message": "x" * 900_000}], "paths": []})
    status, body, _ = call(server, "POST", path(inv, "error"), b'{"errorMessage":"m"}',
                           {"Lambda-Runtime-Function-XRay-Error-Cause": cause})
    assert (status, body) == (202, ACCEPTED)


def test_headers_past_a_megabyte_are_refused_with_431(server: RuntimeAPIServer) -> None:
    status_line = b"GET " + NEXT.encode() + b" HTTP/1.1\r\n"
    data = status_line + b"X-Big: " + b"a" * ((1 << 20) + 8192) + b"\r\n\r\n"
    _, status, _ = raw(server, data)
    assert status == 431


# -- 3. streaming: error trailers, response mode ---------------------------------------------

def streamed(inv: Invocation, body: bytes, trailers: bytes, mode: bytes = b"streaming") -> bytes:
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:4], body[4:]))
    return (
        b"POST " + path(inv).encode() + b" HTTP/1.1\r\nHost: x\r\n"
        b"Lambda-Runtime-Function-Response-Mode: " + mode + b"\r\n"
        b"Trailer: Lambda-Runtime-Function-Error-Type\r\n"
        b"Trailer: Lambda-Runtime-Function-Error-Body\r\n"
        b"Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunks + b"0\r\n" + trailers + b"\r\n"
    )


def test_a_streamed_response_with_error_trailers_is_a_function_error(
    server: RuntimeAPIServer,
) -> None:
    inv, _ = start(server)
    error = {"errorType": "Error", "errorMessage": "boom", "trace": ["Error: boom"]}
    trailers = (b"Lambda-Runtime-Function-Error-Type: Error\r\n"
                b"Lambda-Runtime-Function-Error-Body: "
                + base64.b64encode(json.dumps(error).encode()) + b"\r\n")
    _, status, body = raw(server, streamed(inv, b"partial body", trailers))
    assert (status, body) == (202, ACCEPTED)
    assert inv.outcome == "error"
    assert inv.error_type == "Error"  # passed on as the runtime named it
    assert json.loads(inv.body) == error


def test_a_streamed_response_without_error_trailers_is_a_response(server: RuntimeAPIServer) -> None:
    inv, _ = start(server)
    _, status, _ = raw(server, streamed(inv, b"whole body", b""))
    assert status == 202
    assert (inv.outcome, inv.body) == ("response", b"whole body")


def test_an_unknown_response_mode_is_400_and_fails_the_invocation(server: RuntimeAPIServer) -> None:
    inv, _ = start(server)
    _, status, body = raw(server, streamed(inv, b"some body", b"", mode=b"buffered"))
    assert (status, body) == (400, doc("Invalid function response mode",
                                       "InvalidFunctionResponseMode"))
    assert inv.outcome == "error" and inv.error_type == "Runtime.InvalidResponseModeHeader"
    assert json.loads(inv.body)["errorType"] == "Runtime.InvalidResponseModeHeader"
    # The runtime may go on to its next invocation.
    server.dispatch(second := invocation())
    status, _, resp = call(server, "GET", NEXT)
    assert status == 200 and resp.getheader("Lambda-Runtime-Aws-Request-Id") == second.request_id


# -- 4. Expect: 100-continue -----------------------------------------------------------------

def test_expect_100_continue_is_answered_before_the_body(server: RuntimeAPIServer) -> None:
    inv, _ = start(server)
    payload = b"r" * 1_100_000
    data = (b"POST " + path(inv).encode() + b" HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload)
    interim, status, _ = raw(server, data, wait_for_continue=True)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert status == 202 and inv.body == payload


def test_expect_100_continue_on_a_wrong_id_gets_the_final_answer(server: RuntimeAPIServer) -> None:
    start(server)
    data = (b"POST /2018-06-01/runtime/invocation/nope/response HTTP/1.1\r\nHost: x\r\n"
            b"Expect: 100-continue\r\nContent-Length: 3\r\n\r\nabc")
    _, status, body = raw(server, data)
    assert (status, body) == (400, doc("Invalid request ID", "InvalidRequestID"))


# -- 5. an invocation ends at the runtime's next /next ------------------------------------

def test_the_invocation_ends_when_the_runtime_asks_for_the_next_one(
    server: RuntimeAPIServer,
) -> None:
    inv, _ = start(server)
    assert call(server, "POST", path(inv), b'"ok"')[0] == 202
    assert inv.done.is_set() and not inv.finished.is_set()  # answered, not yet ended
    threading.Thread(target=quiet_call, args=(server, "GET", NEXT), daemon=True).start()
    assert inv.finished.wait(TIMEOUT)
    assert inv.responded_at is not None and inv.finished_at is not None
    assert inv.finished_at >= inv.responded_at


# -- 9. shapes and wording --------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("Runtime.Foo2", "Runtime.Foo2"),  # Go's regexp.MatchString is not anchored
    ("Function.MyError_1", "Function.MyError_1"),
    ("x.Runtime.Ab", "x.Runtime.Ab"),
    ("Function.x", "Function.Unknown"),
    ("Runtime.", "Runtime.Unknown"),
    ("", "Runtime.Unknown"),
    (None, "Runtime.Unknown"),
])
def test_error_type_check_is_unanchored_like_lambdas(value: str | None, expected: str) -> None:
    assert sanitize_error_type(value) == expected


def test_an_error_cause_without_a_message_gets_an_empty_one(server: RuntimeAPIServer) -> None:
    inv, _ = start(server)
    call(server, "POST", path(inv, "error"), b'{"errorType":"E","errorCause":{}}',
         {"Content-Type": "application/vnd.aws.lambda.error.cause+json"})
    assert json.loads(inv.body) == {"errorMessage": "", "errorType": "E"}


@pytest.mark.parametrize(("method", "route", "allow"), [
    ("POST", NEXT, "GET"),
    ("GET", "/2018-06-01/runtime/invocation/x/response", "POST"),
    ("GET", "/2018-06-01/runtime/init/error", "POST"),
    ("GET", REGISTER, "POST"),
    ("POST", EXT_NEXT, "GET"),
    ("GET", TELEMETRY, "PUT"),
])
def test_405_names_the_allowed_method(
    server: RuntimeAPIServer, method: str, route: str, allow: str,
) -> None:
    status, body, resp = call(server, method, route)
    assert (status, body) == (405, b"")
    assert resp.getheader("Allow") == allow


# -- 10. trace header --------------------------------------------------------------------------

def test_next_carries_the_trace_header(server: RuntimeAPIServer) -> None:
    trace = _aws.new_trace_id()
    _, resp = start(server, invocation(trace_id=trace))
    assert resp.getheader("Lambda-Runtime-Trace-Id") == trace


def test_new_trace_ids_have_lambdas_form_and_differ() -> None:
    now = time.time()
    first, second = _aws.new_trace_id(now), _aws.new_trace_id(now)
    pattern = rf"Root=1-{int(now):08x}-[0-9a-f]{{24}};Parent=[0-9a-f]{{16}};Sampled=0"
    assert re.fullmatch(pattern, first) and re.fullmatch(pattern, second)
    assert first != second
    assert _aws.validate_trace_id(first) == first


@pytest.mark.parametrize("bad", ["", "abc", "Root=1-xyz", 42, "Root=1-5759e988-bd862e3fe1be46a9"])
def test_a_malformed_trace_id_gets_one_sentence(bad: str | int) -> None:
    with pytest.raises(ValueError, match=r"^trace_id=.* is not an X-Ray trace header: pass one"):
        _aws.validate_trace_id(bad)


# -- 7. the per-extension state machine --------------------------------------------------------

def register(
    server: RuntimeAPIServer, name: str = "ext", events: tuple[str, ...] = ("INVOKE",),
) -> str:
    status, body, resp = call(server, "POST", REGISTER, {"events": list(events)},
                              {"Lambda-Extension-Name": name})
    assert status == 200, body
    ext_id = resp.getheader("Lambda-Extension-Identifier")
    assert ext_id is not None
    return ext_id


def ext_headers(ext_id: str, error_type: str | None = None) -> dict[str, str]:
    headers = {"Lambda-Extension-Identifier": ext_id}
    if error_type:
        headers["Lambda-Extension-Function-Error-Type"] = error_type
    return headers


def transition(current: str, target: str, ext_id: str) -> bytes:
    return doc(f"State transition from {current} to {target} failed for extension {ext_id}. "
               "Error: State transition is not allowed", "Extension.InvalidExtensionState")


def test_next_after_init_error_is_403(server: RuntimeAPIServer) -> None:
    ext_id = register(server)
    assert call(server, "POST", EXT_INIT_ERROR, b"", ext_headers(ext_id, "Extension.X"))[0] == 202
    status, body, _ = call(server, "GET", EXT_NEXT, headers=ext_headers(ext_id))
    assert (status, body) == (403, transition("InitError", "Ready", ext_id))
    # init/error again is allowed (idempotent); exit/error is not.
    assert call(server, "POST", EXT_INIT_ERROR, b"", ext_headers(ext_id, "Extension.X"))[0] == 202
    status, body, _ = call(server, "POST", EXT_EXIT_ERROR, b"", ext_headers(ext_id, "Extension.Y"))
    assert (status, body) == (403, transition("InitError", "Exited", ext_id))


def test_next_after_exit_error_is_403(server: RuntimeAPIServer) -> None:
    ext_id = register(server)
    assert call(server, "POST", EXT_EXIT_ERROR, b"", ext_headers(ext_id, "Extension.X"))[0] == 202
    status, body, _ = call(server, "GET", EXT_NEXT, headers=ext_headers(ext_id))
    assert (status, body) == (403, transition("ExitError", "Ready", ext_id))
    status, body, _ = call(server, "POST", EXT_INIT_ERROR, b"", ext_headers(ext_id, "Extension.X"))
    assert (status, body) == (403, transition("ExitError", "InitError", ext_id))


def test_init_error_from_the_ready_state_is_403(server: RuntimeAPIServer) -> None:
    ext_id = register(server)
    threading.Thread(target=quiet_call, args=(server, "GET", EXT_NEXT, ext_headers(ext_id)),
                     daemon=True).start()
    assert server.wait_for(lambda: server.extensions.by_id[ext_id].state == "Ready", TIMEOUT)
    status, body, _ = call(server, "POST", EXT_INIT_ERROR, b"", ext_headers(ext_id, "Extension.X"))
    assert (status, body) == (403, transition("Ready", "InitError", ext_id))
    assert server.init_error is None


@pytest.mark.parametrize("route", [EXT_INIT_ERROR, EXT_EXIT_ERROR])
def test_unknown_identifier_on_error_reports_is_worded_like_lambdas(
    server: RuntimeAPIServer, route: str,
) -> None:
    status, body, _ = call(server, "POST", route, b"",
                           ext_headers("0b0e6b6a-8f1e-4a8e-9a55-2d6f0b4b7c11", "Extension.X"))
    assert (status, body) == (403, doc("Unknown Lambda-Extension-Identifier",
                                       "Extension.UnknownExtensionIdentifier"))


@pytest.mark.parametrize("body", [b"null", b'{"events":["INVOKE"],"configurationKeys":[]}',
                                  b'{"events":null}'])
def test_registration_bodies_lambda_accepts(server: RuntimeAPIServer, body: bytes) -> None:
    status, answer, _ = call(server, "POST", REGISTER, body, {"Lambda-Extension-Name": "ext"})
    assert status == 200, answer


def test_registration_with_configuration_keys_is_refused(server: RuntimeAPIServer) -> None:
    status, body, _ = call(server, "POST", REGISTER, b'{"configurationKeys":["a"]}',
                           {"Lambda-Extension-Name": "ext"})
    assert (status, body) == (403, doc(
        "configurationKeys are deprecated; use environment variables instead",
        "InvalidRequestFormat"))


# -- 8. subscriptions --------------------------------------------------------------------------

SUBSCRIPTION = {"schemaVersion": "2022-12-13", "types": ["platform"],
                "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243/"}}


def subscribe(
    server: RuntimeAPIServer, route: str, document: object,
) -> tuple[int, bytes, http.client.HTTPResponse]:
    ext_id = register(server)
    return call(server, "PUT", route, document, ext_headers(ext_id))


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "0.0.0.0", "example.com"])
def test_a_destination_outside_the_sandbox_is_refused(server: RuntimeAPIServer, host: str) -> None:
    destination = {"protocol": "HTTP", "URI": f"http://{host}:4243/"}
    status, body, _ = subscribe(server, TELEMETRY, {**SUBSCRIPTION, "destination": destination})
    assert status == 400
    assert json.loads(body)["errorType"] == "ValidationError"


@pytest.mark.parametrize("host", ["sandbox.localdomain", "sandbox"])
def test_a_sandbox_destination_is_accepted(server: RuntimeAPIServer, host: str) -> None:
    destination = {"protocol": "HTTP", "URI": f"http://{host}:4243/x"}
    status, _, _ = subscribe(server, TELEMETRY, {**SUBSCRIPTION, "destination": destination})
    assert status == 200


@pytest.mark.parametrize(("route", "version", "ok"), [
    (TELEMETRY, "2022-07-01", True), (TELEMETRY, "2022-12-13", True),
    (TELEMETRY, "2025-01-29", True), (TELEMETRY, "2021-03-18", False),
    (TELEMETRY, None, False), (LOGS, "2020-08-15", True), (LOGS, "2021-03-18", True),
    (LOGS, "2022-12-13", False), (LOGS, None, False),
])
def test_schema_versions(
    server: RuntimeAPIServer, route: str, version: str | None, ok: bool,
) -> None:
    document = {k: v for k, v in SUBSCRIPTION.items() if k != "schemaVersion"}
    if version is not None:
        document["schemaVersion"] = version
    status, body, _ = subscribe(server, route, document)
    assert status == (200 if ok else 400), body
    if not ok:
        assert "schemaVersion" in json.loads(body)["errorMessage"]


def test_a_subscription_is_reported_as_platform_telemetry_subscription(
    server: RuntimeAPIServer,
) -> None:
    ext_id = register(server, "watcher")
    assert call(server, "PUT", TELEMETRY, {**SUBSCRIPTION, "types": ["platform", "function"]},
                ext_headers(ext_id))[0] == 200
    records = server.extensions.records() + server.telemetry.records()
    kinds = [kind for kind, _ in records]
    assert "platform.extension" in kinds and "platform.telemetrySubscription" in kinds
    extension = dict(records)["platform.extension"]
    assert extension == {"name": "watcher", "state": "Ready", "events": ["INVOKE"]}
    assert dict(records)["platform.telemetrySubscription"] == {
        "name": "watcher", "state": "Subscribed", "types": ["platform", "function"]}


class _Listener:
    """A destination on 127.0.0.1 for subscriptions that name sandbox.localdomain."""

    def __init__(self) -> None:
        import http.server

        self.records: list[dict[str, Any]] = []
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                listener.records += json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.mark.parametrize(("route", "version", "tracing", "runtime_done"), [
    (TELEMETRY, "2022-07-01", False, True), (TELEMETRY, "2022-12-13", True, True),
    (TELEMETRY, "2025-01-29", True, True), (LOGS, "2020-08-15", False, False),
    (LOGS, "2021-03-18", False, True),
])
def test_records_take_the_shape_of_the_subscribed_schema(
    server: RuntimeAPIServer, route: str, version: str, tracing: bool, runtime_done: bool,
) -> None:
    listener = _Listener()
    try:
        ext_id = register(server)
        destination = {"protocol": "HTTP",
                       "URI": f"http://sandbox.localdomain:{listener.port}/"}
        assert call(server, "PUT", route, {"schemaVersion": version, "types": ["platform"],
                                           "destination": destination},
                    ext_headers(ext_id))[0] == 200
        trace = _aws.new_trace_id()
        api = server.telemetry
        api.publish_start(request_id="r1", wall=time.time(), trace_id=trace)
        api.publish_runtime_done(request_id="r1", wall=time.time(), output="", status="success",
                                 error_type=None, duration_ms=1.0, produced_bytes=2,
                                 trace_id=trace)
        api.flush(TIMEOUT)
        kinds = [r["type"] for r in listener.records]
        assert ("platform.runtimeDone" in kinds) == runtime_done
        start = next(r for r in listener.records if r["type"] == "platform.start")["record"]
        assert ("tracing" in start) == tracing
        if tracing:
            assert start["tracing"] == {"type": "X-Amzn-Trace-Id", "value": trace}
    finally:
        listener.server.shutdown()
        listener.server.server_close()


def test_an_invocation_id_that_is_not_the_current_one_is_400(server: RuntimeAPIServer) -> None:
    inv, _ = start(server)
    status, body, _ = call(server, "POST", path(inv), b'"ok"',
                           {"Lambda-Runtime-Invocation-Id": "someone-else"})
    assert (status, body) == (400, doc("Invalid invocation ID", "InvalidRequestID"))
    assert not inv.done.is_set()


def test_every_test_the_behaviours_page_names_exists() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    page = (root / "docs" / "api-behaviours.md").read_text()
    named = set(re.findall(r"`(test_[a-z0-9_]+)`", page))
    assert len(named) > 40
    sources = "".join(p.read_text() for p in (root / "tests").rglob("test_*.py"))
    missing = sorted(name for name in named if not re.search(rf"def {name}\(", sources))
    assert not missing, f"docs/api-behaviours.md names tests that do not exist: {missing}"


@pytest.mark.parametrize(("line", "version", "arn"), [
    ("INIT_START Runtime Version: python:3.13.v1\tRuntime Version ARN: "
     "arn:aws:lambda:eu-west-1::runtime:ab12\n", "python:3.13.v1",
     "arn:aws:lambda:eu-west-1::runtime:ab12"),
    ("INIT_START Runtime Version: python3.13\n", "python3.13", None),
    ("", None, None),
])
def test_init_start_gives_telemetry_its_runtime_version(
    line: str, version: str | None, arn: str | None,
) -> None:
    from types import SimpleNamespace

    from pytest_lambda.service.platform_events import runtime_version

    config = SimpleNamespace(arn="arn:aws:lambda:us-west-2:123456789012:function:f")
    # A stand-in with the one attribute read, not a whole FunctionConfig.
    got_version, got_arn = runtime_version(line + "some output\n", config)  # type: ignore[arg-type]
    assert got_version == version
    if arn is not None:
        assert got_arn == arn
    elif version is not None:  # made up in Lambda's shape, in the function's region
        assert re.fullmatch(r"arn:aws:lambda:us-west-2::runtime:[0-9a-f]{64}", got_arn or "")
    else:
        assert got_arn is None
