"""`--lambda-aws` and the `lambda_aws` fixture as users meet them (pytester): the header, `off`,
an endpoint the user runs, one that does not answer, moto missing, the variables a test runs
with, and how long moto's state lives.

Every endpoint here is on this machine's loopback.
"""

from __future__ import annotations

import socket
import sys

import pytest

HOST_PYTHON = "python{}.{}".format(*sys.version_info[:2])

PROBE_APP = (
    "import os\n"
    "def handler(event, context):\n"
    "    return {k: v for k, v in os.environ.items() if k.startswith('AWS_')}\n"
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PYTEST_LAMBDA_BACKEND", "PYTEST_LAMBDA_AWS", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)


def _aws_line(result: pytest.RunResult) -> str:
    lines = [line for line in result.outlines if line.startswith("lambda: aws=")]
    assert len(lines) == 1, result.outlines
    return lines[0]


def _closed_port() -> int:
    """Return a loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _probe_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app=PROBE_APP)
    pytester.makepyfile(test_probe=f"""
        import json, pathlib
        def test_probe(lambda_function):
            fn = lambda_function("app.handler", code=pathlib.Path(__file__).parent,
                                 runtime={HOST_PYTHON!r})
            result = fn.invoke({{}})
            assert result.function_error is None, result.logs
            pathlib.Path("probe.json").write_text(json.dumps(result.payload))
    """)


# -- the header and the setting's sources -----------------------------------------------------


def test_the_header_says_moto_by_default(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest("--lambda-backend=process")
    assert _aws_line(result).startswith("lambda: aws=moto (from default): moto's server in this "
                                        "process, started on first need")
    result.assert_outcomes(passed=1)


def test_the_setting_comes_from_the_environment_and_the_ini_file(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile("def test_ok(): pass")
    pytester.makeini("[pytest]\nlambda_aws = http://localhost:4566\n")
    result = pytester.runpytest("--lambda-backend=process")
    assert _aws_line(result).startswith("lambda: aws=http://localhost:4566 (from ini lambda_aws)")
    monkeypatch.setenv("PYTEST_LAMBDA_AWS", "off")
    result = pytester.runpytest("--lambda-backend=process")
    assert _aws_line(result) == ("lambda: aws=off (from PYTEST_LAMBDA_AWS): functions get no "
                                 "AWS endpoint")
    result.assert_outcomes(passed=1)  # nothing is asked of an endpoint that is not needed


@pytest.mark.parametrize("value", ["motto", "ftp://localhost:21", "http://", "http://h:99999"])
def test_a_bad_value_is_one_usage_error(pytester: pytest.Pytester, value: str) -> None:
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest("--lambda-backend=process", f"--lambda-aws={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        f"ERROR: --lambda-aws: {value!r} is not an AWS endpoint: use moto, off, or an http(s) "
        f"URL with a host, such as http://localhost:4566."
    ])


# -- off ----------------------------------------------------------------------------------------


def test_off_gives_functions_credentials_but_no_endpoint(pytester: pytest.Pytester) -> None:
    _probe_test(pytester)
    result = pytester.runpytest("--lambda-backend=process", "--lambda-aws=off")
    result.assert_outcomes(passed=1)
    import json

    seen = json.loads((pytester.path / "probe.json").read_text())
    assert "AWS_ENDPOINT_URL" not in seen
    assert seen["AWS_ACCESS_KEY_ID"].startswith("ASIA")


def test_off_makes_lambda_aws_fail_in_one_sentence(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_aws(lambda_aws): pass")
    result = pytester.runpytest("--lambda-backend=process", "--lambda-aws=off")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "E   pytest_lambda.errors.AwsEndpointError: lambda_aws has no AWS endpoint to offer: "
        "--lambda-aws=off (from --lambda-aws); use moto (the default) or the URL of an "
        "endpoint you run."
    ])
    assert "endpoint.py" not in result.stdout.str()  # no harness frames


# -- an endpoint the user runs ------------------------------------------------------------------


def test_a_url_that_does_not_answer_fails_the_tests_that_need_it(
        pytester: pytest.Pytester) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    _probe_test(pytester)
    pytester.makepyfile(test_fixture="""
        def test_aws(lambda_aws): pass
        def test_unrelated(): pass
    """)
    result = pytester.runpytest("--lambda-backend=process", f"--lambda-aws={url}")
    result.assert_outcomes(passed=1, failed=1, errors=1)
    sentence = (f"The AWS endpoint {url} (from --lambda-aws) does not answer (Connection "
                f"refused): start it, or choose --lambda-aws=moto or --lambda-aws=off.")
    assert result.stdout.str().count(sentence) >= 2, result.stdout.str()


def test_a_url_the_user_runs_serves_the_functions_and_the_test(
        pytester: pytest.Pytester) -> None:
    from pytest_lambda.aws.server import MotoServer

    server = MotoServer("127.0.0.1")  # stands for LocalStack or a moto_server the user runs
    try:
        pytester.makepyfile(app=(
            "import os\n"
            "def handler(event, context):\n"
            "    return os.environ['AWS_ENDPOINT_URL']\n"
        ))
        pytester.makepyfile(test_url=f"""
            import pathlib
            def test_url(lambda_function, lambda_aws):
                assert lambda_aws.endpoint_url == {server.url!r}
                lambda_aws.client("s3").create_bucket(Bucket="users-own")
                fn = lambda_function("app.handler", code=pathlib.Path(__file__).parent,
                                     runtime={HOST_PYTHON!r})
                assert fn.invoke({{}}).payload == {server.url!r}

            def test_kept(lambda_aws):
                # An endpoint the user runs is theirs: the harness never resets it.
                names = [b["Name"] for b in lambda_aws.client("s3").list_buckets()["Buckets"]]
                assert "users-own" in names
        """)
        result = pytester.runpytest("--lambda-backend=process", f"--lambda-aws={server.url}",
                                    "-p", "no:randomly")
        result.assert_outcomes(passed=2)
    finally:
        # moto keeps one state per process: leave none of the user's bucket to later sessions
        # run in this process (pytester's).
        import boto3

        boto3.client("s3", endpoint_url=server.url, region_name="us-east-1",
                     aws_access_key_id="testing", aws_secret_access_key="testing",
                     ).delete_bucket(Bucket="users-own")
        server.close()


# -- moto not installed -------------------------------------------------------------------------

_NO_MOTO = "import sys\nsys.modules['moto'] = None  # as if moto were not installed\n"


def test_moto_missing_by_default_turns_the_endpoint_off_and_says_how_to_install(
        pytester: pytest.Pytester) -> None:
    pytester.makeconftest(_NO_MOTO)
    pytester.makepyfile("def test_aws(lambda_aws): pass")
    result = pytester.runpytest_subprocess("--lambda-backend=process")
    assert _aws_line(result) == (
        "lambda: aws=off (default, but moto is not installed: pip install "
        "'pytest-aws-lambda[aws]' (or 'moto[server]')): functions get no AWS endpoint")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "E   pytest_lambda.errors.AwsEndpointError: lambda_aws needs moto's server (the default "
        "--lambda-aws), but moto is not installed: pip install 'pytest-aws-lambda[aws]' (or "
        "'moto[server]')."
    ])


def test_moto_asked_for_but_missing_fails_in_one_sentence(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(_NO_MOTO)
    _probe_test(pytester)
    result = pytester.runpytest_subprocess("--lambda-backend=process", "--lambda-aws=moto")
    result.assert_outcomes(failed=1)
    assert ("E       pytest_lambda.errors.AwsEndpointError: --lambda-aws=moto (from "
            "--lambda-aws) needs moto's server, but moto is not installed: pip install "
            "'pytest-aws-lambda[aws]' (or 'moto[server]'), or choose --lambda-aws=off."
            ) in result.outlines
    assert "endpoint.py" not in result.stdout.str()  # the user's line, not the harness's


# -- the test process's variables ----------------------------------------------------------------


def test_a_test_runs_with_the_sessions_variables_and_leaves_os_environ_as_it_was(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "host-profile")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "https://s3.example.invalid")
    pytester.makepyfile("""
        import os
        import boto3
        import pytest

        HOST = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}

        @pytest.fixture
        def bucket(lambda_aws):
            boto3.client("s3").create_bucket(Bucket="from-a-fixture")
            yield "from-a-fixture"
            # The fixture's teardown runs with the session's variables too.
            boto3.client("s3").delete_bucket(Bucket="from-a-fixture")

        def test_uses_aws(lambda_aws, bucket):
            assert os.environ["AWS_ENDPOINT_URL"] == lambda_aws.endpoint_url
            assert os.environ["AWS_ACCESS_KEY_ID"].startswith("ASIA")
            assert "AWS_PROFILE" not in os.environ and "AWS_ENDPOINT_URL_S3" not in os.environ
            assert os.environ["AWS_DEFAULT_REGION"] == lambda_aws.region == "us-east-1"
            names = [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]
            assert names == [bucket]
            assert [b["Name"] for b in lambda_aws.client("s3").list_buckets()["Buckets"]] == names

        def test_after(lambda_aws):
            pass

        def test_without_aws():
            now = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
            assert now == HOST
    """)
    result = pytester.runpytest("--lambda-backend=process")
    result.assert_outcomes(passed=3)
    import os

    assert os.environ["AWS_PROFILE"] == "host-profile"
    assert "AWS_ENDPOINT_URL" not in os.environ


# -- how long the state lives --------------------------------------------------------------------


def test_state_is_reset_per_test_and_kept_for_a_module_that_asks(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a_kept="""
        import pytest
        pytestmark = pytest.mark.lambda_aws_state("module")

        @pytest.fixture(scope="module")
        def bucket(lambda_aws):
            lambda_aws.client("s3").create_bucket(Bucket="made-once")
            return "made-once"

        def test_one(lambda_aws, bucket):
            lambda_aws.client("s3").put_object(Bucket=bucket, Key="one", Body=b"1")

        def test_two(lambda_aws, bucket):
            keys = lambda_aws.client("s3").list_objects_v2(Bucket=bucket)["Contents"]
            assert [k["Key"] for k in keys] == ["one"]
    """)
    pytester.makepyfile(test_b_fresh="""
        def test_empty_again(lambda_aws):
            assert lambda_aws.client("s3").list_buckets()["Buckets"] == []
            lambda_aws.client("s3").create_bucket(Bucket="mine")

        def test_and_again(lambda_aws):
            assert lambda_aws.client("s3").list_buckets()["Buckets"] == []
    """)
    result = pytester.runpytest("--lambda-backend=process", "-p", "no:randomly")
    result.assert_outcomes(passed=4)


def test_a_bad_state_marker_fails_in_one_sentence(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.lambda_aws_state("forever")
        def test_it(lambda_aws):
            pass
    """)
    result = pytester.runpytest("--lambda-backend=process")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*@pytest.mark.lambda_aws_state('forever') is not valid: pass one of 'test', 'module', "
        "'session'."
    ])


def test_lambda_aws_explains_itself_in_pytest_fixtures(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--fixtures", "--lambda-backend=process")
    result.stdout.fnmatch_lines(["lambda_aws* -- *", "*Return the session's AWS endpoint*"])
