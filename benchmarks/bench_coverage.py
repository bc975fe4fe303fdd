"""Measure what measuring coverage inside environments costs (docs/coverage.md).

    python benchmarks/bench_coverage.py [--backend docker|process|both] [--warm N] [--cold N]
                                        [--memory MB ...] [--ready N] [--pause S]

Drives `LambdaService` directly on tests/functions/hello, once without coverage and once with
a coverage request (what `--cov` sets up), at 1,769 MB (one vCPU) and 128 MB (Lambda's share of
a CPU for it, about 7%). Warm latency: wall time around `invoke` after a warm-up (p50, p95);
cold start: wall time of the first invocation after `reset` (median). The process backend runs
the host's Python version (its C tracer loads); Docker runs python3.13 (sys.monitoring).
`--ready` sets the Docker backend's ready containers (0: each cold start creates its container);
`--pause` waits before each cold start, as a suite's other work would, so that a ready container
has been made again.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from pytest_lambda.backends.instrument import CoverageRequest, new_coverage_root
from pytest_lambda.service.service import LambdaService

ROOT = Path(__file__).resolve().parent.parent
HELLO = ROOT / "tests" / "functions" / "hello"
HOST_RUNTIME = "python{}.{}".format(*sys.version_info[:2])


def _percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, int(-(-len(ordered) * p // 100)))  # ceil
    return ordered[rank - 1]


def measure(backend: str, coverage: bool, memory: int, warm: int, cold: int,
            ready: int | None = None, pause: float = 0.0) -> dict[str, float]:
    runtime = "python3.13" if backend == "docker" else HOST_RUNTIME
    with LambdaService(backend=backend, ready_containers=ready) as service:
        if coverage:
            service.coverage = CoverageRequest(branch=False, root=new_coverage_root())
        fn = service.function("app.handler", code=HELLO, runtime=runtime, memory_size=memory,
                              name=f"bench-cov-{backend}-{memory}-{int(coverage)}")
        fn.invoke({"name": "bench"})
        for _ in range(20):
            fn.invoke({"name": "bench"})
        samples = []
        for _ in range(warm):
            t0 = time.perf_counter()
            result = fn.invoke({"name": "bench"})
            samples.append((time.perf_counter() - t0) * 1000)
            if result.function_error is not None or result.cold_start:
                raise SystemExit(f"unexpected result: {result.raw_payload!r}\n{result.logs}")
        colds, inits = [], []
        for _ in range(cold):
            fn.reset()
            time.sleep(pause)
            t0 = time.perf_counter()
            result = fn.invoke({"name": "bench"})
            colds.append((time.perf_counter() - t0) * 1000)
            if result.function_error is not None or not result.cold_start:
                raise SystemExit(f"unexpected result: {result.raw_payload!r}\n{result.logs}")
            inits.append(result.init_duration_ms or 0.0)
    return {"p50": _percentile(samples, 50), "p95": _percentile(samples, 95),
            "cold": statistics.median(colds), "cold_min": min(colds), "cold_max": max(colds),
            "init": statistics.fmean(inits)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["docker", "process", "both"], default="both")
    parser.add_argument("--warm", type=int, default=200)
    parser.add_argument("--cold", type=int, default=5)
    parser.add_argument("--memory", type=int, nargs="+", default=[1769, 128],
                        help="memory sizes in MB (default 1769 128)")
    parser.add_argument("--ready", type=int, default=None,
                        help="ready containers of each kind (default: the setting's)")
    parser.add_argument("--pause", type=float, default=0.0,
                        help="seconds to wait before each cold start (default 0)")
    args = parser.parse_args()
    backends = ["docker", "process"] if args.backend == "both" else [args.backend]
    print(f"ready={args.ready}, pause={args.pause} s")
    print("| backend | memory | coverage | warm p50 ms | warm p95 ms | cold median ms "
          "| cold min-max ms | mean init_duration_ms |")
    print("|---|---|---|---|---|---|---|---|")
    for backend in backends:
        for memory in args.memory:
            for coverage in (False, True):
                r = measure(backend, coverage, memory, args.warm, args.cold, args.ready,
                            args.pause)
                print(f"| {backend} | {memory} MB | {'on' if coverage else 'off'} "
                      f"| {r['p50']:.2f} | {r['p95']:.2f} | {r['cold']:.0f} "
                      f"| {r['cold_min']:.0f}-{r['cold_max']:.0f} | {r['init']:.0f} |",
                      flush=True)


if __name__ == "__main__":
    main()
