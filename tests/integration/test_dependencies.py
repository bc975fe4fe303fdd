"""Dependencies built for the function's runtime and architecture (requirements=, Layer).

These tests reach the package indexes through pip and npm (as the user's configuration says) and
build into the session's cache directory, so a second run rebuilds nothing. They keep to a few
small packages: orjson (a compiled wheel), crcmod (a source distribution with a C module),
python-dateutil (pure Python, with six) and ms (Node.js, pure JavaScript).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_lambda import BackendName, ConfigurationError, Function, FunctionFactory, Layer
from pytest_lambda.config import arch as _arch

docker_only = pytest.mark.parametrize("backend", ["docker"], indirect=True)
pytestmark = docker_only

REQUIRE_ARM64 = "PYTEST_LAMBDA_REQUIRE_ARM64"


@pytest.fixture
def deps_dir(functions_dir: Path) -> Path:
    return functions_dir / "deps"


@pytest.fixture
def make(lambda_function: FunctionFactory, backend: BackendName) -> Callable[..., Function]:
    """Return lambda_function on the test's backend (Docker)."""
    def make(*args: Any, **options: Any) -> Function:
        return lambda_function(*args, backend=backend, **options)
    return make


def invoke(fn: Function, event: object = None) -> Any:
    result = fn.invoke(event)
    assert result.function_error is None, (result.payload, result.logs)
    return result.payload


def test_compiled_wheel_for_python313_on_x86_64(
    make: Callable[..., Function], deps_dir: Path,
) -> None:
    # The host runs another Python (3.11 in CI): its own orjson wheel would not import on 3.13.
    fn = make("app.handler", code=deps_dir / "compiled", runtime="python3.13",
                         requirements="requirements.txt", architecture="x86_64")
    out = invoke(fn)
    assert out["dumped"] == '{"a":[1,2]}'
    assert out["python"] == "3.13"
    assert out["machine"] == "x86_64"
    # Merged into /var/task beside the code, as in a deployment package.
    assert out["orjson_file"] == "/var/task/orjson/__init__.py"


def test_compiled_wheel_on_arm64_under_emulation(
    make: Callable[..., Function], deps_dir: Path,
) -> None:
    if _arch.host_architecture() != "arm64" and not _arch.emulation_available("arm64"):
        reason = "no arm64 emulation is registered with binfmt_misc here"
        if os.environ.get(REQUIRE_ARM64):
            pytest.fail(f"{REQUIRE_ARM64} is set but {reason}")
        pytest.skip(reason)
    fn = make("app.handler", code=deps_dir / "compiled", runtime="python3.13",
                         requirements=True, architecture="arm64", timeout=60)
    out = invoke(fn)
    assert out == {"dumped": '{"a":[1,2]}', "orjson_file": "/var/task/orjson/__init__.py",
                   "python": "3.13", "machine": "aarch64"}


