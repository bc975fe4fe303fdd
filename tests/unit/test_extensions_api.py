"""The Extensions, Logs and Telemetry APIs, driven by a raw HTTP client: statuses and bodies.

Expected values are Lambda's, from its Runtime Interface Emulator's Go source and AWS's API
references (`docs/api-behaviours.md`).
"""

from __future__ import annotations

import http.client
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_lambda.config import limits as _limits
from pytest_lambda.runtime_api.lifecycle import Invocation
from pytest_lambda.runtime_api.server import RuntimeAPIServer

TIMEOUT = 10.0
REGISTER = "/2020-01-01/extension/register"
NEXT = "/2020-01-01/extension/event/next"
INIT_ERROR = "/2020-01-01/extension/init/error"
EXIT_ERROR = "/2020-01-01/extension/exit/error"
RUNTIME_NEXT = "/2018-06-01/runtime/invocation/next"
ARN = "arn:aws:lambda:us-east-1:012345678912:function:test_function"


def error(message: str, error_type: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type},
                      separators=(",", ":")).encode() + b"\n"


@pytest.fixture
def server() -> Iterator[RuntimeAPIServer]:
    srv = RuntimeAPIServer("127.0.0.1")
    yield srv
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


def quiet_call(server: RuntimeAPIServer, method: str, path: str) -> None:
    """Call from a background thread that may still be waiting when the server closes."""
    try:
        call(server, method, path)
    except OSError:
        pass


def register(
    server: RuntimeAPIServer, name: str = "recorder",
    events: tuple[str, ...] = ("INVOKE", "SHUTDOWN"),
) -> str:
    status, body, resp = call(server, "POST", REGISTER, {"events": list(events)},
                              {"Lambda-Extension-Name": name})
    assert status == 200, body
    ext_id = resp.getheader("Lambda-Extension-Identifier")
    assert ext_id is not None
    return ext_id


def next_in_background(
    server: RuntimeAPIServer, ext_id: str,
) -> tuple[threading.Thread, dict[str, tuple[int, bytes, http.client.HTTPResponse]]]:
    box: dict[str, tuple[int, bytes, http.client.HTTPResponse]] = {}

    def run() -> None:
        try:
            box["reply"] = call(server, "GET", NEXT,
                                headers={"Lambda-Extension-Identifier": ext_id})
        except OSError:  # still waiting when the test's server closed
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


# -- register ----------------------------------------------------------------------------------

def test_register_answers_the_identifier_and_function(server: RuntimeAPIServer) -> None:
    status, body, resp = call(server, "POST", REGISTER, {"events": ["INVOKE"]},
                              {"Lambda-Extension-Name": "recorder"})
    assert status == 200
    assert body == b'{"functionName":"test_function","functionVersion":"$LATEST","handler":""}\n'
    assert resp.getheader("Content-Type") == "application/json"
    uuid.UUID(resp.getheader("Lambda-Extension-Identifier"))


def test_register_gives_the_account_id_when_asked(server: RuntimeAPIServer) -> None:
    server.extensions.configure(function_name="fn", handler="app.handler",
                                account_id="123456789012")
    status, body, _ = call(server, "POST", REGISTER, {"events": []},
                           {"Lambda-Extension-Name": "x",
                            "Lambda-Extension-Accept-Feature": "accountId"})
    assert status == 200
    assert json.loads(body) == {"functionName": "fn", "functionVersion": "$LATEST",
                                "handler": "app.handler", "accountId": "123456789012"}


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({}, {"events": ["INVOKE"]},
         error("Empty extension name", "Extension.InvalidExtensionName")),
        ({"Lambda-Extension-Name": "r"}, {"events": ["BOGUS"]},
         error("BOGUS: ErrorInvalidEventType", "Extension.InvalidEventType")),
        ({"Lambda-Extension-Name": "r"}, {"events": [], "configurationKeys": ["a"]},
         error("configurationKeys are deprecated; use environment variables instead",
               "InvalidRequestFormat")),
    ],
)
def test_register_refusals(
    server: RuntimeAPIServer, headers: dict[str, Any], body: dict[str, Any], expected: bytes,
) -> None:
    assert call(server, "POST", REGISTER, body, headers)[:2] == (403, expected)


