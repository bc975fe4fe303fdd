"""The AWS SDKs Lambda's runtimes carry: boto3 in every Python runtime (images and the process
backend), the AWS SDK for JavaScript v3 in the Node.js images, at the pinned versions, and a
copy the function or a layer brings winning by Lambda's search-path order.

No test calls AWS: clients are built from the SDKs' service models and the environment's region.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_lambda import BackendName, Function, FunctionFactory, RuntimeName

#: The lock files the images are built from, read as files (not through the package).
IMAGES = Path(__file__).resolve().parents[2] / "runtime_images"
docker_only = pytest.mark.parametrize("backend", ["docker"], indirect=True)
PYTHON_SDK = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")
#: The import name of each pinned project that is not its own.
IMPORT_NAMES = {"python-dateutil": "dateutil"}


def pinned_python_sdk() -> dict[str, str]:
    """Return {import name: version} of `sdk-requirements.txt`."""
    text = (IMAGES / "python" / "sdk-requirements.txt").read_text()
    found: dict[str, str] = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", text, flags=re.MULTILINE))
    return {IMPORT_NAMES.get(name, name): version for name, version in found.items()}


def pinned_node_sdk() -> dict[str, str]:
    """Return {package: version} of the JavaScript SDK packages the Node.js images carry."""
    dependencies: dict[str, str] = json.loads(
        (IMAGES / "nodejs" / "sdk" / "package.json").read_text())["dependencies"]
    return dependencies


@pytest.fixture
def sdk_dir(functions_dir: Path) -> Path:
    return functions_dir / "sdk"


def invoke(fn: Function, event: dict[str, Any]) -> Any:
    result = fn.invoke(event)
    assert result.function_error is None, (result.payload, result.logs)
    return result.payload


def fake_package(root: Path, name: str, version: str) -> Path:
    """Write an importable package `name` whose `__version__` is `version` under `root`."""
    (root / name).mkdir(parents=True)
    (root / name / "__init__.py").write_text(f"__version__ = {version!r}\n")
    return root


# -- Python ------------------------------------------------------------------------------------

def test_python_runtime_carries_the_pinned_boto3(
    lambda_function: FunctionFactory, sdk_dir: Path, target: tuple[BackendName, RuntimeName],
) -> None:
    backend, runtime = target
    # Loading botocore's S3 model takes seconds at 128 MB's CPU share, in Lambda as here.
    fn = lambda_function("app.handler", code=sdk_dir, runtime=runtime, backend=backend,
                         memory_size=1769, timeout=60)
    found = invoke(fn, {"modules": list(PYTHON_SDK), "client": "s3"})
    pinned = pinned_python_sdk()
    assert set(pinned) == set(PYTHON_SDK)
    assert {name: found[name]["version"] for name in PYTHON_SDK} == pinned
    # A client from botocore's bundled service model, in the environment's region.
    assert found["client"] == {"service": "s3", "region": fn.config.region}
    folders = {str(Path(found[name]["file"]).parent.parent) for name in PYTHON_SDK
               if name not in ("six",)}
    six = str(Path(found["six"]["file"]).parent)
    if backend == "docker":
        # Where Lambda's Python runtimes keep what they carry: /var/runtime.
        assert folders == {"/var/runtime"} and six == "/var/runtime"
    else:
        from pytest_lambda.backends.host_python import sdk_dir as process_sdk_dir

        where = str(process_sdk_dir(runtime.removeprefix("python")))
        assert folders == {where} and six == where


def test_bundled_boto3_wins_over_a_layers_and_the_runtimes(
    lambda_function: FunctionFactory, sdk_dir: Path, target: tuple[BackendName, RuntimeName],
    tmp_path: Path,
) -> None:
    backend, runtime = target
    code = tmp_path / "code"
    shutil.copytree(sdk_dir, code, ignore=shutil.ignore_patterns("node"))
    fake_package(code, "boto3", "0.0.0+code")
    layer = fake_package(tmp_path / "layer" / "python", "boto3", "0.0.0+layer").parent
    bare = tmp_path / "bare"
    shutil.copytree(sdk_dir, bare, ignore=shutil.ignore_patterns("node"))
    pinned = pinned_python_sdk()["boto3"]

    def boto3_version(code_dir: Path, layers: list[Path]) -> str:
        # One vCPU and time to spare: importing botocore at 128 MB's CPU share takes seconds.
        fn = lambda_function("app.handler", code=code_dir, runtime=runtime, backend=backend,
                             layers=layers, memory_size=1769, timeout=60)
        return str(invoke(fn, {"modules": ["boto3"]})["boto3"]["version"])

    assert boto3_version(code, [layer]) == "0.0.0+code"  # /var/task first
    assert boto3_version(bare, [layer]) == "0.0.0+layer"  # then /opt/python
    assert boto3_version(bare, []) == pinned  # then /var/runtime


# -- Node.js -----------------------------------------------------------------------------------

NODE_CLIENTS = ("@aws-sdk/client-s3", "@aws-sdk/client-dynamodb", "@aws-sdk/lib-dynamodb")


def fake_node_package(node_modules: Path, name: str, version: str, marker: str) -> None:
    """Write a CommonJS package `name` at `version` whose S3Client says `marker`."""
    folder = node_modules / name
    folder.mkdir(parents=True)
    (folder / "package.json").write_text(json.dumps(
        {"name": name, "version": version, "main": "index.js"}))
    (folder / "index.js").write_text(
        "class S3Client { constructor() { this.config = { region: 'fake' }; } }\n"
        f"S3Client.marker = {json.dumps(marker)};\n"
        "exports.S3Client = S3Client;\n"
    )


@docker_only
@pytest.mark.parametrize("runtime", ["nodejs20.x", "nodejs22.x", "nodejs24.x"])
@pytest.mark.parametrize("handler", ["esm.handler", "cjs.handler"])
def test_nodejs_runtimes_carry_the_javascript_sdk(
    lambda_function: FunctionFactory, sdk_dir: Path, backend: BackendName, handler: str,
    runtime: RuntimeName,
) -> None:
    fn = lambda_function(handler, code=sdk_dir / "node", runtime=runtime, backend=backend,
                         memory_size=1769, timeout=60)
    result = fn.invoke({"packages": list(NODE_CLIENTS)})
    assert result.function_error is None, (result.payload, result.logs)
    assert "ExperimentalWarning" not in result.logs  # the ES module hook adds nothing to the log
    found = result.payload
    assert found["s3"] == "S3Client"
    assert found["doc"] == "function"
    assert found["marker"] is None  # the runtime's own S3Client
    assert found["region"] == fn.config.region
    assert found["where"] == {
        name: {"file": f"/var/runtime/node_modules/{name}/package.json",
               "version": pinned_node_sdk()[name]}
        for name in NODE_CLIENTS
    }


@docker_only
@pytest.mark.parametrize("handler", ["esm.handler", "cjs.handler"])
def test_bundled_javascript_sdk_wins_over_a_layers_and_the_runtimes(
    lambda_function: FunctionFactory, sdk_dir: Path, backend: BackendName, handler: str,
    tmp_path: Path,
) -> None:
    code = tmp_path / "code"
    shutil.copytree(sdk_dir / "node", code)
    fake_node_package(code / "node_modules", "@aws-sdk/client-s3", "0.0.0-code", "code")
    layer = tmp_path / "layer"
    fake_node_package(layer / "nodejs" / "node_modules", "@aws-sdk/client-s3", "0.0.0-layer",
                      "layer")
    bare = sdk_dir / "node"

    def s3(code_dir: Path, layers: list[Path]) -> tuple[str | None, str]:
        fn = lambda_function(handler, code=code_dir, runtime="nodejs22.x", backend=backend,
                             layers=layers, memory_size=1769, timeout=60)
        found = invoke(fn, {"packages": ["@aws-sdk/client-s3"]})
        return found["marker"], found["where"]["@aws-sdk/client-s3"]["version"]

    assert s3(code, [layer]) == ("code", "0.0.0-code")  # /var/task/node_modules first
    assert s3(bare, [layer]) == ("layer", "0.0.0-layer")  # then the layers' NODE_PATH
    assert s3(bare, []) == (None, pinned_node_sdk()["@aws-sdk/client-s3"])


@docker_only
def test_nodejs_images_hold_only_the_commonjs_build(
    client: Any, backend: BackendName,
    hermetic_image: Callable[[str], tuple[str, dict[str, str], Callable[[str], str]]],
) -> None:
    tag, _env, run = hermetic_image("nodejs22.x")
    listing = run(
        "cd /var/runtime/node_modules && ls -d @aws-sdk/* | sort; "
        "find . -type d \\( -name dist-es -o -name dist-types \\) | wc -l"
    ).split()
    assert listing[-1] == "0"
    assert set(pinned_node_sdk()) <= set(listing[:-1])
