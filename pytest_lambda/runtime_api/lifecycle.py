"""The lifecycle of one execution environment, shared by the Runtime API and the Extensions API.

Both routers take one `Lifecycle` and neither knows the other: the lifecycle holds what joins
them. Lambda's phases run init -> invoke -> shutdown:

- Init ends when the runtime and every extension that registered have asked for their next
  event (`ready_at`), or fails when the runtime or an extension reports an error or an
  extension dies first (`init_error`, `init_error_source`). Extensions may register until the
  runtime's first `/next`, and subscribe to Logs and Telemetry until init ends.
- An invocation is handed over (`dispatch`) to the runtime's (current or next) `/next`; the
  runtime's state (`state`: Lambda's names) follows it through to its answer.
- Shutdown starts with a reason (`shutdown_reason`); `close()` ends everything.

Every waiter (a blocked `/next`, the service, the environment) waits on the one condition
(`cond`), and every change of state notifies it. Methods whose docstrings say "with the lock"
must be called holding `cond`; the others take it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

# The runtime's states, named as Lambda's messages name them.
STARTED = "Started"
READY = "Ready"
RUNNING = "Running"
RESPONSE_SENT = "RuntimeResponseSentState"
INIT_ERROR = "InitError"

#: Shutdown reasons as the platform sends them (the documentation prints them upper-case).
SPINDOWN, TIMEOUT, FAILURE = "spindown", "timeout", "failure"


@dataclass
class Invocation:
    """One invocation handed to a runtime, and what the runtime answered."""

    payload: bytes
    deadline_ms: int
    function_arn: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invocation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_context: str | None = None
    cognito_identity: str | None = None
    tenant_id: str | None = None
    trace_id: str | None = None
    # Filled in when the runtime answers (`done`), and when it asks for its next event
    # (`finished`): Lambda counts the invocation until then.
    outcome: str | None = None  # "response", "error" or "too_large"
    body: bytes = b""
    content_type: str | None = None
    error_type: str | None = None
    response_size: int = 0
    delivered: bool = False  # the runtime has received it from /next
    completed_at: float | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)
    finished_at: float | None = None
    finished: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def responded_at(self) -> float | None:
        """When the runtime answered (perf_counter seconds), or None."""
        return self.completed_at

    def complete(self, outcome: str, body: bytes, content_type: str | None, error_type: str | None
                 ) -> None:
        """Record the runtime's answer and wake whoever waits on `done`."""
        self.outcome = outcome
        self.body = body
        self.content_type = content_type
        self.error_type = error_type
        self.completed_at = time.perf_counter()
        self.done.set()

    def finish(self) -> None:
        """Mark the end of the invocation: the runtime asked for its next event."""
        if not self.finished.is_set():
            self.finished_at = time.perf_counter()
            self.finished.set()


class Lifecycle:
    """The phase, init outcome, current invocation and lock of one execution environment."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.closed = False
        #: The runtime's state (`STARTED`, `READY`, `RUNNING`, `RESPONSE_SENT`, `INIT_ERROR`).
        self.state = STARTED
        #: When the runtime first asked for an event (perf_counter seconds).
        self.runtime_ready_at: float | None = None
        #: When init ended: the runtime and every registered extension asked for their next event.
        self.ready_at: float | None = None
        self.init_error: tuple[str, bytes, str] | None = None  # (error type, body, content type)
        self.init_error_source = "runtime"  # or "extension"
        #: Why the environment is shutting down (None until it does).
        self.shutdown_reason: str | None = None
        #: The invocation dispatched and not yet handed over, and the one the runtime holds.
        self.pending: Invocation | None = None
        self.current: Invocation | None = None
        self._joined = False  # whether any extension took part in init
        self._unready: set[str] = set()  # extensions registered that have not asked for an event

    # -- waiting --------------------------------------------------------------------------------

    def wait_for(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        """Wait until `predicate()` holds (checked under the lock), the lifecycle closes, or
        `timeout` passes; return whether it was not the timeout."""
        with self.cond:
            return self.cond.wait_for(lambda: predicate() or self.closed, timeout)

    def notify(self) -> None:
        """Wake every waiter so it re-checks its condition (used when the runtime exits)."""
        with self.cond:
            self.cond.notify_all()

    def close(self) -> bool:
        """End the lifecycle and wake every waiter; False when it had ended already."""
        with self.cond:
            if self.closed:
                return False
            self.closed = True
            self.cond.notify_all()
            return True

    # -- init -----------------------------------------------------------------------------------

    @property
    def in_init(self) -> bool:
        """Whether init has not ended yet (it may have failed)."""
        return self.ready_at is None

    @property
    def registration_open(self) -> bool:
        """Whether extensions may still register: the runtime has not asked for an event yet."""
        return self.runtime_ready_at is None

    @property
    def subscriptions_open(self) -> bool:
        """Whether extensions may still subscribe to Logs and Telemetry: init is not over."""
        return self.ready_at is None

    def extension_joined(self, key: str) -> None:
        """Count the extension `key` in init: it ends only once it asks for an event. With the
        lock."""
        self._joined = True
        self._unready.add(key)
        self.cond.notify_all()

    def extension_ready(self, key: str) -> None:
        """Record that the extension `key` asked for its first event (or is gone). With the
        lock."""
        self._unready.discard(key)
        self._check_init_done()

    def runtime_ready(self) -> bool:
        """Record the runtime's first request for an event; False if it had asked before. With
        the lock."""
        if self.runtime_ready_at is not None:
            return False
        self.runtime_ready_at = time.perf_counter()
        self._check_init_done()
        return True

    def fail_init(self, error_type: str, body: bytes, content_type: str, *, source: str) -> None:
        """Fail the init with an error document unless it ended or failed already. With the
        lock."""
        if self.ready_at is None and self.init_error is None:
            self.init_error = (error_type, body, content_type)
            self.init_error_source = source
            self.cond.notify_all()

    def runtime_init_error(self, error_type: str, body: bytes, content_type: str) -> None:
        """Record the runtime's `/init/error`: the runtime is in `INIT_ERROR` for good. With the
        lock."""
        self.init_error = (error_type, body, content_type)
        self.state = INIT_ERROR
        self.cond.notify_all()

    def _check_init_done(self) -> None:
        if (self.ready_at is None and self.runtime_ready_at is not None
                and self.init_error is None and not self._unready):
            self.ready_at = time.perf_counter() if self._joined else self.runtime_ready_at
            self.cond.notify_all()

    # -- invoke ---------------------------------------------------------------------------------

    def dispatch(self, invocation: Invocation) -> None:
        """Queue `invocation` for the runtime's `/next`. With the lock."""
        if self.pending is not None or (self.current is not None and self.state == RUNNING):
            raise RuntimeError("an execution environment serves one invocation at a time")
        self.pending = invocation
        self.cond.notify_all()

    def abandon_current(self) -> None:
        """Forget the running invocation (after a timeout): late answers are refused."""
        with self.cond:
            self.current = None
            self.pending = None

    # -- shutdown -------------------------------------------------------------------------------

    def begin_shutdown(self, reason: str) -> None:
        """Enter the shutdown phase for `reason` (spindown, timeout, failure). With the lock."""
        self.shutdown_reason = reason
        self.cond.notify_all()
