"""Measure the session's AWS endpoint: moto's server start, and S3 round trips from a function.

    python benchmarks/bench_aws.py [--backend docker|process|both] [--starts N] [--envs N]
                                   [--puts N]

- **server start**: wall time from nothing to moto's server answering on loopback
  (`AwsEndpoint.endpoint_for`), each in a fresh interpreter so moto's import is counted; and
  the time to start one more server (another address) once moto is imported.
- **first put**: the first `put_object` (1 KiB) a fresh execution environment makes with the
  client it made at import (TCP connect and botocore's first request), timed inside the
  function; one per environment, `--envs` environments.
- **warm put**: the following `put_object`s of the same client, `--puts` per invocation.

The function (`tests/functions/aws_bench`) uses the runtime's own boto3.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

from pytest_lambda.service.service import LambdaService

ROOT = Path(__file__).resolve().parent.parent
CODE = ROOT / "tests" / "functions" / "aws_bench"
RUNTIME = "python3.13"

_START = """
import time
t0 = time.perf_counter()
from pytest_lambda.aws import AwsEndpoint
endpoint = AwsEndpoint()
endpoint.endpoint_for("127.0.0.1")
t1 = time.perf_counter()
endpoint.endpoint_for("127.0.0.2")
t2 = time.perf_counter()
print((t1 - t0) * 1000, (t2 - t1) * 1000)
endpoint.close()
"""


def server_starts(n: int) -> tuple[list[float], list[float]]:
    firsts, seconds = [], []
    for _ in range(n):
        out = subprocess.run([sys.executable, "-c", _START], capture_output=True, text=True,
                             check=True).stdout.split()
        firsts.append(float(out[0]))
        seconds.append(float(out[1]))
    return firsts, seconds


def round_trips(service: LambdaService, backend: str, envs: int, puts: int
                ) -> tuple[list[float], list[float]]:
    runtime = RUNTIME if backend == "docker" else "python{}.{}".format(*sys.version_info[:2])
    fn = service.function("app.handler", code=CODE, runtime=runtime, memory_size=1769,
                          timeout=30, name=f"bench-aws-{backend}",
                          backend=backend)
    service.aws().client("s3").create_bucket(Bucket=f"bench-{backend}")
    event = {"bucket": f"bench-{backend}", "puts": puts}
    firsts, warms = [], []
    for _ in range(envs):
        fn.reset()
        result = fn.invoke(event)
        if result.function_error is not None or not result.cold_start:
            raise SystemExit(f"unexpected result: {result.raw_payload!r}\n{result.logs}")
        times = result.payload["ms"]
        firsts.append(times[0])
        warms.extend(times[1:])
        warms.extend(fn.invoke(event).payload["ms"])
    return firsts, warms


def _row(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, -(-len(ordered) * 95 // 100) - 1)]
    return (f"{name:<34} n={len(values):<5} median {statistics.median(values):8.2f}  "
            f"min {ordered[0]:8.2f}  p95 {p95:8.2f}  max {ordered[-1]:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["docker", "process", "both"], default="both")
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--envs", type=int, default=5)
    parser.add_argument("--puts", type=int, default=50)
    args = parser.parse_args()
    firsts, seconds = server_starts(args.starts)
    print("times in ms")
    print(_row("moto server start (fresh process)", firsts))
    print(_row("one more server (moto imported)", seconds))
    with LambdaService(aws="moto") as service:
        for backend in (["docker", "process"] if args.backend == "both" else [args.backend]):
            first, warm = round_trips(service, backend, args.envs, args.puts)
            print(_row(f"{backend}: first S3 put_object", first))
            print(_row(f"{backend}: warm S3 put_object", warm))


if __name__ == "__main__":
    main()
