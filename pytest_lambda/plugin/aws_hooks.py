"""The session's AWS around each test: an empty account per test, and the test process's variables.

Before each test that uses `lambda_aws`, `lambda_function` or `lambda_service`, moto's state
is reset (when this session's server has served anything), so every test starts from an empty
account as under `mock_aws`. `@pytest.mark.lambda_aws_state("module")` on a module, class or
test keeps the state across the module's tests that carry it (`"session"`: across every test
that carries it); the closest marker wins. An endpoint the user runs (`--lambda-aws=URL`) is
never reset.

While a test that uses `lambda_aws` runs (its fixtures' setup and teardown included), the test
process's `AWS_*` variables are the session's (credentials, region, `AWS_ENDPOINT_URL`, no
shared config or credentials file) and boto3's default session is a new one, so plain
`boto3.client("s3")` reaches the same state as the functions. Everything is put back after the
test's teardown: `os.environ` ends exactly as it was.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_lambda.plugin.markers import one_choice

if TYPE_CHECKING:
    from pytest_lambda.plugin.state import PluginState

MARKER = "lambda_aws_state"
SCOPES = ("test", "module", "session")
MARKER_HELP = (
    f"{MARKER}(scope): 'module' keeps the AWS endpoint's state (moto's) across the module's "
    f"tests that carry the marker, 'session' across every test that carries it; 'test' (the "
    f"default) starts each test that uses lambda_aws, lambda_function or lambda_service from an "
    f"empty account. "
    f"The closest marker wins."
)

_NOT_SET = object()


def marker_scope(marker: pytest.Mark) -> str:
    """Return the scope a `lambda_aws_state` marker names; raise ValueError when it is bad."""
    return one_choice(marker, "scope", SCOPES)


class AwsAroundTests:
    """Reset the endpoint between tests, and give tests that use `lambda_aws` its variables."""

    def __init__(self, state: PluginState) -> None:
        self.state = state
        self._last_key: str | None = None
        self._saved: tuple[dict[str, str], object] | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        names = getattr(item, "fixturenames", ())
        uses_aws = "lambda_aws" in names
        if not uses_aws and "lambda_service" not in names:  # (lambda_function uses it)
            return
        marker = item.get_closest_marker(MARKER)
        scope = "test"
        if marker is not None:
            try:
                scope = marker_scope(marker)
            except ValueError as exc:
                pytest.fail(str(exc), pytrace=False)
        key = {"test": item.nodeid, "module": item.nodeid.split("::")[0],
               "session": "<session>"}[scope]
        from pytest_lambda.errors import AwsEndpointError

        endpoint = self.state.aws()
        if key != self._last_key:
            self._last_key = key
            try:
                endpoint.reset_if_started()
            except AwsEndpointError as exc:
                pytest.fail(str(exc), pytrace=False)
        if not uses_aws:
            return
        try:
            variables = endpoint.test_environment()
        except AwsEndpointError:
            return  # the lambda_aws fixture fails the test with this sentence
        self._apply(variables)

    def _apply(self, variables: dict[str, str]) -> None:
        saved = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
        boto3 = sys.modules.get("boto3")
        session = getattr(boto3, "DEFAULT_SESSION", None) if boto3 is not None else _NOT_SET
        self._saved = (saved, session)
        for key in saved:
            del os.environ[key]
        os.environ.update(variables)
        if boto3 is not None:
            # A default session made earlier holds the credentials it resolved then.
            setattr(boto3, "DEFAULT_SESSION", None)  # noqa: B010  (an untyped module attribute)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, Any, None]:
        yield  # after the test's fixtures are finalised: they ran with the variables too
        if self._saved is None:
            return
        saved, session = self._saved
        self._saved = None
        for key in [k for k in os.environ if k.startswith("AWS_")]:
            del os.environ[key]
        os.environ.update(saved)
        boto3 = sys.modules.get("boto3")
        if boto3 is not None:
            setattr(boto3, "DEFAULT_SESSION",  # noqa: B010
                    None if session is _NOT_SET else session)


def header_line(state: PluginState) -> str:
    """Return the header's line for `--lambda-aws` (nothing is started or asked)."""
    from pytest_lambda.aws.endpoint import describe

    setting = state.settings["aws"]
    return f"lambda: aws={describe(setting.value, setting.source)}"


def install(config: pytest.Config, state: PluginState) -> None:
    """Register the per-test AWS hooks for this session."""
    config.pluginmanager.register(AwsAroundTests(state), "lambda-aws")
