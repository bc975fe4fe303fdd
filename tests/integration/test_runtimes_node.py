"""Node.js runtimes: AWS's Node.js runtime interface client (aws-lambda-ric) in the hermetic
images, with CommonJS and ES module handlers, async and callback style, and layer search paths.

nodejs20.x and nodejs24.x run Debian's Node.js; nodejs22.x runs the official Node.js build
(no Debian suite ships Node.js 22), with the client compiled against its headers.

Node.js runs on the docker backend only; the process backend refuses it in one sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_lambda import BackendName, BackendUnavailableError, FunctionFactory, RuntimeName

docker_only = pytest.mark.parametrize("backend", ["docker"], indirect=True)
RUNTIMES: list[RuntimeName] = ["nodejs20.x", "nodejs22.x", "nodejs24.x"]
#: The runtimes whose client (aws-lambda-ric 3.x) still takes callback-style handlers.
CALLBACK_RUNTIMES: list[RuntimeName] = ["nodejs20.x", "nodejs22.x"]


@pytest.fixture
def node_dir(functions_dir: Path) -> Path:
    return functions_dir / "node"


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest) -> RuntimeName:
    name: RuntimeName = request.param
    return name


def major(runtime: str) -> str:
    return runtime[len("nodejs"):-len(".x")]


@docker_only
def test_commonjs_handler(
    lambda_function: FunctionFactory, node_dir: Path, backend: BackendName, runtime: RuntimeName,
) -> None:
    fn = lambda_function("cjs.handler", code=node_dir, runtime=runtime, backend=backend)
    result = fn.invoke({"n": 1})
    assert result.function_error is None, (result.payload, result.logs)
    payload = result.payload
    assert payload["received"] == {"n": 1}
    assert payload["style"] == "commonjs"
    assert payload["node"] == major(runtime)
    assert payload["version"].startswith(f"v{major(runtime)}.")
    assert payload["executionEnv"] == f"AWS_Lambda_{runtime}"
    assert payload["nodePath"] == (
        f"/opt/nodejs/node{major(runtime)}/node_modules:/opt/nodejs/node_modules:"
        "/var/runtime/node_modules:/var/runtime:/var/task"
    )
    assert payload["requestId"] == result.request_id
    assert payload["functionName"] == fn.config.name
    assert payload["remainingPositive"] is True
    assert payload["uid"] == 993
    assert payload["cwd"] == "/var/task"
    assert "processing {\"n\":1}" in result.logs
    assert not fn.invoke({}).cold_start


@docker_only
def test_es_module_handler(
    lambda_function: FunctionFactory, node_dir: Path, backend: BackendName, runtime: RuntimeName,
) -> None:
    fn = lambda_function("esm.handler", code=node_dir, runtime=runtime, backend=backend)
    result = fn.invoke(["a"])
    assert result.function_error is None, (result.payload, result.logs)
    assert result.payload == {
        "received": ["a"], "style": "module", "node": major(runtime),
        "version": result.payload["version"],
        "executionEnv": f"AWS_Lambda_{runtime}", "requestId": result.request_id,
    }
    assert result.payload["version"].startswith(f"v{major(runtime)}.")


@docker_only
@pytest.mark.parametrize("handler, message", [
    ("cjs.fail", "boom from commonjs"),
    ("esm.fail", "boom from a module"),
])
@pytest.mark.parametrize("runtime", ["nodejs20.x", "nodejs22.x"])
def test_thrown_error_has_the_rics_shape(
    lambda_function: FunctionFactory, node_dir: Path, backend: BackendName, runtime: RuntimeName,
    handler: str, message: str,
) -> None:
    fn = lambda_function(handler, code=node_dir, runtime=runtime, backend=backend)
    failed = fn.invoke({})
    assert failed.function_error == "Unhandled"
    assert failed.error is not None
    assert failed.error["errorType"] == "Error"
    assert failed.error["errorMessage"] == message
    trace = failed.error["trace"]
    assert isinstance(trace, list) and trace[0] == f"Error: {message}"
    assert any(handler.split(".")[0] in line for line in trace[1:])
    # The runtime stays up: the next invocation is warm.
    assert not fn.invoke({}).cold_start


@docker_only
@pytest.mark.parametrize("runtime, handler", [
    ("nodejs24.x", "cjs.sleepy"), ("nodejs24.x", "esm.sleepy"), ("nodejs22.x", "cjs.sleepy"),
])
def test_timeout(
    lambda_function: FunctionFactory, node_dir: Path, backend: BackendName, runtime: RuntimeName,
    handler: str,
) -> None:
    fn = lambda_function(handler, code=node_dir, runtime=runtime, backend=backend, timeout=1)
    timed_out = fn.invoke({})
    assert timed_out.function_error == "Unhandled"
    assert timed_out.error == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {timed_out.request_id} Error: Task timed out after 1.00 "
                        "seconds",
    }


@docker_only
@pytest.mark.parametrize("runtime", CALLBACK_RUNTIMES)
def test_callback_style_handler(
    lambda_function: FunctionFactory, node_dir: Path, backend: BackendName, runtime: RuntimeName,
) -> None:
    fn = lambda_function("cjs.callback", code=node_dir, runtime=runtime, backend=backend)
    result = fn.invoke({"cb": True})
    assert result.function_error is None, (result.payload, result.logs)
    assert result.payload["style"] == "callback"
    assert result.payload["received"] == {"cb": True}
    assert result.payload["version"].startswith(f"v{major(runtime)}.")

    failing = lambda_function("cjs.callbackError", code=node_dir, runtime=runtime,
                              backend=backend)
    failed = failing.invoke({})
    assert failed.function_error == "Unhandled"
    assert failed.error is not None
    assert failed.error["errorType"] == "TypeError"
    assert failed.error["errorMessage"] == "bad input from a callback"


@docker_only
@pytest.mark.parametrize("runtime, other", [("nodejs24.x", "20"), ("nodejs22.x", "24")])
def test_layers_node_modules_are_on_the_search_path(
    lambda_function: FunctionFactory, node_dir: Path, backend: BackendName, tmp_path: Path,
    runtime: RuntimeName, other: str,
) -> None:
    own = major(runtime)
    layer = tmp_path / "layer"
    for where, name, value in [
        ("nodejs/node_modules", "shared-mod", "shared"),
        ("nodejs/node_modules", "both-mod", "shared"),
        (f"nodejs/node{own}/node_modules", "both-mod", f"node{own}"),
        (f"nodejs/node{own}/node_modules", "versioned-mod", f"node{own}"),
        (f"nodejs/node{other}/node_modules", "other-version-mod", f"node{other}"),
    ]:
        module = layer / where / name
        module.mkdir(parents=True, exist_ok=True)
        (module / "index.js").write_text(f"module.exports = {{ value: {value!r} }};\n")
    fn = lambda_function("cjs.layered", code=node_dir, runtime=runtime, backend=backend,
                         layers=[layer])

    def load(module: str) -> Any:
        result = fn.invoke({"module": module})
        assert result.function_error is None, (result.payload, result.logs)
        return result.payload

    assert load("shared-mod") == {"value": "shared",
                                  "file": "/opt/nodejs/node_modules/shared-mod/index.js"}
    assert load("versioned-mod") == {
        "value": f"node{own}",
        "file": f"/opt/nodejs/node{own}/node_modules/versioned-mod/index.js"}
    # The version-specific directory comes first.
    assert load("both-mod")["value"] == f"node{own}"
    # Another version's directory is not searched.
    missing = fn.invoke({"module": "other-version-mod"})
    assert missing.function_error == "Unhandled"
    assert missing.error is not None
    assert "Cannot find module 'other-version-mod'" in missing.error["errorMessage"]


@docker_only
def test_missing_module_fails_init(
    lambda_function: FunctionFactory, node_dir: Path, backend: BackendName,
) -> None:
    fn = lambda_function("nothere.handler", code=node_dir, runtime="nodejs20.x", backend=backend)
    failed = fn.invoke({})
    assert failed.function_error == "Unhandled"
    assert failed.error is not None
    assert failed.error["errorType"] == "Runtime.ImportModuleError"
    assert "Error Type: Runtime.ImportModuleError" in failed.logs


@pytest.mark.docker
def test_nodejs22_runs_the_official_node_build_with_a_client_built_for_it(client: Any) -> None:
    from pytest_lambda.images.resolve import resolve_image

    image = resolve_image(client, "nodejs22.x", policy="hermetic").tag
    out = client.containers.run(
        image, ["-c", "stat -c '%A %F' /var/lang/bin/node; test -s /var/lang/LICENSE && "
                      "echo licence; test -e /usr/bin/node && echo debian-node; "
                      "node -p 'process.release.name + \" \" + process.versions.modules'; "
                      "ldd /var/runtime/dist/rapid-client.node"],
        entrypoint=["/bin/bash"], user="993:993", read_only=True, network_mode="none",
        remove=True,
    ).decode()
    # The node binary itself, not a link to a Debian package's; and no Debian Node.js besides.
    assert out.splitlines()[:2] == ["-rwxr-xr-x regular file", "licence"]
    assert "debian-node" not in out
    # Node.js 22's module ABI (127); the addon loads in the function tests above.
    assert "node 127" in out.splitlines()
    assert "not found" not in out


@pytest.mark.parametrize("backend", ["process"], indirect=True)
def test_the_process_backend_refuses_node(
    lambda_function: FunctionFactory, node_dir: Path, backend: BackendName,
) -> None:
    fn = lambda_function("cjs.handler", code=node_dir, runtime="nodejs20.x", backend=backend)
    with pytest.raises(BackendUnavailableError,
                       match=r"^The process backend cannot run nodejs20\.x functions"):
        fn.invoke({})


@pytest.mark.docker
@pytest.mark.parametrize("name", RUNTIMES)
def test_image_has_the_official_images_contract(
    hermetic_image: Callable[[str], tuple[str, dict[str, str], Callable[[str], str]]], name: str,
) -> None:
    _image, _env, run = hermetic_image(name)
    out = run("/var/lang/bin/node --version; ls /var/runtime; command -v gcc || true").split()
    assert out[0].startswith(f"v{major(name)}.")
    assert "index.mjs" in out and "bootstrap" in out
    # The compilers stayed in the build stage.
    assert not any(line.endswith("gcc") for line in out)
