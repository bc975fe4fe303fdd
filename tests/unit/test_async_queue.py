"""Lambda's asynchronous semantics: retries and their waits, the event age, throttles, the record
of attempts, destinations and dead-letter queues.

The queue runs on a fake clock that only the test moves, so a minute's wait costs nothing and
no assertion depends on real time; destinations go to a moto server this module starts.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_lambda.errors import AsyncTimeoutError, TooManyRequestsException
from pytest_lambda.result import InvokeResult
from pytest_lambda.service.asynchronous import (
    AsyncQueue,
    AsyncResult,
    Delivery,
    QueuedEvent,
    invocation_record,
)
from pytest_lambda.service.destinations import AwsTarget, Destinations
from pytest_lambda.service.registry import EventInvokeConfig

ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Script:
    """A runner that plays a list of outcomes: "ok", "error" or "throttle"."""

    def __init__(self, outcomes: list[str]) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[float] = []
        self.ran = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, event: QueuedEvent, clock: FakeClock) -> InvokeResult:
        with self.lock:
            self.calls.append(clock.now)
            outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        self.ran.set()
        if outcome == "throttle":
            raise TooManyRequestsException(
                "Rate Exceeded.", reason="ReservedFunctionConcurrentInvocationLimitExceeded")
        if outcome == "error":
            return InvokeResult(raw_payload=b'{"errorMessage": "bad order", "errorType": '
                                            b'"ValueError"}',
                                request_id=event.request_id, function_error="Unhandled")
        return InvokeResult(raw_payload=b'{"ok": true}', request_id=event.request_id)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _queue(script: Script, clock: FakeClock, deliveries: list[AsyncResult] | None = None,
           scale: float = 1.0) -> AsyncQueue:
    def deliver(event: QueuedEvent, result: AsyncResult) -> tuple[Delivery, ...]:
        if deliveries is not None:
            deliveries.append(result)
        return ()

    return AsyncQueue(lambda event: script(event, clock), deliver, delay_scale=scale,
                      clock=clock, wall=lambda: 1573755365.568)


def _event(request_id: str = "req-1", **settings: Any) -> QueuedEvent:
    return QueuedEvent(request_id=request_id, function_arn=ARN, payload=b'{"order": 7}',
                       config=EventInvokeConfig(**settings))


def _advance(queue: AsyncQueue, clock: FakeClock, script: Script, seconds: float,
             expect_run: bool = True) -> None:
    script.ran.clear()
    clock.now += seconds
    queue.poke()
    if expect_run:
        assert script.ran.wait(timeout=10)


def _settle(queue: AsyncQueue, count: int) -> None:
    """Wait (real time, bounded) until `count` attempts are recorded."""
    for _ in range(1000):
        if len(queue.attempts) >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"only {len(queue.attempts)} attempts")


def test_an_error_is_retried_after_one_minute_then_two(clock: FakeClock) -> None:
    script = Script(["error", "error", "ok"])
    queue = _queue(script, clock)
    try:
        queue.submit(_event())
        assert script.ran.wait(timeout=10)
        _settle(queue, 1)
        _advance(queue, clock, script, 59.0, expect_run=False)
        assert not script.ran.wait(timeout=0.3)  # not before the minute is up
        _advance(queue, clock, script, 1.0)
        _settle(queue, 2)
        _advance(queue, clock, script, 119.0, expect_run=False)
        assert not script.ran.wait(timeout=0.3)
        _advance(queue, clock, script, 1.0)
        queue.wait(timeout=10)
        (result,) = queue.results
        assert script.calls == [1000.0, 1060.0, 1180.0]
        assert result.condition == "Success" and result.invoke_count == 3
        assert [(a.attempt, a.outcome) for a in queue.attempts] == [
            (1, "error"), (2, "error"), (3, "success")]
        assert queue.attempts[0].error_type == "ValueError"
        assert queue.attempts[0].error_message == "bad order"
    finally:
        queue.close()


@pytest.mark.parametrize("retries", [0, 1, 2])
def test_maximum_retry_attempts_bounds_the_invocations(clock: FakeClock, retries: int) -> None:
    script = Script(["error"] * 5)
    queue = _queue(script, clock, scale=0.0)
    try:
        queue.submit(_event(maximum_retry_attempts=retries))
        queue.wait(timeout=10)
        (result,) = queue.results
        assert result.condition == "RetriesExhausted"
        assert result.invoke_count == retries + 1
        assert result.function_error == "Unhandled"
    finally:
        queue.close()


def test_an_event_older_than_its_maximum_age_is_discarded_instead_of_retried(
    clock: FakeClock,
) -> None:
    script = Script(["error", "error", "error"])
    queue = _queue(script, clock)
    try:
        queue.submit(_event(maximum_event_age=90))
        _settle(queue, 1)
        _advance(queue, clock, script, 60.0)  # the first retry, at 60 s: still young enough
        _settle(queue, 2)
        clock.now += 30.0  # 90 s: the second retry (due at 180 s) would be too late
        queue.poke()
        queue.wait(timeout=10)
        (result,) = queue.results
        assert result.condition == "EventAgeExceeded" and result.invoke_count == 2
        assert result.record["requestContext"]["condition"] == "EventAgeExceeded"
    finally:
        queue.close()


def test_throttles_back_off_from_a_second_doubling_and_do_not_use_up_retries(
    clock: FakeClock,
) -> None:
    script = Script(["throttle", "throttle", "throttle", "error", "ok"])
    queue = _queue(script, clock, scale=1.0)
    try:
        queue.submit(_event(maximum_retry_attempts=1))
        _settle(queue, 1)
        _advance(queue, clock, script, 1.0)
        _settle(queue, 2)
        _advance(queue, clock, script, 2.0)
        _settle(queue, 3)
        _advance(queue, clock, script, 4.0)
        _settle(queue, 4)
        _advance(queue, clock, script, 60.0)
        queue.wait(timeout=10)
        assert script.calls == [1000.0, 1001.0, 1003.0, 1007.0, 1067.0]
        (result,) = queue.results
        assert result.condition == "Success" and result.invoke_count == 2
        assert [a.outcome for a in queue.attempts] == [
            "throttled", "throttled", "throttled", "error", "success"]
        assert queue.attempts[0].error_type == "ReservedFunctionConcurrentInvocationLimitExceeded"
    finally:
        queue.close()


def test_the_delay_scale_shortens_every_wait(clock: FakeClock) -> None:
    script = Script(["error", "error", "ok"])
    queue = _queue(script, clock, scale=0.01)
    try:
        queue.submit(_event())
        _settle(queue, 1)
        _advance(queue, clock, script, 0.6)  # a minute at 0.01
        _settle(queue, 2)
        _advance(queue, clock, script, 1.2)
        queue.wait(timeout=10)
        assert [round(c - 1000.0, 3) for c in script.calls] == [0.0, 0.6, 1.8]
    finally:
        queue.close()


def test_wait_for_async_names_what_is_still_pending(clock: FakeClock) -> None:
    script = Script(["error", "ok"])
    queue = _queue(script, clock)
    try:
        queue.submit(_event("req-slow"))
        _settle(queue, 1)
        with pytest.raises(AsyncTimeoutError) as exc:
            queue.wait(timeout=0.2)
        assert "req-slow" in str(exc.value) and "--lambda-async-delay-scale" in str(exc.value)
    finally:
        queue.close()


def test_the_failure_record_has_the_shape_of_aws_documented_example() -> None:
    # AWS's documented on-failure record (invocation-async-retain-records), field by field.
    documented = {
        "version": "1.0",
        "timestamp": "2019-11-14T18:16:05.568Z",
        "requestContext": {
            "requestId": "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": {"order": 7},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                            "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": "bad order", "errorType": "ValueError"},
    }
    event = _event("e4b46cbf-b738-xmpl-8880-a18cdf61200e")
    event.invocations = event.attempts = 3
    event.last = InvokeResult(raw_payload=json.dumps(documented["responsePayload"]).encode(),
                              request_id=event.request_id, function_error="Unhandled")
    record = invocation_record(event, "RetriesExhausted", 1573755365.568)
    assert record == documented
    assert list(record) == list(documented)


def test_the_success_record_carries_the_response_and_no_function_error() -> None:
    event = _event()
    event.invocations = event.attempts = 1
    event.last = InvokeResult(raw_payload=b'{"ok": true}', request_id="req-1")
    record = invocation_record(event, "Success", 1573755365.0)
    assert record["requestContext"]["condition"] == "Success"
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"ok": True}


# -- destinations on a moto server -------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _client(moto_url: str, service: str) -> Any:
    import boto3

    return boto3.session.Session().client(service, region_name="us-east-1",
                                          endpoint_url=moto_url, aws_access_key_id="testing",
                                          aws_secret_access_key="testing")


def _receive(sqs: Any, url: str) -> list[dict[str, Any]]:
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                 MessageAttributeNames=["All"], WaitTimeSeconds=1)
    return list(answer.get("Messages", []))


def _finished(outcomes: list[str], **settings: Any) -> tuple[QueuedEvent, AsyncResult]:
    clock = FakeClock()
    script = Script(outcomes)
    queue = _queue(script, clock, scale=0.0)
    try:
        event = _event(**settings)
        queue.submit(event)
        queue.wait(timeout=10)
        return event, queue.results[0]
    finally:
        queue.close()


def test_on_failure_and_dead_letter_queue_on_sqs(moto_url: str) -> None:
    sqs = _client(moto_url, "sqs")
    failures = sqs.create_queue(QueueName="failures")["QueueUrl"]
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    event, result = _finished(
        ["error"] * 3,
        on_failure="arn:aws:sqs:us-east-1:123456789012:failures",
        dead_letter="arn:aws:sqs:us-east-1:123456789012:dlq",
    )
    destinations = Destinations(lambda arn, payload: None, AwsTarget(moto_url))
    deliveries = destinations.deliver(event, result)
    assert [(d.kind, d.error) for d in deliveries] == [("on-failure", None),
                                                       ("dead-letter", None)]
    (message,) = _receive(sqs, failures)
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"] == {"order": 7}
    assert record["responseContext"]["functionError"] == "Unhandled"
    (dead,) = _receive(sqs, dlq)
    assert json.loads(dead["Body"]) == {"order": 7}
    attributes = {k: (v["DataType"], v["StringValue"])
                  for k, v in dead["MessageAttributes"].items()}
    assert attributes == {"RequestID": ("String", "req-1"), "ErrorCode": ("Number", "200"),
                          "ErrorMessage": ("String", "bad order")}


def test_on_success_to_sns_and_eventbridge_and_a_lambda(moto_url: str) -> None:
    sqs, sns, events = (_client(moto_url, s) for s in ("sqs", "sns", "events"))
    inbox = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    topic = sns.create_topic(Name="results")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn,
                  Attributes={"RawMessageDelivery": "true"})
    event, result = _finished(["ok"], on_success=topic)
    sent: list[tuple[str, bytes]] = []
    destinations = Destinations(lambda arn, payload: sent.append((arn, payload)),
                                AwsTarget(moto_url))
    assert [d.error for d in destinations.deliver(event, result)] == [None]
    (message,) = _receive(sqs, inbox)
    assert json.loads(message["Body"])["requestContext"]["condition"] == "Success"

    bus = events.create_event_bus(Name="results")["EventBusArn"]
    events.put_rule(Name="all", EventBusName="results", EventPattern='{"source": ["lambda"]}')
    events.put_targets(Rule="all", EventBusName="results",
                       Targets=[{"Id": "inbox", "Arn": inbox_arn}])
    event, result = _finished(["error"], maximum_retry_attempts=0, on_failure=bus)
    assert [d.error for d in destinations.deliver(event, result)] == [None]
    (message,) = _receive(sqs, inbox)
    envelope = json.loads(message["Body"])
    assert envelope["source"] == "lambda"
    assert envelope["detail-type"] == "Lambda Function Invocation Result - Failure"
    assert envelope["detail"]["requestContext"]["condition"] == "RetriesExhausted"

    target = "arn:aws:lambda:us-east-1:123456789012:function:audit"
    event, result = _finished(["ok"], on_success=target)
    assert [d.error for d in destinations.deliver(event, result)] == [None]
    ((arn, payload),) = sent
    assert arn == target and json.loads(payload)["requestContext"]["condition"] == "Success"


def test_a_destination_that_cannot_be_reached_is_on_the_result_not_raised(moto_url: str) -> None:
    event, result = _finished(["error"], maximum_retry_attempts=0,
                              on_failure="arn:aws:sqs:us-east-1:123456789012:no-such-queue")
    (delivery,) = Destinations(lambda a, p: None, AwsTarget(moto_url)).deliver(event, result)
    assert delivery.kind == "on-failure" and delivery.error is not None
    assert "NonExistentQueue" in delivery.error or "does not exist" in delivery.error


def test_a_thousand_event_soak_accounts_for_every_event_exactly_once() -> None:
    """1,000 events at concurrency 8: a third succeed, a third always fail, a third are
    throttled twice first; every event finishes exactly once with the right count."""
    lock = threading.Lock()
    running = 0
    peak = 0
    throttled: dict[str, int] = {}

    def run(event: QueuedEvent) -> InvokeResult:
        nonlocal running, peak
        n = int(event.request_id)
        with lock:
            running += 1
            peak = max(peak, running)
        try:
            time.sleep(0.0005)
            if n % 3 == 2 and throttled.get(event.request_id, 0) < 2:
                with lock:
                    throttled[event.request_id] = throttled.get(event.request_id, 0) + 1
                raise TooManyRequestsException("Rate Exceeded.", reason="ConcurrentInvocation"
                                               "LimitExceeded")
            if n % 3 == 1:
                return InvokeResult(raw_payload=b'{"errorMessage": "no"}',
                                    request_id=event.request_id, function_error="Unhandled")
            return InvokeResult(raw_payload=b"{}", request_id=event.request_id)
        finally:
            with lock:
                running -= 1

    delivered: list[str] = []

    def deliver(event: QueuedEvent, result: AsyncResult) -> tuple[Delivery, ...]:
        delivered.append(event.request_id)
        return ()

    queue = AsyncQueue(run, deliver, delay_scale=0.0, workers=8)
    try:
        for n in range(1000):
            queue.submit(QueuedEvent(request_id=str(n), function_arn=ARN, payload=b"{}",
                                     config=EventInvokeConfig()))
        queue.wait(timeout=120)
    finally:
        queue.close()
    assert peak <= 8
    assert sorted(delivered, key=int) == [str(n) for n in range(1000)]
    by_id = {r.request_id: r for r in queue.results}
    assert len(queue.results) == len(by_id) == 1000
    for n in range(1000):
        result = by_id[str(n)]
        expected = ("RetriesExhausted", 3) if n % 3 == 1 else ("Success", 1)
        assert (result.condition, result.invoke_count) == expected
    outcomes = [a.outcome for a in queue.attempts]
    assert outcomes.count("throttled") == 2 * len([n for n in range(1000) if n % 3 == 2])
    assert outcomes.count("error") == 3 * len([n for n in range(1000) if n % 3 == 1])


def test_a_new_endpoint_gets_new_clients() -> None:
    # Two moto servers in one process share one state, so the test looks at the clients.
    destinations = Destinations(lambda a, p: None, AwsTarget("http://127.0.0.1:1"))
    assert destinations._client("sqs", "us-east-1").meta.endpoint_url == "http://127.0.0.1:1"
    destinations.endpoint = AwsTarget("http://127.0.0.1:2")
    assert destinations._client("sqs", "us-east-1").meta.endpoint_url == "http://127.0.0.1:2"


def test_a_dead_letter_topic_on_sns_gets_the_event_and_its_attributes(moto_url: str) -> None:
    sqs, sns = _client(moto_url, "sqs"), _client(moto_url, "sns")
    inbox = sqs.create_queue(QueueName="dlq-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    topic = sns.create_topic(Name="dead-letters")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
    event, result = _finished(["error"], maximum_retry_attempts=0, dead_letter=topic)
    destinations = Destinations(lambda a, p: None, AwsTarget(moto_url))
    assert [(d.kind, d.error) for d in destinations.deliver(event, result)] == [
        ("dead-letter", None)]
    (message,) = _receive(sqs, inbox)
    envelope = json.loads(message["Body"])  # SNS's envelope around the event
    assert json.loads(envelope["Message"]) == {"order": 7}
    assert envelope["MessageAttributes"]["RequestID"] == {"Type": "String", "Value": "req-1"}
    assert envelope["MessageAttributes"]["ErrorCode"] == {"Type": "Number", "Value": "200"}
    assert envelope["MessageAttributes"]["ErrorMessage"]["Value"] == "bad order"


def test_result_waits_for_one_event_and_knows_unknown_ids(clock: FakeClock) -> None:
    script = Script(["error", "ok"])
    queue = _queue(script, clock, scale=0.0)
    try:
        queue.submit(_event("req-a"))
        result = queue.result("req-a", timeout=10)
        assert result.request_id == "req-a" and result.ok and result.invoke_count == 2
        with pytest.raises(KeyError, match="req-b"):
            queue.result("req-b", timeout=1)
    finally:
        queue.close()
