"""pytest-cov: lines run inside Docker and process environments join the report (pytester)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_lambda import BackendName, RuntimeName

APP = '''import os
import sys


def handler(event, context):
    if event.get("probe"):
        names = [k for k in os.environ if "PYTEST_LAMBDA" in k or k == "AWS_LAMBDA_EXEC_WRAPPER"]
        return {"coverage": "coverage" in sys.modules, "env": sorted(names)}
    if event.get("branch") == "a":
        word = "took"
        return {"result": word + " a"}
    else:
        word = "went"
        return {"result": word + " b"}
'''

# The lines only the "b" branch runs (the `else:` line itself is not a statement).
B_LINES = "13-14"

UTIL = '''def double(x):
    return 2 * x


def never():
    return 0
'''

TEST_A = '''
from pathlib import Path

import util

RUNTIME = {runtime!r}


def test_branch_a(lambda_function):
    fn = lambda_function("app.handler", code=Path(__file__).parent / "src", runtime=RUNTIME)
    assert fn.invoke({{"branch": "a"}}).payload == {{"result": "took a"}}
    probe = fn.invoke({{"probe": True}}).payload
    # The launcher's variables are gone before the function runs; coverage only with --cov.
    assert probe == {{"coverage": {covered}, "env": []}}, probe
    fn.reset()  # the environment (a container) is removed before the session ends


def test_in_process():
    assert util.double(2) == 4
'''


def _report_line(output: str, name: str) -> str:
    for line in output.splitlines():
        if line.startswith(name + " "):
            return line
    raise AssertionError(f"no line for {name} in the report:\n{output}")


def _project(pytester: pytest.Pytester, runtime: str, covered: bool) -> None:
    src = pytester.mkdir("src")
    (src / "app.py").write_text(APP)
    (src / "util.py").write_text(UTIL)
    pytester.makeini("[pytest]\npythonpath = src\n")
    pytester.makepyfile(test_a=TEST_A.format(runtime=runtime, covered=covered))


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, backend: BackendName,
         *args: str) -> pytest.RunResult:
    tmp = pytester.mkdir("tmp")
    monkeypatch.setenv("TMPDIR", str(tmp))  # where the session's coverage directory goes
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.delenv("COV_CORE_SOURCE", raising=False)
    return pytester.runpytest_subprocess(f"--lambda-backend={backend}", "-p", "no:cacheprovider",
                                         *args, timeout=300)


def _leftovers(root: Path) -> list[str]:
    """Return coverage files other than pytest-cov's own .coverage, anywhere under `root`."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if (p.name.startswith(".coverage") and p != root / ".coverage")
                  or p.name.startswith("pytest-lambda-coverage"))


@pytest.mark.parametrize("options", [
    ["--cov=src"],
    ["--cov=src", "-n", "2"],
    ["--cov=app", "--cov=util"],  # packages, not directories
], ids=["serial", "xdist", "packages"])
def test_function_lines_join_pytest_covs_report(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, backend: BackendName,
        python_runtime: RuntimeName, options: list[str]) -> None:
    _project(pytester, python_runtime, covered=True)
    result = _run(pytester, monkeypatch, backend, *options, "--cov-report=term-missing")
    result.assert_outcomes(passed=2)
    output = result.stdout.str()
    app = _report_line(output, "src/app.py")
    # Only the other branch is missing: the handler's lines ran in the environment.
    assert app.split("%", 1)[1].strip() == B_LINES, app
    util = _report_line(output, "src/util.py")
    assert util.split()[-1] == "6", util  # the in-process test's lines, in the same report
    assert "never imported" not in output  # coverage.py is told the environment imported it
    assert _leftovers(pytester.path) == []
    assert sorted(p.name for p in (pytester.path / "src").iterdir()
                  if p.name != "__pycache__") == ["app.py", "util.py"]


def test_without_cov_nothing_is_measured(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, backend: BackendName,
        python_runtime: RuntimeName) -> None:
    _project(pytester, python_runtime, covered=False)
    result = _run(pytester, monkeypatch, backend)
    result.assert_outcomes(passed=2)  # the function's probe saw no coverage module
    assert "coverage" not in result.stdout.str()
    assert _leftovers(pytester.path) == []
    assert not (pytester.path / ".coverage").exists()


WRAPPED_APP = '''import os


def handler(event, context):
    return {"wrapped": os.environ.get("WRAPPED"),
            "wrapper": os.environ.get("AWS_LAMBDA_EXEC_WRAPPER")}
'''

WRAPPER = '''#!/bin/sh
export WRAPPED=yes
exec "$@"
'''


