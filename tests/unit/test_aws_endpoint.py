"""The session's AWS endpoint without environments: setting values, the views backends get,
where moto's server listens, reset, and what the test process is given.

Every address used here is on this machine's loopback, or one a bind refuses (no packet is sent).
"""

from __future__ import annotations

import http.server
import socket
import sys
import threading
from collections.abc import Iterator

import pytest

from pytest_lambda.aws import AwsEndpoint, AwsEndpointWarning
from pytest_lambda.aws.endpoint import REFUSED_URL, is_loopback, moto_missing
from pytest_lambda.config.settings import check_aws
from pytest_lambda.errors import AwsEndpointError, ConfigurationError

#: TEST-NET-1 (RFC 5737): never an address of this machine, so a bind there fails at once.
NOT_LOCAL = "192.0.2.1"


@pytest.fixture
def endpoint() -> Iterator[AwsEndpoint]:
    made = AwsEndpoint()
    yield made
    made.close()


@pytest.mark.parametrize("value, kind", [
    ("moto", "moto"), ("off", "off"), ("http://localhost:4566", "url"),
    ("https://aws.internal.example:8443/", "url"), ("http://[::1]:5000", "url"),
])
def test_setting_values(value: str, kind: str) -> None:
    assert check_aws(value) == kind


@pytest.mark.parametrize("value", ["", "Moto", "localhost:4566", "ftp://h", "http://", "http://h:x"])
def test_bad_setting_values_are_one_sentence(value: str) -> None:
    with pytest.raises(ConfigurationError, match=r"is not an AWS endpoint: use moto, off, or an "
                                                 r"http\(s\) URL with a host"):
        check_aws(value)


def test_credentials_are_shaped_like_an_execution_roles(endpoint: AwsEndpoint) -> None:
    creds = endpoint.credentials
    assert creds.access_key_id.startswith("ASIA") and len(creds.access_key_id) == 20
    assert creds.access_key_id[4:].isalnum() and creds.access_key_id.isupper()
    assert len(creds.secret_access_key) == 40 and len(creds.session_token) > 100
    assert AwsEndpoint().credentials != creds  # per session


def test_moto_listens_only_on_the_address_asked_for(endpoint: AwsEndpoint) -> None:
    view = endpoint.endpoint_for("127.0.0.1")
    assert view is not None and view.host_port is not None
    assert view.url == f"http://127.0.0.1:{view.host_port}"
    with socket.create_connection(("127.0.0.1", view.host_port), timeout=2):
        pass
    # The rest of 127/8 is this machine too: a server on every interface would answer there.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", view.host_port), timeout=2).close()
    assert endpoint.endpoint_for("127.0.0.1") == view  # one server per address


def test_every_address_serves_one_state(endpoint: AwsEndpoint) -> None:
    other = endpoint.endpoint_for("127.0.0.3")
    assert other is not None and other.url != endpoint.endpoint_url
    endpoint.client("s3").create_bucket(Bucket="seen-everywhere")
    import boto3

    creds = endpoint.credentials
    s3 = boto3.client("s3", endpoint_url=other.url, region_name="us-east-1",
                      aws_access_key_id=creds.access_key_id,
                      aws_secret_access_key=creds.secret_access_key)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["seen-everywhere"]


def test_an_address_not_on_this_machine_gets_a_refusing_endpoint_and_one_warning(
        endpoint: AwsEndpoint) -> None:
    with pytest.warns(AwsEndpointWarning, match=f"gateway is {NOT_LOCAL} get no AWS endpoint"):
        view = endpoint.endpoint_for(NOT_LOCAL)
    assert view is not None and view.url == REFUSED_URL and view.host_port is None
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert endpoint.endpoint_for(NOT_LOCAL) == view  # said once


def test_reset_empties_every_service(endpoint: AwsEndpoint) -> None:
    endpoint.client("s3").create_bucket(Bucket="gone-soon")
    endpoint.client("sqs").create_queue(QueueName="gone-soon")
    endpoint.reset()
    assert endpoint.client("s3").list_buckets()["Buckets"] == []
    assert "QueueUrls" not in endpoint.client("sqs").list_queues()


def test_reset_between_tests_only_once_something_served() -> None:
    endpoint = AwsEndpoint()
    try:
        endpoint.reset_if_started()
        assert not endpoint.started  # nothing was started to reset nothing
    finally:
        endpoint.close()


