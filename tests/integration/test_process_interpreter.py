"""The process backend's interpreter: the function's runtime, and nothing of the test's.

A function on the process backend runs on a Python of its runtime's version, with only its code,
its layers and AWS's runtime interface client (and that client's dependencies) importable: the
test's virtualenv and the checkout stay out, so a forgotten dependency fails as it would in
Lambda.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import cast

import pytest

from pytest_lambda import BackendName, BackendUnavailableError, FunctionFactory, RuntimeName

process_only = pytest.mark.parametrize("backend", ["process"], indirect=True)
HOST = cast(RuntimeName, "python{}.{}".format(*sys.version_info[:2]))
CHECKOUT = Path(__file__).resolve().parents[2]


@process_only
def test_a_dependency_only_the_tests_venv_has_is_an_import_error(
    lambda_function: FunctionFactory, functions_dir: Path, backend: BackendName,
) -> None:
    import requests  # noqa: F401  # the test's venv has it; the function's code does not

    fn = lambda_function("forgot_dependency.handler", code=functions_dir / "interpreter",
                         runtime=HOST, backend=backend)
    result = fn.invoke({})
    assert result.error is not None
    assert result.error["errorType"] == "Runtime.ImportModuleError"
    assert result.error["errorMessage"] == (
        "Unable to import module 'forgot_dependency': No module named 'requests'")


@process_only
def test_sys_path_holds_the_code_and_the_runtime_client_only(
    lambda_function: FunctionFactory, functions_dir: Path, backend: BackendName,
) -> None:
    code = functions_dir / "interpreter"
    fn = lambda_function("app.handler", code=code, runtime=HOST, backend=backend)
    result = fn.invoke({"modules": ["awslambdaric", "simplejson", "pytest", "pytest_lambda",
                                    "requests", "docker"]})
    assert result.function_error is None, result.error
    path = result.payload["sys_path"]
    assert path[0] == str(code)
    assert result.payload["found"] == {"awslambdaric": True, "simplejson": True,
                                       "pytest": False, "pytest_lambda": False,
                                       "requests": False, "docker": False}
    # Without layers, no literal /opt path of the host (which may hold anything) is searched.
    assert not [entry for entry in path if entry.startswith("/opt")]
    venv = Path(sys.prefix).resolve()
    for entry in path:
        resolved = Path(entry).resolve()
        assert not resolved.is_relative_to(venv), entry
        assert resolved != CHECKOUT, entry
        assert resolved.is_relative_to(code) or not resolved.is_relative_to(CHECKOUT), entry


@process_only
def test_a_pythonpath_in_the_functions_environment_is_honoured(
    lambda_function: FunctionFactory, functions_dir: Path, backend: BackendName, tmp_path: Path,
) -> None:
    (tmp_path / "vendored_module.py").write_text("VALUE = 1\n")
    fn = lambda_function("app.handler", code=functions_dir / "interpreter", runtime=HOST,
                         backend=backend, environment={"PYTHONPATH": str(tmp_path)})
    result = fn.invoke({"modules": ["vendored_module", "pytest"]})
    assert result.payload["found"] == {"vendored_module": True, "pytest": False}


@process_only
def test_layer_python_dirs_are_found_at_their_host_paths(
    lambda_function: FunctionFactory, functions_dir: Path, backend: BackendName, tmp_path: Path,
) -> None:
    layer = tmp_path / "layer" / "python"
    layer.mkdir(parents=True)
    (layer / "layered_module.py").write_text("VALUE = 1\n")
    fn = lambda_function("app.handler", code=functions_dir / "interpreter", runtime=HOST,
                         backend=backend, layers=[tmp_path / "layer"])
    result = fn.invoke({"modules": ["layered_module"]})
    assert result.payload["found"] == {"layered_module": True}
    assert not any(entry.startswith("/opt") for entry in result.payload["sys_path"])


@process_only
def test_a_runtime_whose_python_the_host_lacks_is_refused_in_one_sentence(
    lambda_function: FunctionFactory, functions_dir: Path, backend: BackendName,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    from pytest_lambda.backends import host_python as _process_env

    other: RuntimeName = "python3.13" if HOST != "python3.13" else "python3.11"
    # A PATH where no interpreter for it is found: only a python3.x that lies about its version.
    fake = tmp_path / other
    fake.write_text("#!/bin/sh\necho 3.0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    _process_env.find_python.cache_clear()
    fn = lambda_function("app.handler", code=functions_dir / "interpreter", runtime=other,
                         backend=backend)
    try:
        with pytest.raises(BackendUnavailableError) as raised:
            fn.invoke({})
    finally:
        _process_env.find_python.cache_clear()
    message = str(raised.value)
    version = other.removeprefix("python")
    assert message.startswith(f"The process backend runs {other} functions on Python {version}")
    assert "use the docker backend" in message and "\n" not in message


def _other_interpreter() -> tuple[str, str] | None:
    """Return (runtime, interpreter) for a supported Python other than the host's, if any."""
    import glob
    import shutil

    from pytest_lambda.backends.host_python import find_python
    from pytest_lambda.config.runtimes import RUNTIMES

    for name, runtime in sorted(RUNTIMES.items()):
        if runtime.family != "python" or name == HOST:
            continue
        found = find_python(runtime.version)
        if found:
            return name, found
        # Installed but not on PATH, as pyenv keeps versions that are not selected.
        pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
        for candidate in glob.glob(f"{pyenv}/versions/{runtime.version}*/bin/{name}"):
            if shutil.which(candidate):
                return name, candidate
    return None


@process_only
def test_a_runtime_found_on_path_runs_on_that_python(
    lambda_function: FunctionFactory, functions_dir: Path, backend: BackendName,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pytest_lambda.backends import host_python as _process_env

    other = _other_interpreter()
    if other is None:
        pytest.skip("no Python but the host's is installed here")
    name, interpreter = other
    monkeypatch.setenv("PATH", f"{Path(interpreter).parent}:{os.environ['PATH']}")
    _process_env.find_python.cache_clear()
    try:
        fn = lambda_function("app.handler", code=functions_dir / "interpreter",
                             runtime=cast(RuntimeName, name), backend=backend)
        result = fn.invoke({"modules": ["awslambdaric", "pytest"]})
    finally:
        _process_env.find_python.cache_clear()
    assert result.function_error is None, result.error
    assert "python" + result.payload["version"] == name
    assert result.payload["found"] == {"awslambdaric": True, "pytest": False}


@process_only
def test_the_functions_code_directory_gets_no_bytecode_written_into_it(
    lambda_function: FunctionFactory, tmp_path: Path, backend: BackendName,
) -> None:
    """Lambda's /var/task is read-only: nothing is written into a function's code. The process
    backend keeps the bytecode it compiles in the cache instead of the user's source tree."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("VALUE = 7\n")
    (tmp_path / "app.py").write_text("import pkg\n\ndef handler(event, context):\n"
                                     "    return pkg.VALUE\n")
    fn = lambda_function("app.handler", code=tmp_path, runtime=HOST, backend=backend)
    assert fn.invoke({}).payload == 7
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "app.py", "pkg", "pkg/__init__.py"]
