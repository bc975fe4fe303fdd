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
        connect = state.settings["connect"]
        lines.append(f"lambda: connect={connect.value} (from {connect.source})")
        lines.append(f"lambda: /tmp is {unavailable_reason() or 'disk (a loop-mounted ext4)'}")
        lines.append("lambda: isolation: " + _docker_isolation())
    else:
        from ._process_env import differences

        lines.append("lambda: process backend differs from Lambda: " + "; ".join(differences()))
    return lines


def _docker_isolation() -> str:
    """Say what isolates Docker functions here (see docs/security.md)."""
    import os

    from ._docker import get_client, remaps_users
    from ._firewall import predicted_reason

    blocked = predicted_reason(os.environ.get("DOCKER_HOST"))
    host = ("host services blocked but the Runtime API (nftables)" if blocked is None
            else f"host services reachable on the gateway ({blocked})")
    try:
        remapped = remaps_users(get_client())
    except Exception:
        remapped = False
    uid = ("uid 993 remapped by the engine (user namespaces)" if remapped
           else "uid 993 is host uid 993 (no userns-remap)")
    return f"Runtime API answers its own container only; {host}; {uid}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    state = terminalreporter.config.stash.get(STATE_KEY, None)
    if state is None:
        return
    backend = state.docker_backend_if_made()
    if backend is None or not backend.images:
        return
    terminalreporter.write_sep("-", "lambda runtime images")
    for runtime, choice in sorted(backend.images.items()):
        terminalreporter.write_line(
            f"{runtime}: {choice.tag} ({choice.source}; {choice.reason})"
        )
    firewall = backend.firewall
    terminalreporter.write_line(
        f"host services: blocked for isolated functions (nftables table inet {firewall.table})"
        if firewall.active else f"host services: reachable from functions ({firewall.reason})"
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is not None:
        state.close()
