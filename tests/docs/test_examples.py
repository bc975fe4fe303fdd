"""Every example under examples/ passes its own tests, run as a reader runs them: pytest in a
subprocess, from another directory, on Docker (the examples' runtime is python3.13, which the
process backend serves only on a host with that interpreter)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(path for path in (ROOT / "examples").iterdir() if (path / "tests").is_dir())


def test_there_are_examples() -> None:
    assert {path.name for path in EXAMPLES} >= {"hello", "aws_s3"}


@pytest.mark.docker
@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_passes(example: Path, tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "pytest", str(example), "-p", "no:cacheprovider",
            "--lambda-backend=docker", "-q", "--rootdir", str(example)]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{example.name} failed:\n{done.stdout}\n{done.stderr}"
    assert " passed" in done.stdout and "skipped" not in done.stdout, done.stdout
