"""The cache is pruned to a size, least recently used first, never under a live session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import NamedTuple

import pytest

from pytest_lambda import ConfigurationError
from pytest_lambda.artifacts import cache as _cache
from pytest_lambda.config.settings import parse_size
from pytest_lambda.service.build import build_config

MB = 1024 * 1024


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("PYTEST_LAMBDA_CACHE_DIR", str(d))
    monkeypatch.setattr(_cache, "_leased", set())  # this test's leases only
    return d


def _function_zip(path: Path, size: int) -> Path:
    """Write a function .zip that unpacks to about `size` bytes of random data."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("app.py", "def handler(e, c):\n    return e\n")
        zf.writestr("blob.bin", os.urandom(size))
    return path


class _Unpacked(NamedTuple):
    code_dir: Path


def _config(archive: Path) -> _Unpacked:
    """Configure a function from `archive`; return where its code was unpacked."""
    code_dir = build_config("app.handler", code=archive, runtime="python3.13").code_dir
    assert code_dir is not None
    return _Unpacked(code_dir)


def _age(path: Path, seconds_ago: float) -> None:
    when = time.time() - seconds_ago
    os.utime(path, (when, when))


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_parse_size_reads_the_usual_spellings() -> None:
    assert parse_size("0") == 0
    assert parse_size("1234") == 1234
    assert parse_size("500MB") == 500 * MB
    assert parse_size("5GiB") == 5 * 1024 * MB
    assert parse_size("1.5 g") == 1536 * MB
    assert parse_size("off") is None
    with pytest.raises(ConfigurationError, match=r"^'lots' is not a size: .* such as 500MB"):
        parse_size("lots")


def test_least_recently_used_entries_go_first_until_the_cache_fits(
    tmp_path: Path, cache: Path,
) -> None:
    configs = [_config(_function_zip(tmp_path / f"fn{i}.zip", 2 * MB)) for i in range(3)]
    _cache.release()  # the session that made them is over
    for age, config in zip((300, 100, 200), configs, strict=True):
        _age(config.code_dir, age)
    report = _cache.prune(5 * MB)
    assert report is not None
    assert [e.path for e in report.removed] == [configs[0].code_dir]  # the oldest use
    assert report.size_before > 6 * MB and report.size_after <= 5 * MB
    assert not configs[0].code_dir.exists()
    assert configs[1].code_dir.is_dir() and configs[2].code_dir.is_dir()
    assert _cache.prune(0) is not None
    assert not any((cache / "code").iterdir())


def test_using_an_entry_makes_it_recent(tmp_path: Path) -> None:
    old = _config(_function_zip(tmp_path / "old.zip", MB))
    new = _config(_function_zip(tmp_path / "new.zip", MB))
    _age(old.code_dir, 300)
    _age(new.code_dir, 200)
    _config(tmp_path / "old.zip")  # used again now
    _cache.release()
    report = _cache.prune(int(1.5 * MB))
    assert report is not None and [e.path for e in report.removed] == [new.code_dir]


def test_dry_run_removes_nothing(tmp_path: Path) -> None:
    config = _config(_function_zip(tmp_path / "fn.zip", MB))
    _cache.release()
    report = _cache.prune(0, dry_run=True)
    assert report is not None and [e.path for e in report.removed] == [config.code_dir]
    assert config.code_dir.is_dir()


def test_entries_a_live_session_uses_are_kept(tmp_path: Path, cache: Path) -> None:
    unpacked = _config(_function_zip(tmp_path / "other.zip", MB))
    _cache.release()
    # A session that died after using it left its lease: a dead pid's lease is void.
    dead = _cache._lease_path(cache, socket.gethostname(), _dead_pid())
    dead.write_text(f"code/{unpacked.code_dir.name}\n")
    mine = _config(_function_zip(tmp_path / "mine.zip", MB))  # leased by this live process
    report = _cache.prune(0)
    assert report is not None
    assert [e.path for e in report.in_use] == [mine.code_dir]
    assert [e.path for e in report.removed] == [unpacked.code_dir]
    assert mine.code_dir.is_dir() and not dead.exists()


def test_layers_are_leased_and_pruned_as_entries(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("def handler(e, c):\n    return e\n")
    layer = tmp_path / "layer"
    (layer / "python").mkdir(parents=True)
    (layer / "python" / "lib.py").write_bytes(os.urandom(MB))
    config = build_config("app.handler", code=code, runtime="python3.13", layers=[layer])
    assert config.opt_dir is not None
    report = _cache.prune(0)
    assert report is not None and config.opt_dir in [e.path for e in report.in_use]
    _cache.release()
    report = _cache.prune(0)
    assert report is not None and config.opt_dir in [e.path for e in report.removed]
    assert not config.opt_dir.exists()


def test_stale_leftovers_of_dead_processes_are_removed(cache: Path) -> None:
    stale = cache / "code" / "abc.123.456.tmp"
    fresh = cache / "code" / "def.123.456.tmp"
    build = cache / "build" / "python3.13-xyz"
    for path in (stale, fresh, build):
        path.mkdir(parents=True)
    _age(stale, 2 * 24 * 3600)
    _age(build, 2 * 24 * 3600)
    report = _cache.prune(None)
    assert report is not None and sorted(report.stale) == sorted([stale, build])
    assert fresh.is_dir() and not stale.exists() and not build.exists()


def test_prune_cache_command(tmp_path: Path, cache: Path) -> None:
    config = _config(_function_zip(tmp_path / "fn.zip", MB))
    _cache.release()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pytest_lambda", "prune-cache", *args],
                              capture_output=True, text=True, env=os.environ.copy())

    dry = run("--max-size", "0", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would remove code/{config.code_dir.name} (1.0 MiB)" in dry.stdout
    assert config.code_dir.is_dir()
    bad = run("--max-size", "lots")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "'lots' is not a size" in bad.stderr
    done = run("--max-size", "0")
    assert done.returncode == 0, done.stderr
    assert f"removed code/{config.code_dir.name}" in done.stdout
    assert done.stdout.splitlines()[-1].startswith(f"{cache}: ")
    assert not config.code_dir.exists()


def test_a_session_run_inside_another_leaves_the_outer_ones_entries(
        tmp_path: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config(_function_zip(tmp_path / "fn.zip", MB))  # the outer session's
    monkeypatch.setenv("PYTEST_LAMBDA_CACHE_MAX_SIZE", "0")
    pytester.makepyfile("def test_ok(): pass")
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert config.code_dir.is_dir()
    assert _cache.leased()
