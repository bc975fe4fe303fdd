"""Container-image functions (`lambda_function(image=...)`): Lambda's `PackageType: Image`.

The user image is built here the way a user builds one on an AWS base image, on the hermetic
python3.13 image (the same contract: `/lambda-entrypoint.sh`, `/var/task`, `CMD` is the handler).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from pytest_lambda import Architecture, BackendName, ConfigurationError, FunctionFactory
from pytest_lambda.config import arch as _arch
from pytest_lambda.images import resolve as image_resolve

FUNCTIONS = Path(__file__).resolve().parent.parent / "functions"

docker_only = pytest.mark.parametrize("backend", ["docker"], indirect=True)
pytestmark = docker_only


def _build(client: Any, base: str, tag: str, functions_dir: Path, tmp: Path,
           built: list[str], *, marker: str = "one", extra: str = "") -> None:
    context = tmp / f"context-{uuid.uuid4().hex[:8]}"
    context.mkdir()
    shutil.copy(functions_dir / "image_fn" / "app.py", context / "app.py")
    (context / "marker.txt").write_text(marker + "\n")
    (context / "Dockerfile").write_text(
        f"FROM {base}\n"
        "COPY app.py marker.txt ${LAMBDA_TASK_ROOT}/\n"
        'CMD ["app.handler"]\n' + extra
    )
    image, _log = client.images.build(path=str(context), tag=tag, pull=False, rm=True,
                                      forcerm=True, labels={"pytest-lambda.test": "image-fn"})
    built.append(image.id)


@pytest.fixture(scope="module")
def base_image(client: Any) -> str:
    return image_resolve.resolve_image(client, "python3.13", progress=lambda line: None).tag


@pytest.fixture(scope="module")
def user_images(client: Any) -> Iterator[list[str]]:
    """Ids of the images the tests build; each is removed at the end of the module."""
    ids: list[str] = []
    yield ids
    for image_id in reversed(ids):
        # The session's warm environments of these images outlive the module: remove them first.
        for container in client.containers.list(all=True, filters={"ancestor": image_id}):
            container.remove(force=True)
        try:
            client.images.remove(image_id, force=True)
        except Exception:
            pass


@pytest.fixture(scope="module")
def image(client: Any, base_image: str, user_images: list[str],
          tmp_path_factory: pytest.TempPathFactory) -> str:
    tag = f"pytest-lambda-test/image-fn:{uuid.uuid4().hex[:12]}"
    _build(client, base_image, tag, FUNCTIONS, tmp_path_factory.mktemp("image"), user_images)
    return tag


def test_runs_the_images_command_in_its_working_directory(
    backend: BackendName, lambda_function: FunctionFactory, image: str,
) -> None:
    fn = lambda_function(image=image, memory_size=256, timeout=5)
    assert fn.config.runtime is None and fn.config.code_dir is None
    result = fn.invoke({})
    assert result.function_error is None, result.logs
    body = result.payload
    assert body["handler"] == "app.handler"
    assert body["marker"] == "one"
    assert body["cwd"] == "/var/task"
    assert body["uid"] == 993  # Lambda's least-privileged user, not the image's root
    assert body["function_name"] == fn.name and body["memory"] == "256"
    env = body["env"]
    assert env["_HANDLER"] == "app.handler"  # set by the base image's entry point from CMD
    # Lambda says AWS_Lambda_Image; a managed base image's bootstrap then names its runtime.
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["TZ"] == ":/etc/localtime"  # the image's ENV, not the .zip runtimes' :UTC
    assert result.cold_start
    assert "INIT_START" not in result.logs
    assert result.logs.startswith(f"START RequestId: {result.request_id}")
    assert fn.invoke({}).cold_start is False
    assert image in repr(fn)


def test_errors_and_timeouts_are_lambdas(
    backend: BackendName, lambda_function: FunctionFactory, image: str,
) -> None:
    fn = lambda_function(image=image, timeout=1)
    failed = fn.invoke({"action": "raise", "message": "no good"})
    assert failed.function_error == "Unhandled"
    assert failed.error is not None
    assert failed.error["errorType"] == "RuntimeError"
    assert failed.error["errorMessage"] == "no good"
    timed_out = fn.invoke({"action": "sleep", "seconds": 30})
    assert timed_out.error == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {timed_out.request_id} Error: Task timed out after 1.00 "
                        "seconds",
    }
    after = fn.invoke({})
    assert after.cold_start and after.function_error is None


def test_image_config_overrides(
    backend: BackendName, lambda_function: FunctionFactory, image: str,
) -> None:
    assert lambda_function("app.other", image=image).invoke({}).payload == {
        "handler": "app.other", "cwd": "/var/task"}
    assert lambda_function(image=image, command=["app.other"]).invoke({}).payload[
        "handler"] == "app.other"
    moved = lambda_function(image=image, working_directory="/tmp").invoke({})
    assert moved.payload["cwd"] == "/tmp"
    wrapped = lambda_function(
        image=image, entry_point=["/usr/bin/env", "FROM_ENTRY_POINT=yes", "/lambda-entrypoint.sh"],
    ).invoke({})
    assert wrapped.payload["env"]["FROM_ENTRY_POINT"] == "yes"
    assert wrapped.payload["handler"] == "app.handler"  # the image's CMD still follows


def test_extensions_inside_the_image_are_started(
    backend: BackendName, lambda_function: FunctionFactory, client: Any, base_image: str,
    user_images: list[str], tmp_path: Path,
) -> None:
    context = tmp_path / "context"
    (context / "extensions").mkdir(parents=True)
    shutil.copy(FUNCTIONS / "extensions" / "fn" / "app.py", context / "app.py")
    shutil.copy2(FUNCTIONS / "extensions" / "layer" / "extensions" / "recorder",
                 context / "extensions" / "recorder")
    (context / "Dockerfile").write_text(
        f"FROM {base_image}\n"
        "COPY app.py ${LAMBDA_TASK_ROOT}/\n"
        "COPY extensions/ /opt/extensions/\n"
        'CMD ["app.handler"]\n'
    )
    image, _log = client.images.build(path=str(context), pull=False, rm=True, forcerm=True)
    user_images.append(image.id)
    result = lambda_function(image=image.id).invoke({})
    assert result.function_error is None, result.logs
    assert "[recorder] registered 200 " in result.logs
    assert result.logs.index("[recorder] registered") < result.logs.index("START RequestId")
    assert f'"requestId": "{result.request_id}"' in result.logs  # its INVOKE event


def test_a_rebuilt_tag_is_a_new_function(
    backend: BackendName, lambda_function: FunctionFactory, client: Any, base_image: str,
    user_images: list[str], functions_dir: Path, tmp_path: Path,
) -> None:
    tag = f"pytest-lambda-test/image-fn:{uuid.uuid4().hex[:12]}"
    _build(client, base_image, tag, functions_dir, tmp_path, user_images, marker="one")
    first = lambda_function(image=tag)
    assert first.invoke({}).payload["marker"] == "one"
    assert first.invoke({}).cold_start is False
    _build(client, base_image, tag, functions_dir, tmp_path, user_images, marker="two")
    second = lambda_function(image=tag)
    assert second.name != first.name
    result = second.invoke({})
    assert result.cold_start and result.payload["marker"] == "two"


def test_bad_image_functions_are_refused(
    backend: BackendName, lambda_function: FunctionFactory, image: str, client: Any,
    base_image: str, user_images: list[str], functions_dir: Path, tmp_path: Path,
) -> None:
    with pytest.raises(ConfigurationError, match="is not in the local Docker engine.*never pulls"):
        lambda_function(image="pytest-lambda-test/no-such-image:1")
    with pytest.raises(ConfigurationError, match="could not look up image 'Not A Name!'"):
        lambda_function(image="Not A Name!")
    with pytest.raises(ConfigurationError, match="takes no code="):
        lambda_function(image=image, code=functions_dir / "hello")
    with pytest.raises(ConfigurationError, match="takes no layers="):
        lambda_function(image=image, layers=[functions_dir / "hello"])
    with pytest.raises(ConfigurationError, match="runs only on the docker backend"):
        lambda_function(image=image, backend="process")
    with pytest.raises(ConfigurationError, match="either as the first argument or in command"):
        lambda_function("app.other", image=image, command=["app.handler"])
    with pytest.raises(ConfigurationError, match="applies only to container-image functions"):
        lambda_function("app.handler", code=functions_dir / "hello", runtime="python3.13",
                        command=["app.handler"])
    with pytest.raises(ConfigurationError, match="list of strings"):
        lambda_function(image=image, command="app.handler")
    with pytest.raises(ConfigurationError, match="absolute path"):
        lambda_function(image=image, working_directory="relative")
    with pytest.raises(ConfigurationError, match="built for x86_64 but the function asks for "
                                                 "architecture='arm64'"):
        lambda_function(image=image, architecture="arm64")
    bare = f"pytest-lambda-test/image-fn:{uuid.uuid4().hex[:12]}"
    _build(client, base_image, bare, functions_dir, tmp_path, user_images,
           extra='ENTRYPOINT []\nCMD []\n')
    with pytest.raises(ConfigurationError, match="neither an ENTRYPOINT nor a CMD"):
        lambda_function(image=bare)


def test_code_for_the_other_architecture_on_this_host(
    backend: BackendName, lambda_function: FunctionFactory, functions_dir: Path,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    host = cast(Architecture, _arch.host_architecture())
    other: Architecture = "arm64" if host == "x86_64" else "x86_64"
    # As on a host without emulation: binfmt_misc has no handler for the other architecture.
    monkeypatch.setattr(_arch, "BINFMT_DIR", tmp_path / "no-binfmt")
    with pytest.raises(ConfigurationError,
                       match=f"no {other} emulation is registered with binfmt_misc.*apt-get "
                             f"install qemu-user-static"):
        lambda_function("app.handler", code=functions_dir / "hello", runtime="python3.13",
                        architecture=other)
    fn = lambda_function("app.handler", code=functions_dir / "hello", runtime="python3.13",
                         architecture=host)
    assert fn.config.architecture == host
