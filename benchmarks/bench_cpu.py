"""Show that a function's CPU share follows its memory, as in Lambda (1,769 MB = one vCPU).

Runs a CPU-bound handler (it spins until it has used a fixed amount of CPU time) at several
memory sizes on the Docker backend and prints the invocation's duration: at 128 MB the function
gets about 1/14 of a vCPU, so the same work takes about 14 times as long as at 1,769 MB.

    python benchmarks/bench_cpu.py [--cpu-seconds 0.2]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pytest_lambda.backends.docker.environment import DockerBackend, cpu_share
from pytest_lambda.service.build import build_config
from pytest_lambda.service.service import LambdaService

CODE = Path(__file__).resolve().parent.parent / "tests" / "functions" / "limits"
MEMORY_SIZES = (128, 512, 1024, 1769, 3538)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-seconds", type=float, default=0.2)
    args = parser.parse_args()
    service = LambdaService(backends={"docker": DockerBackend})
    try:
        print(f"host cores: {os.cpu_count()}; CPU work per invocation: {args.cpu_seconds} s")
        print(f"{'memory MB':>10} {'vCPU share':>10} {'duration ms':>12} {'x vs 1769 MB':>13}")
        rows = []
        for memory in MEMORY_SIZES:
            config = build_config("app.handler", code=CODE, runtime="python3.13",
                                  memory_size=memory, timeout=60)
            service.invoke(config, {"action": "sleep", "seconds": 0}, backend="docker")
            result = service.invoke(
                config, {"action": "spin", "cpu_seconds": args.cpu_seconds}, backend="docker"
            )
            assert result.function_error is None, result.error
            rows.append((memory, cpu_share(memory), result.duration_ms))
        base = next(d for m, _s, d in rows if m == 1769)
        for memory, share, duration in rows:
            print(f"{memory:>10} {share:>10.3f} {duration:>12.1f} {duration / base:>13.2f}")
    finally:
        service.close()


if __name__ == "__main__":
    main()
