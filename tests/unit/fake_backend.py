"""A fake execution-environment backend: a runtime in a thread, speaking the real Runtime API.

`LambdaService` is the control plane (pools, cold and warm starts, deadlines, failures); this
backend lets its tests run in milliseconds, without Docker or subprocesses. Each environment
serves its Runtime API on loopback exactly as the real backends do; its "runtime" is a thread
that polls `/next` over HTTP and acts on the event:

- ``{"op": "echo", ...}``: respond with the event (the default for any other event);
- ``{"op": "raise", "message": m}``: post an `/error` with `errorType` "ValueError";
- ``{"op": "exit", "code": c}``: the runtime dies with exit status `c` before answering;
- ``{"op": "oom"}``: the runtime is killed as the memory limit would kill it;
- ``{"op": "sleep", "seconds": s}``: respond after `s` seconds (to test deadlines).

The function's variables steer init: ``INIT_SLEEP`` (seconds before the first `/next`),
``INIT_FAIL`` (post `/init/error` and exit), ``INIT_EXIT`` (exit with that status in init).
Every event the runtime received is recorded in `FakeBackend.received`, in order, with the
environment's number, so a test can prove that an invocation ran once.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pytest_lambda.backends.base import ExecutionEnvironment, ExitInfo
from pytest_lambda.config.function import FunctionConfig

if TYPE_CHECKING:
    from pytest_lambda.service.function import Function


class _Died(Exception):
    """The fake runtime process ends here."""


@dataclass
class FakeBackend:
    """Make `FakeEnvironment`s and record what they did."""

    name: str = "fake"
    created: list[FakeEnvironment] = field(default_factory=list)
    received: list[tuple[int, object]] = field(default_factory=list)
    closed: bool = False
    #: What `closing` was told, and how many environments had been destroyed then.
    closing_seen: tuple[bool, int] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, config: FunctionConfig, *, log_stream_name: str) -> FakeEnvironment:
        with self._lock:
            env = FakeEnvironment(config, backend=self, number=len(self.created))
            self.created.append(env)
            return env

    def record(self, number: int, event: object) -> None:
        with self._lock:
            self.received.append((number, event))

    def closing(self, *, hand_off: bool) -> None:
        self.closing_seen = (hand_off, len(self.destroyed))

    def close(self) -> None:
        self.closed = True

    @property
    def destroyed(self) -> list[FakeEnvironment]:
        return [env for env in self.created if env.destroyed]


class FakeEnvironment(ExecutionEnvironment):
    """One environment whose runtime is a thread of this process."""

    backend = "fake"

    def __init__(self, config: FunctionConfig, *, backend: FakeBackend, number: int) -> None:
        super().__init__(config, server_host="127.0.0.1")
        self._owner = backend
        self.number = number
        self.destroyed = False
        self.killed = False
        self._peer_port: int | None = None
        self._exit = ExitInfo(code=0)
        self._thread = threading.Thread(target=self._runtime, name=f"fake-runtime-{number}",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    # -- the runtime ----------------------------------------------------------------------

    def _runtime(self) -> None:
        variables = dict(self.config.env)
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=30)
        try:
            # The server admits only its environment's own connection (see `authorize_peer`).
            conn.connect()
            self._peer_port = conn.sock.getsockname()[1]
            self.server.admit_waiting()
            if "INIT_SLEEP" in variables:
                time.sleep(float(variables["INIT_SLEEP"]))
            if "INIT_FAIL" in variables:
                init_error = json.dumps({"errorMessage": variables["INIT_FAIL"],
                                         "errorType": "Runtime.ImportModuleError"})
                conn.request("POST", "/2018-06-01/runtime/init/error", init_error,
                             {"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"})
                conn.getresponse().read()
                self._die(ExitInfo(code=1))
            if "INIT_EXIT" in variables:
                self._die(ExitInfo(code=int(variables["INIT_EXIT"])))
            while not self.destroyed:
                conn.request("GET", "/2018-06-01/runtime/invocation/next")
                reply = conn.getresponse()
                payload = reply.read()
                if reply.status != 200:
                    self._die(ExitInfo(code=2))
                request_id = reply.getheader("Lambda-Runtime-Aws-Request-Id")
                event = json.loads(payload)
                self._owner.record(self.number, event)
                path, body, headers = self._act(request_id, event)
                if self.killed:
                    raise _Died()
                conn.request("POST", path, body, headers)
                conn.getresponse().read()
        except _Died:
            pass
        except (OSError, http.client.HTTPException):
            # The server closed (the environment was destroyed): the process is gone.
            self._exit = ExitInfo(signal=9)
        finally:
            conn.close()
            self._on_runtime_exit()

    def _act(self, request_id: str | None, event: object
             ) -> tuple[str, bytes, dict[str, str]]:
        base = f"/2018-06-01/runtime/invocation/{request_id}"
        op = event.get("op") if isinstance(event, dict) else None
        if op == "raise":
            assert isinstance(event, dict)
            body = json.dumps({"errorMessage": event.get("message", ""), "errorType": "ValueError",
                               "stackTrace": []})
            return f"{base}/error", body.encode(), {
                "Lambda-Runtime-Function-Error-Type": "Unhandled"}
        if op == "exit":
            assert isinstance(event, dict)
            self._die(ExitInfo(code=int(event.get("code", 1))))
        if op == "oom":
            self._die(ExitInfo(signal=9, oom_killed=True))
        if op == "sleep":
            assert isinstance(event, dict)
            time.sleep(float(event["seconds"]))
        return f"{base}/response", json.dumps(event).encode(), {}

    def _die(self, info: ExitInfo) -> None:
        self._exit = info
        raise _Died()

    # -- what the service asks of an environment ------------------------------------------

    def authorize_peer(self, peer: tuple[str, int]) -> bool | None:
        if self._peer_port is None:
            return None  # the runtime thread has not connected yet: ask again
        return peer[1] == self._peer_port

    def exit_info(self) -> ExitInfo:
        return self._exit

    def max_memory_used_mb(self) -> int:
        return 42

    def kill_from_outside(self) -> None:
        """Kill the runtime as `docker kill` would: it never answers, and its output ends."""
        self.killed = True
        self._exit = ExitInfo(signal=9)
        self._on_runtime_exit()

    def destroy(self) -> None:
        self.destroyed = True
        self.server.close()


class MakeFunction(Protocol):
    """The `make` fixture: a function of `name` on the fake backend (options: the service's)."""

    def __call__(self, name: str = "orders", **options: Any) -> Function: ...