def test_the_functions_own_files_win_over_dependencies(
    make: Callable[..., Function], deps_dir: Path, tmp_path: Path,
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(
        "import orjson\n\ndef handler(event, context):\n    return orjson.MINE\n"
    )
    # A module of the code named like a dependency's replaces it, as a zip's later entry would.
    (code / "orjson").mkdir()
    (code / "orjson" / "__init__.py").write_text("MINE = 'the code wins'\n")
    (code / "requirements.txt").write_text((deps_dir / "compiled" / "requirements.txt")
                                           .read_text())
    fn = make("app.handler", code=code, runtime="python3.13", requirements=True)
    assert invoke(fn) == "the code wins"


def test_same_requirements_share_one_build(make: Callable[..., Function], deps_dir: Path,
                                           tmp_path: Path) -> None:
    first = make("app.handler", code=deps_dir / "compiled", runtime="python3.13",
                            requirements=True)
    other = tmp_path / "other"
    other.mkdir()
    (other / "app.py").write_text((deps_dir / "compiled" / "app.py").read_text() + "# other\n")
    (other / "requirements.txt").write_text((deps_dir / "compiled" / "requirements.txt")
                                            .read_text())
    second = make("app.handler", code=other, runtime="python3.13", requirements=True)
    assert first.config.code_dir != second.config.code_dir
    assert first.config.code_dir is not None
    orjson_first = first.config.code_dir / "orjson" / "__init__.py"
    assert second.config.code_dir is not None
    orjson_second = second.config.code_dir / "orjson" / "__init__.py"
    # Both trees link the one build's files.
    assert orjson_first.stat().st_ino == orjson_second.stat().st_ino


def test_source_distribution_built_in_the_build_image(
    make: Callable[..., Function], deps_dir: Path,
) -> None:
    fn = make("app.handler", code=deps_dir / "source", runtime="python3.13",
                         requirements=True)
    out = invoke(fn)
    assert out["crc"] == 0xCBF43926
    assert out["extension"] is True
    assert out["extension_file"].startswith("/var/task/crcmod/_crcfunext.cpython-313-")
    assert out["python"] == "3.13"


def test_layer_with_its_own_requirements(make: Callable[..., Function], deps_dir: Path) -> None:
    layer = Layer(deps_dir / "layer", requirements="requirements.txt")
    fn = make("app.handler", code=deps_dir / "layer_fn", runtime="python3.13",
                         layers=[layer])
    out = invoke(fn)
    assert out == {"parsed": "2024-02-29T12:00:00+00:00",
                   "dateutil_file": "/opt/python/dateutil/__init__.py"}
    # The layer's own files stay where they were.
    assert fn.config.opt_dir is not None
    assert (fn.config.opt_dir / "python" / "layer_mark.py").is_file()


def test_nodejs_function_with_a_package_lock(make: Callable[..., Function], deps_dir: Path) -> None:
    fn = make("index.handler", code=deps_dir / "node", runtime="nodejs22.x",
                         requirements="package.json")
    out = invoke(fn)
    assert out == {"twoDays": 172800000, "msVersion": "2.1.3",
                   "resolved": "/var/task/node_modules/ms/index.js"}
    # Production dependencies only: the lock's dev dependency is not installed.
    assert fn.config.code_dir is not None
    assert not (fn.config.code_dir / "node_modules" / "is-number").exists()


def test_a_requirement_that_does_not_exist(make: Callable[..., Function], tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (tmp_path / "requirements.txt").write_text("pytest-lambda-no-such-package-3f9c==1.0\n")
    with pytest.raises(ConfigurationError) as info:
        make("app.handler", code=tmp_path, runtime="python3.13", requirements=True,
                        name="needs-nothing-real")
    message = str(info.value)
    assert "function 'needs-nothing-real'" in message
    assert "python3.13 on " in message and "manylinux_2_34_" in message
    # pip's own words.
    assert "No matching distribution found for pytest-lambda-no-such-package-3f9c==1.0" \
        in message


def test_a_missing_requirements_file(make: Callable[..., Function], deps_dir: Path) -> None:
    with pytest.raises(ConfigurationError, match="requirements file .*nope.txt.* does not exist"):
        make("app.handler", code=deps_dir / "compiled", runtime="python3.13",
                        requirements="nope.txt")


def test_a_second_session_rebuilds_nothing(pytester: pytest.Pytester, tmp_path: Path,
                                           wheel_index: Path, backend: BackendName) -> None:
    # A local wheel and --no-index: the sessions need no package index.
    code = tmp_path / "fn"
    code.mkdir()
    (code / "requirements.txt").write_text(
        f"--no-index\n--find-links {wheel_index}\npldeps_probe==2.0\n")
    (code / "app.py").write_text("import pldeps_probe\n\ndef handler(e, c):\n"
                                 "    return pldeps_probe.__file__ + ' ' + pldeps_probe.VALUE\n")
    pytester.makepyfile(test_fn=f"""
        def test_it(lambda_function):
            fn = lambda_function("app.handler", code={str(code)!r}, runtime="python3.13",
                                 requirements=True, backend={backend!r})
            result = fn.invoke({{}})
            assert result.payload == "/var/task/pldeps_probe/__init__.py two", result.logs
    """)
    cache = tmp_path / "shared-cache"

    def session() -> pytest.RunResult:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PYTEST_LAMBDA_CACHE_DIR", str(cache))
            return pytester.runpytest_subprocess("-p", "no:cacheprovider")

    first = session()
    first.assert_outcomes(passed=1)
    first.stdout.fnmatch_lines([
        "*lambda dependencies*",
        "*requirements.txt for python3.13 on * (manylinux_2_34_* wheels): 1 package, built in *",
    ])
    second = session()
    second.assert_outcomes(passed=1)
    second.stdout.fnmatch_lines([
        "*requirements.txt for python3.13 on * (manylinux_2_34_* wheels): 1 package, reused "
        "(cached, nothing rebuilt)*",
    ])
    assert "built in" not in second.stdout.str()
    assert "installing" not in second.stdout.str()


def test_nodejs_native_addon_built_in_the_build_image(
    make: Callable[..., Function], deps_dir: Path,
) -> None:
    # tiny-addon is a local tarball whose binding.gyp node-gyp compiles: for nodejs22.x's own
    # Node.js, in its build image, with no network.
    fn = make("index.handler", code=deps_dir / "node_native", runtime="nodejs22.x",
              requirements=True)
    out = invoke(fn)
    assert out == {"answer": 42, "machine": {"x86_64": "x86_64", "arm64": "aarch64"}[
        _arch.host_architecture()], "node": "22"}
    assert fn.config.code_dir is not None
    addon = fn.config.code_dir / "node_modules" / "tiny-addon" / "build" / "Release"
    assert (addon / "tiny_addon.node").is_file()
