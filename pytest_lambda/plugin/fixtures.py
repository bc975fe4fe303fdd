"""Every fixture pytest-aws-lambda provides (`pytest --fixtures` shows these docstrings)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_lambda.inprocess.context import LambdaContext
from pytest_lambda.plugin.state import STATE_KEY

if TYPE_CHECKING:
    from pytest_lambda.aws import AwsEndpoint
    from pytest_lambda.lambda_api.api import LambdaAPI
    from pytest_lambda.service.destinations import AwsTarget
    from pytest_lambda.service.function import FunctionFactory
    from pytest_lambda.service.service import LambdaService


@pytest.fixture(scope="session")
def lambda_service(pytestconfig: pytest.Config) -> LambdaService:
    """Return the session's emulated Lambda service (one per pytest process).

    Its ``function(...)`` takes what ``lambda_function`` takes and makes a function at any
    scope: use it in a module- or session-scoped fixture to set an expensive function up once.
    Its settings are the session's (``--lambda-*`` options, ``PYTEST_LAMBDA_*`` variables,
    ``lambda_*`` ini keys).
    """
    return pytestconfig.stash[STATE_KEY].service()


@pytest.fixture
def lambda_function(lambda_service: LambdaService) -> FunctionFactory:
    """Make Lambda functions that run in Lambda-shaped execution environments.

    ``lambda_function(handler, *, code, runtime, ...)`` returns a ``pytest_lambda.Function``
    (nothing starts until ``.invoke(event)``, which returns an ``InvokeResult``). It takes:

    - ``handler``: ``"module.function"`` (any word for a custom runtime's bootstrap);
      ``code``: a directory or a ``.zip``; ``runtime``: e.g. ``"python3.13"``,
      ``"nodejs24.x"`` (Docker only) or ``"provided.al2023"``.
    - ``image``: a container-image function (Docker only), present in the local engine, with
      Lambda's overrides ``command``, ``entry_point`` and ``working_directory``.
    - ``memory_size`` (MB, 128), ``timeout`` (s, 3), ``ephemeral_storage`` (MB, 512),
      ``environment`` (a dict of variables), ``name``, ``region`` and ``account_id``
      (``"us-east-1"``, ``"123456789012"``: ``AWS_REGION`` and the ARN).
    - ``layers``: up to five directories, ``.zip`` files or ``pytest_lambda.Layer`` objects,
      merged into /opt; ``requirements``: a ``requirements.txt`` or ``package.json`` path
      relative to ``code`` (``True``: that name there), built for the runtime and architecture.
    - ``architecture``: ``"x86_64"`` or ``"arm64"`` (the host's by default; the other runs on
      Docker under QEMU); ``network``: ``"isolated"`` (only the plugin's own servers) or
      ``"open"``; ``backend``: ``"docker"`` or ``"process"`` instead of ``--lambda-backend``.
    - ``reserved_concurrency``: caps simultaneous invocations (over it: a
      ``TooManyRequestsException``; 0 throttles every invocation).
    - ``debug_port``: start a Python runtime under debugpy, listening on that port of 127.0.0.1
      and waiting for a debugger to attach before it runs anything; the function's timeouts
      are lifted while one is awaited or attached (see docs/debugging.md).

    Bad configuration raises ``pytest_lambda.ConfigurationError`` at this call. Functions with
    the same configuration and code share warm environments across tests, so module state one
    test leaves is seen by the next (``--lambda-isolation=per-test`` or
    ``@pytest.mark.lambda_isolation("per-test")`` for fresh ones). A failing test's report shows
    every invocation's logs ("Captured Lambda logs"; ``--lambda-logs`` chooses when). For a
    module- or session-scoped fixture use ``lambda_service.function(...)``, which takes the same
    arguments.
    """
    return lambda_service.function


@pytest.fixture(scope="session")
def lambda_api_aws() -> AwsTarget | None:
    """Return where ``lambda_api``'s destinations and dead-letter queues live (SQS, SNS,
    EventBridge), or None for the session's AWS endpoint (``lambda_aws``, the default).

    Override it in a ``conftest.py`` with a session fixture returning
    ``pytest_lambda.AwsTarget(url, access_key_id, secret_access_key)`` to
    send asynchronous invocation records to another endpoint.
    """
    return None


@pytest.fixture(scope="session")
def lambda_api(pytestconfig: pytest.Config, lambda_service: LambdaService,
               lambda_api_aws: AwsTarget | None) -> LambdaAPI:
    """Return the session's Lambda API: boto3's ``lambda`` client and the AWS SDKs reach the
    functions the session made through it.

    ``.endpoint_url`` (loopback, port 0 read back), ``.client(region=...)`` (a boto3 client
    bound to it, without retries), ``.wait_for_async(timeout=60)`` (returns when every
    asynchronous event has finished, retries and destinations included), ``.attempts`` and
    ``.results`` (the record of asynchronous attempts and outcomes). Functions find each other
    by name or ARN: every environment gets ``AWS_ENDPOINT_URL_LAMBDA`` pointing at it.
    Asynchronous retries wait Lambda's 1 and 2 minutes unless ``--lambda-async-delay-scale``
    shortens them.
    """
    return pytestconfig.stash[STATE_KEY].lambda_api(lambda_api_aws)


@pytest.fixture
def lambda_context() -> LambdaContext:
    """Return a fresh `pytest_lambda.LambdaContext` for calling a handler directly.

    It has the real runtime's attributes and types: function ``test-function`` in
    ``us-east-1``, account ``123456789012``, ``memory_limit_in_mb`` ``"128"``, a new
    ``aws_request_id`` for each test and a 3-second deadline counted from the fixture's creation
    (under freezegun, from the frozen clock). For other values build your own:
    ``LambdaContext(function_name="orders", memory_limit_in_mb=512, timeout=30)``.
    """
    return LambdaContext()


@pytest.fixture(scope="session")
def lambda_aws(lambda_service: LambdaService) -> AwsEndpoint:
    """Return the session's AWS endpoint (``pytest_lambda.AwsEndpoint``), the one functions call.

    ``.client("s3")`` and ``.resource("dynamodb")`` are boto3's on the endpoint, with the
    session's fake credentials and ``.region`` (``us-east-1``); ``.endpoint_url``,
    ``.account_id`` and ``.reset()`` (empty every service) complete it. With ``--lambda-aws=moto``
    (the default) it is moto's server in this process, started on first need, whose state
    ``mock_aws`` shares. While a test that uses this fixture runs, the process's ``AWS_*``
    variables point plain ``boto3.client(...)`` at the same endpoint (restored afterwards).
    Each test that uses it or ``lambda_function`` starts from an empty account;
    ``@pytest.mark.lambda_aws_state("module")`` keeps the state across a module's tests.
    """
    __tracebackhide__ = True
    from pytest_lambda.errors import AwsEndpointError

    try:
        return lambda_service.aws().require()
    except AwsEndpointError as exc:
        raise exc.with_traceback(None) from None
