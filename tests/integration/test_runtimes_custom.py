"""Custom runtimes (provided.al2023, provided.al2): the function's own `bootstrap` is the runtime.

The test function is a bash bootstrap in the style of AWS's tutorial (curl against
$AWS_LAMBDA_RUNTIME_API); it sources function.sh and runs the shell function `_HANDLER` names.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_lambda import BackendName, Function, FunctionFactory, RuntimeName

RUNTIMES: list[RuntimeName] = ["provided.al2023", "provided.al2"]


@pytest.fixture
def custom_dir(functions_dir: Path) -> Path:
    return functions_dir / "custom"


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest) -> RuntimeName:
    name: RuntimeName = request.param
    return name


def where(fn: Function, backend: BackendName, place: str) -> str:
    """Return where the function sees /var/task or /opt on `backend`."""
    if backend == "docker":
        return place
    return str(fn.config.code_dir if place == "/var/task" else fn.config.opt_dir)


def test_bootstrap_answers_invocations(
    lambda_function: FunctionFactory, custom_dir: Path, backend: BackendName, runtime: RuntimeName,
) -> None:
    fn = lambda_function("function.handler", code=custom_dir, runtime=runtime, backend=backend,
                         timeout=30)
    first = fn.invoke({"n": 1})
    assert first.function_error is None, (first.payload, first.logs)
    assert first.payload["received"] == {"n": 1}
    assert first.payload["bootstrap"] == where(fn, backend, "/var/task") + "/bootstrap"
    assert first.payload["handler"] == "function.handler"
    # Lambda sets no AWS_EXECUTION_ENV for custom runtimes.
    assert first.payload["execution_env"] == "unset"
    assert "Processing {\"n\": 1}" in first.logs
    assert first.cold_start
    second = fn.invoke([1, 2])
    assert not second.cold_start
    assert second.payload["received"] == [1, 2]
    if backend == "docker":
        assert first.payload["uid"] == 993


def test_bootstrap_reports_a_handler_error(
    lambda_function: FunctionFactory, custom_dir: Path, backend: BackendName, runtime: RuntimeName,
) -> None:
    fn = lambda_function("function.fail", code=custom_dir, runtime=runtime, backend=backend,
                         timeout=30)
    failed = fn.invoke({})
    assert failed.function_error == "Unhandled"
    assert failed.error == {"errorMessage": "fail exited with status 3",
                            "errorType": "HandlerFailed"}
    assert "fail: giving up" in failed.logs
    # The runtime carries on: the next invocation is warm.
    again = fn.invoke({})
    assert again.function_error == "Unhandled" and not again.cold_start


def test_bootstrap_times_out(
    lambda_function: FunctionFactory, custom_dir: Path, backend: BackendName,
) -> None:
    fn = lambda_function("function.sleepy", code=custom_dir, runtime="provided.al2023",
                         backend=backend, timeout=1)
    timed_out = fn.invoke({})
    assert timed_out.function_error == "Unhandled"
    assert timed_out.error == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {timed_out.request_id} Error: Task timed out after 1.00 "
                        "seconds",
    }
    assert "Status: timeout" in timed_out.logs.splitlines()[-1]


def test_bootstrap_from_a_layer(
    lambda_function: FunctionFactory, custom_dir: Path, backend: BackendName, tmp_path: Path,
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    shutil.copy2(custom_dir / "function.sh", code / "function.sh")
    layer = tmp_path / "layer"
    layer.mkdir()
    shutil.copy2(custom_dir / "bootstrap", layer / "bootstrap")
    fn = lambda_function("function.handler", code=code, runtime="provided.al2023",
                         backend=backend, layers=[layer], timeout=30)
    result = fn.invoke({"from": "layer"})
    assert result.function_error is None, (result.payload, result.logs)
    assert result.payload["bootstrap"] == where(fn, backend, "/opt") + "/bootstrap"
    assert result.payload["received"] == {"from": "layer"}


def test_the_codes_bootstrap_wins_over_a_layers(
    lambda_function: FunctionFactory, custom_dir: Path, backend: BackendName, tmp_path: Path,
) -> None:
    layer = tmp_path / "layer"
    layer.mkdir()
    (layer / "bootstrap").write_text("#!/bin/bash\necho 'the layer bootstrap ran' >&2\nexit 9\n")
    (layer / "bootstrap").chmod(0o755)
    fn = lambda_function("function.handler", code=custom_dir, runtime="provided.al2023",
                         backend=backend, layers=[layer], timeout=30)
    result = fn.invoke({})
    assert result.function_error is None, (result.payload, result.logs)
    assert result.payload["bootstrap"] == where(fn, backend, "/var/task") + "/bootstrap"


def test_missing_bootstrap_fails_init_as_lambda_does(
    lambda_function: FunctionFactory, custom_dir: Path, backend: BackendName, tmp_path: Path,
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    shutil.copy2(custom_dir / "function.sh", code / "function.sh")
    fn = lambda_function("function.handler", code=code, runtime="provided.al2023",
                         backend=backend, timeout=30)
    failed = fn.invoke({})
    assert failed.function_error == "Unhandled"
    task, opt = where(fn, backend, "/var/task"), "/opt"
    if backend != "docker":
        assert failed.error is not None
        opt = failed.error["errorMessage"].rsplit(" ", 1)[1][: -len("/bootstrap]")]
        assert opt != "/opt"  # the host's /opt is not searched
    assert failed.error == {
        "errorType": "Runtime.InvalidEntrypoint",
        "errorMessage": f"Couldn't find valid bootstrap(s): [{task}/bootstrap {opt}/bootstrap]",
    }
    assert "Error Type: Runtime.InvalidEntrypoint" in failed.logs


def test_a_bootstrap_that_is_not_executable_fails_init(
    lambda_function: FunctionFactory, custom_dir: Path, backend: BackendName, tmp_path: Path,
) -> None:
    code = tmp_path / "code"
    shutil.copytree(custom_dir, code)
    (code / "bootstrap").chmod(0o644)
    fn = lambda_function("function.handler", code=code, runtime="provided.al2",
                         backend=backend, timeout=30)
    failed = fn.invoke({})
    assert failed.error == {
        "errorType": "Runtime.InvalidEntrypoint",
        "errorMessage": f"fork/exec {where(fn, backend, '/var/task')}/bootstrap: "
                        "permission denied",
    }


@pytest.mark.docker
@pytest.mark.parametrize("name", RUNTIMES)
def test_image_has_the_official_images_contract(
    client: Any, hermetic_image: Callable[[str], tuple[str, dict[str, str], Callable[[str], str]]],
    name: str,
) -> None:
    image, _env, run = hermetic_image(name)
    tools = run("command -v bash curl sha256sum; test -x /var/runtime/bootstrap && echo ok")
    assert tools.split() == ["/usr/bin/bash", "/usr/bin/curl", "/usr/bin/sha256sum", "ok"]
    with pytest.raises(Exception) as failed:
        client.containers.run(image, [], network_mode="none", remove=True)
    assert getattr(failed.value, "exit_status", None) == 142


@pytest.fixture(scope="module")
def static_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a code directory whose bootstrap is a static binary (as from Go or Rust)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler here to build the static bootstrap")
    code = tmp_path_factory.mktemp("static")
    code.chmod(0o755)  # mounted as /var/task for uid 993
    source = Path(__file__).parent.parent / "functions" / "custom_static" / "bootstrap.c"
    built = subprocess.run([compiler, "-static", "-O2", "-o", str(code / "bootstrap"),
                            str(source)], capture_output=True, text=True)
    if built.returncode != 0 and "cannot find -lc" in built.stderr:
        pytest.skip("this C compiler cannot link statically (no libc.a)")
    assert built.returncode == 0, built.stderr
    return code


def test_a_static_binary_bootstrap(
    lambda_function: FunctionFactory, static_bootstrap: Path, backend: BackendName,
) -> None:
    fn = lambda_function("not.used", code=static_bootstrap, runtime="provided.al2023",
                         backend=backend, timeout=30)
    first = fn.invoke({"n": [1, 2]})
    assert first.function_error is None, (first.payload, first.logs)
    assert first.payload == {"static": True, "event": {"n": [1, 2]}}
    assert fn.invoke("again").payload == {"static": True, "event": "again"}


@pytest.mark.docker
@pytest.mark.parametrize("name", RUNTIMES)
def test_aws_tutorial_bootstrap_runs_unchanged(
    lambda_function: FunctionFactory, functions_dir: Path, name: RuntimeName,
) -> None:
    # `#!/bin/sh` with `set -euo pipefail`: it needs Amazon Linux's /bin/sh, which is bash.
    fn = lambda_function("function.handler", code=functions_dir / "aws_tutorial", runtime=name,
                         backend="docker", timeout=30)
    first = fn.invoke({"key1": "value1"})
    assert first.function_error is None, first.logs
    assert first.raw_payload == b"""Echoing request: '{"key1": "value1"}'"""
    second = fn.invoke({"n": 2})
    assert second.raw_payload == b"""Echoing request: '{"n": 2}'""" and not second.cold_start
