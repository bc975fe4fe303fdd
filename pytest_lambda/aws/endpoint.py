"""The session's AWS endpoint, and what the test process and the environments are told about it.

One object per pytest process (`--lambda-aws`):

- `moto` (the default): moto's server runs in this process, started on first need, on exactly
  the addresses environments use: loopback for the test process and the process backend, each
  Docker network's gateway for containers (never every interface). All of them serve one moto
  state, which `mock_aws` in the test process shares.
- a URL: an endpoint the user runs (LocalStack, a moto server elsewhere). Checked once, on first
  need; one that does not answer fails the test that needed it, naming it. A loopback URL is
  rewritten for containers to their network's gateway, where this machine answers them.
- `off`: functions get no endpoint (they still get fake credentials, never the host's).

Every environment gets fake credentials shaped like an execution role's (`ASIA...` key id,
secret, session token); the test process gets the same while a test that uses `lambda_aws` runs.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import warnings
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from pytest_lambda.config.settings import check_aws
from pytest_lambda.errors import AwsEndpointError

if TYPE_CHECKING:
    from pytest_lambda.backends.base import AwsEndpointView, Credentials

DEFAULT_REGION = "us-east-1"

#: How to get moto's server, as every message says it.
MOTO_INSTALL = "pip install 'pytest-aws-lambda[aws]' (or 'moto[server]')"

#: An endpoint that refuses at once: a container's own loopback, where nothing listens.
REFUSED_URL = "http://127.0.0.1:9"

_LOOPBACK = "127.0.0.1"


class AwsEndpointWarning(UserWarning):
    """Functions on some network cannot reach the session's AWS endpoint."""


def moto_missing() -> str | None:
    """Return what of moto's server is not installed here, or None (without importing it)."""
    import importlib.util

    for module, what in (("moto", "moto"), ("flask", "moto's server (flask)"),
                         ("werkzeug", "moto's server (werkzeug)"),
                         ("boto3", "boto3")):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return f"{what} is not installed"
    return None


def _mode(setting: str, source: str) -> tuple[str, str | None, str | None]:
    """Return (mode, why it is off, what of moto is missing) for the `aws` setting."""
    kind = check_aws(setting)
    if kind == "off":
        return "off", f"from {source}", None
    if kind == "moto" and source == "default":
        missing = moto_missing()
        if missing is not None:  # asked for by nobody: no endpoint, and the header says why
            return "off", f"default, but {missing}: {MOTO_INSTALL}", missing
    return kind, None, None


def describe(setting: str, source: str) -> str:
    """Return the header's words for the `aws` setting (nothing is started or imported)."""
    mode, reason, _missing = _mode(setting, source)
    if mode == "off":
        return f"off ({reason}): functions get no AWS endpoint"
    if mode == "url":
        return (f"{setting} (from {source}): functions get it as AWS_ENDPOINT_URL, with fake "
                f"role credentials")
    return (f"moto (from {source}): moto's server in this process, started on first need, on "
            f"loopback and the session network's gateway; functions get it as "
            f"AWS_ENDPOINT_URL, with fake role credentials")