def test_register_refuses_malformed_json(server: RuntimeAPIServer) -> None:
    status, body, _ = call(server, "POST", REGISTER, b"{not json",
                           {"Lambda-Extension-Name": "r"})
    assert status == 403
    assert json.loads(body)["errorType"] == "InvalidRequestFormat"


def test_registering_twice_is_an_invalid_state(server: RuntimeAPIServer) -> None:
    register(server, "recorder", ("INVOKE",))
    status, body, _ = call(server, "POST", REGISTER, {"events": ["INVOKE"]},
                           {"Lambda-Extension-Name": "recorder"})
    assert (status, body) == (403, error(
        "State transition from Registered to Registered failed for extension recorder. "
        "Error: State transition is not allowed", "Extension.InvalidExtensionState"))


def test_internal_extensions_cannot_subscribe_to_shutdown(server: RuntimeAPIServer) -> None:
    status, body, _ = call(server, "POST", REGISTER, {"events": ["SHUTDOWN"]},
                           {"Lambda-Extension-Name": "internal"})
    assert (status, body) == (403, error("SHUTDOWN: ErrorInvalidEventType",
                                         "Extension.InvalidEventType"))


def test_launched_extensions_may_subscribe_to_shutdown(server: RuntimeAPIServer) -> None:
    thread = threading.Thread(target=server.extensions.announce, args=(["ext"],), daemon=True)
    thread.start()
    server.wait_for(lambda: bool(server.extensions.launched), TIMEOUT)
    register(server, "ext", ("INVOKE", "SHUTDOWN"))
    thread.join(TIMEOUT)
    assert not thread.is_alive()  # the gate opened once the launched extension registered


def test_at_most_ten_extensions(server: RuntimeAPIServer) -> None:
    for i in range(_limits.EXTENSIONS_MAX):
        register(server, f"e{i}", ())
    status, body, _ = call(server, "POST", REGISTER, {"events": []},
                           {"Lambda-Extension-Name": "one-too-many"})
    assert (status, body) == (403, error("Extension limit (10) reached",
                                         "Extension.TooManyExtensions"))


def test_registration_closes_when_the_runtime_asks_for_work(server: RuntimeAPIServer) -> None:
    threading.Thread(target=quiet_call, args=(server, "GET", RUNTIME_NEXT), daemon=True).start()
    server.wait_for(lambda: server.ready_at is not None, TIMEOUT)
    status, body, _ = call(server, "POST", REGISTER, {"events": []},
                           {"Lambda-Extension-Name": "late"})
    assert (status, body) == (403, error("Extension registration closed already",
                                         "Extension.RegistrationClosed"))


# -- identifiers -------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path"), [("GET", NEXT), ("POST", INIT_ERROR),
                                              ("POST", EXIT_ERROR),
                                              ("PUT", "/2022-07-01/telemetry"),
                                              ("PUT", "/2020-08-15/logs")])
def test_identifier_checks(server: RuntimeAPIServer, method: str, path: str) -> None:
    assert call(server, method, path)[:2] == (403, error(
        "Missing Lambda-Extension-Identifier header", "Extension.MissingExtensionIdentifier"))
    assert call(server, method, path, headers={"Lambda-Extension-Identifier": "nope"})[:2] == (
        403, error("Invalid Lambda-Extension-Identifier", "Extension.InvalidExtensionIdentifier"))
    unknown = str(uuid.uuid4())
    headers = {"Lambda-Extension-Identifier": unknown}
    message = f"Unknown extension {unknown}"
    if path in (INIT_ERROR, EXIT_ERROR):  # Lambda's wording there; the error type comes first
        assert call(server, method, path, headers=headers)[:2] == (403, error(
            "Lambda-Extension-Function-Error-Type not found", "Extension.MissingHeader"))
        headers["Lambda-Extension-Function-Error-Type"] = "Extension.X"
        message = "Unknown Lambda-Extension-Identifier"
    assert call(server, method, path, headers=headers)[:2] == (
        403, error(message, "Extension.UnknownExtensionIdentifier"))


