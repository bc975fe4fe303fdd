"""The cache of dependency builds: one directory `cache_dir()/deps/<key>/tree` per build.

A build runs in a staging directory under a cross-process lock and is renamed into place when
complete, so an interrupted one leaves nothing a later session takes for a build; a staging
directory whose process is gone is swept by the next build of the same key.
"""

from __future__ import annotations

import os
import shutil
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from pytest_lambda.artifacts.cache import using
from pytest_lambda.config.packaging import Target
from pytest_lambda.project import npm_install, pip_install
from pytest_lambda.project import reporting as _reporting
from pytest_lambda.project.manifests import build_key
from pytest_lambda.project.reporting import BuildRecord, shown
from pytest_lambda.system import clock as _clock
from pytest_lambda.system.children import pid_alive
from pytest_lambda.system.locks import file_lock


@dataclass(frozen=True)
class Build:
    """A finished dependency build: the tree to merge (packages, or node_modules/, at its top)."""

    root: Path
    key: str
    built: bool


def build(manifest: Path, target: Target, *, who: str) -> Build:
    """Return `manifest`'s dependencies built for `target`, building them if not cached.

    Raises ConfigurationError with pip's (or npm's) own message, `who` and the target when a
    requirement cannot be had for the target.
    """
    key = build_key(manifest, target)
    with using("deps", key) as root:  # leased to this session, safe from pruning
        return _build(manifest, target, who, key, root)


def _build(manifest: Path, target: Target, who: str, key: str, root: Path) -> Build:
    reporter = _reporting.current()
    label = shown(manifest)
    record = BuildRecord(who, target.describe(), label, False, 0.0, 0)
    if (root / "tree").is_dir():
        record.packages = _count_packages(root / "tree", target)
        reporter.record(record)
        return Build(root / "tree", key, built=False)
    started = _clock.perf()
    with file_lock(root.with_name(f"{key}.lock"), reporter.progress,
                   f"pytest-lambda: waiting for another process installing {label} for "
                   f"{target.describe()}…"):
        if (root / "tree").is_dir():
            record.packages = _count_packages(root / "tree", target)
            reporter.record(record)
            return Build(root / "tree", key, built=False)
        _sweep_staging(root)
        staging = root.with_name(f"{key}.{os.getpid()}.{threading.get_ident()}.tmp")
        staging.mkdir(parents=True)
        try:
            reporter.progress(f"pytest-lambda: installing {label} ({who}) for "
                              f"{target.describe()}…")
            tree = staging / "tree"
            tree.mkdir()
            if target.family == "nodejs":
                npm_install.install(manifest, target, tree, staging, who, reporter.progress)
            else:
                pip_install.install(manifest, target, tree, staging, who, reporter.progress)
            _normalise_modes(tree)
            for leftover in [p for p in staging.iterdir() if p.name != "tree"]:
                _remove(leftover)
            os.rename(staging, root)  # atomic: the entry is complete or absent
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    record.built = True
    record.seconds = _clock.perf() - started
    record.packages = _count_packages(root / "tree", target)
    reporter.progress(f"pytest-lambda: installed {label} for {target.describe()}: "
                      f"{record.packages} package{'' if record.packages == 1 else 's'} in "
                      f"{record.seconds:.1f} s")
    reporter.record(record)
    return Build(root / "tree", key, built=True)


def _sweep_staging(root: Path) -> None:
    """Remove staging directories of this entry left by processes that no longer run."""
    for stale in root.parent.glob(f"{root.name}.*.tmp"):
        try:
            pid = int(stale.name.split(".")[1])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not pid_alive(pid):
            shutil.rmtree(stale, ignore_errors=True)


def _count_packages(tree: Path, target: Target) -> int:
    if target.family == "nodejs":
        modules = tree / "node_modules"
        if not modules.is_dir():
            return 0
        count = 0
        for entry in modules.iterdir():
            if entry.name.startswith("@") and entry.is_dir():
                count += sum(1 for _ in entry.iterdir())
            elif not entry.name.startswith("."):
                count += 1
        return count
    return sum(1 for entry in tree.iterdir() if entry.name.endswith(".dist-info"))


def _normalise_modes(tree: Path) -> None:
    """Make every file readable by the function's user (Lambda's sandbox user is not the owner)."""
    for dirpath, _dirs, files in os.walk(tree):
        os.chmod(dirpath, 0o755)
        for name in files:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                mode = stat.S_IMODE(os.lstat(path).st_mode)
                os.chmod(path, mode | 0o444)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
