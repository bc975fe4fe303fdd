"""The session's network: what a user is told when the engine cannot make one."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_lambda.containers.client import SessionLabels, SessionNetwork
from pytest_lambda.errors import BackendUnavailableError

POOL_EXHAUSTED = ("could not find an available, non-overlapping IPv4 address pool among the "
                  "defaults to assign to the network")


class _Api:
    def __init__(self, networks: list[dict[str, Any]]) -> None:
        self._networks = networks

    def create_network(self, name: str, **kwargs: Any) -> dict[str, Any]:
        import docker.errors

        raise docker.errors.APIError(f"500 Server Error: Internal Server Error "
                                     f"(\"{POOL_EXHAUSTED}\")")

    def networks(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self._networks


class _Client:
    def __init__(self, networks: list[dict[str, Any]]) -> None:
        self.api = _Api(networks)


def _labels(pid: int) -> dict[str, str]:
    me = SessionLabels.current()
    return {**me.as_dict(), "pytest-lambda.session": f"s{pid}", "pytest-lambda.pid": str(pid)}


def test_an_engine_out_of_address_pools_gets_one_sentence_that_says_what_to_do() -> None:
    dead = 2**22 + 1  # above any pid_max this test runs with: never a live process
    networks = [{"Name": f"pytest-lambda-s{dead}", "Labels": _labels(dead)},
                {"Name": "someone-elses", "Labels": {}}]
    with pytest.raises(BackendUnavailableError) as raised:
        SessionNetwork(_Client(networks), SessionLabels.current())
    message = str(raised.value)
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence
    assert "no address range left" in message
    assert "1 of them left by pytest-aws-lambda sessions that have ended" in message
    assert "restart" in message and "docker network prune" in message
