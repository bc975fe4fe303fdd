"""`LambdaAPI`: the service's Lambda API on loopback and wherever its environments reach it.

    with LambdaService() as service, LambdaAPI(service) as api:
        fn = service.function("app.handler", code="src", runtime="python3.13", name="orders")
        api.client().invoke(FunctionName="orders", Payload=b"{}")

It listens on port 0 of loopback, and of each further address environments reach the host at
(a Docker network's gateway) once one needs it; environments get `AWS_ENDPOINT_URL_LAMBDA`
pointing at the address they see.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pytest_lambda.config import names as _aws
from pytest_lambda.lambda_api.server import LambdaAPIServer
from pytest_lambda.service.destinations import AwsTarget

if TYPE_CHECKING:
    from pytest_lambda.service.asynchronous import AsyncAttempt, AsyncResult
    from pytest_lambda.service.control import ControlPlane


class LambdaAPI:
    """Serve Lambda's API for a service's functions: ``LambdaAPI(service, aws=None)``, or the
    ``lambda_api`` fixture's, made for the session's ``lambda_service``.

    It listens on port 0 of loopback, and of each address environments reach this host at
    once one needs it. ``aws``: the AWS endpoint (and credentials) where SQS, SNS and
    EventBridge destinations and dead-letter queues live; without it they go to the service's
    AWS endpoint, and where there is none, records for them fail to deliver (the failure is
    on the result). Close it (or use it as a context manager) to stop listening.
    """

    def __init__(self, service: ControlPlane, *, aws: AwsTarget | None = None,
                 host: str = "127.0.0.1") -> None:
        self.service = service
        if aws is not None:
            service.destinations.endpoint = aws
        self._lock = threading.Lock()
        self._servers: dict[str, LambdaAPIServer] = {}
        self._host = host
        self._closed = False
        self._port = self._listen(host).port
        service.lambda_endpoint = self.endpoint_for

    @property
    def endpoint_url(self) -> str:
        """The API's URL from the test process (`http://127.0.0.1:<port>`)."""
        return f"http://{self._host}:{self._port}"

    def endpoint_for(self, address: str) -> str | None:
        """Return the API's URL at `address` (where an environment reaches this host),
        listening there first if need be; None once closed or where it cannot listen."""
        with self._lock:
            if self._closed:
                return None
        try:
            server = self._listen(address)
        except OSError:
            return None
        return f"http://{address}:{server.port}"

    def _listen(self, address: str) -> LambdaAPIServer:
        with self._lock:
            server = self._servers.get(address)
            if server is None:
                server = self._servers[address] = LambdaAPIServer(address, self.service)
            return server

    def use_aws(self, aws: AwsTarget | None) -> AwsTarget | None:
        """Send destination records and dead letters to `aws` from now on; return the
        endpoint used until now."""
        previous = self.service.destinations.endpoint
        self.service.destinations.endpoint = aws
        return previous

    def client(self, region: str = _aws.DEFAULT_REGION, **kwargs: Any) -> Any:
        """Return a boto3 `lambda` client bound to the API, in `region` (us-east-1 by
        default).

        It does not retry (a throttle reaches the test as `TooManyRequestsException`) and waits
        up to 15 minutes for an answer (Lambda's longest timeout); keywords go to
        `boto3.client` (``config=`` replaces those settings).
        """
        import boto3
        from botocore.config import Config

        kwargs.setdefault("config", Config(retries={"total_max_attempts": 1},
                                           read_timeout=960, connect_timeout=10))
        kwargs.setdefault("aws_access_key_id", "testing")
        kwargs.setdefault("aws_secret_access_key", "testing")
        return boto3.session.Session().client("lambda", region_name=region,
                                              endpoint_url=self.endpoint_url, **kwargs)

    def wait_for_async(self, timeout: float | None = 60.0) -> list[AsyncResult]:
        """Wait until every asynchronous event has finished, retries and destinations
        included; return every finished event's result (oldest first).

        Raises `AsyncTimeoutError`, naming the events still pending, after `timeout` seconds.
        """
        __tracebackhide__ = True
        return self.service.wait_for_async(timeout)

    def result(self, request_id: str, timeout: float | None = 60.0) -> AsyncResult:
        """Wait for asynchronous event `request_id` (from `invoke_async` or an `Event`
        invoke's `RequestId`) to finish and return how it ended."""
        __tracebackhide__ = True
        return self.service.async_queue().result(request_id, timeout)

    def attempts_for(self, request_id: str) -> list[AsyncAttempt]:
        """Return the attempts at event `request_id` so far, in order."""
        return [a for a in self.service.async_queue().attempts if a.request_id == request_id]

    @property
    def attempts(self) -> list[AsyncAttempt]:
        """Every attempt at an asynchronous event so far: request id, attempt, outcome."""
        return list(self.service.async_queue().attempts)

    @property
    def results(self) -> list[AsyncResult]:
        """Every asynchronous event finished so far, with its condition and deliveries."""
        return list(self.service.async_queue().results)

    def close(self) -> None:
        """Stop listening (environments started later get no `AWS_ENDPOINT_URL_LAMBDA`)."""
        with self._lock:
            self._closed = True
            servers, self._servers = list(self._servers.values()), {}
        if self.service.lambda_endpoint == self.endpoint_for:
            self.service.lambda_endpoint = None
        for server in servers:
            server.close()

    def __enter__(self) -> LambdaAPI:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
