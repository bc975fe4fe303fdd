"""What a function that reaches for the network meets inside a container.

Environments sit on an internal network with no route out, and their name resolution answers
at once that nothing resolves (only `localhost` and the environment's own name do, from
/etc/hosts), so a forgotten real-AWS or HTTP call fails fast and clearly in the function's
own error handling instead of hanging until `Sandbox.Timedout`. The process backend uses the
host's network and is not tested here: these calls would leave the machine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_lambda import BackendName, Function, FunctionFactory

docker_only = pytest.mark.parametrize("backend", ["docker"], indirect=True)


@pytest.fixture
def network_fn(
    lambda_function: FunctionFactory, functions_dir: Path, backend: BackendName,
) -> Callable[..., Function]:
    def make(handler: str = "app.handler") -> Function:
        return lambda_function(handler, code=functions_dir / "network", runtime="python3.13",
                               backend=backend, timeout=5)
    return make


@docker_only
@pytest.mark.parametrize("host", ["example.invalid", "dynamodb.us-east-1.amazonaws.com"])
def test_name_resolution_fails_at_once(network_fn: Callable[..., Function], host: str) -> None:
    # Within the 5 s timeout: a lookup that waited for a resolver would end as Sandbox.Timedout.
    result = network_fn().invoke({"action": "resolve", "host": host})
    assert result.function_error == "Unhandled"
    assert result.error is not None
    assert result.error["errorType"] == "gaierror"
    assert "name resolution" in result.error["errorMessage"]


@docker_only
def test_an_sdk_like_call_fails_in_the_functions_own_error_handling(
    network_fn: Callable[..., Function],
) -> None:
    result = network_fn("app.caught").invoke(
        {"action": "https", "url": "https://sqs.us-east-1.amazonaws.com/"})
    assert result.function_error is None
    assert result.payload["error"] == "URLError"
    assert result.payload["reason"] == "gaierror"
    assert "name resolution" in result.payload["message"]


@docker_only
def test_own_names_still_resolve(network_fn: Callable[..., Function]) -> None:
    for host in ("localhost", "127.0.0.1"):
        result = network_fn().invoke({"action": "resolve", "host": host})
        assert result.function_error is None, result.error
