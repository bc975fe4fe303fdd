"""`python -m pytest_lambda event ...`: the same events as the builders, as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from pytest_lambda import events
from pytest_lambda.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("name", sorted(events.BUILDERS))
def test_every_event_prints_as_json_with_its_defaults(
    capsys: pytest.CaptureFixture[str], name: str
) -> None:
    code, out, err = run(capsys, "event", name)
    assert (code, err) == (0, "")
    printed = json.loads(out)
    built = events.BUILDERS[name]()
    assert _shape(printed) == _shape(built)


def _shape(value: Any) -> Any:
    """Return the keys and value types of an event, ignoring values (ids and times differ)."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__


def test_parameters_are_converted_from_their_types(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "event", "sqs", "--body", "hi", "--queue", "jobs.fifo", "--receive-count", "3",
        "--message-attributes", '{"n": 1}', "--time=2024-01-02T03:04:05Z",
    )
    assert code == 0
    record = json.loads(out)["Records"][0]
    assert record["body"] == "hi"
    assert record["attributes"]["ApproximateReceiveCount"] == "3"
    assert record["attributes"]["SentTimestamp"] == "1704164645000"
    assert record["messageAttributes"]["n"]["dataType"] == "Number"
    assert record["eventSourceARN"].endswith(":jobs.fifo")


def test_batch_builders_take_their_items_and_the_single_builders_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "event", "sqs-batch", "--bodies", '["a", {"b": 1}]',
                         "--queue", "jobs.fifo", "--receive-count", "2")
    assert (code, err) == (0, "")
    records = json.loads(out)["Records"]
    assert [r["body"] for r in records] == ["a", '{"b":1}']
    assert {r["attributes"]["MessageGroupId"] for r in records} == {"default"}
    assert {r["attributes"]["ApproximateReceiveCount"] for r in records} == {"2"}
    assert len({r["messageId"] for r in records}) == 2
    code, out, err = run(capsys, "event", "kinesis-batch", "--items", "one,two,three",
                         "--stream", "orders")
    assert (code, err) == (0, "")
    records = json.loads(out)["Records"]
    assert [r["kinesis"]["data"] for r in records] == ["b25l", "dHdv", "dGhyZWU="]
    assert {r["eventSourceARN"].rsplit("/", 1)[1] for r in records} == {"orders"}
    code, out, _ = run(capsys, "event", "sqs-batch", "--help")
    assert code == 0 and "--bodies" in out and "--queue" in out and "--message-id" not in out
    code, _, err = run(capsys, "event", "sqs-batch", "--message-id", "x")
    assert code == 2 and "sqs-batch has no parameter --message-id" in err


def test_lists_and_booleans(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "event", "dynamodb-remove", "--old-image", '{"pk": "a", "sk": 1}',
                       "--key-names", "pk,sk", "--ttl", "true")
    assert code == 0
    record = json.loads(out)["Records"][0]
    assert record["dynamodb"]["Keys"] == {"pk": {"S": "a"}, "sk": {"N": "1"}}
    assert record["userIdentity"]["principalId"] == "dynamodb.amazonaws.com"
    code, out, _ = run(capsys, "event", "alb", "--multi-value-headers", "yes")
    assert "multiValueHeaders" in json.loads(out)


def test_list_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "event", "--list")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == sorted(events.BUILDERS)
    code, out, _ = run(capsys, "event", "s3-put", "--help")
    assert code == 0
    assert "--bucket" in out and "'example-bucket'" in out
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "event" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["event", "nope"], "unknown event 'nope'; choose one of alb, "),
    (["event", "sqs", "--nope", "1"], "sqs has no parameter --nope; its parameters are --body"),
    (["event", "sqs", "--body"], "--body needs a value"),
    (["event", "sqs", "body"], "expected --param value, got 'body'"),
    (["event", "sqs", "--receive-count", "many"], "--receive-count takes a whole number"),
    (["event", "sqs", "--message-attributes", "{"], "--message-attributes takes a JSON object"),
    (["event", "sqs", "--time", "yesterday"], "--time takes an ISO 8601 time"),
    (["event", "alb", "--multi-value-headers", "maybe"], "takes true or false"),
    (["event", "sqs", "--receive-count", "0"], "receive_count must be a whole number"),
    (["event", "eventbridge", "--detail", "[1]"], "detail must be a dict"),
    (["event", "dynamodb-insert", "--new-image", '{"x": 1}'], "no key attribute 'id'"),
    (["event", "api-gateway-rest", "--headers", '{"a": [1]}'], "headers['a']"),
    (["nope"], "unknown command 'nope'"),
])
def test_bad_input_is_one_sentence_and_exit_code_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and err.strip().endswith(".")


def test_missing_arguments_print_usage_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([], ["event"]):
        code, out, err = run(capsys, *argv)
        assert code == 2 and "usage:" in err and out == ""


def test_runs_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest_lambda", "event", "kinesis", "--data", "hello"],
        capture_output=True, text=True, check=False, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)["Records"][0]
    assert record["kinesis"]["data"] == "aGVsbG8="
    bad = subprocess.run(
        [sys.executable, "-m", "pytest_lambda", "event", "kinesis", "--nope"],
        capture_output=True, text=True, check=False, timeout=60,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_build_images_prints_tags_without_docker(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_lambda.containers import client as _docker
    from pytest_lambda.images import recipes

    def no_engine() -> None:
        raise AssertionError("--print-tags must not contact Docker")

    monkeypatch.setattr(_docker, "get_client", no_engine)
    assert main(["build-images", "--print-tags", "--runtime", "python3.13",
                 "--runtime", "provided.al2023"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        recipes.hermetic_tag("python3.13"), recipes.hermetic_tag("provided.al2023"),
    ]
    assert main(["build-images", "--print-tags", "--architecture", "arm64",
                 "--runtime", "python3.13"]) == 0
    assert capsys.readouterr().out == recipes.hermetic_tag("python3.13", arch="arm64") + "\n"


def test_build_images_print_tags_lists_every_hermetic_image_by_default(
    capsys: pytest.CaptureFixture[str]
) -> None:
    # What CI's image cache keys on: every runtime with a hermetic image, and none other.
    from pytest_lambda.config.runtimes import hermetic_runtimes
    from pytest_lambda.images import recipes

    assert main(["build-images", "--print-tags"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert sorted(out) == sorted(recipes.hermetic_tag(name) for name in hermetic_runtimes())


def test_build_images_print_tags_refuses_what_it_does_not_build(
    capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_lambda.config.arch import host_architecture

    if host_architecture() != "x86_64":
        pytest.skip("Node.js images are refused for arm64 only on an x86_64 host")
    code = main(["build-images", "--print-tags", "--architecture", "arm64",
                 "--runtime", "nodejs22.x"])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert captured.err.startswith("pytest-lambda: pytest-aws-lambda builds nodejs22.x images "
                                   "for this host's architecture")
