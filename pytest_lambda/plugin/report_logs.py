"""Lambda logs in test reports: a "Captured Lambda logs" section per phase, and JUnit system-out.

While a test's setup, call and teardown run, every invocation made in that phase is recorded,
whatever made the function (a function-scoped fixture, a module- or session-scoped one, the test
itself) and including in-process `invoke_handler` calls. At the phase's end the records become a
report section, the way pytest's capture plugin reports captured output, so pytest shows them
with a failure (and for passing tests under `-rA`/`-rP`), they travel with the report to an xdist
controller, and `--show-capture=no` hides them as it hides stdout.

The setting (`--lambda-logs`) says how far they go: `on-failure` (the default) writes them into
JUnit XML for failing tests only, `always` also for passing tests and prints passing tests' logs
after the test run even without `-rP`, and `never` records nothing.
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from pytest_lambda.service import observe as _observe

if TYPE_CHECKING:
    from pytest_lambda.result import InvokeResult
    from pytest_lambda.service.function import Function

#: pytest names a section "Captured <key> <phase>", e.g. "Captured Lambda logs call".
SECTION_KEY = "Lambda logs"
SECTION_PREFIX = f"Captured {SECTION_KEY} "
#: A test making thousands of invocations keeps its newest ones, up to about this many characters.
MAX_SECTION_CHARS = 1_000_000
_MESSAGE_CHARS = 200


@dataclass(frozen=True)
class Record:
    """One invocation a test made."""

    function_name: str
    backend: str
    result: InvokeResult


def describe(number: int, record: Record) -> str:
    """Return one invocation's heading (who, which request, the outcome) and its log lines."""
    result = record.result
    if result.ok:
        outcome = "ok"
    else:
        error = result.error or {}
        message = str(error.get("errorMessage", "")).splitlines()
        text = message[0] if message else ""
        if len(text) > _MESSAGE_CHARS:
            text = text[:_MESSAGE_CHARS] + "..."
        outcome = f"{result.function_error} {error.get('errorType', 'error')}: {text}".rstrip(": ")
    start = "cold start" if result.cold_start else "warm"
    # awslambdaric joins an error's lines with carriage returns (one CloudWatch record); a
    # terminal would print them over each other, so the report shows them as lines.
    logs = result.logs.replace("\r\n", "\n").replace("\r", "\n")
    if logs and not logs.endswith("\n"):
        logs += "\n"
    return (
        f"[{number}] {record.function_name} ({record.backend}) RequestId: {result.request_id}: "
        f"{outcome} ({start}, {result.duration_ms:.2f} ms)\n{logs}"
    )


def format_records(records: list[Record]) -> str:
    """Return a phase's section text: each invocation, numbered, oldest first."""
    parts = [describe(number, record) for number, record in enumerate(records, 1)]
    kept: list[str] = []
    size = 0
    for part in reversed(parts):
        if kept and size + len(part) > MAX_SECTION_CHARS:
            break
        kept.append(part)
        size += len(part)
    omitted = len(parts) - len(kept)
    head = (f"({omitted} earlier invocations not shown: a section keeps about "
            f"{MAX_SECTION_CHARS} characters)\n\n" if omitted else "")
    return head + "\n".join(reversed(kept))


def lambda_sections(report: pytest.TestReport) -> list[tuple[str, str]]:
    """Return the report's Lambda log sections as (title, text)."""
    return [(title, text) for title, text in report.sections if title.startswith(SECTION_PREFIX)]


def _junit_xml(config: pytest.Config) -> Any:
    """Return pytest's JUnit XML writer when `--junitxml` is on, else None."""
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # a pytest without it: the terminal sections still work
        return None
    return config.stash.get(xml_key, None)


class ReportLogs:
    """Record each phase's invocations as a report section and carry them into JUnit XML."""

    def __init__(self, config: pytest.Config, mode: str) -> None:
        self.config = config
        self.mode = mode
        self._lock = threading.Lock()
        self._records: list[Record] | None = None
        self._failed: set[tuple[str, object]] = set()
        self._passed: list[tuple[str, list[tuple[str, str]]]] = []

    # -- _observe.Watcher (runs where the tests run: the process or the xdist worker) ---------

    def invoking(self, function: Function) -> None:
        pass

    def invoked(self, function_name: str, backend: str, result: InvokeResult) -> None:
        with self._lock:
            if self._records is not None:
                self._records.append(Record(function_name, backend, result))

    def _phase(self, item: pytest.Item, when: str) -> Generator[None, Any, None]:
        with self._lock:
            self._records = []
        try:
            yield
        finally:
            with self._lock:
                records, self._records = self._records, None
            if records:
                item.add_report_section(when, SECTION_KEY, format_records(records))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, Any, None]:
        yield from self._phase(item, "setup")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, None]:
        yield from self._phase(item, "call")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, Any, None]:
        yield from self._phase(item, "teardown")

    # -- reports (runs where reports are written: the process or the xdist controller) --------

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> Generator[None, Any, None]:
        key = (report.nodeid, getattr(report, "node", None))
        if report.failed:
            self._failed.add(key)
        written = None
        reporter = None
        if report.when == "teardown":
            failed = key in self._failed
            self._failed.discard(key)
            # The teardown report carries every phase's sections.
            sections = lambda_sections(report)
            if sections and not failed and self.mode == "always":
                self._passed.append((report.nodeid, sections))
            xml = _junit_xml(self.config)
            if sections and xml is not None and (failed or self.mode == "always") and (
                failed or xml.log_passing_tests
            ):
                reporter = xml.node_reporter(report)
                written = ET.Element("system-out")
                written.text = "".join(
                    f"{f' {title} '.center(80, '-')}\n{text}\n" for title, text in sections
                )
                reporter.append(written)
        yield
        if reporter is not None and written is not None:
            _merge_system_out(reporter, written)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        # -rP already shows every section of passing tests.
        if not self._passed or terminalreporter.hasopt("P"):
            return
        terminalreporter.write_sep("=", "Lambda logs of passing tests")
        for nodeid, sections in self._passed:
            terminalreporter.write_sep("_", nodeid, green=True, bold=True)
            for title, text in sections:
                terminalreporter.write_sep("-", title)
                terminalreporter.line(text.rstrip("\n"))


def _merge_system_out(reporter: Any, written: ET.Element) -> None:
    """Join ours with the system-out pytest wrote for `--junit-logging`: a test case gets one."""
    try:
        element = reporter.to_xml()
    except Exception:
        return
    outs = [child for child in element if child.tag == "system-out"]
    if len(outs) < 2 or written not in outs:
        return
    others = [child for child in outs if child is not written]
    first = others[0]
    first.text = "".join(child.text or "" for child in others) + (written.text or "")
    for child in outs:
        if child is not first:
            element.remove(child)


def install(config: pytest.Config, mode: str) -> None:
    """Register the report-logs hooks for this session, unless `mode` is "never"."""
    if mode == "never":
        return
    plugin = ReportLogs(config, mode)
    config.pluginmanager.register(plugin, "lambda-report-logs")
    _observe.add(plugin)
    config.add_cleanup(lambda: _observe.remove(plugin))
