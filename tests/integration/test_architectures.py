"""Functions from code on the architecture that is not the host's (arm64 on an x86_64 host), run
in that architecture's runtime images under QEMU user-mode emulation (binfmt_misc).

Without emulation these tests skip with the reason; with `PYTEST_LAMBDA_REQUIRE_ARM64=1` (CI,
which installs qemu-user-static) they fail instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pytest_lambda import Architecture, BackendName, ConfigurationError, FunctionFactory
from pytest_lambda.config import arch as _arch

docker_only = pytest.mark.parametrize("backend", ["docker"], indirect=True)
pytestmark = docker_only

REQUIRE_ENV = "PYTEST_LAMBDA_REQUIRE_ARM64"
#: Emulated code starts and runs several times slower than native code: a generous timeout.
TIMEOUT = 60
#: And a whole vCPU: bash and curl under emulation at 128 MB's share ran past 60 s on a loaded
#: machine (ci20). These tests are about the architecture, not the CPU share.
EMULATED_MEMORY = 1769


@pytest.fixture
def arm64(backend: BackendName) -> Architecture:
    """Return "arm64" when this host runs arm64 code (natively or emulated); skip otherwise,
    or fail when $PYTEST_LAMBDA_REQUIRE_ARM64 is set."""
    if _arch.host_architecture() != "arm64" and not _arch.emulation_available("arm64"):
        reason = ("no arm64 emulation is registered with binfmt_misc here (apt-get install "
                  "qemu-user-static binfmt-support)")
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{REQUIRE_ENV} is set but {reason}")
        pytest.skip(reason)
    return "arm64"


def test_python_function_on_arm64(
    lambda_function: FunctionFactory, functions_dir: Path, arm64: Architecture,
) -> None:
    fn = lambda_function("app.handler", code=functions_dir / "arch", runtime="python3.13",
                         architecture=arm64, timeout=TIMEOUT, memory_size=EMULATED_MEMORY)
    assert fn.config.architecture == "arm64"
    result = fn.invoke({"n": 1})
    assert result.function_error is None, (result.payload, result.logs)
    assert result.payload == {"machine": "aarch64", "python": "3.13", "event": {"n": 1}}
    failed = fn.invoke({"action": "raise", "message": "arm says no"})
    assert failed.function_error == "Unhandled"
    assert failed.error is not None
    assert failed.error["errorType"] == "ValueError"
    assert failed.error["errorMessage"] == "arm says no"
    assert any("raise ValueError" in line for line in failed.error["stackTrace"])
    assert not failed.cold_start


def test_arm64_and_host_functions_keep_their_own_environments(
    lambda_function: FunctionFactory, functions_dir: Path, arm64: Architecture,
    backend: BackendName,
) -> None:
    code = functions_dir / "arch"
    on_arm = lambda_function("app.handler", code=code, runtime="python3.13", architecture=arm64,
                             timeout=TIMEOUT, memory_size=EMULATED_MEMORY)
    on_host = lambda_function("app.handler", code=code, runtime="python3.13")
    machines = {on_arm.invoke({}).payload["machine"], on_host.invoke({}).payload["machine"]}
    expected = {"aarch64", {"x86_64": "x86_64", "arm64": "aarch64"}[_arch.host_architecture()]}
    assert machines == expected


def test_custom_runtime_on_arm64(
    lambda_function: FunctionFactory, functions_dir: Path, tmp_path: Path, arm64: Architecture,
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    shutil.copy2(functions_dir / "custom" / "bootstrap", code / "bootstrap")
    shutil.copy2(functions_dir / "arch" / "uname.sh", code / "uname.sh")
    fn = lambda_function("uname.handler", code=code, runtime="provided.al2023",
                         architecture=arm64, timeout=TIMEOUT, memory_size=EMULATED_MEMORY)
    result = fn.invoke({"n": 2})
    assert result.function_error is None, (result.payload, result.logs)
    assert result.payload == {"machine": "aarch64", "received": {"n": 2}}


def test_arm64_is_refused_on_the_process_backend(
    lambda_function: FunctionFactory, functions_dir: Path, arm64: Architecture,
) -> None:
    if _arch.host_architecture() == "arm64":
        pytest.skip("arm64 is this host's own architecture")
    with pytest.raises(ConfigurationError, match="runs only on the docker backend"):
        lambda_function("app.handler", code=functions_dir / "arch", runtime="python3.13",
                        architecture=arm64, backend="process")


def test_nodejs_on_arm64_is_refused(
    lambda_function: FunctionFactory, functions_dir: Path, arm64: Architecture,
) -> None:
    if _arch.host_architecture() == "arm64":
        pytest.skip("arm64 is this host's own architecture")
    with pytest.raises(ConfigurationError, match="builds nodejs24.x images for this host's"):
        lambda_function("cjs.handler", code=functions_dir / "node", runtime="nodejs24.x",
                        architecture=arm64)
