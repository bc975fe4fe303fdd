"""The thumbnail function, shipped as a .zip with Pillow, in a container and in-process.

The deployment package is built as a user's build script would: Pillow's manylinux wheel for
the function's Python (pip `--platform ... --python-version 3.13 --only-binary=:all:`) next to
the module, zipped. In a container the package must import (Pillow's compiled parts load on
Lambda's Python) and make a thumbnail through the session's moto (`lambda_aws`); the same round
trip runs in-process under moto's `mock_aws`, with Pillow built for this interpreter.
"""

from __future__ import annotations

import io
import shutil
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_lambda import AwsEndpoint, BackendName, FunctionFactory, events, invoke_handler

SRC = Path(__file__).parent / "src"
PILLOW = "pillow==13.0.0"
docker_only = pytest.mark.parametrize("backend", ["docker"], indirect=True)


@pytest.fixture(scope="session")
def package(pip_packages: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the deployment package: thumbnail.py and Pillow for Python 3.13, zipped."""
    build = tmp_path_factory.mktemp("thumbnail-build")
    shutil.copytree(pip_packages(PILLOW, python_version="3.13"), build, dirs_exist_ok=True)
    shutil.copy2(SRC / "thumbnail.py", build)
    archive = tmp_path_factory.mktemp("thumbnail-dist") / "thumbnail.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(build.rglob("*")):
            zf.write(path, path.relative_to(build))
    return archive


def png(width: int, height: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


# -- in a container ---------------------------------------------------------------------------

@docker_only
def test_an_upload_gets_a_thumbnail_in_a_container(
    lambda_function: FunctionFactory, package: Path, boto3_layer: Path, backend: BackendName,
    lambda_aws: AwsEndpoint, pip_packages: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Pillow built for this interpreter, to make and check images here.
    monkeypatch.syspath_prepend(str(pip_packages(PILLOW, python_version="{}.{}".format(
        *sys.version_info[:2]))))
    from PIL import Image

    fn = lambda_function("thumbnail.handler", code=package, runtime="python3.13",
                         backend=backend, layers=[boto3_layer], memory_size=1024, timeout=30)
    s3 = lambda_aws.client("s3")
    for bucket in ("photos", "photos-resized"):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket="photos", Key="cats/tabby.png", Body=png(640, 480))
    result = fn.invoke(events.s3_put(bucket="photos", key="cats/tabby.png"))
    # Not Runtime.ImportModuleError: Pillow's compiled modules loaded on the function's Python.
    assert result.function_error is None, result.logs
    assert result.payload == {"thumbnails": ["resized-cats/tabby.png"]}
    written = s3.get_object(Bucket="photos-resized", Key="resized-cats/tabby.png")
    assert written["ContentType"] == "image/png"
    assert Image.open(io.BytesIO(written["Body"].read())).size == (128, 96)


# -- in-process, with moto ----------------------------------------------------------------------

@pytest.fixture
def buckets(monkeypatch: pytest.MonkeyPatch, pip_packages: Callable[..., Path]) -> Iterator[Any]:
    moto = pytest.importorskip("moto")
    import boto3

    # Pillow built for this interpreter, as the function's package holds it for Lambda's.
    monkeypatch.syspath_prepend(str(pip_packages(PILLOW, python_version="{}.{}".format(
        *sys.version_info[:2]))))
    monkeypatch.syspath_prepend(str(SRC))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with moto.mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in ("photos", "photos-resized"):
            s3.create_bucket(Bucket=bucket)
        yield s3


def test_an_upload_gets_a_thumbnail(buckets: Any) -> None:
    from PIL import Image

    buckets.put_object(Bucket="photos", Key="cats/tabby cat.png", Body=png(640, 480))
    # The notification carries the key URL-encoded: "cats/tabby+cat.png".
    event = events.s3_put(bucket="photos", key="cats/tabby cat.png", size=1)
    assert event["Records"][0]["s3"]["object"]["key"] == "cats/tabby+cat.png"
    result = invoke_handler("thumbnail.handler", event, memory_size=512, timeout=10)
    assert result.function_error is None, result.logs
    assert result.payload == {"thumbnails": ["resized-cats/tabby cat.png"]}
    written = buckets.get_object(Bucket="photos-resized", Key="resized-cats/tabby cat.png")
    assert written["ContentType"] == "image/png"
    assert Image.open(io.BytesIO(written["Body"].read())).size == (128, 96)


def test_a_missing_object_is_the_functions_error(buckets: Any) -> None:
    result = invoke_handler("thumbnail.handler", events.s3_put(bucket="photos", key="gone.png"),
                            timeout=10)
    assert result.function_error == "Unhandled"
    assert result.error is not None
    assert result.error["errorType"] == "NoSuchKey"
