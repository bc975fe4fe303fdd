"""Fixtures of the project's own test suite."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

from pytest_lambda import BackendName, RuntimeName
from pytest_lambda.config.runtimes import hermetic_runtimes

# The pytester fixture restores sys.modules after each test, dropping the modules first imported
# during it. The Docker SDK and requests must not be among them: a re-imported http.cookiejar no
# longer matches the classes requests already holds ("You can only merge into CookieJar").
import docker  # noqa: F401  # isort: skip
import requests  # noqa: F401  # isort: skip

FUNCTIONS = Path(__file__).parent / "functions"

# Hypothesis keeps no example database (a failing example is printed in the report, and the
# tests that use Hypothesis run few examples), and its other files (the Unicode tables it
# caches) go to a temporary directory of the run's: nothing is written into the checkout.
settings.register_profile("pytest-lambda", database=None)
settings.load_profile("pytest-lambda")


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        return
    home = tempfile.mkdtemp(prefix="pytest-lambda-hypothesis-")
    set_hypothesis_home_dir(home)
    config.add_cleanup(lambda: shutil.rmtree(home, ignore_errors=True))


def _import_powertools_parser_models() -> None:
    """Build Powertools' parser models now, before any test freezes the clock.

    The parser packages import their pydantic models lazily, on first attribute access, and
    freezegun's `freeze_time` reads every attribute of every loaded module. The first freeze
    after the unit tests imported the parser would build the models with freezegun's
    `FakeDatetime` standing in for `datetime`, which pydantic refuses half-way through, and
    that leaves the clock frozen for the rest of the session (a known freezegun and pydantic v2
    interaction, not the plugin's). Resolving every lazy name here takes that path away.
    """
    try:
        from aws_lambda_powertools.utilities import parser
        from aws_lambda_powertools.utilities.parser import envelopes, models
    except ImportError:
        return
    for module in (parser, envelopes, models):
        for name in dir(module):
            getattr(module, name)


_import_powertools_parser_models()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        if params.get("backend") == "docker" or params.get("target", ("",))[0] == "docker":
            item.add_marker(pytest.mark.docker)


@pytest.fixture
def wheel_index(tmp_path: Path) -> Path:
    """Return a folder of two pure-Python wheels, `pldeps_probe` 1.0 and 2.0 (`VALUE` is "one"
    and "two"): a requirements file naming it with `--no-index --find-links` installs without a
    package index."""
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "pldeps_probe", "1.0", "VALUE = 'one'\n")
    make_wheel(wheels, "pldeps_probe", "2.0", "VALUE = 'two'\n")
    return wheels


def make_wheel(directory: Path, name: str, version: str, source: str) -> Path:
    """Write a pure-Python wheel of one package `name` (its `__init__.py` is `source`)."""
    directory.mkdir(parents=True, exist_ok=True)
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": source.encode(),
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
                         b"Tag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel


LeftOnEngine = Callable[[Any, str], tuple[list[Any], list[Any]]]


@pytest.fixture
def left_on_engine() -> LeftOnEngine:
    """Return `left(client, label)`: the containers and networks labelled `label` (e.g.
    "pytest-lambda.session=...") still on the engine `client` (a DockerClient or its low-level
    API), once none are or after 60 s. A session that ended hands their removal to its reaper,
    which finishes a second or two after pytest returns."""

    def left(client: Any, label: str) -> tuple[list[Any], list[Any]]:
        api = getattr(client, "api", client)
        deadline = time.monotonic() + 60
        while True:
            found = (api.containers(all=True, filters={"label": label}),
                     api.networks(filters={"label": label}))
            if found == ([], []) or time.monotonic() > deadline:
                return found
            time.sleep(0.2)

    return left


@pytest.fixture
def functions_dir() -> Path:
    """Return the directory of the test functions' code."""
    return FUNCTIONS


def _require(request: pytest.FixtureRequest, name: str) -> None:
    """Skip when `name` cannot run here, but fail for Docker when the run asked for Docker."""
    from pytest_lambda import BackendUnavailableError
    from pytest_lambda.service.service import require_backend

    try:
        require_backend(name)
    except BackendUnavailableError as exc:
        if name == "docker" and request.config.getoption("lambda_backend") == "docker":
            pytest.fail(f"--lambda-backend=docker but {exc}")
        pytest.skip(str(exc))


@pytest.fixture(params=["docker", "process"])
def backend(request: pytest.FixtureRequest) -> BackendName:
    """Run the test once per backend."""
    name: BackendName = request.param
    _require(request, name)
    return name


#: The Python runtime of the test's own interpreter.
HOST_PYTHON = cast(RuntimeName, "python{}.{}".format(*sys.version_info[:2]))


def servable(backend_name: str, runtime: RuntimeName) -> RuntimeName:
    """Return `runtime`, or on the process backend of a host without its Python, the host's.

    The process backend refuses a Python runtime the host has no interpreter for; the suite's
    process tests are about the harness, not the version, so they run on the host's.
    """
    if backend_name == "process" and runtime.startswith("python"):
        from pytest_lambda.backends.host_python import find_python

        if find_python(runtime.removeprefix("python")) is None:
            return HOST_PYTHON
    return runtime


@pytest.fixture
def python_runtime(backend: BackendName) -> RuntimeName:
    """Return python3.13, or the host's Python runtime where the backend cannot serve 3.13."""
    return servable(backend, "python3.13")


#: Every Python runtime with a hermetic image, in containers (python3.10 and python3.12 are
#: served by AWS's images only, which these machines cannot pull), and one on the host.
TARGETS: list[tuple[BackendName, RuntimeName]] = [
    *(("docker", cast(RuntimeName, name)) for name in hermetic_runtimes("python")),
    ("process", "python3.13"),
]


@pytest.fixture(params=TARGETS, ids=[f"{b}-{r}" for b, r in TARGETS])
def target(request: pytest.FixtureRequest) -> tuple[BackendName, RuntimeName]:
    """Run the test once per (backend, runtime): every hermetic Python runtime in containers."""
    backend_name: BackendName
    runtime: RuntimeName
    backend_name, runtime = request.param
    _require(request, backend_name)
    return backend_name, servable(backend_name, runtime)
