"""Where dependency builds report: progress lines as they run, and the session's list of builds.

The plugin gives the session a `Reporter` (`reporting_to`) whose records its terminal summary
shows; outside a session, progress goes to stderr and records are dropped.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pytest_lambda.system.locks import Progress


@dataclass
class BuildRecord:
    """One dependency build the session made or found, for the terminal summary."""

    what: str
    target: str
    manifest: str
    built: bool
    seconds: float
    packages: int


@dataclass
class Reporter:
    """Where dependency builds report: progress lines, and the session's list of builds."""

    progress: Progress = field(default=lambda line: print(line, file=sys.stderr, flush=True))
    records: list[BuildRecord] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, record: BuildRecord) -> None:
        with self.lock:
            if record.built or not any(
                r.target == record.target and r.manifest == record.manifest
                for r in self.records
            ):
                self.records.append(record)


_REPORTER: contextvars.ContextVar[Reporter | None] = contextvars.ContextVar(
    "pytest_lambda_deps_reporter", default=None
)


@contextlib.contextmanager
def reporting_to(reporter: Reporter) -> Iterator[None]:
    """Send the progress and records of builds made meanwhile (in this context) to `reporter`."""
    token = _REPORTER.set(reporter)
    try:
        yield
    finally:
        _REPORTER.reset(token)


def current() -> Reporter:
    """Return the reporter of this context (a fresh one printing to stderr outside any)."""
    return _REPORTER.get() or Reporter()


def shown(manifest: Path) -> str:
    """Return `manifest`'s path as messages show it (relative to the working directory when
    it is under it)."""
    try:
        return str(manifest.relative_to(Path.cwd()))
    except ValueError:
        return str(manifest)