@pytest.mark.parametrize("backend", ["docker"], indirect=True)  # Docker only: see below
def test_a_functions_own_exec_wrapper_still_runs_around_the_measured_runtime(
        tmp_path: Path, backend: BackendName) -> None:
    from coverage import CoverageData

    from pytest_lambda import LambdaService
    from pytest_lambda.backends.instrument import CoverageRequest, new_coverage_root

    # (The process backend starts the bootstrap itself and has no exec wrapper to honour.)
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(WRAPPED_APP)
    (code / "wrap.sh").write_text(WRAPPER)
    (code / "wrap.sh").chmod(0o755)
    code.chmod(0o755)
    with LambdaService(backend="docker") as service:
        service.coverage = CoverageRequest(branch=False, root=new_coverage_root())
        fn = service.function("app.handler", code=code, runtime="python3.13",
                              environment={"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/wrap.sh"},
                              memory_size=1769)  # coverage.py's start at 128 MB's share is slow
        result = fn.invoke({})
        assert result.payload == {"wrapped": "yes", "wrapper": "/var/task/wrap.sh"}, result.logs
        data = CoverageData(no_disk=True)
        assert service.collect_coverage([str(code)], data) == 1
        assert {1, 4, 5} <= set(data.lines(str(code / "app.py")) or [])
        root = service.coverage.root
    assert not root.exists()  # the session's coverage directory goes with the service


DEPS_APP = '''import pldeps_probe


def handler(event, context):
    return pldeps_probe.VALUE
'''


def test_code_merged_with_its_dependencies_is_reported_at_its_own_files(
        tmp_path: Path, wheel_index: Path, backend: BackendName,
        python_runtime: RuntimeName) -> None:
    from coverage import CoverageData

    from pytest_lambda import LambdaService
    from pytest_lambda.backends.instrument import CoverageRequest, new_coverage_root

    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(DEPS_APP)
    (code / "requirements.txt").write_text(
        f"--no-index\n--find-links {wheel_index}\npldeps_probe==2.0\n")
    code.chmod(0o755)
    with LambdaService(backend=backend) as service:
        service.coverage = CoverageRequest(branch=False, root=new_coverage_root())
        fn = service.function("app.handler", code=code, runtime=python_runtime,
                              requirements=True, memory_size=1769)  # a whole CPU, as above
        assert fn.config.code_dir != code  # /var/task is the code over its dependencies
        assert fn.invoke({}).payload == "two"
        data = CoverageData(no_disk=True)
        service.collect_coverage([], data)
        # The function's own file, at its own path; not the dependency it imported.
        assert sorted(data.measured_files()) == [str(code / "app.py")]
        assert {1, 4, 5} <= set(data.lines(str(code / "app.py")) or [])


SLOW_APP = '''import time


def handler(event, context):
    started = "yes"
    time.sleep(event["sleep"])
    return started
'''


def test_the_lines_of_an_invocation_that_times_out_are_kept(
        tmp_path: Path, backend: BackendName, python_runtime: RuntimeName) -> None:
    from coverage import CoverageData

    from pytest_lambda import LambdaService
    from pytest_lambda.backends.instrument import CoverageRequest, new_coverage_root

    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(SLOW_APP)
    code.chmod(0o755)
    with LambdaService(backend=backend) as service:
        service.coverage = CoverageRequest(branch=False, root=new_coverage_root())
        # A whole CPU, so the save is not throttled; 3 s, so that a busy machine still reaches
        # the sleep before the deadline.
        fn = service.function("app.handler", code=code, runtime=python_runtime, timeout=3,
                              memory_size=1769)
        late = fn.invoke({"sleep": 10})
        assert late.error is not None and late.error["errorType"] == "Sandbox.Timedout"
        data = CoverageData(no_disk=True)
        service.collect_coverage([], data)
        lines = set(data.lines(str(code / "app.py")) or [])
    # The handler's lines up to the sleep ran before the environment was killed; not the return.
    assert {5, 6} <= lines and 7 not in lines, lines


COUNTING_APP = '''import os


def handler(event, context):
    for path in ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu.max"):
        if os.path.exists(path):
            with open(path) as f:
                return f.read().split()[0]
'''


@pytest.mark.parametrize("backend", ["docker"], indirect=True)
def test_each_measured_invocation_runs_under_its_cpu_share_and_counts(
        tmp_path: Path, backend: BackendName) -> None:
    """The launcher saves between invocations with the host's CPU (lifted only while it saves),
    so every invocation still runs under its memory's share, and every one's lines count."""
    from coverage import CoverageData

    from pytest_lambda import LambdaService
    from pytest_lambda.backends.docker.sandbox import cpu_quota
    from pytest_lambda.backends.instrument import CoverageRequest, new_coverage_root

    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(COUNTING_APP)
    code.chmod(0o755)
    with LambdaService(backend="docker") as service:
        service.coverage = CoverageRequest(branch=False, root=new_coverage_root())
        fn = service.function("app.handler", code=code, runtime="python3.13", memory_size=128)
        quotas = [fn.invoke({}).payload for _ in range(4)]
        data = CoverageData(no_disk=True)
        assert service.collect_coverage([str(code)], data) == 1
    assert quotas == [str(cpu_quota(128))] * 4
    assert {4, 5, 6, 7, 8} <= set(data.lines(str(code / "app.py")) or [])
