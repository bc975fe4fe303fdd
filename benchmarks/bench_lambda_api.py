"""Measure a warm `Invoke` through boto3 and the Lambda API next to `Function.invoke()`, and
the time to a first invocation with and without provisioned concurrency.

    python benchmarks/bench_lambda_api.py [--backend docker|process] [--warm N] [--runtime R]
                                            [--first N]

Uses the emulated service and its Lambda API directly (as the plugin wires them, without
pytest) on tests/functions/hello at 1,769 MB (one vCPU). Both paths run the same function in
the same warm environment, interleaved, after a warm-up; each sample is the wall time of one
call, the boto3 one including signing, HTTP on loopback and parsing. The first-invocation
figures make N fresh functions each way (a distinct variable gives each its own environments):
without provisioned concurrency the first invoke is a cold start; with it, the provisioning
(init ahead) is timed apart from the first invoke that follows.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from pytest_lambda.lambda_api.api import LambdaAPI
from pytest_lambda.service.service import LambdaService

ROOT = Path(__file__).resolve().parent.parent
HELLO = ROOT / "tests" / "functions" / "hello"
WARMUP = 20


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil
    return ordered[int(rank) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="docker", choices=["docker", "process"])
    parser.add_argument("--warm", type=int, default=300)
    parser.add_argument("--runtime", default="python3.13")
    parser.add_argument("--first", type=int, default=5)
    args = parser.parse_args()
    with LambdaService() as service, LambdaAPI(service) as api:
        fn = service.function("app.handler", code=HELLO, runtime=args.runtime,
                              memory_size=1769, timeout=10, name="bench-api",
                              backend=args.backend)
        client = api.client()
        payload = json.dumps({"name": "bench"}).encode()
        for _ in range(WARMUP):
            fn.invoke({"name": "bench"})
            client.invoke(FunctionName="bench-api", Payload=payload)["Payload"].read()
        direct: list[float] = []
        through_api: list[float] = []
        for _ in range(args.warm):
            t0 = time.perf_counter()
            result = fn.invoke({"name": "bench"})
            direct.append((time.perf_counter() - t0) * 1000)
            if result.cold_start or not result.ok:
                raise SystemExit(f"unexpected sample: {result!r}")
            t0 = time.perf_counter()
            answer = client.invoke(FunctionName="bench-api", Payload=payload)
            body = answer["Payload"].read()
            through_api.append((time.perf_counter() - t0) * 1000)
            if json.loads(body) != {"message": "hello bench"}:
                raise SystemExit(f"unexpected answer: {body!r}")
        cold, provisioning, provisioned = [], [], []
        for i in range(args.first):
            plain = service.function("app.handler", code=HELLO, runtime=args.runtime,
                                     memory_size=1769, timeout=10, name=f"bench-cold-{i}",
                                     environment={"BENCH_RUN": f"cold-{i}-{time.time()}"},
                                     backend=args.backend)
            t0 = time.perf_counter()
            assert plain.invoke({"name": "bench"}).cold_start
            cold.append((time.perf_counter() - t0) * 1000)
            ahead = service.function("app.handler", code=HELLO, runtime=args.runtime,
                                     memory_size=1769, timeout=10, name=f"bench-pc-{i}",
                                     environment={"BENCH_RUN": f"pc-{i}-{time.time()}"},
                                     backend=args.backend).publish_version()
            t0 = time.perf_counter()
            ahead.set_provisioned_concurrency(1)
            provisioning.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            assert not ahead.invoke({"name": "bench"}).cold_start
            provisioned.append((time.perf_counter() - t0) * 1000)
    print(f"backend {args.backend}, {args.warm} warm samples each, ms")
    print("| path | p50 | p99 |")
    print("|---|---|---|")
    for name, samples in (("Function.invoke()", direct), ("boto3 Invoke via lambda_api",
                                                          through_api)):
        print(f"| {name} | {percentile(samples, 50):.2f} | {percentile(samples, 99):.2f} |")
    print(f"\nfirst invocation, {args.first} fresh functions each way, ms (median, min-max)")
    print("| | median | min | max |")
    print("|---|---|---|---|")
    for name, samples in (("first invoke, on demand (cold start)", cold),
                          ("provisioning 1 environment", provisioning),
                          ("first invoke after provisioning", provisioned)):
        print(f"| {name} | {statistics.median(samples):.2f} | {min(samples):.2f} | "
              f"{max(samples):.2f} |")


if __name__ == "__main__":
    sys.exit(main())
