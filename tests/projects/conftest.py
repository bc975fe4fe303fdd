"""Fixtures for the project-shaped tests: third-party packages for functions, built once.

Each directory here is a small Lambda project of a kind people publish (an API over DynamoDB,
a Kinesis consumer writing to DynamoDB, a Powertools SQS batch processor, a Pillow thumbnail
function shipped as a zip), tested the way
its maintainers would test it with this plugin: in containers with `lambda_function`, calling
AWS on the session's moto (`lambda_aws`), and in-process with `invoke_handler` and moto's
`mock_aws` (which patches only this process; containers reach moto through its server).
Functions that import boto3 or Powertools get 1,024 MB (a CPU share of about 0.6 vCPU) and a
30 s timeout, as such projects configure them: at 128 MB botocore alone takes seconds.

What a function needs from the package index (Powertools, Pillow, boto3) is installed with the
host's pip for the function's runtime (`--python-version`, `--platform manylinux...`,
`--only-binary=:all:`), as a deployment build would do it, into the plugin's cache directory:
pip reaches the index once, later runs reuse the directory.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_lambda import LambdaService

#: What the functions import that Lambda's Python runtimes provide or users package.
BOTO3 = "boto3==1.44.8"
POWERTOOLS = "aws-lambda-powertools==3.37.0"
PILLOW = "pillow==13.0.0"


def _pip_target(requirements: tuple[str, ...], python_version: str) -> Path:
    """Return a layer directory whose `python/` holds `requirements` installed for CPython
    `python_version` on this machine's architecture (Linux wheels only), installing them on
    first use."""
    from pytest_lambda.system.paths import cache_dir, make_dir_once

    machine = platform.machine()
    key = hashlib.sha256(
        "\0".join((python_version, machine, *sorted(requirements))).encode()
    ).hexdigest()[:16]

    def fill(work: Path) -> None:
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-input", "--no-compile", "--target", str(work / "python"), "--only-binary=:all:",
            f"--platform=manylinux2014_{machine}", f"--platform=manylinux_2_28_{machine}",
            f"--python-version={python_version}", "--implementation=cp", *requirements,
        ]
        done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            pytest.fail(f"pip could not install {' '.join(requirements)} for Python "
                        f"{python_version}:\n{done.stderr[-2000:]}", pytrace=False)

    # Another xdist worker may make it at the same time: its copy then stands.
    return make_dir_once(cache_dir() / "test-projects" / f"python{python_version}-{key}", fill,
                         prefix=".build-")


def _compile_in_runtime(tree: Path, lambda_service: LambdaService, python_version: str) -> None:
    """Compile `tree`'s modules to byte code with the runtime image's own Python, once.

    A layer is read-only in Lambda, so Python cannot cache what it compiles: without byte code
    in the package every cold start compiles botocore anew (seconds, near the 10 s init limit
    on a busy machine). Deployment builds ship .pyc files for this reason; the hash-checked
    form stays valid whatever the files' times become when the layer is copied.
    """
    marker = tree / ".compiled"
    if marker.exists():
        return
    from pytest_lambda.backends.docker.environment import DockerBackend

    backend = lambda_service.backend("docker")
    assert isinstance(backend, DockerBackend)
    image = backend.image_for(f"python{python_version}").tag
    backend.client.containers.run(
        image, entrypoint=["python3", "-m", "compileall", "-q", "--invalidation-mode",
                           "unchecked-hash", "/build"],
        volumes={str(tree): {"bind": "/build", "mode": "rw"}}, network_mode="none",
        user=f"{os.getuid()}:{os.getgid()}", remove=True,
        labels={"pytest-lambda.test-projects": "compile"},
    )
    marker.touch()


@pytest.fixture(scope="session")
def pip_layer(lambda_service: LambdaService) -> Callable[..., Path]:
    """Return `make(*requirements, python_version="3.13")`: a layer directory (its packages
    under `python/`, where Lambda's Python runtimes look, compiled to byte code by the
    runtime's Python), as `layers=[...]` takes it. Needs the Docker engine."""
    def make(*requirements: str, python_version: str = "3.13") -> Path:
        layer = _pip_target(requirements, python_version)
        _compile_in_runtime(layer / "python", lambda_service, python_version)
        return layer

    return make


@pytest.fixture(scope="session")
def pip_packages() -> Callable[..., Path]:
    """Return `make(*requirements, python_version=...)`: the installed packages' directory, for
    a deployment package or for this process's `sys.path`."""
    def make(*requirements: str, python_version: str = "3.13") -> Path:
        return _pip_target(requirements, python_version) / "python"

    return make


@pytest.fixture(scope="session")
def powertools_layer(pip_layer: Callable[..., Path]) -> Path:
    """Return a layer with AWS Lambda Powertools for Python 3.13."""
    return pip_layer(POWERTOOLS)


@pytest.fixture(scope="session")
def boto3_layer(pip_layer: Callable[..., Path]) -> Path:
    """Return a layer with boto3 for Python 3.13 (Lambda's runtimes bring their own; the
    plugin's hermetic images do not)."""
    return pip_layer(BOTO3)
