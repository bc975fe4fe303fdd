"""debug_port: a Python runtime under debugpy, attached to by a DAP client over the socket."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_lambda import BackendName, ConfigurationError, InvokeResult, LambdaService, RuntimeName

APP = '''import time


def handler(event, context):
    value = event.get("n", 0) * 2
    time.sleep(event.get("sleep", 0))
    return {"double": value}
'''

#: The line of `value = ...`, where the client sets its breakpoint.
BREAK_LINE = 5


class DapClient:
    """The Debug Adapter Protocol over a socket, as VS Code and PyCharm speak it to debugpy."""

    def __init__(self, port: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.sock.settimeout(timeout)
        self.buffer = b""
        self.seq = 0
        self.seen: list[dict[str, Any]] = []

    def request(self, command: str, **arguments: Any) -> int:
        self.seq += 1
        body = json.dumps({"seq": self.seq, "type": "request", "command": command,
                           "arguments": arguments}).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self.seq

    def _message(self) -> dict[str, Any]:
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"the debugger closed the connection; seen: {self.seen}")
            self.buffer += chunk
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = int(head.split(b":", 1)[1])
        while len(rest) < length:
            rest += self.sock.recv(65536)
        self.buffer = rest[length:]
        message: dict[str, Any] = json.loads(rest[:length])
        self.seen.append({k: message.get(k) for k in ("type", "command", "event", "success")})
        return message

    def response(self, command: str) -> dict[str, Any]:
        while True:
            message = self._message()
            if message.get("type") == "response" and message.get("command") == command:
                assert message["success"], message
                return message

    def event(self, name: str) -> dict[str, Any]:
        while True:
            message = self._message()
            if message.get("type") == "event" and message.get("event") == name:
                return message

    def close(self) -> None:
        self.sock.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def code(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(APP)
    tmp_path.chmod(0o755)  # the function's user in a container reads it
    return tmp_path


def test_a_debugger_attaches_stops_at_a_breakpoint_and_the_timeout_waits(
        lambda_service: LambdaService, backend: BackendName, python_runtime: RuntimeName,
        code: Path) -> None:
    port = _free_port()
    fn = lambda_service.function("app.handler", code=code, runtime=python_runtime, timeout=1,
                                 backend=backend, debug_port=port)
    results: list[InvokeResult] = []
    invoker = threading.Thread(target=lambda: results.append(fn.invoke({"n": 21})))
    invoker.start()
    remote = "/var/task" if backend == "docker" else str(code)
    client = DapClient(port)
    try:
        client.request("initialize", clientID="pytest", adapterID="debugpy", pathFormat="path",
                       linesStartAt1=True, columnsStartAt1=True)
        client.response("initialize")
        client.request("attach", justMyCode=False,
                       pathMappings=[{"localRoot": str(code), "remoteRoot": remote}])
        client.event("initialized")
        client.request("setBreakpoints", source={"path": str(code / "app.py")},
                       breakpoints=[{"line": BREAK_LINE}])
        verified = client.response("setBreakpoints")["body"]["breakpoints"]
        assert verified[0]["verified"], (verified, client.seen)
        client.request("configurationDone")
        client.response("configurationDone")
        stopped = client.event("stopped")
        assert stopped["body"]["reason"] == "breakpoint", stopped
        client.request("stackTrace", threadId=stopped["body"]["threadId"])
        frame = client.response("stackTrace")["body"]["stackFrames"][0]
        assert (frame["name"], frame["line"], Path(frame["source"]["path"]).name) == (
            "handler", BREAK_LINE, "app.py")
        time.sleep(2.5)  # held at the breakpoint well past the function's 1-second timeout
        assert invoker.is_alive()
        client.request("continue", threadId=stopped["body"]["threadId"])
        client.response("continue")
        invoker.join(timeout=60)
        [result] = results
        assert (result.function_error, result.payload) == (None, {"double": 42}), result.logs
        client.request("disconnect")
        client.response("disconnect")
    finally:
        client.close()
        invoker.join(timeout=60)
    # Detached: the timeout holds again, in the same (warm) environment. (The runtime notices
    # the client has gone within a moment; an invocation before that runs to its end.)
    for _ in range(5):
        late = fn.invoke({"n": 1, "sleep": 3})
        assert not late.cold_start
        if late.function_error is not None:
            break
    assert late.function_error == "Unhandled", late.logs
    assert "Task timed out after 1.00 seconds" in late.payload["errorMessage"], late.payload


@pytest.mark.parametrize("port", [0, 80, 65536, "5678", True])
def test_a_port_out_of_range_is_one_sentence(
        lambda_service: LambdaService, code: Path, port: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"^debug_port must be a TCP port number from "
                                                 r"1024 to 65535 \(.*\), not .*\.$"):
        lambda_service.function("app.handler", code=code, runtime="python3.13",
                                debug_port=port)


def test_a_port_in_use_is_one_sentence(
        lambda_service: LambdaService, backend: BackendName, python_runtime: RuntimeName,
        code: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        fn = lambda_service.function("app.handler", code=code, runtime=python_runtime,
                                     backend=backend, debug_port=port)
        with pytest.raises(ConfigurationError) as caught:
            fn.invoke({})
    assert str(caught.value) == (
        f"debug_port={port} is in use on 127.0.0.1 (by another program, or another environment "
        f"of a function debugged on it): pick a free port.")


def test_debug_port_is_for_python_runtimes(lambda_service: LambdaService, code: Path) -> None:
    with pytest.raises(ConfigurationError, match="^debug_port= applies to Python runtimes"):
        lambda_service.function("index.handler", code=code, runtime="nodejs22.x",
                                debug_port=5678)
