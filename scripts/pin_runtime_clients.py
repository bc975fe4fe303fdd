#!/usr/bin/env python3
"""Write the hash-pinned lock files of the runtime interface clients and AWS SDKs in the images.

    python scripts/pin_runtime_clients.py [--python] [--node] [--sdk]

- `runtime_images/python/requirements.txt`: `AWSLAMBDARIC_SPEC` and every dependency, each with
  the SHA-256 of every wheel that any supported Python version and architecture installs
  (`pip download` per combination). The build installs it with `pip --require-hashes`.
- `runtime_images/nodejs/lock/<major line>/package.json` and `package-lock.json`: the Node.js
  client and node-gyp of `AWS_LAMBDA_RIC_SPECS` / `NODE_GYP_SPEC`, resolved by npm with an
  integrity hash per package and no registry address (`omit-lockfile-registry-resolved`).
  The build installs them with `npm ci`.
- `runtime_images/python/sdk-requirements.txt`: `BOTO3_SPEC` and its dependencies, pinned as
  the client is (`--sdk`), and `runtime_images/nodejs/sdk/package.json` and `package-lock.json`:
  `AWS_SDK_JS_PACKAGES` at their pinned versions, locked as the Node.js client is.

The lock files are files of the families' build contexts, so they are part of the images'
content hashes: re-pinning makes new tags. Run it after changing a spec in
`pytest_lambda/images/recipes.py`, with pip and npm able to reach their registries.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pytest_lambda.images import recipes as _images  # noqa: E402

#: Every Python version a python runtime image may have (Lambda's python3.10 to python3.14).
PYTHON_VERSIONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
MACHINES = ("x86_64", "aarch64")


def _wheel_project(filename: str) -> tuple[str, str]:
    name, version = filename.split("-")[:2]
    return re.sub(r"[-_.]+", "-", name).lower(), version


def pin_python(spec: str = "", path: Path | None = None) -> Path:
    """Write the hash-pinned requirements of `spec` (awslambdaric's by default) to `path`."""
    spec = spec or _images.AWSLAMBDARIC_SPEC
    hashes: dict[tuple[str, str], set[str]] = defaultdict(set)
    with tempfile.TemporaryDirectory() as tmp:
        for version in PYTHON_VERSIONS:
            for machine in MACHINES:
                dest = Path(tmp, f"{version}-{machine}")
                subprocess.run([
                    sys.executable, "-m", "pip", "download", "--quiet", "--no-cache-dir",
                    "--disable-pip-version-check", "--only-binary=:all:",
                    f"--platform=manylinux2014_{machine}", f"--platform=manylinux_2_28_{machine}",
                    f"--python-version={version}", "--implementation=cp",
                    "--dest", str(dest), spec,
                ], check=True)
                for wheel in dest.glob("*.whl"):
                    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
                    hashes[_wheel_project(wheel.name)].add(digest)
    versions: dict[str, set[str]] = defaultdict(set)
    for name, version in hashes:
        versions[name].add(version)
    split = {name: v for name, v in versions.items() if len(v) > 1}
    if split:
        raise SystemExit(f"Python versions resolve to different releases: {split}; pin them.")
    lines = [
        f"# {spec} and its dependencies, pinned with the SHA-256 of every",
        f"# wheel for CPython {', '.join(PYTHON_VERSIONS)} on {' and '.join(MACHINES)}.",
        "# Written by scripts/pin_runtime_clients.py; installed with pip --require-hashes.",
    ]
    for (name, version), digests in sorted(hashes.items()):
        lines.append(f"{name}=={version} \\")
        ordered = sorted(digests)
        lines += [f"    --hash=sha256:{d}" + (" \\" if i < len(ordered) - 1 else "")
                  for i, d in enumerate(ordered)]
    path = path or ROOT / "runtime_images" / "python" / "requirements.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _npm_lock(folder: Path, name: str, dependencies: dict[str, str]) -> list[Path]:
    """Write `folder`'s package.json naming `dependencies` and let npm lock them (integrity
    hashes, no registry address)."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in ("package.json", "package-lock.json"):
        (folder / stale).unlink(missing_ok=True)
    (folder / "package.json").write_text(json.dumps(
        {"name": name, "private": True, "dependencies": dependencies}, indent=2) + "\n")
    subprocess.run([
        "npm", "install", "--package-lock-only", "--ignore-scripts", "--no-audit",
        "--no-fund", "--omit-lockfile-registry-resolved", "--loglevel=error",
    ], cwd=folder, check=True)
    lock = json.loads((folder / "package-lock.json").read_text())
    missing = [name for name, pkg in lock.get("packages", {}).items()
               if name and not pkg.get("integrity") and not pkg.get("link")]
    if missing:
        raise SystemExit(f"npm left packages without an integrity hash: {missing}")
    return [folder / "package.json", folder / "package-lock.json"]


def pin_sdks() -> list[Path]:
    """Write the locks of the AWS SDKs: boto3's requirements and the JavaScript SDK's lock."""
    written = [pin_python(_images.BOTO3_SPEC, _images.python_sdk_requirements())]
    dependencies = dict(spec.rsplit("@", 1) for spec in _images.sdk_node_specs())
    written += _npm_lock(_images.node_sdk_lock_dir(), "pytest-lambda-aws-sdk-js", dependencies)
    return written


def pin_node() -> list[Path]:
    written = []
    for line, specs in sorted(_images.node_lock_lines().items()):
        folder = ROOT / "runtime_images" / "nodejs" / "lock" / line
        dependencies = {}
        for spec in specs:
            name, _, version = spec.rpartition("@")
            dependencies[name] = version
        written += _npm_lock(folder, f"pytest-lambda-ric-{line}", dependencies)
    binaries = {}
    for template in sorted(_images.NODE_BINARY_SPECS.values()):
        for arch in sorted(set(_images._NODE_ARCHES.values())):
            spec = template.format(arch=arch)
            found = subprocess.run(["npm", "view", spec, "dist.integrity"], check=True,
                                   capture_output=True, text=True).stdout.strip()
            if not found.startswith("sha512-"):
                raise SystemExit(f"npm has no sha512 integrity for {spec}: {found!r}")
            binaries[spec] = found
    path = _images.node_binaries_lock()
    path.write_text(json.dumps(binaries, indent=2, sort_keys=True) + "\n")
    written.append(path)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", action="store_true", help="pin the Python client only")
    parser.add_argument("--node", action="store_true", help="pin the Node.js client only")
    parser.add_argument("--sdk", action="store_true", help="pin the AWS SDKs only")
    args = parser.parse_args()
    every = not (args.python or args.node or args.sdk)
    if args.python or every:
        print(pin_python())
    if args.node or every:
        for path in pin_node():
            print(path)
    if args.sdk or every:
        for path in pin_sdks():
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
