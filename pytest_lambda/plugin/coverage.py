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


def _sources(config: pytest.Config, cov: Any) -> list[str]:
    """Return the directories the measurement is restricted to (`--cov=src`), absolute."""
    base = str(config.invocation_params.dir)
    sources = cov.get_option("run:source") or []
    return [os.path.normpath(os.path.join(base, s)) for s in sources if isinstance(s, str)]


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
            data = cov.get_data()
        # Environments saved their data when they last asked for an event: nothing is stopped.
        service.collect_coverage(_sources(session.config, cov), data)
