"""Many concurrent invocations of one function: every result is accounted for."""

from __future__ import annotations

import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pytest_lambda import BackendName, FunctionFactory, InvokeResult, RuntimeName

TOTAL = 2_000
CONCURRENCY = 8


def _action(n: int) -> str:
    if n % 100 == 7:
        return "sleep"  # 20 timeouts
    if n % 25 == 0:
        return "raise"  # 80 exceptions
    return "return"


@pytest.mark.slow
def test_two_thousand_concurrent_invocations_are_all_accounted_for(
    lambda_function: FunctionFactory, functions_dir: Path, backend: BackendName,
    python_runtime: RuntimeName,
) -> None:
    fn = lambda_function(
        "app.handler", code=functions_dir / "stress", runtime=python_runtime, backend=backend,
        memory_size=256, timeout=1, name=f"stress-{backend}",
    )

    def call(n: int) -> tuple[int, InvokeResult]:
        return n, fn.invoke({"n": n, "action": _action(n), "seconds": 3})

    started = time.monotonic()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        results = list(pool.map(call, range(TOTAL)))
    elapsed = time.monotonic() - started
    print(f"\n{TOTAL} invocations at concurrency {CONCURRENCY} on {backend}: {elapsed:.1f} s")

    assert len(results) == TOTAL
    request_ids = [r.request_id for _n, r in results]
    assert len(set(request_ids)) == TOTAL
    all_ids = set(request_ids)
    seen: Counter[int] = Counter()
    outcomes: Counter[str] = Counter()
    for n, result in results:
        rid = result.request_id
        action = _action(n)
        outcomes[action] += 1
        if action == "return":
            assert result.function_error is None, (n, result, result.logs)
            assert result.payload == {"n": n, "request_id": rid}
            seen[result.payload["n"]] += 1
        elif action == "raise":
            assert result.function_error == "Unhandled", (n, result, result.logs)
            assert result.error is not None
            assert result.error["errorType"] == "ValueError"
            assert result.error["errorMessage"] == f"boom {n}"
            assert result.error["requestId"] == rid
            seen[int(result.error["errorMessage"].split()[1])] += 1
        else:
            assert result.function_error == "Unhandled", (n, result, result.logs)
            assert result.error == {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {rid} Error: Task timed out after 1.00 seconds",
            }
            seen[n] += 1
        lines = result.logs.splitlines()
        assert f"START RequestId: {rid} Version: $LATEST" in lines, (n, result.logs)
        assert f"END RequestId: {rid}" in lines, (n, result.logs)
        assert any(line.startswith(f"REPORT RequestId: {rid}\t") for line in lines), result.logs
        others = set(re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                                result.logs)) & all_ids
        assert others == {rid}, (n, result.logs)
    assert seen == Counter(range(TOTAL))  # each n exactly once: none lost, none duplicated
    assert outcomes == Counter({"return": 1_900, "raise": 80, "sleep": 20})
