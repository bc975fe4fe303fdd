"""Time what the Docker engine costs per execution environment, whatever the harness does.

Makes N containers the way the docker backend makes a ready container (the harness's host
configuration, a loop-mounted /tmp, the session's internal network), one after another and then
from two threads, and removes them; prints the median times. This is the floor of a suite whose
every test starts a new environment: each needs a container made and, at the end, removed.

    python benchmarks/bench_engine.py [--count 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from pytest_lambda.backends.docker.environment import DockerBackend
from pytest_lambda.backends.docker.ready import ReadyContainer, ReadyKey


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--runtime", default="python3.13")
    args = parser.parse_args()
    backend = DockerBackend()
    try:
        if backend.ready_containers() is None:
            raise SystemExit(f"ready containers are off here: {backend.ready_off}")
        key = ReadyKey(image=backend.image_for(args.runtime).tag, platform=None,
                       network=backend.network.name, memory_mb=128, tmp_mb=512, names=(),
                       resolv_conf=True)

        def make(_: int) -> tuple[ReadyContainer, float]:
            started = time.perf_counter()
            made = backend._make_ready(key)
            return made, (time.perf_counter() - started) * 1000

        def remove(container: ReadyContainer) -> float:
            started = time.perf_counter()
            backend._discard_ready(container)
            return (time.perf_counter() - started) * 1000

        for threads in (1, 2):
            started = time.perf_counter()
            with ThreadPoolExecutor(threads) as pool:
                made = list(pool.map(make, range(args.count)))
            make_wall = time.perf_counter() - started
            started = time.perf_counter()
            with ThreadPoolExecutor(threads) as pool:
                removes = list(pool.map(remove, [c for c, _ in made]))
            remove_wall = time.perf_counter() - started
            print(f"{args.count} containers, {threads} thread(s): make median "
                  f"{statistics.median(t for _, t in made):.0f} ms (all: {make_wall:.2f} s), "
                  f"remove median {statistics.median(removes):.0f} ms (all: {remove_wall:.2f} s)")
    finally:
        backend.close()


if __name__ == "__main__":
    main()
