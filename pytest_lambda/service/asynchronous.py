"""Asynchronous (`Event`) invocation with Lambda's semantics: a queue, retries, event age,
destinations and dead-letter queues.

Lambda answers an `Event` invoke with 202 at once and queues the event. A function error is
retried up to `maximum_retry_attempts` times (two by default), a minute before the first retry
and two before the second; a throttled event goes back to the queue with a backoff that doubles
from a second to five minutes. An event older than `maximum_event_age` (six hours by default)
is discarded. When processing ends, a record goes to the on-success or on-failure destination,
and a failed event's payload to the dead-letter queue.

`delay_scale` multiplies every wait and the event age, so a test runs Lambda's timeline in
milliseconds with its order intact; 0 makes the waits zero and events never age out. Waits use
`clock` (real time by default), so unit tests can drive a fake one and `poke()` the queue.
"""

from __future__ import annotations

import heapq
import itertools
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pytest_lambda.config import limits as _limits
from pytest_lambda.errors import AsyncTimeoutError, TooManyRequestsException
from pytest_lambda.service.registry import LATEST, EventInvokeConfig
from pytest_lambda.system import clock as _clock

if TYPE_CHECKING:
    from pytest_lambda.result import InvokeResult

#: How one attempt at an asynchronous event ended.
AttemptOutcome = Literal["success", "error", "throttled", "harness-error"]
#: Why an asynchronous event's processing ended, as destination records name it ("Success",
#: "RetriesExhausted", "EventAgeExceeded"), or "HarnessError" when the harness itself failed.
Condition = Literal["Success", "RetriesExhausted", "EventAgeExceeded", "HarnessError"]


@dataclass(frozen=True)
class AsyncAttempt:
    """One attempt at running an asynchronous event, in the service's record of attempts
    (`LambdaAPI.attempts`)."""

    request_id: str
    """The event's request ID: the one `invoke_async` returned, or an `Event` invoke's
    `RequestId`."""
    function_arn: str
    """The ARN of the function the event is for."""
    attempt: int
    """The invocation count so far, throttled attempts included (1 for the first)."""
    outcome: AttemptOutcome
    """How the attempt ended: `"success"`, `"error"` (a function error), `"throttled"`
    (over a concurrency limit; it goes back to the queue) or `"harness-error"` (the harness
    itself failed)."""
    function_error: str | None = None
    """`"Unhandled"` for a function error, else `None`."""
    error_type: str | None = None
    """The error document's `errorType` (a function error), the throttle's reason, or the
    harness's exception's type."""
    error_message: str | None = None
    """The error document's `errorMessage`, the throttle's message, or the harness's
    exception's."""
    at: float = 0.0
    """When the attempt ended, in seconds since the epoch."""


@dataclass(frozen=True)
class Delivery:
    """A record sent (or not) to a destination or dead-letter queue (`AsyncResult.deliveries`)."""

    kind: Literal["on-success", "on-failure", "dead-letter"]
    """Which of the function's settings it went to: `"on-success"`, `"on-failure"` (the
    destinations) or `"dead-letter"` (the dead-letter queue)."""
    target: str
    """The ARN it was sent to."""
    error: str | None = None
    """`None` when it was delivered, else why not."""


