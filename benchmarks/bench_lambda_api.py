"""Measure a warm `Invoke` through boto3 and the Lambda API next to `Function.invoke()`.

    python benchmarks/bench_lambda_api.py [--backend docker|process] [--warm N] [--runtime R]

Uses the emulated service and its Lambda API directly (as the plugin wires them, without
pytest) on tests/functions/hello at 1,769 MB (one vCPU). Both paths run the same function in
the same warm environment, interleaved, after a warm-up; each sample is the wall time of one
call, the boto3 one including signing, HTTP on loopback and parsing.
"""

from __future__ import annotations

import argparse
import json
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
    print(f"backend {args.backend}, {args.warm} warm samples each, ms")
    print("| path | p50 | p99 |")
    print("|---|---|---|")
    for name, samples in (("Function.invoke()", direct), ("boto3 Invoke via lambda_api",
                                                          through_api)):
        print(f"| {name} | {percentile(samples, 50):.2f} | {percentile(samples, 99):.2f} |")


if __name__ == "__main__":
    sys.exit(main())
