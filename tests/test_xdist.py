"""pytest-xdist: two workers build a missing runtime image once and leave nothing behind."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.conftest import LeftOnEngine

APP = "def handler(event, context):\n    return {'n': event.get('n')}\n"

# Loaded by each worker. The runtime image's tag is made new for this run (a recipe version of
# its own), and the slow part of a build (Debian root file system, docker build) is replaced by
# tagging the real image under the new tag after a pause, recorded in builds.txt: the lock, the
# checks around it and the environments that run from the image are the plugin's own.
CONFTEST = """
import os
import time
from pathlib import Path

from pytest_lambda.images import recipes, resolve

recipes.RECIPE_VERSION = os.environ["TEST_RECIPE_VERSION"]


def fake_build(client, rt, tag, progress, arch=None):
    time.sleep(3)  # long enough for the other worker to reach the lock
    client.images.get(os.environ["TEST_SOURCE_IMAGE"]).tag(tag)
    with open(Path(__file__).parent / "builds.txt", "a") as out:
        out.write(f"{os.environ.get('PYTEST_XDIST_WORKER')} {tag}\\n")
    return 3.0


resolve._build_hermetic = fake_build
"""

SUITE = """
import os
from pathlib import Path

import pytest


@pytest.mark.parametrize("i", range(6))
def test_function(lambda_function, lambda_service, i):
    fn = lambda_function("app.handler", code=Path(__file__).parent / "fn",
                         runtime="python3.13", environment={"INDEX": str(i)})
    assert [fn.invoke({"n": n}).payload for n in range(3)] == [{"n": 0}, {"n": 1}, {"n": 2}]
    labels = lambda_service.backend("docker").labels
    with open(Path(__file__).parent / "sessions.txt", "a") as out:
        out.write(f"{labels.worker} {labels.session}\\n")
"""


@pytest.fixture
def client(request: pytest.FixtureRequest) -> Any:
    from pytest_lambda import BackendUnavailableError
    from pytest_lambda.containers.client import get_client

    try:
        return get_client()
    except BackendUnavailableError as exc:
        if request.config.getoption("lambda_backend") == "docker":
            pytest.fail(f"--lambda-backend=docker but {exc}")
        pytest.skip(str(exc))


@pytest.mark.docker
def test_two_workers_build_once_and_leave_nothing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, client: Any,
    left_on_engine: LeftOnEngine,
) -> None:
    from pytest_lambda.images import recipes
    from pytest_lambda.images import resolve as image_resolve

    source = image_resolve.resolve_image(client, "python3.13").tag
    recipe = f"{recipes.RECIPE_VERSION}-xdist-{uuid.uuid4().hex[:8]}"
    with pytest.MonkeyPatch.context() as patch:  # not `monkeypatch`: pytester's chdir is on it
        patch.setattr(recipes, "RECIPE_VERSION", recipe)
        new_tag = recipes.hermetic_tag("python3.13")
    monkeypatch.setenv("TEST_RECIPE_VERSION", recipe)
    monkeypatch.setenv("TEST_SOURCE_IMAGE", source)
    for name in ("PYTEST_LAMBDA_BACKEND", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER"):
        monkeypatch.delenv(name, raising=False)

    pytester.mkdir("fn")
    (pytester.path / "fn" / "app.py").write_text(APP)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_suite=SUITE)
    try:
        result = pytester.runpytest_subprocess("-n", "2", "--lambda-backend=docker",
                                               "-p", "no:cacheprovider", timeout=300)
        result.assert_outcomes(passed=6)
        builds = (pytester.path / "builds.txt").read_text().split()
        assert Counter(builds[1::2]) == {new_tag: 1}, builds
        sessions = {line.split()[0]: line.split()[1]
                    for line in (pytester.path / "sessions.txt").read_text().splitlines()}
        assert set(sessions) == {"gw0", "gw1"}, sessions  # both workers ran functions
        for worker, session in sessions.items():
            label = f"pytest-lambda.session={session}"
            assert left_on_engine(client, label) == ([], []), worker
    finally:
        try:
            client.images.remove(new_tag)  # the tag only: the image keeps its own
        except Exception:
            pass