def test_wrong_method_is_405(server: RuntimeAPIServer) -> None:
    assert call(server, "GET", REGISTER)[:2] == (405, b"")
    assert call(server, "POST", NEXT)[:2] == (405, b"")
    assert call(server, "POST", "/2022-07-01/telemetry")[:2] == (405, b"")


# -- events and init ---------------------------------------------------------------------------

def test_init_waits_for_every_extension_then_invoke_is_delivered(server: RuntimeAPIServer) -> None:
    ext_id = register(server, "recorder", ("INVOKE",))
    runtime = threading.Thread(target=quiet_call, args=(server, "GET", RUNTIME_NEXT), daemon=True)
    runtime.start()
    server.wait_for(lambda: server.runtime_ready_at is not None, TIMEOUT)
    assert server.ready_at is None  # the extension has not asked for an event yet
    thread, box = next_in_background(server, ext_id)
    assert server.wait_for(lambda: server.ready_at is not None, TIMEOUT)
    invocation = Invocation(payload=b"{}", deadline_ms=1_700_000_000_000, function_arn=ARN,
                            trace_id="Root=1-abc")
    server.dispatch(invocation)
    thread.join(TIMEOUT)
    status, body, resp = box["reply"]
    assert status == 200
    assert resp.getheader("Content-Type") == "application/json"
    uuid.UUID(resp.getheader("Lambda-Extension-Event-Identifier"))
    assert json.loads(body) == {
        "eventType": "INVOKE", "deadlineMs": 1_700_000_000_000,
        "requestId": invocation.request_id, "invokedFunctionArn": ARN,
        "tracing": {"type": "X-Amzn-Trace-Id", "value": "Root=1-abc"},
    }
    # Busy until it asks for the next event.
    assert not server.extensions.idle()
    next_in_background(server, ext_id)
    assert server.wait_for(server.extensions.idle, TIMEOUT)


def launch(server: RuntimeAPIServer, name: str) -> None:
    """Announce `name` as launched from /opt/extensions, as the environment's wrapper does."""
    threading.Thread(target=server.extensions.announce, args=([name],), daemon=True).start()
    server.wait_for(lambda: bool(server.extensions.launched), TIMEOUT)


def test_shutdown_event(server: RuntimeAPIServer) -> None:
    launch(server, "recorder")
    ext_id = register(server, "recorder", ("SHUTDOWN",))
    thread, box = next_in_background(server, ext_id)
    server.wait_for(lambda: server.extensions.by_id[ext_id].state == "Ready", TIMEOUT)
    assert server.extensions.begin_shutdown("spindown")
    thread.join(TIMEOUT)
    status, body, _ = box["reply"]
    doc = json.loads(body)
    assert status == 200 and doc["eventType"] == "SHUTDOWN"
    assert doc["shutdownReason"] == "spindown" and isinstance(doc["deadlineMs"], int)


def test_init_error_fails_init_with_the_reported_type(server: RuntimeAPIServer) -> None:
    ext_id = register(server, "recorder", ())
    headers = {"Lambda-Extension-Identifier": ext_id}
    assert call(server, "POST", INIT_ERROR, {}, headers)[:2] == (403, error(
        "Lambda-Extension-Function-Error-Type not found", "Extension.MissingHeader"))
    status, body, _ = call(server, "POST", INIT_ERROR, {},
                           {**headers, "Lambda-Extension-Function-Error-Type": "Extension.Boom"})
    assert (status, body) == (202, b'{"status":"OK"}\n')
    assert server.init_error is not None and server.init_error[0] == "Extension.Boom"
    assert server.init_error_source == "extension"


