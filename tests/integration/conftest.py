"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture(scope="module")
def client(request: pytest.FixtureRequest) -> Any:
    """Return a docker-py client; skip without an engine, but fail if the run asked for Docker."""
    from pytest_lambda import BackendUnavailableError
    from pytest_lambda.containers.client import get_client

    try:
        return get_client()
    except BackendUnavailableError as exc:
        if request.config.getoption("lambda_backend", None) == "docker":
            pytest.fail(f"--lambda-backend=docker but {exc}")
        pytest.skip(str(exc))


#: The variables every Lambda base image sets in its ENV lines (the official images' Dockerfiles).
IMAGE_ENV = {
    "LANG": "en_US.UTF-8",
    "TZ": ":/etc/localtime",
    "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
    "LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:"
                       "/var/task:/var/task/lib:/opt/lib",
    "LAMBDA_TASK_ROOT": "/var/task",
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
}


@pytest.fixture
def hermetic_image(
    client: Any,
) -> Callable[[str], tuple[str, dict[str, str], Callable[[str], str]]]:
    """Return a function that resolves a runtime's hermetic image and checks the contract it
    shares with AWS's base images (entry point, working directory, ENV, labels), returning
    (tag, the image's ENV as a dict, a function running a bash script in it as uid 993)."""
    from pytest_lambda.images.resolve import resolve_image

    def check(runtime: str) -> tuple[str, dict[str, str], Callable[[str], str]]:
        tag = resolve_image(client, runtime, policy="hermetic", progress=lambda line: None).tag
        config = client.images.get(tag).attrs["Config"]
        assert config["Entrypoint"] == ["/lambda-entrypoint.sh"]
        assert config["WorkingDir"] == "/var/task"
        env = dict(line.split("=", 1) for line in config["Env"])
        assert {k: env.get(k) for k in IMAGE_ENV} == IMAGE_ENV
        assert config["Labels"]["pytest-lambda.image"] == "runtime"
        assert config["Labels"]["pytest-lambda.runtime"] == runtime

        def run(script: str) -> str:
            out: bytes = client.containers.run(
                tag, ["-c", script], entrypoint=["/bin/bash"], user="993:993", read_only=True,
                network_mode="none", remove=True,
            )
            return out.decode()

        # The shell-level facts of Amazon Linux that bootstraps rely on.
        assert run(
            "readlink -f /bin/sh; command -v env; "
            "/bin/sh -c 'set -euo pipefail; [[ a == a ]] && echo bash-ok'; "
            "mktemp --version | head -1 | cut -d' ' -f1; grep -Fi -c x <<< X"
        ).split("\n")[:-1] == ["/usr/bin/bash", "/usr/bin/env", "bash-ok", "mktemp", "1"]
        return tag, env, run

    return check