def is_loopback(host: str) -> bool:
    """Return whether `host` names this machine's loopback ("localhost", 127.x, ::1)."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class AwsEndpoint:
    """The session's AWS: its endpoint on each address, its credentials, its state.

    The `lambda_aws` fixture returns it. `client(service)` and `resource(service)` are boto3's,
    on the endpoint with the session's credentials and `region`; `reset()` empties moto's state.
    """

    def __init__(self, setting: str = "moto", source: str = "default", *,
                 region: str = DEFAULT_REGION) -> None:
        self.setting = setting
        self.source = source
        self.region = region
        mode, reason, missing = _mode(setting, source)
        #: "moto", "url" or "off".
        self.mode = mode
        #: Why functions get no endpoint, when `mode` is "off".
        self.reason = reason
        self._missing = missing
        from pytest_lambda.backends.base import Credentials

        self._credentials = Credentials.generate()
        self._lock = threading.Lock()
        self._servers: dict[str, Any] = {}
        self._error: AwsEndpointError | None = None
        self._probed = False
        self._moto_found = False
        self._warned: set[str] = set()
        self._clients: dict[tuple[str, str], Any] = {}
        self._account_id: str | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"<AwsEndpoint {self.describe()}>"

    # -- what environments are told (backends.base.AwsAccess) -----------------------------------

    @property
    def credentials(self) -> Credentials:
        """The session's fake execution-role credentials."""
        return self._credentials

    def endpoint_for(self, address: str) -> AwsEndpointView | None:
        """Return the endpoint as an environment that reaches this host at `address` sees it.

        Starts moto's server on `address` on first need. None under `off`.
        """
        from pytest_lambda.backends.base import AwsEndpointView

        if self.mode == "off":
            return None
        if self.mode == "url":
            self._probe()
            return self._url_view(address)
        try:
            server = self._server(address)
        except OSError as exc:
            if is_loopback(address):
                raise AwsEndpointError(
                    f"moto's server cannot listen on {address}: {exc.strerror or exc}."
                ) from None
            self._warn_unreachable(address, exc)
            return AwsEndpointView(REFUSED_URL)
        return AwsEndpointView(server.url, server.port)

    def _warn_unreachable(self, address: str, exc: OSError) -> None:
        with self._lock:
            if address in self._warned:
                return
            self._warned.add(address)
        warnings.warn(AwsEndpointWarning(
            f"Functions on the Docker network whose gateway is {address} get no AWS endpoint: "
            f"moto's server cannot listen there ({exc.strerror or exc}; the engine runs "
            f"elsewhere, in a VM or on another machine). Run an endpoint those containers "
            f"reach and pass --lambda-aws=URL, or --lambda-aws=off."
        ), stacklevel=2)

    def check(self) -> None:
        """Raise AwsEndpointError (one sentence) when functions could not get the endpoint:
        moto asked for and not installed, or a URL that does not answer. Starts nothing."""
        if self.mode == "url":
            self._probe()
        elif self.mode == "moto":
            with self._lock:
                self._check_moto()

    def _check_moto(self) -> None:
        if self._moto_found:
            return
        if self._error is None:
            missing = moto_missing()
            if missing is not None:
                self._error = AwsEndpointError(
                    f"--lambda-aws=moto (from {self.source}) needs moto's server, but "
                    f"{missing}: {MOTO_INSTALL}, or choose --lambda-aws=off."
                )
        if self._error is not None:
            raise self._error
        self._moto_found = True

    def _server(self, address: str) -> Any:
        with self._lock:
            self._check_moto()
            if self._closed:
                raise AwsEndpointError("The session's AWS endpoint is closed (the session ended).")
            server = self._servers.get(address)
            if server is None:
                from pytest_lambda.aws.server import MotoServer

                server = self._servers[address] = MotoServer(address)
            return server

    def _url_parts(self) -> tuple[str, int]:
        url = urlsplit(self.setting)
        assert url.hostname is not None  # checked by check_aws
        return url.hostname, url.port or (443 if url.scheme == "https" else 80)

    def _url_view(self, address: str) -> AwsEndpointView:
        from pytest_lambda.backends.base import AwsEndpointView

        host, port = self._url_parts()
        if is_loopback(host) and not is_loopback(address):
            # Inside a container, loopback is the container: this machine is its gateway.
            url = urlsplit(self.setting)
            netloc = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
            return AwsEndpointView(urlunsplit(url._replace(netloc=netloc)), port)
        on_host = host == address or is_loopback(host)
        return AwsEndpointView(self.setting, port if on_host else None)

    def _probe(self) -> None:
        """Check once that the URL answers; raise (every time after) when it does not."""
        with self._lock:
            if self._error is not None:
                raise self._error
            if self._probed:
                return
            host, port = self._url_parts()
            try:
                with socket.create_connection((host, port), timeout=5):
                    pass
            except OSError as exc:
                reason = exc.strerror or str(exc) or type(exc).__name__
                self._error = AwsEndpointError(
                    f"The AWS endpoint {self.setting} (from {self.source}) does not answer "
                    f"({reason}): start it, or choose --lambda-aws=moto or --lambda-aws=off."
                )
                raise self._error from None
            self._probed = True

    # -- what the test process uses --------------------------------------------------------------

    def require(self) -> AwsEndpoint:
        """Return self once the test process can use the endpoint; raise AwsEndpointError
        (one sentence) when it cannot (`off`, moto missing, a URL that does not answer)."""
        if self.mode == "off":
            if self._missing is not None:
                raise AwsEndpointError(
                    f"lambda_aws needs moto's server (the default --lambda-aws), but "
                    f"{self._missing}: {MOTO_INSTALL}."
                )
            raise AwsEndpointError(
                f"lambda_aws has no AWS endpoint to offer: --lambda-aws=off ({self.reason}); "
                f"use moto (the default) or the URL of an endpoint you run."
            )
        self.endpoint_for(_LOOPBACK)
        return self

    @property
    def endpoint_url(self) -> str:
        """The endpoint's URL as the test process reaches it."""
        view = self.require().endpoint_for(_LOOPBACK)
        assert view is not None
        return view.url

    @property
    def started(self) -> bool:
        """Whether moto's server serves on some address (there is state to reset)."""
        with self._lock:
            return bool(self._servers)

    def test_environment(self) -> dict[str, str]:
        """Return the variables a test that uses `lambda_aws` runs with: the session's
        credentials, region and endpoint, and no shared config or credentials files (so no
        profile of the host's applies)."""
        creds = self._credentials
        return {
            "AWS_ACCESS_KEY_ID": creds.access_key_id,
            "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
            "AWS_SESSION_TOKEN": creds.session_token,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }

    def _session(self) -> Any:
        import boto3

        creds = self._credentials
        return boto3.session.Session(
            aws_access_key_id=creds.access_key_id, aws_secret_access_key=creds.secret_access_key,
            aws_session_token=creds.session_token, region_name=self.region,
        )

    def client(self, service: str, **kwargs: Any) -> Any:
        """Return a boto3 client of `service` on the endpoint (one per service, unless
        `kwargs` ask for another; they go to `Session.client`)."""
        url = self.endpoint_url
        key = ("client", service)
        with self._lock:
            cached = None if kwargs else self._clients.get(key)
        if cached is not None:
            return cached
        made = self._session().client(service, endpoint_url=url, **kwargs)
        if not kwargs:
            with self._lock:
                made = self._clients.setdefault(key, made)
        return made

    def resource(self, service: str, **kwargs: Any) -> Any:
        """Return a boto3 resource of `service` on the endpoint (one per service, unless
        `kwargs` ask for another)."""
        url = self.endpoint_url
        key = ("resource", service)
        with self._lock:
            cached = None if kwargs else self._clients.get(key)
        if cached is not None:
            return cached
        made = self._session().resource(service, endpoint_url=url, **kwargs)
        if not kwargs:
            with self._lock:
                made = self._clients.setdefault(key, made)
        return made

    @property
    def account_id(self) -> str:
        """The account the endpoint gives the session's credentials (STS GetCallerIdentity)."""
        if self._account_id is None:
            self._account_id = str(self.client("sts").get_caller_identity()["Account"])
        return self._account_id

    def reset(self) -> None:
        """Empty the endpoint's state (moto's reset API): every resource of every service."""
        import urllib.error
        import urllib.request

        url = self.endpoint_url + "/moto-api/reset"
        # Never through a proxy the environment names: the endpoint is on this machine.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(urllib.request.Request(url, data=b"", method="POST"), timeout=30):
                pass
        except (urllib.error.URLError, OSError) as exc:
            what = (f"HTTP {exc.code}" if isinstance(exc, urllib.error.HTTPError)
                    else str(getattr(exc, "reason", exc)))
            raise AwsEndpointError(
                f"Could not reset the AWS endpoint {self.endpoint_url} ({what}): only moto "
                f"has a reset API (POST /moto-api/reset); LocalStack keeps its state until "
                f"it restarts."
            ) from None

    def reset_if_started(self) -> None:
        """Reset moto's state between tests, if this session's server has served anything."""
        if self.mode == "moto" and self.started:
            self.reset()

    # -- the session -----------------------------------------------------------------------------

    def describe(self) -> str:
        """Return the header's words for the endpoint."""
        return describe(self.setting, self.source)

    def close(self) -> None:
        """Stop every server this endpoint started."""
        with self._lock:
            self._closed = True
            servers, self._servers = list(self._servers.values()), {}
            self._clients.clear()
        for server in servers:
            server.close()
