"""Node.js runtimes: AWS's Node.js runtime interface client (aws-lambda-ric) in the hermetic
images, with CommonJS and ES module handlers, async and callback style, and layer search paths.

Node.js runs on the docker backend only; the process backend refuses it in one sentence.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_lambda._errors import BackendUnavailableError, ImageBuildError

docker_only = pytest.mark.parametrize("backend", ["docker"], indirect=True)
#: The Node.js runtimes a Debian suite serves (nodejs22.x has no hermetic image).
RUNTIMES = ["nodejs20.x", "nodejs24.x"]


@pytest.fixture
def node_dir(functions_dir: Path) -> Path:
    return functions_dir / "node"


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def major(runtime: str) -> str:
    return runtime[len("nodejs"):-len(".x")]


@docker_only
def test_commonjs_handler(lambda_function, node_dir, backend, runtime):
    fn = lambda_function("cjs.handler", code=node_dir, runtime=runtime, backend=backend)
    result = fn.invoke({"n": 1})
    assert result.function_error is None, (result.payload, result.logs)
    payload = result.payload
    assert payload["received"] == {"n": 1}
    assert payload["style"] == "commonjs"
    assert payload["node"] == major(runtime)
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
def test_es_module_handler(lambda_function, node_dir, backend, runtime):
    fn = lambda_function("esm.handler", code=node_dir, runtime=runtime, backend=backend)
    result = fn.invoke(["a"])
    assert result.function_error is None, (result.payload, result.logs)
    assert result.payload == {
        "received": ["a"], "style": "module", "node": major(runtime),
        "executionEnv": f"AWS_Lambda_{runtime}", "requestId": result.request_id,
    }


@docker_only
@pytest.mark.parametrize("handler, message", [
    ("cjs.fail", "boom from commonjs"),
    ("esm.fail", "boom from a module"),
])
def test_thrown_error_has_the_rics_shape(lambda_function, node_dir, backend, handler, message):
    fn = lambda_function(handler, code=node_dir, runtime="nodejs20.x", backend=backend)
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
@pytest.mark.parametrize("handler", ["cjs.sleepy", "esm.sleepy"])
def test_timeout(lambda_function, node_dir, backend, handler):
    fn = lambda_function(handler, code=node_dir, runtime="nodejs24.x", backend=backend,
                         timeout=1)
    timed_out = fn.invoke({})
    assert timed_out.function_error == "Unhandled"
    assert timed_out.error == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {timed_out.request_id} Error: Task timed out after 1.00 "
                        "seconds",
    }


@docker_only
def test_callback_style_handler(lambda_function, node_dir, backend):
    fn = lambda_function("cjs.callback", code=node_dir, runtime="nodejs20.x", backend=backend)
    result = fn.invoke({"cb": True})
    assert result.function_error is None, (result.payload, result.logs)
    assert result.payload["style"] == "callback"
    assert result.payload["received"] == {"cb": True}

    failing = lambda_function("cjs.callbackError", code=node_dir, runtime="nodejs20.x",
                              backend=backend)
    failed = failing.invoke({})
    assert failed.function_error == "Unhandled"
    assert failed.error is not None
    assert failed.error["errorType"] == "TypeError"
    assert failed.error["errorMessage"] == "bad input from a callback"


@docker_only
def test_layers_node_modules_are_on_the_search_path(lambda_function, node_dir, backend, tmp_path):
    layer = tmp_path / "layer"
    for where, name, value in [
        ("nodejs/node_modules", "shared-mod", "shared"),
        ("nodejs/node_modules", "both-mod", "shared"),
        ("nodejs/node24/node_modules", "both-mod", "node24"),
        ("nodejs/node24/node_modules", "versioned-mod", "node24"),
        ("nodejs/node20/node_modules", "other-version-mod", "node20"),
    ]:
        module = layer / where / name
        module.mkdir(parents=True, exist_ok=True)
        (module / "index.js").write_text(f"module.exports = {{ value: {value!r} }};\n")
    fn = lambda_function("cjs.layered", code=node_dir, runtime="nodejs24.x", backend=backend,
                         layers=[layer])

    def load(module: str) -> object:
        result = fn.invoke({"module": module})
        assert result.function_error is None, (result.payload, result.logs)
        return result.payload

    assert load("shared-mod") == {"value": "shared",
                                  "file": "/opt/nodejs/node_modules/shared-mod/index.js"}
    assert load("versioned-mod") == {
        "value": "node24", "file": "/opt/nodejs/node24/node_modules/versioned-mod/index.js"}
    # The version-specific directory comes first.
    assert load("both-mod")["value"] == "node24"
    # Another version's directory is not searched.
    missing = fn.invoke({"module": "other-version-mod"})
    assert missing.function_error == "Unhandled"
    assert "Cannot find module 'other-version-mod'" in missing.error["errorMessage"]


@docker_only
def test_missing_module_fails_init(lambda_function, node_dir, backend):
    fn = lambda_function("nothere.handler", code=node_dir, runtime="nodejs20.x", backend=backend)
    failed = fn.invoke({})
    assert failed.function_error == "Unhandled"
    assert failed.error is not None
    assert failed.error["errorType"] == "Runtime.ImportModuleError"
    assert "Error Type: Runtime.ImportModuleError" in failed.logs


@docker_only
def test_nodejs22_has_no_hermetic_image(lambda_function, node_dir, backend):
    fn = lambda_function("cjs.handler", code=node_dir, runtime="nodejs22.x", backend=backend)
    with pytest.raises(ImageBuildError, match="No Debian suite ships Node.js 22"):
        fn.invoke({})


@pytest.mark.parametrize("backend", ["process"], indirect=True)
def test_the_process_backend_refuses_node(lambda_function, node_dir, backend):
    fn = lambda_function("cjs.handler", code=node_dir, runtime="nodejs20.x", backend=backend)
    with pytest.raises(BackendUnavailableError,
                       match=r"^The process backend cannot run nodejs20\.x functions"):
        fn.invoke({})


@pytest.mark.docker
@pytest.mark.parametrize("name", RUNTIMES)
def test_image_has_the_official_images_contract(client, name):
    from pytest_lambda._images import resolve_image

    image = resolve_image(client, name, policy="hermetic").tag
    config = client.images.get(image).attrs["Config"]
    assert config["Entrypoint"] == ["/lambda-entrypoint.sh"]
    assert config["WorkingDir"] == "/var/task"
    env = dict(line.split("=", 1) for line in config["Env"])
    assert env["LAMBDA_TASK_ROOT"] == "/var/task"
    assert config["Labels"]["pytest-lambda.runtime"] == name
    out = client.containers.run(
        image, ["-c", "/var/lang/bin/node --version; ls /var/runtime; command -v gcc || true"],
        entrypoint=["/bin/bash"], user="993:993", read_only=True, network_mode="none",
        remove=True,
    ).decode().split()
    assert out[0].startswith(f"v{major(name)}.")
    assert "index.mjs" in out and "bootstrap" in out
    # The compilers stayed in the build stage.
    assert not any(line.endswith("gcc") for line in out)
