"""Measure invoke latency and cold starts of pytest-aws-lambda's backends.

    python benchmarks/bench_invoke.py [--backend docker|process|both] [--warm N] [--cold N]
                                      [--connect auto|direct|published] [--ready N] [--pause S]

Uses the emulated service directly (as the plugin wires it, without pytest) on
tests/functions/hello. Warm latency is the wall time around `service.invoke(...)` after a
warm-up, at 1,769 MB (one vCPU); a cold start is the wall time of the first invocation after
`service.reset(...)`, at 1,769 MB and at 128 MB. `--ready` sets the Docker backend's ready
containers (0: each cold start creates its container); `--pause` waits between cold starts, as
a suite's other work would, so that a ready container has been made again.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from pytest_lambda.service.build import build_config
from pytest_lambda.service.service import LambdaService

ROOT = Path(__file__).resolve().parent.parent
HELLO = ROOT / "tests" / "functions" / "hello"
RUNTIME = "python3.13"
WARMUP = 20


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil
    return ordered[int(rank) - 1]


def _check(result) -> None:  # type: ignore[no-untyped-def]
    if result.function_error is not None or result.payload != {"message": "hello bench"}:
        raise SystemExit(f"unexpected result: {result.raw_payload!r}\n{result.logs}")


def warm_latency(service: LambdaService, backend: str, n: int) -> list[float]:
    config = build_config("app.handler", code=HELLO, runtime=RUNTIME, memory_size=1769,
                          timeout=10, name=f"bench-warm-{backend}")
    for _ in range(WARMUP):
        _check(service.invoke(config, {"name": "bench"}, backend=backend))
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        result = service.invoke(config, {"name": "bench"}, backend=backend)
        samples.append((time.perf_counter() - t0) * 1000)
        _check(result)
        if result.cold_start:
            raise SystemExit("a warm-latency sample was a cold start")
    return samples


def cold_starts(service: LambdaService, backend: str, memory: int,
                n: int, pause: float = 0.0) -> tuple[list[float], list[float]]:
    config = build_config("app.handler", code=HELLO, runtime=RUNTIME, memory_size=memory,
                          timeout=10, name=f"bench-cold-{backend}-{memory}")
    _check(service.invoke(config, {"name": "bench"}, backend=backend))  # image, caches
    walls, inits = [], []
    for _ in range(n):
        service.reset(config, backend)
        time.sleep(pause)
        t0 = time.perf_counter()
        result = service.invoke(config, {"name": "bench"}, backend=backend)
        walls.append((time.perf_counter() - t0) * 1000)
        _check(result)
        if not result.cold_start or result.init_duration_ms is None:
            raise SystemExit("a cold-start sample was warm")
        inits.append(result.init_duration_ms)
    service.reset(config, backend)
    return walls, inits


def main() -> int:
    global RUNTIME
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("docker", "process", "both"), default="both")
    parser.add_argument("--warm", type=int, default=500, help="warm invocations (default 500)")
    parser.add_argument("--cold", type=int, default=10, help="cold starts per memory size (10)")
    parser.add_argument("--connect", choices=("auto", "direct", "published"), default="auto",
                        help="how Docker environments reach the Runtime API (default auto)")
    parser.add_argument("--ready", type=int, default=None,
                        help="ready containers of each kind (default: the setting's)")
    parser.add_argument("--runtime", default=RUNTIME,
                        help=f"the function's runtime (default {RUNTIME}; the process backend "
                             f"needs that Python on the host)")
    parser.add_argument("--pause", type=float, default=0.0,
                        help="seconds to wait before each cold start (default 0)")
    args = parser.parse_args()
    RUNTIME = args.runtime
    backends = ["docker", "process"] if args.backend == "both" else [args.backend]

    service = LambdaService(image_policy="hermetic", connect=args.connect,
                            ready_containers=args.ready)
    rows = []
    try:
        for backend in backends:
            print(f"[{backend}] warm: {args.warm} invocations...", file=sys.stderr)
            warm = warm_latency(service, backend, args.warm)
            colds = {}
            for memory in (1769, 128):
                print(f"[{backend}] cold: {args.cold} starts at {memory} MB...", file=sys.stderr)
                colds[memory] = cold_starts(service, backend, memory, args.cold, args.pause)
            rows.append((backend, warm, colds))
    finally:
        service.close()

    print(f"\nhello ({RUNTIME}), warm n={args.warm} after {WARMUP} warm-up, cold n={args.cold}, "
          f"ready={args.ready}, pause={args.pause} s; times in ms\n")
    header = ("| backend | warm p50 | warm p95 | warm p99 | memory | cold median | cold min "
              "| cold max | mean init_duration_ms |")
    print(header)
    print("|" + "|".join("---" for _ in range(header.count("|") - 1)) + "|")
    for backend, warm, colds in rows:
        w = (f"{percentile(warm, 50):.2f} | {percentile(warm, 95):.2f} | "
             f"{percentile(warm, 99):.2f}")
        for i, (memory, (walls, inits)) in enumerate(sorted(colds.items(), reverse=True)):
            lead = f"| {backend} | {w} |" if i == 0 else "| | | | |"
            print(f"{lead} {memory} MB | {statistics.median(walls):.1f} | {min(walls):.1f} | "
                  f"{max(walls):.1f} | {statistics.fmean(inits):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
