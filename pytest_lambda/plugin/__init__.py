"""pytest hooks of pytest-aws-lambda: options, markers, header, session start and end.

Fixtures live in `fixtures.py`. Nothing heavy is imported here: docker and friends load on first
use, so `pytest --version` and runs that never invoke a function pay nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_lambda.config.settings import AUTO_RULE, Resolved
from pytest_lambda.plugin import aws_hooks as _aws_hooks
from pytest_lambda.plugin import isolation as _isolation
from pytest_lambda.plugin import report_logs as _report_logs
from pytest_lambda.plugin import settings as _settings
from pytest_lambda.plugin.coverage import pytest_runtestloop  # noqa: F401
from pytest_lambda.plugin.fixtures import (  # noqa: F401  (registers the fixtures)
    lambda_api,
    lambda_api_aws,
    lambda_aws,
    lambda_context,
    lambda_function,
    lambda_service,
)
from pytest_lambda.plugin.state import STATE_KEY, PluginState


def pytest_addoption(parser: pytest.Parser) -> None:
    _settings.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _isolation.MARKER_HELP)
    config.addinivalue_line("markers", _aws_hooks.MARKER_HELP)
    state = PluginState(settings=_settings.resolve(config))
    _aws_hooks.install(config, state)
    _report_logs.install(config, state.settings["logs"].value)
    _isolation.install(config, state.settings["isolation"].value)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        state.progress = lambda line: reporter.write_line(line)
    config.stash[STATE_KEY] = state


def pytest_report_header(config: pytest.Config) -> list[str]:
    from pytest_lambda.system.paths import cache_dir
    from pytest_lambda.system.redact import redact

    state = config.stash[STATE_KEY]
    policy = state.settings["image_policy"]
    policy_line = f"lambda: image policy={policy.value} (from {policy.source})"
    limit = state.settings["cache_max_size"]
    cache_line = redact(f"lambda: cache {cache_dir()} (pruned to {limit.value} at the end of a "
                        f"session that used it, from {limit.source})")
    logs, isolation = state.settings["logs"], state.settings["isolation"]
    settings_line = (f"lambda: logs in reports={logs.value} (from {logs.source}); "
                     f"isolation={isolation.value} (from {isolation.source})")
    scale = state.settings["async_delay_scale"]
    async_line = (f"lambda: asynchronous retry waits and event ages at {scale.value} of "
                  f"Lambda's (from {scale.source})")
    account = state.settings["account_concurrency"]
    account_lines = ([] if account.source == "default" else [
        f"lambda: account concurrency={account.value} (from {account.source}): the functions "
        f"without reserved concurrency share what reservations leave"])
    choice = state.backend_choice(probe=False)
    if choice is None:
        # `auto` asks the engine when a function first needs a backend, not here: a session of
        # in-process tests never waits on an engine. What it chose is said at the session's end.
        return [f"lambda: backend=auto (not probed yet: {AUTO_RULE})", policy_line,
                settings_line, async_line, *account_lines, _aws_hooks.header_line(state),
                cache_line]
    lines = [f"lambda: backend={choice.name} ({choice.reason})"]
    if choice.name == "docker":
        from pytest_lambda.backends.docker.ephemeral import unavailable_reason

        lines.append(policy_line)
        lines.append(f"lambda: engine: {_engine_name()}")
        connect = state.settings["connect"]
        lines.append(f"lambda: connect={connect.value} (from {connect.source})")
        disk = ("disk (a loop-mounted ext4 reserved in the cache directory; a tmpfs, with a "
                "warning, for an environment that finds no room there)")
        lines.append(f"lambda: /tmp is {unavailable_reason() or disk}")
        lines.append(_ready_line(state.settings["ready_containers"]))
        lines.append("lambda: sandbox: " + _docker_isolation())
    else:
        from pytest_lambda.backends.process import differences

        lines.append("lambda: process backend differs from Lambda: " + "; ".join(differences()))
    lines.append(settings_line)
    lines.append(async_line)
    lines.extend(account_lines)
    lines.append(_aws_hooks.header_line(state))
    return [*(redact(line) for line in lines), cache_line]


def _ready_line(setting: Resolved) -> str:
    from pytest_lambda.system.mounts import available

    why = f"from {setting.source}" if setting.value == "0" else available()
    if why is not None:
        return f"lambda: ready containers: off ({why}): each cold start creates its container"
    return (f"lambda: ready containers: {setting.value} of each kind started ahead of need "
            f"(from {setting.source})")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """Collect an xdist worker's dependency builds into the controller's summary."""
    output = getattr(node, "workeroutput", None) or {}
    config = getattr(node, "config", None)
    state = config.stash.get(STATE_KEY, None) if config is not None else None
    if state is not None and output.get("lambda_dependencies"):
        state.service().add_dependency_records(output["lambda_dependencies"])


def _engine() -> Any:
    """Return the `Engine` behind DOCKER_HOST, or None when none answers."""
    from pytest_lambda.containers.client import engine, get_client

    try:
        return engine(get_client())
    except Exception:
        return None


def _engine_name() -> str:
    """Name the engine the Docker backend drives ("Podman 4.3.1 (Docker API)") and where."""
    import os

    found = _engine()
    where = os.environ.get("DOCKER_HOST") or "the default socket"
    return f"{found.describe()} at {where}" if found is not None else f"none answers at {where}"


def _docker_isolation() -> str:
    """Say what isolates Docker functions here (see docs/security.md)."""
    import os

    from pytest_lambda.containers.firewall import predicted_reason

    found = _engine()
    blocked = predicted_reason(os.environ.get("DOCKER_HOST"),
                               rootless=found is not None and found.rootless)
    host = ("host services blocked but the Runtime API (nftables)" if blocked is None
            else f"host services reachable on the gateway ({blocked})")
    remapped = found is not None and found.remaps_users
    uid = ("uid 993 remapped by the engine (user namespaces)" if remapped
           else "uid 993 is host uid 993 (no userns-remap)")
    return f"Runtime API answers its own container only; {host}; {uid}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from pytest_lambda.system.redact import redact

    state = terminalreporter.config.stash.get(STATE_KEY, None)
    if state is None:
        return
    if state.settings["backend"].value == "auto":
        choice = state.backend_choice(probe=False)
        if choice is not None:
            terminalreporter.write_line(redact(f"lambda: backend={choice.name} ({choice.reason})"))
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
            redact(f"{runtime}: {choice.tag} ({choice.source}; {choice.reason})")
        )
    firewall = backend.firewall
    terminalreporter.write_line(
        f"host services: blocked for isolated functions (nftables table inet {firewall.table})"
        if firewall.active else f"host services: reachable from functions ({firewall.reason})"
    )


def pytest_sessionfinish(session: pytest.Session) -> None:
    # An xdist worker reports "finished" to the controller right after this hook, and the
    # controller then asks it to exit: execnet interrupts a worker still busy 5 s later and
    # kills it 10 s after that. Closing here, while the controller still waits, is not racing
    # that clock. (Elsewhere the terminal summary still reads the session's images: close at
    # unconfigure.)
    state = session.config.stash.get(STATE_KEY, None)
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None and state is not None:
        # An xdist worker hands its dependency builds to the controller, which prints the
        # summary.
        from dataclasses import asdict

        workeroutput["lambda_dependencies"] = [asdict(r) for r in state.dependency_records()]
    if hasattr(session.config, "workerinput") and state is not None:
        state.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is not None:
        state.close()
