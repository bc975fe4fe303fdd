"""Measure what layers add to a cold start: merging them (cold cache) and re-hashing (warm).

    python benchmarks/bench_layers.py [--backend docker|process|both] [--runs N]

Drives `LambdaService` directly on tests/functions/hello. Each run generates five fresh layers
(~30 MB in total, 6 MB each: Python modules and binary blobs, so the layer cache has never seen
them) in a temp dir, then times, each after `service.reset(...)`:

- cold cache: `build_config(..., layers=...)` (hash + merge into the cache) and the first invoke;
- warm cache: the same again with the per-process memo cleared, as a new pytest session sees
  it (the digests are read back from the cache by the files' sizes and mtimes; the merged tree
  is reused);
- no layers: the same function without layers.
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
from pytest_lambda.service.service import LambdaService

ROOT = Path(__file__).resolve().parent.parent
HELLO = ROOT / "tests" / "functions" / "hello"
RUNTIME = "python3.13"
LAYERS = 5
LAYER_MB = 6


def _backends():  # as the pytest plugin wires them
    def docker():
        from pytest_lambda.backends.docker.environment import DockerBackend

        return DockerBackend(image_policy="hermetic",
                             progress=lambda line: print(line, file=sys.stderr))

    def process():
        from pytest_lambda.backends.process import ProcessBackend

        return ProcessBackend()

    return {"docker": docker, "process": process}


def make_layers(base: Path) -> list[Path]:
    """Write five layers of LAYER_MB each: 20 modules and 1 MB blobs, random bytes."""
    layers = []
    for i in range(LAYERS):
        layer = base / f"layer{i}"
        pkg = layer / "python" / f"pkg{i}"
        pkg.mkdir(parents=True)
        for j in range(20):
            (pkg / f"mod{j}.py").write_text(f"VALUE = {j}\n" + "# padding\n" * 200)
        blobs = layer / "lib"
        blobs.mkdir()
        for j in range(LAYER_MB):
            (blobs / f"blob{i}-{j}.bin").write_bytes(os.urandom(1024 * 1024))
        # Dated an hour back, like files checked out earlier: digests of files modified in the
        # last two seconds are not remembered across sessions (see files._remembered).
        an_hour_ago = time.time() - 3600
        for path in layer.rglob("*"):
            os.utime(path, (an_hour_ago, an_hour_ago))
        layers.append(layer)
    return layers


def timed_start(service: LambdaService, backend: str, layers: list[Path] | None,
                name: str, trees: set[Path] | None = None) -> tuple[float, float]:
    """Return (build_config ms, first-invoke ms) for a fresh session's view of `layers`."""
    files._HASH_CACHE.clear()  # a new session re-hashes
    t0 = time.perf_counter()
    config = build_config("app.handler", code=HELLO, runtime=RUNTIME, memory_size=1769,
                          timeout=10, name=name, layers=layers)
    t1 = time.perf_counter()
    if trees is not None and config.opt_dir is not None:
        trees.add(config.opt_dir)
    service.reset(config, backend)
    t2 = time.perf_counter()
    result = service.invoke(config, {"name": "bench"}, backend=backend)
    t3 = time.perf_counter()
    if result.function_error is not None or not result.cold_start:
        raise SystemExit(f"unexpected result: {result.raw_payload!r}\n{result.logs}")
    service.reset(config, backend)
    return (t1 - t0) * 1000, (t3 - t2) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("docker", "process", "both"), default="both")
    parser.add_argument("--runs", type=int, default=5, help="runs per case (default 5)")
    args = parser.parse_args()
    backends = ["docker", "process"] if args.backend == "both" else [args.backend]
    service = LambdaService(backends=_backends())
    rows = []
    try:
        for backend in backends:
            timed_start(service, backend, None, f"bench-layers-{backend}")  # image, caches
            cases: dict[str, list[tuple[float, float]]] = {"cold": [], "warm": [], "none": []}
            trees: set[Path] = set()
            for run in range(args.runs):
                print(f"[{backend}] run {run + 1}/{args.runs}...", file=sys.stderr)
                with tempfile.TemporaryDirectory(prefix="bench-layers-") as tmp:
                    layers = make_layers(Path(tmp))
                    name = f"bench-layers-{backend}"
                    cases["cold"].append(timed_start(service, backend, layers, name, trees))
                    cases["warm"].append(timed_start(service, backend, layers, name, trees))
                    cases["none"].append(timed_start(service, backend, None, name))
                for tree in trees:  # random contents: no later run can reuse them
                    shutil.rmtree(tree, ignore_errors=True)
            rows.append((backend, cases))
    finally:
        service.close()

    print(f"\nhello ({RUNTIME}) with {LAYERS} layers of {LAYER_MB} MB, {args.runs} runs; "
          "medians in ms\n")
    print("| backend | layers | build_config | first invoke (cold start) | total |")
    print("|---|---|---|---|---|")
    labels = {"cold": "5, cold cache", "warm": "5, warm cache", "none": "none"}
    for backend, cases in rows:
        for key, label in labels.items():
            build = statistics.median(b for b, _ in cases[key])
            start = statistics.median(s for _, s in cases[key])
            total = statistics.median(b + s for b, s in cases[key])
            print(f"| {backend} | {label} | {build:.1f} | {start:.1f} | {total:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
