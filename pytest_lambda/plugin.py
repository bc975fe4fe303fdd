"""pytest hooks of pytest-aws-lambda: options, markers, header, session start and end.

Fixtures live in `fixtures.py`. Nothing heavy is imported here: docker and friends load on first
use, so `pytest --version` and runs that never invoke a function pay nothing.
"""

from __future__ import annotations

import pytest

from . import _settings
from ._fixtures_context import lambda_context  # noqa: F401  (registers the fixture)
from ._state import STATE_KEY, PluginState
from .fixtures import lambda_function, lambda_service  # noqa: F401  (registers the fixtures)


def pytest_addoption(parser: pytest.Parser) -> None:
    _settings.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "lambda_docker: the test needs the Docker backend (it fails, not skips, when "
        "--lambda-backend=docker and no engine answers)",
    )
    state = PluginState(settings=_settings.resolve(config))
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        state.progress = lambda line: reporter.write_line(line)
    config.stash[STATE_KEY] = state


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash[STATE_KEY]
    choice = state.backend_choice()
    lines = [f"lambda: backend={choice.name} ({choice.reason})"]
    policy = state.settings["image_policy"]
    if choice.name == "docker":
        from ._ephemeral import unavailable_reason

        lines.append(f"lambda: image policy={policy.value} (from {policy.source})")
        lines.append(f"lambda: /tmp is {unavailable_reason() or 'disk (a loop-mounted ext4)'}")
    else:
        from ._process_env import differences

        lines.append("lambda: process backend differs from Lambda: " + "; ".join(differences()))
    return lines


def pytest_sessionfinish(session: pytest.Session) -> None:
    # An xdist worker hands its dependency builds to the controller, which prints the summary.
    workeroutput = getattr(session.config, "workeroutput", None)
    state = session.config.stash.get(STATE_KEY, None)
    if workeroutput is not None and state is not None:
        from dataclasses import asdict

        workeroutput["lambda_dependencies"] = [asdict(r) for r in state.dependency_records()]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """Collect an xdist worker's dependency builds into the controller's summary."""
    output = getattr(node, "workeroutput", None) or {}
    config = getattr(node, "config", None)
    state = config.stash.get(STATE_KEY, None) if config is not None else None
    if state is not None and output.get("lambda_dependencies"):
        state.add_dependency_records(output["lambda_dependencies"])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    state = terminalreporter.config.stash.get(STATE_KEY, None)
    if state is None:
        return
    records = state.dependency_records()
    if records:
        terminalreporter.write_sep("-", "lambda dependencies")
        for r in records:
            how = (f"built in {r.seconds:.1f} s" if r.built
                   else "reused (cached, nothing rebuilt)")
            terminalreporter.write_line(
                f"{r.manifest} for {r.target}: {r.packages} "
                f"package{'' if r.packages == 1 else 's'}, {how} ({r.what})"
            )
    backend = state.docker_backend_if_made()
    if backend is None or not backend.images:
        return
    terminalreporter.write_sep("-", "lambda runtime images")
    for runtime, choice in sorted(backend.images.items()):
        terminalreporter.write_line(
            f"{runtime}: {choice.tag} ({choice.source}; {choice.reason})"
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is not None:
        state.close()
