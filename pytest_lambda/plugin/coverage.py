"""Coverage of code run in execution environments, for pytest-cov (see docs/coverage.md).

When coverage.py measures the pytest process (pytest-cov's `--cov`, or `coverage run -m
pytest`), Python functions' environments measure their code too, and their lines join the
process's coverage data at the end of the test loop: before pytest-cov (whose own wrapper of
the loop is outside this one) saves, combines and reports. Nothing happens otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

from pytest_lambda.plugin.state import STATE_KEY


def _active_coverage() -> Any:
    """Return the coverage.py measurement running in this process, or None."""
    import sys

    if "coverage" not in sys.modules:  # never imported: nothing measures this process
        return None
    from coverage import Coverage

    return Coverage.current()


def _sources(config: pytest.Config, cov: Any) -> tuple[list[str], list[str]]:
    """Return the directories (absolute) and packages the measurement is restricted to:
    `--cov=src` names a directory, `--cov=app` a package unless a directory has that name (as
    coverage.py's `source` reads them)."""
    base = str(config.invocation_params.dir)
    directories, packages = [], []
    for source in cov.get_option("run:source") or []:
        path = os.path.normpath(os.path.join(base, source))
        if os.path.isdir(path):
            directories.append(path)
        else:
            packages.append(source)
    try:
        packages += cov.get_option("run:source_pkgs") or []
    except Exception:  # coverage before 5.3
        pass
    return directories, packages


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    state = session.config.stash.get(STATE_KEY, None)
    cov = _active_coverage() if state is not None else None
    if cov is None or state is None:
        return (yield)
    from pytest_lambda.backends.instrument import CoverageRequest, available, new_coverage_root

    if not available("coverage"):
        return (yield)
    service = state.service()
    if service.coverage is None:
        service.coverage = CoverageRequest(branch=bool(cov.get_option("run:branch")),
                                           root=new_coverage_root())
    try:
        return (yield)
    finally:
        import warnings

        with warnings.catch_warnings():
            # Said of the test process alone, before the environments' lines join its data.
            warnings.filterwarnings("ignore", message="No data was collected")
            warnings.filterwarnings("ignore", message="Module .* was never imported")
            data = cov.get_data()
        # Environments saved their data when they last asked for an event: nothing is stopped.
        directories, packages = _sources(session.config, cov)
        if service.collect_coverage(directories, data, packages):
            _imported_elsewhere(cov, data, packages)


def _imported_elsewhere(cov: Any, data: Any, packages: list[str]) -> None:
    """Stop coverage.py warning that a `--cov=<package>` was never imported when an
    environment imported it (it only knows the test process's imports)."""
    unmatched = getattr(getattr(cov, "_inorout", None), "source_pkgs_unmatched", None)
    if not isinstance(unmatched, list):
        return  # another coverage.py: its warning stays, harmless
    measured = [os.path.splitext(f)[0].replace(os.sep, ".") for f in data.measured_files()]
    for package in packages:
        if package in unmatched and any(m.endswith("." + package) or ("." + package + ".") in m
                                        for m in measured):
            unmatched.remove(package)