@dataclass(frozen=True)
class AsyncResult:
    """How an asynchronous event's processing ended (`LambdaAPI.wait_for_async`,
    `LambdaAPI.result`, `LambdaAPI.results`)."""

    request_id: str
    """The event's request ID: the one `invoke_async` returned, or an `Event` invoke's
    `RequestId`."""
    function_arn: str
    """The ARN of the function the event is for."""
    condition: Condition
    """Why processing ended, as destination records name it: `"Success"`,
    `"RetriesExhausted"` (the function failed every attempt allowed, or was throttled at a
    reserved concurrency of 0), `"EventAgeExceeded"` (the event was older than its maximum
    age), or `"HarnessError"` when the harness itself failed."""
    invoke_count: int
    """How many times the function ran (throttled attempts not counted)."""
    payload: bytes
    """The event, as it was queued."""
    executed_version: str = LATEST
    """The version that ran last (`$LATEST` when none ran)."""
    function_error: str | None = None
    """`"Unhandled"` when the last run was a function error, else `None`."""
    response: bytes | None = None
    """The last run's response (the error document for a function error); `None` when the
    function never ran."""
    deliveries: tuple[Delivery, ...] = ()
    """The records sent to the destinations and dead-letter queue, and whether each arrived."""
    record: dict[str, Any] = field(default_factory=dict, repr=False)
    """The invocation record Lambda sends to a destination."""

    @property
    def ok(self) -> bool:
        """True when the event ended in `"Success"`."""
        return self.condition == "Success"


@dataclass
class QueuedEvent:
    """An event in the queue, with what its processing has seen so far."""

    request_id: str
    function_arn: str
    payload: bytes
    config: EventInvokeConfig
    enqueued: float = 0.0
    enqueued_wall: float = 0.0
    invocations: int = 0
    attempts: int = 0
    retries: int = 0
    throttles: int = 0
    last: InvokeResult | None = None
    #: Opaque to the queue: what the runner needs to invoke (the function, its backend).
    target: Any = None


#: Runs one attempt: returns the result, or raises TooManyRequestsException when throttled.
Runner = Callable[[QueuedEvent], "InvokeResult"]
#: Sends the records of a finished event; returns what was delivered where.
Deliverer = Callable[[QueuedEvent, AsyncResult], "tuple[Delivery, ...]"]


