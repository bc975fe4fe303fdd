"""The `lambda_context` fixture (imported into the plugin's fixtures)."""

from __future__ import annotations

import pytest

from pytest_lambda.inprocess.context import LambdaContext


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
