"""Measure dependency builds: the first build and the cached lookup of a function's requirements.

    python benchmarks/bench_deps.py [--runtime python3.13] [--architecture x86_64] [--runs N]

The function has five typical dependencies (requests, pydantic, aws-lambda-powertools, orjson,
python-dateutil), pinned, installed for the runtime and architecture as `lambda_function(...,
requirements=...)` installs them. Each run uses a fresh cache directory, so the first build pays
pip's resolution and downloads (from pip's own HTTP cache after the first run, as on a developer's
machine); then it times:

- first build: `build_config(..., requirements=True)` on an empty cache (install + merge);
- cached, same session: the same call again (the per-process digest memo is warm);
- cached, new session: the same call with the memo cleared, as the next pytest session sees it;
- a second function with the same requirements: another code directory, same build reused.

Prints one line per measure (median, min, max in ms) and the build's size.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pytest_lambda.artifacts import files
from pytest_lambda.service.build import build_config

REQUIREMENTS = """\
requests==2.34.2
pydantic==2.14.4
aws-lambda-powertools==3.37.0
orjson==3.11.5
python-dateutil==2.9.0.post0
"""

APP = """\
import orjson, requests, dateutil, pydantic
from aws_lambda_powertools import Logger

def handler(event, context):
    return orjson.loads(orjson.dumps(event))
"""


def tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def one_run(base: Path, runtime: str, arch: str) -> dict[str, float]:
    os.environ["PYTEST_LAMBDA_CACHE_DIR"] = str(base / "cache")
    code = base / "fn"
    code.mkdir()
    (code / "app.py").write_text(APP)
    (code / "requirements.txt").write_text(REQUIREMENTS)
    other = base / "fn2"
    shutil.copytree(code, other)
    (other / "app.py").write_text(APP + "# another function\n")
    times: dict[str, float] = {}

    def timed(label: str, path: Path) -> Path:
        start = time.perf_counter()
        config = build_config("app.handler", code=path, runtime=runtime, architecture=arch,
                              requirements=True)
        times[label] = (time.perf_counter() - start) * 1000
        assert config.code_dir is not None
        return config.code_dir

    merged = timed("first build", code)
    timed("cached, same session", code)
    files._HASH_CACHE.clear()
    timed("cached, new session", code)
    timed("second function, same requirements", other)
    times["size MB"] = tree_size(merged) / 1e6
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", default="python3.13")
    parser.add_argument("--architecture", default="x86_64")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="bench-deps-") as tmp:
            runs.append(one_run(Path(tmp), args.runtime, args.architecture))
        print(f"run {i + 1}: " + ", ".join(f"{k} {v:.1f}" for k, v in runs[-1].items()),
              file=sys.stderr)
    print(f"{args.runtime} {args.architecture}, five dependencies, {args.runs} runs "
          f"(median / min / max, ms):")
    for label in runs[0]:
        values = [r[label] for r in runs]
        print(f"  {label:36s} {statistics.median(values):10.1f} {min(values):10.1f} "
              f"{max(values):10.1f}")


if __name__ == "__main__":
    main()