class AsyncQueue:
    """The asynchronous invocation queue of one service: schedules attempts, keeps records."""

    def __init__(self, run: Runner, deliver: Deliverer, *, delay_scale: float = 1.0,
                 workers: int = 8, clock: Callable[[], float] = _clock.perf,
                 wall: Callable[[], float] = _clock.wall) -> None:
        self._run = run
        self._deliver = deliver
        self.delay_scale = delay_scale
        self._clock = clock
        self._wall = wall
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, QueuedEvent]] = []
        self._seq = itertools.count()
        self._pending: dict[str, QueuedEvent] = {}
        self._workers = workers
        self._executor: ThreadPoolExecutor | None = None
        self._scheduler: threading.Thread | None = None
        self._closed = False
        #: Every attempt, in the order they ended.
        self.attempts: list[AsyncAttempt] = []
        #: Every finished event, in the order they finished.
        self.results: list[AsyncResult] = []

    # -- the queue ----------------------------------------------------------------------------

    def submit(self, event: QueuedEvent) -> None:
        """Queue `event` for its first attempt now."""
        event.enqueued = self._clock()
        event.enqueued_wall = self._wall()
        with self._cond:
            if self._closed:
                raise RuntimeError("The asynchronous queue is closed.")
            self._start()
            self._pending[event.request_id] = event
            self._push(event, event.enqueued)

    def poke(self) -> None:
        """Make the scheduler look at its clock again (after a fake clock moved)."""
        with self._cond:
            self._cond.notify_all()

    def pending(self) -> list[QueuedEvent]:
        """Return the events not yet finished."""
        with self._cond:
            return list(self._pending.values())

    def wait(self, timeout: float | None = None) -> None:
        """Return once every queued event has finished; raise AsyncTimeoutError (naming what is
        still pending) after `timeout` seconds of real time."""
        __tracebackhide__ = True
        end = None if timeout is None else _clock.perf() + timeout
        with self._cond:
            while self._pending:
                left = None if end is None else end - _clock.perf()
                if left is not None and left <= 0:
                    raise AsyncTimeoutError(self._describe_pending(timeout))
                self._cond.wait(timeout=left)

    def _describe_pending(self, timeout: float | None) -> str:
        events = list(self._pending.values())
        shown = "; ".join(
            f"{e.request_id} for {e.function_arn} (invoked {e.invocations} times, "
            f"{e.throttles} throttled)" for e in events[:10]
        )
        more = f" and {len(events) - 10} more" if len(events) > 10 else ""
        return (
            f"{len(events)} asynchronous event(s) still pending after {timeout} s: {shown}{more}. "
            f"Lambda waits 1 and 2 minutes before retries: set --lambda-async-delay-scale "
            f"(e.g. 0.01) to shorten them, or wait longer."
        )

    def result(self, request_id: str, timeout: float | None = None) -> AsyncResult:
        """Return how event `request_id` ended, waiting up to `timeout` seconds of real time
        for it (AsyncTimeoutError after that, KeyError for an id the queue never had)."""
        __tracebackhide__ = True
        end = None if timeout is None else _clock.perf() + timeout
        with self._cond:
            while True:
                for done in reversed(self.results):
                    if done.request_id == request_id:
                        return done
                if request_id not in self._pending:
                    raise KeyError(f"No asynchronous event has request id {request_id!r}.")
                left = None if end is None else end - _clock.perf()
                if left is not None and left <= 0:
                    raise AsyncTimeoutError(self._describe_pending(timeout))
                self._cond.wait(timeout=left)

    def close(self) -> None:
        """Stop scheduling; attempts under way finish, queued events are dropped."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    # -- scheduling ---------------------------------------------------------------------------

    def _start(self) -> None:
        if self._scheduler is None:
            self._executor = ThreadPoolExecutor(max_workers=self._workers,
                                                thread_name_prefix="lambda-async")
            self._scheduler = threading.Thread(target=self._schedule, name="lambda-async-queue",
                                               daemon=True)
            self._scheduler.start()

    def _push(self, event: QueuedEvent, due: float) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), event))
        self._cond.notify_all()

    def _schedule(self) -> None:
        with self._cond:
            while not self._closed:
                now = self._clock()
                if self._heap and self._heap[0][0] <= now:
                    _due, _seq, event = heapq.heappop(self._heap)
                    assert self._executor is not None
                    self._executor.submit(self._attempt, event)
                    continue
                # A fake clock does not move by itself: look again at least once a second.
                wait = 1.0 if not self._heap else min(max(self._heap[0][0] - now, 0.001), 1.0)
                self._cond.wait(timeout=wait)

    def _later(self, event: QueuedEvent, delay: float) -> None:
        now = self._clock()
        due = now + delay * self.delay_scale
        expiry = self._expiry(event)
        with self._cond:
            if self._closed:
                self._pending.pop(event.request_id, None)
                self._cond.notify_all()
                return
            # An event that would be too old by then is discarded when it gets too old.
            self._push(event, due if expiry is None else min(due, expiry))

    def _expiry(self, event: QueuedEvent) -> float | None:
        if self.delay_scale <= 0:
            return None
        return event.enqueued + event.config.maximum_event_age * self.delay_scale

    # -- attempts -----------------------------------------------------------------------------

    def _attempt(self, event: QueuedEvent) -> None:
        try:
            self._attempt_once(event)
        except BaseException as exc:  # never lose an event to the harness's own trouble
            self._record(event, "harness-error", error_type=type(exc).__name__,
                         error_message=str(exc))
            self._finish(event, "HarnessError")

    def _attempt_once(self, event: QueuedEvent) -> None:
        expiry = self._expiry(event)
        if expiry is not None and self._clock() >= expiry:
            self._finish(event, "EventAgeExceeded")
            return
        event.attempts += 1
        try:
            result = self._run(event)
        except TooManyRequestsException as exc:
            event.throttles += 1
            self._record(event, "throttled", error_type=exc.reason, error_message=exc.message)
            if exc.limit == 0:
                # Reserved concurrency 0: Lambda sends new events straight to the on-failure
                # destination or dead-letter queue, without retries.
                self._finish(event, "RetriesExhausted")
                return
            backoff = min(_limits.ASYNC_THROTTLE_BACKOFF_MIN_S * 2 ** (event.throttles - 1),
                          _limits.ASYNC_THROTTLE_BACKOFF_MAX_S)
            self._later(event, backoff)
            return
        event.invocations += 1
        event.last = result
        if result.function_error is None:
            self._record(event, "success")
            self._finish(event, "Success")
            return
        error = result.error or {}
        self._record(event, "error", function_error=result.function_error,
                     error_type=str(error.get("errorType", "")) or None,
                     error_message=str(error.get("errorMessage", "")) or None)
        if event.retries < event.config.maximum_retry_attempts:
            delay = _limits.ASYNC_RETRY_DELAYS_S[min(event.retries,
                                                     len(_limits.ASYNC_RETRY_DELAYS_S) - 1)]
            event.retries += 1
            self._later(event, delay)
            return
        self._finish(event, "RetriesExhausted")

    def _record(self, event: QueuedEvent, outcome: AttemptOutcome, **details: Any) -> None:
        attempt = AsyncAttempt(request_id=event.request_id, function_arn=event.function_arn,
                               attempt=event.attempts, outcome=outcome, at=self._wall(),
                               **details)
        with self._cond:
            self.attempts.append(attempt)

    def _finish(self, event: QueuedEvent, condition: Condition) -> None:
        result = AsyncResult(
            request_id=event.request_id, function_arn=event.function_arn, condition=condition,
            invoke_count=event.invocations, payload=event.payload,
            executed_version=event.last.executed_version if event.last else LATEST,
            function_error=event.last.function_error if event.last else None,
            response=event.last.raw_payload if event.last else None,
            record=invocation_record(event, condition, self._wall()),
        )
        deliveries: tuple[Delivery, ...] = ()
        if condition != "HarnessError":
            try:
                deliveries = self._deliver(event, result)
            except Exception as exc:  # a deliverer bug must not leave the event pending
                deliveries = (Delivery("on-failure", "?", f"{type(exc).__name__}: {exc}"),)
        done = AsyncResult(**{**result.__dict__, "deliveries": deliveries})
        with self._cond:
            self.results.append(done)
            self._pending.pop(event.request_id, None)
            self._cond.notify_all()


def invocation_record(event: QueuedEvent, condition: str, now: float) -> dict[str, Any]:
    """Return the invocation record Lambda sends a destination for `event`."""
    last = event.last
    version = last.executed_version if last is not None else LATEST
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": _iso(now),
        "requestContext": {
            "requestId": event.request_id,
            "functionArn": f"{event.function_arn}:{version}",
            "condition": condition,
            "approximateInvokeCount": max(event.invocations, 1 if event.attempts else 0),
        },
        "requestPayload": _decoded(event.payload),
    }
    if last is not None:
        context: dict[str, Any] = {"statusCode": last.status_code, "executedVersion": version}
        if last.function_error is not None:
            context["functionError"] = last.function_error
        record["responseContext"] = context
        record["responsePayload"] = _decoded(last.raw_payload)
    return record


def dead_letter_attributes(event: QueuedEvent) -> dict[str, tuple[str, str]]:
    """Return the attributes Lambda puts on a dead-letter message: name -> (type, value)."""
    last = event.last
    message = ""
    status = 200
    if last is not None:
        status = last.status_code
        error = last.error or {}
        message = str(error.get("errorMessage", "")) if isinstance(error, dict) else ""
    encoded = message.encode()[: _limits.DLQ_ERROR_MESSAGE_MAX_BYTES]
    return {
        "RequestID": ("String", event.request_id),
        "ErrorCode": ("Number", str(status)),
        "ErrorMessage": ("String", encoded.decode(errors="ignore") or "Unhandled"),
    }


def _decoded(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return raw.decode(errors="replace")


def _iso(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
