"""Time a pytest run of many small functions, with and without pytest-xdist.

Writes a suite of N tests into a temporary directory, each making its own function (distinct
environment variables, so no two share warm environments) and invoking it M times, then runs
`python -m pytest` on it as a user would, once per worker count, and prints the wall times.

    python benchmarks/bench_suite.py                       # 20 tests x 10 invocations, docker
    python benchmarks/bench_suite.py --backend process --workers 0 2 --runs 3
    python benchmarks/bench_suite.py --ready 0 2 --workers 0 2   # ready containers off and on
    python benchmarks/bench_suite.py --workers 0 --python /path/to/user-venv/bin/python
    python benchmarks/bench_suite.py --pause 5    # a pause before each run, as between edits
    python benchmarks/bench_suite.py --handler-ms 20   # each invocation waits 20 ms

`--python` runs pytest with another interpreter: a virtualenv holding only this package and its
dependencies, as a user's does. The development environment's own plugins are not free: hypothesis
alone adds about 2 s to every pytest run (its import and its terminal summary).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HANDLER = """\
import os
import time

WORK_S = float(os.environ.get("HANDLER_MS", "0")) / 1000


def handler(event, context):
    if WORK_S:
        time.sleep(WORK_S)  # waiting on something, as a handler calling a service does
    return {'n': event.get('n')}
"""

SUITE = """\
from pathlib import Path

import pytest

FN = Path(__file__).parent / "fn"


@pytest.mark.parametrize("i", range({tests}))
def test_function(lambda_function, i):
    fn = lambda_function("app.handler", code=FN, runtime="python3.13",
                         environment={{"TEST_INDEX": str(i), "HANDLER_MS": "{handler_ms}"}})
    for n in range({invocations}):
        assert fn.invoke({{"n": n}}).payload == {{"n": n}}
"""


def run_once(directory: Path, backend: str, workers: int, ready: str | None = None,
             python: str = sys.executable) -> float:
    command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               f"--lambda-backend={backend}"]
    if ready is not None:
        command.append(f"--lambda-ready-containers={ready}")
    if workers:
        command += ["-n", str(workers)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    started = time.perf_counter()
    done = subprocess.run(command, cwd=directory, capture_output=True, text=True, env=env,
                          check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"the suite failed (exit {done.returncode}):\n{done.stdout[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="docker", choices=("docker", "process"))
    parser.add_argument("--tests", type=int, default=20)
    parser.add_argument("--invocations", type=int, default=10)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2],
                        help="xdist worker counts to compare (0: no xdist)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ready", nargs="+", default=[None],
                        help="ready-container counts to compare (docker; default: the setting's)")
    parser.add_argument("--handler-ms", type=float, default=0,
                        help="milliseconds each invocation waits in the handler (default 0)")
    parser.add_argument("--pause", type=float, default=0.0,
                        help="seconds to wait before each timed run, as a developer's edit "
                             "between runs does (the engine finishes the last run's removals)")
    parser.add_argument("--python", default=sys.executable,
                        help="the interpreter that runs pytest (default: this one)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-suite-") as tmp:
        directory = Path(tmp)
        (directory / "fn").mkdir()
        (directory / "fn" / "app.py").write_text(HANDLER)
        (directory / "test_suite.py").write_text(
            SUITE.format(tests=args.tests, invocations=args.invocations,
                         handler_ms=args.handler_ms))
        # A warm-up: images resolved, caches filled.
        run_once(directory, args.backend, 0, python=args.python)
        print(f"{args.tests} tests x {args.invocations} invocations of {args.handler_ms:g} ms, "
              f"{args.backend} backend, "
              f"{args.runs} runs each, {args.pause:g} s pause before each, "
              f"load average {os.getloadavg()[0]:.1f}")
        for ready in args.ready:
            for workers in args.workers:
                times = []
                for _ in range(args.runs):
                    time.sleep(args.pause)
                    times.append(run_once(directory, args.backend, workers, ready, args.python))
                label = f"-n {workers}" if workers else "no xdist"
                if ready is not None:
                    label += f", ready {ready}"
                print(f"{label:>18}: median {statistics.median(times):.2f} s "
                      f"(min {min(times):.2f}, max {max(times):.2f})")


if __name__ == "__main__":
    main()