def test_the_test_process_gets_the_sessions_variables(endpoint: AwsEndpoint) -> None:
    import os

    variables = endpoint.test_environment()
    assert variables["AWS_ENDPOINT_URL"] == endpoint.endpoint_url
    assert variables["AWS_ACCESS_KEY_ID"] == endpoint.credentials.access_key_id
    assert variables["AWS_REGION"] == variables["AWS_DEFAULT_REGION"] == "us-east-1"
    assert variables["AWS_CONFIG_FILE"] == variables["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
    assert endpoint.account_id == "123456789012"


def test_off_gives_no_endpoint_and_lambda_aws_one_sentence() -> None:
    endpoint = AwsEndpoint("off", "--lambda-aws")
    assert endpoint.endpoint_for("127.0.0.1") is None
    endpoint.check()  # functions are fine without one
    with pytest.raises(AwsEndpointError, match=r"^lambda_aws has no AWS endpoint to offer: "
                                               r"--lambda-aws=off \(from --lambda-aws\)"):
        endpoint.require()


@pytest.mark.parametrize("url, address, seen, port", [
    # The test process and host processes use the URL as given.
    ("http://localhost:4566", "127.0.0.1", "http://localhost:4566", 4566),
    # Inside a container loopback is the container: the host is the network's gateway.
    ("http://localhost:4566", "172.30.0.1", "http://172.30.0.1:4566", 4566),
    ("http://127.0.0.1:4566/", "172.30.0.1", "http://172.30.0.1:4566/", 4566),
    ("https://[::1]/", "172.30.0.1", "https://172.30.0.1:443/", 443),
    # The gateway itself: let through the firewall, unchanged.
    ("http://172.30.0.1:9000", "172.30.0.1", "http://172.30.0.1:9000", 9000),
    # Elsewhere: unchanged, and no host port of this machine to open.
    ("http://aws.internal.example", "172.30.0.1", "http://aws.internal.example", None),
])
def test_a_url_as_each_environment_sees_it(url: str, address: str, seen: str,
                                           port: int | None) -> None:
    endpoint = AwsEndpoint(url, "--lambda-aws")
    endpoint._probed = True  # as if it answered: these hosts are not contacted here
    view = endpoint.endpoint_for(address)
    assert view is not None and (view.url, view.host_port) == (seen, port)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_url_that_does_not_answer_is_one_sentence_every_time() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    endpoint = AwsEndpoint(url, "PYTEST_LAMBDA_AWS")
    sentence = (f"The AWS endpoint {url} (from PYTEST_LAMBDA_AWS) does not answer (Connection "
                f"refused): start it, or choose --lambda-aws=moto or --lambda-aws=off.")
    for call in (endpoint.check, lambda: endpoint.endpoint_for("127.0.0.1"), endpoint.require):
        with pytest.raises(AwsEndpointError) as caught:
            call()
        assert str(caught.value) == sentence


def test_reset_of_an_endpoint_without_moto_s_reset_api_is_one_sentence() -> None:
    class NotMoto(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotMoto)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        endpoint = AwsEndpoint(url, "--lambda-aws")
        endpoint.reset_if_started()  # never automatically: the endpoint is the user's
        with pytest.raises(AwsEndpointError, match=r"\(HTTP 404\): only moto has a reset API"):
            endpoint.reset()
    finally:
        server.shutdown()
        server.server_close()


def test_moto_missing_is_detected_without_importing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert moto_missing() is None
    monkeypatch.setitem(sys.modules, "moto", None)  # what an absent package looks like
    assert moto_missing() == "moto is not installed"
    default = AwsEndpoint()
    assert default.mode == "off"
    assert default.describe().startswith("off (default, but moto is not installed: pip install")
    asked = AwsEndpoint("moto", "--lambda-aws")
    with pytest.raises(AwsEndpointError, match=r"needs moto's server, but moto is not installed"):
        asked.check()


def test_close_releases_the_ports() -> None:
    endpoint = AwsEndpoint()
    view = endpoint.endpoint_for("127.0.0.1")
    assert view is not None and view.host_port is not None
    endpoint.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", view.host_port), timeout=2).close()


@pytest.mark.parametrize("host, loopback", [
    ("localhost", True), ("127.0.0.1", True), ("127.5.0.1", True), ("::1", True),
    ("[::1]", True), ("172.17.0.1", False), ("example.com", False),
])
def test_loopback_names(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
