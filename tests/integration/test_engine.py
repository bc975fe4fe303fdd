"""The engine without pytest, and functions made at module scope."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_lambda import BackendName, RuntimeName

FUNCTIONS = Path(__file__).resolve().parents[1] / "functions"


def test_the_engine_runs_in_a_plain_script(backend: BackendName, python_runtime: RuntimeName,
                                           tmp_path: Path) -> None:
    runtime = python_runtime
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        from pytest_lambda import LambdaService

        with LambdaService(backend={backend!r}) as service:
            fn = service.function("app.handler", code={str(FUNCTIONS / "hello")!r},
                                  runtime={runtime!r}, environment={{"GREETING": "hi"}})
            result = fn.invoke({{"name": "script"}})
            print(result.payload["message"], result.function_error)
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "hi script None"


def test_a_module_scoped_fixture_makes_a_function_once(
    pytester: pytest.Pytester, backend: BackendName, python_runtime: RuntimeName,
) -> None:
    runtime = python_runtime
    pytester.makepyfile(f"""
        import pytest

        made = []

        @pytest.fixture(scope="module")
        def hello(lambda_service):
            made.append(1)
            return lambda_service.function("app.handler", code={str(FUNCTIONS / "hello")!r},
                                           runtime={runtime!r})

        @pytest.mark.parametrize("name", ["a", "b", "c"])
        def test_hello(hello, name):
            assert hello.invoke({{"name": name}}).payload == {{"message": f"hello {{name}}"}}
            assert made == [1]
    """)
    result = pytester.runpytest_subprocess(f"--lambda-backend={backend}", "-p",
                                           "no:cacheprovider")
    result.assert_outcomes(passed=3)