def test_an_invalid_init_error_type_becomes_init_error(server: RuntimeAPIServer) -> None:
    ext_id = register(server, "recorder", ())
    call(server, "POST", INIT_ERROR, {}, {"Lambda-Extension-Identifier": ext_id,
                                          "Lambda-Extension-Function-Error-Type": "oops"})
    assert server.init_error is not None and server.init_error[0] == "Extension.InitError"


def test_a_launched_extension_exiting_during_init_is_a_crash(server: RuntimeAPIServer) -> None:
    launch(server, "ext")
    server.extensions.extension_exited("ext", 2)
    assert server.init_error is not None
    error_type, body, _ = server.init_error
    assert error_type == "Extension.Crash"
    assert json.loads(body)["errorType"] == "Extension.Crash"


def test_exit_error_after_init_marks_the_environment_failed(server: RuntimeAPIServer) -> None:
    ext_id = register(server, "recorder", ())
    next_in_background(server, ext_id)
    threading.Thread(target=quiet_call, args=(server, "GET", RUNTIME_NEXT), daemon=True).start()
    server.wait_for(lambda: server.ready_at is not None, TIMEOUT)
    headers = {"Lambda-Extension-Identifier": ext_id,
               "Lambda-Extension-Function-Error-Type": "Extension.Bad"}
    assert call(server, "POST", INIT_ERROR, {}, headers)[:2] == (403, error(
        f"State transition from Ready to InitError failed for extension {ext_id}. "
        "Error: State transition is not allowed", "Extension.InvalidExtensionState"))
    assert call(server, "POST", EXIT_ERROR, {}, headers)[0] == 202
    assert server.extensions.failed


# -- Logs and Telemetry subscriptions ----------------------------------------------------------

SUBSCRIPTION = {"schemaVersion": "2022-12-13", "types": ["platform", "function"],
                "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243/"}}


@pytest.mark.parametrize("path", ["/2022-07-01/telemetry", "/2020-08-15/logs"])
def test_subscribe_answers_ok(server: RuntimeAPIServer, path: str) -> None:
    ext_id = register(server, "recorder", ())
    version = "2022-12-13" if "telemetry" in path else "2021-03-18"
    status, body, _ = call(server, "PUT", path, {**SUBSCRIPTION, "schemaVersion": version},
                           {"Lambda-Extension-Identifier": ext_id})
    assert (status, body) == (200, b'"OK"')
    server.telemetry.close()


@pytest.mark.parametrize(
    "change",
    [{"types": []}, {"types": ["bogus"]}, {"destination": None},
     {"destination": {"protocol": "UDP"}},
     {"destination": {"protocol": "HTTP", "URI": "http://example.com:80/"}},
     {"buffering": {"timeoutMs": 10}}, {"buffering": {"maxItems": 20_000}},
     {"buffering": {"maxBytes": 100}}],
)
def test_subscribe_validation_errors(server: RuntimeAPIServer, change: dict[str, Any]) -> None:
    ext_id = register(server, "recorder", ())
    status, body, _ = call(server, "PUT", "/2022-07-01/telemetry", {**SUBSCRIPTION, **change},
                           {"Lambda-Extension-Identifier": ext_id})
    assert status == 400
    doc = json.loads(body)
    assert doc["errorType"] == "ValidationError" and doc["errorMessage"]


@pytest.mark.parametrize(("path", "api"), [("/2022-07-01/telemetry", "Telemetry"),
                                           ("/2020-08-15/logs", "Logs")])
def test_subscriptions_close_after_init(server: RuntimeAPIServer, path: str, api: str) -> None:
    ext_id = register(server, "recorder", ())
    next_in_background(server, ext_id)
    threading.Thread(target=quiet_call, args=(server, "GET", RUNTIME_NEXT), daemon=True).start()
    server.wait_for(lambda: server.ready_at is not None, TIMEOUT)
    status, body, _ = call(server, "PUT", path, SUBSCRIPTION,
                           {"Lambda-Extension-Identifier": ext_id})
    assert (status, body) == (403, error(f"{api} API subscription is closed",
                                         f"{api}.SubscriptionClosed"))
