"""Every fixture pytest-aws-lambda provides (`pytest --fixtures` shows these docstrings)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pytest_lambda.config.arch import host_architecture
from pytest_lambda.plugin.state import STATE_KEY, require_backend
from pytest_lambda.service.build import build_config
from pytest_lambda.service.function import Function

_BACKENDS = ("docker", "process")


@pytest.fixture(scope="session")
def lambda_service(pytestconfig: pytest.Config) -> Any:
    """Return the session's emulated Lambda service (one per pytest process)."""
    return pytestconfig.stash[STATE_KEY].service()


@pytest.fixture
def lambda_function(pytestconfig: pytest.Config) -> Callable[..., Function]:
    """Make Lambda functions that run in Lambda-shaped execution environments.

    Call it as ``lambda_function(handler, *, code, runtime, memory_size=128, timeout=3,
    environment=None, name=None, backend=None, ephemeral_storage=512, layers=None,
    network="isolated")``:
    ``handler`` is ``"module.function"`` (any word for a custom runtime's bootstrap), ``code`` a
    directory or a ``.zip``, ``runtime`` e.g. ``"python3.13"``, ``"nodejs24.x"`` or
    ``"provided.al2023"`` (Node.js runs on Docker only), ``layers`` up to five directories or
    ``.zip`` files merged into /opt (a ``pytest_lambda.Layer("dir", requirements=...)`` builds
    its dependencies into its ``python/`` or ``nodejs/node_modules/``). ``requirements`` is a
    ``requirements.txt`` (Python) or ``package.json`` (Node.js) path relative to ``code``, or
    ``True`` for that name there: the dependencies are installed for the function's runtime and
    architecture (cached) and merged under the code, as in a deployment package.
    A container-image function is ``lambda_function(image="my-function:latest", ...)``, with
    Lambda's image overrides ``command=[...]``, ``entry_point=[...]``, ``working_directory=``
    (a ``handler`` given first stands for ``command=[handler]``); it runs on Docker only.
    ``architecture`` is ``"x86_64"`` or ``"arm64"`` (the host's by default); the other one
    than the host's runs on Docker only, under QEMU emulation registered with binfmt_misc.
    ``network`` is ``"isolated"`` (default: on Docker the function reaches only the plugin's
    own servers) or ``"open"`` (outbound connections allowed; docs/security.md).
    It returns a ``pytest_lambda.Function``; ``Function.invoke(event)`` runs it and returns an
    ``InvokeResult``. ``region`` and ``account_id`` (``"us-east-1"``, ``"123456789012"`` by
    default) set ``AWS_REGION`` and the function's ARN. ``backend`` ("docker" or "process")
    overrides the session's ``--lambda-backend``. Bad configuration raises
    ``pytest_lambda.ConfigurationError`` here. Functions with the same configuration and code
    share warm environments across tests, so module state one test leaves in a function is seen
    by the next test's invocation; for fresh environments per test use
    ``--lambda-isolation=per-test`` or ``@pytest.mark.lambda_isolation("per-test")``. A failing
    test's report shows every invocation's logs ("Captured Lambda logs"; ``--lambda-logs``
    chooses when).
    """
    state = pytestconfig.stash[STATE_KEY]

    def make(handler: str | None = None, *, backend: str | None = None,
             **options: Any) -> Function:
        __tracebackhide__ = True
        from pytest_lambda.errors import ConfigurationError, LambdaHarnessError

        if backend is not None and backend not in _BACKENDS:
            raise ConfigurationError(
                f"backend must be one of {', '.join(_BACKENDS)}, not {backend!r}."
            )
        try:
            host_deps = False
            if options.get("requirements") is not None or options.get("layers"):
                # Dependencies follow where the function runs: the process backend runs Python
                # functions on this host's interpreter.
                arch = options.get("architecture")
                host_deps = (options.get("image") is None
                             and (arch is None or arch == host_architecture())
                             and (backend or state.backend_choice().name) == "process")
            with state.dependency_builds():
                config = build_config(handler, _host_dependencies=host_deps, **options)
            if config.image is not None:
                if backend == "process":
                    raise ConfigurationError(
                        "A container-image function runs only on the docker backend: drop "
                        "backend='process' (images need a container engine)."
                    )
                backend = "docker"
            elif config.architecture != host_architecture():
                if backend == "process":
                    raise ConfigurationError(
                        f"An {config.architecture} function runs only on the docker backend, "
                        f"under emulation: drop backend='process', or architecture=."
                    )
                backend = "docker"
            elif backend is None:
                backend = state.backend_choice().name
            require_backend(backend)
            runtime = config.runtime
            if (backend == "docker" and runtime is not None and not runtime.hermetic
                    and state.settings["image_policy"].value == "hermetic"):
                # Known before any image is looked up: only AWS's image serves this runtime.
                raise ConfigurationError(runtime.no_hermetic_image())
        except LambdaHarnessError as exc:
            # The user's call is at fault, not the validator: show their line and the message,
            # not the harness's frames.
            raise exc.with_traceback(None) from None
        return Function(state.service(), config, backend)

    return make
