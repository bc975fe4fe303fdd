"""The HTTP side of Lambda's API: routes, AWS's error shapes, and the operations themselves.

A stdlib `ThreadingHTTPServer` (so `responses` and `pytest_httpx` never intercept it) speaking
the REST-JSON protocol boto3's `lambda` client and the other AWS SDKs use. Every error has
Lambda's status, `X-Amzn-ErrorType` and body; nothing the server's own code raises reaches a
caller as anything but a 500 `ServiceException` with a sentence.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from pytest_lambda.config import limits as _limits
from pytest_lambda.config import names as _aws
from pytest_lambda.errors import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    InvokeError,
    LambdaHarnessError,
    RequestTooLargeException,
    ResourceNotFoundException,
    TooManyRequestsException,
    ValidationException,
)
from pytest_lambda.lambda_api import documents
from pytest_lambda.service.registry import (
    LATEST,
    EventInvokeConfig,
    FunctionEntry,
    Target,
    parse_function_name,
    validate_destination,
    validate_event_invoke_config,
)

if TYPE_CHECKING:
    from pytest_lambda.service.control import ControlPlane

#: The largest request body read at all (a synchronous payload and some slack).
_BODY_MAX_BYTES = _limits.SYNC_REQUEST_MAX_BYTES + 64 * 1024
#: How much of an oversized body is read (and dropped) before answering 413.
_DRAIN_MAX_BYTES = 64 * 1024 * 1024
_REGION = re.compile(r"Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/lambda/")
_FUNCTIONS = r"/(?:2015-03-31|2014-11-13|2019-09-25|2017-10-31|2019-09-30)/functions"


class _Answer(Exception):
    """An early answer (an error) from deep in an operation."""

    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers


class NotImplementedOperation(InvokeError):
    """An operation of Lambda's API that the harness does not implement (501)."""

    error_type = "NotImplementedException"
    status_code = 501


Route = tuple[str, "re.Pattern[str]", str]
_T = TypeVar("_T")

_ROUTES: list[Route] = [
    (method, re.compile(pattern), name) for method, pattern, name in (
        ("POST", r"/2015-03-31/functions/(?P<fn>[^/]+)/invocations/?", "invoke"),
        ("POST", r"/2014-11-13/functions/(?P<fn>[^/]+)/invoke-async/?", "invoke_async"),
        ("GET", r"/2015-03-31/functions/?", "list_functions"),
        ("GET", r"/2015-03-31/functions/(?P<fn>[^/]+)/?", "get_function"),
        ("GET", r"/2015-03-31/functions/(?P<fn>[^/]+)/configuration/?", "get_configuration"),
        ("GET", r"/2016-08-19/account-settings/?", "get_account_settings"),
        ("GET", r"/2019-09-25/functions/(?P<fn>[^/]+)/event-invoke-config/list/?",
         "list_event_invoke_configs"),
        ("PUT", r"/2019-09-25/functions/(?P<fn>[^/]+)/event-invoke-config/?",
         "put_event_invoke_config"),
        ("POST", r"/2019-09-25/functions/(?P<fn>[^/]+)/event-invoke-config/?",
         "update_event_invoke_config"),
        ("GET", r"/2019-09-25/functions/(?P<fn>[^/]+)/event-invoke-config/?",
         "get_event_invoke_config"),
        ("DELETE", r"/2019-09-25/functions/(?P<fn>[^/]+)/event-invoke-config/?",
         "delete_event_invoke_config"),
        ("PUT", r"/2017-10-31/functions/(?P<fn>[^/]+)/concurrency/?", "put_concurrency"),
        ("PUT", r"/2015-03-31/functions/(?P<fn>[^/]+)/configuration/?",
         "update_configuration"),
        ("PUT", r"/2019-09-30/functions/(?P<fn>[^/]+)/provisioned-concurrency/?",
         "put_provisioned"),
        ("GET", r"/2019-09-30/functions/(?P<fn>[^/]+)/provisioned-concurrency/?",
         "get_provisioned"),
        ("DELETE", r"/2019-09-30/functions/(?P<fn>[^/]+)/provisioned-concurrency/?",
         "delete_provisioned"),
        ("POST", r"/2015-03-31/functions/(?P<fn>[^/]+)/versions/?", "publish_version"),
        ("GET", r"/2015-03-31/functions/(?P<fn>[^/]+)/versions/?", "list_versions"),
        ("POST", r"/2015-03-31/functions/(?P<fn>[^/]+)/aliases/?", "create_alias"),
        ("GET", r"/2015-03-31/functions/(?P<fn>[^/]+)/aliases/?", "list_aliases"),
        ("GET", r"/2015-03-31/functions/(?P<fn>[^/]+)/aliases/(?P<name>[^/]+)/?", "get_alias"),
        ("PUT", r"/2015-03-31/functions/(?P<fn>[^/]+)/aliases/(?P<name>[^/]+)/?",
         "update_alias"),
        ("DELETE", r"/2015-03-31/functions/(?P<fn>[^/]+)/aliases/(?P<name>[^/]+)/?",
         "delete_alias"),
        ("GET", r"/2019-09-30/functions/(?P<fn>[^/]+)/concurrency/?", "get_concurrency"),
        ("DELETE", r"/2017-10-31/functions/(?P<fn>[^/]+)/concurrency/?", "delete_concurrency"),
    )
]


class LambdaAPIServer(ThreadingHTTPServer):
    """One listening address of the Lambda API; every one serves the same service."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, service: ControlPlane) -> None:
        self.service = service
        super().__init__((host, 0), _Handler)
        self.thread = threading.Thread(target=self.serve_forever, name=f"lambda-api-{host}",
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes: without TCP_NODELAY the body waits for the
    # client's delayed ACK (about 40 ms a call on Linux).
    disable_nagle_algorithm = True
    server: LambdaAPIServer

    def version_string(self) -> str:
        return "pytest-aws-lambda"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        pass  # the test output is no place for an access log

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        # The stdlib's HTML error page (a malformed request line, headers too long or too
        # many) in AWS's shape instead.
        self.close_connection = True
        error_type = "RequestHeaderFieldsTooLarge" if code == 431 else "InvalidRequestException"
        body = json.dumps({"Type": "User", "message": message or explain or "Bad request"})
        try:
            self.send_response(code, message)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Amzn-ErrorType", error_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body.encode())
        except OSError:
            pass

    # -- dispatch -----------------------------------------------------------------------------

    def _serve(self, method: str) -> None:
        request_id = str(uuid.uuid4())
        self.request_id = request_id
        try:
            status, body, headers = self._route(method)
        except _Answer as answer:
            status, body, headers = answer.status, answer.body, answer.headers
        except InvokeError as exc:
            status, body, headers = _error(exc)
        except LambdaHarnessError as exc:
            status, body, headers = _error(InvokeError(str(exc)), kind="Service")
        except Exception as exc:  # the server's own trouble: still an AWS-shaped answer
            status, body, headers = _error(
                InvokeError(f"The Lambda API failed: {type(exc).__name__}: {exc}"), kind="Service"
            )
        headers.setdefault("x-amzn-RequestId", self.request_id)
        headers.setdefault("Content-Type", "application/json")
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(body)
        except OSError:
            self.close_connection = True

    def _route(self, method: str) -> tuple[int, bytes, dict[str, str]]:
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        path = url.path
        body = self._body()
        known_path = False
        for route_method, pattern, name in _ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            known_path = True
            if route_method == method:
                self.body = body
                operation: Callable[..., tuple[int, bytes, dict[str, str]]] = getattr(
                    self, f"op_{name}")
                return operation(**{k: unquote(v) for k, v in match.groupdict().items()})
        if not known_path and re.match(_FUNCTIONS, path):
            raise NotImplementedOperation(
                f"pytest-aws-lambda does not implement {method} {path}: its documentation "
                f"(lambda-api) lists the operations it serves."
            )
        raise _Answer(*_error(InvokeError(f"No operation answers {method} {path}.",
                                          error_type="UnknownOperationException"),
                              status=404))

    def _body(self) -> bytes:
        length_text = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            raise InvalidRequestContentException(
                "Chunked request bodies are not supported: send a Content-Length."
            )
        if length_text is None:
            return b""
        try:
            length = int(length_text)
            if length < 0:
                raise ValueError(length_text)
        except ValueError:
            self.close_connection = True
            raise InvalidRequestContentException(
                f"Content-Length {length_text!r} is not a number of bytes."
            ) from None
        if length > _BODY_MAX_BYTES:
            if length <= _DRAIN_MAX_BYTES:
                # Read and drop it, so that the client hears the 413 instead of a reset.
                left = length
                while left > 0:
                    chunk = self.rfile.read(min(left, 1 << 20))
                    if not chunk:
                        break
                    left -= len(chunk)
            else:
                self.close_connection = True  # not read: the connection cannot go on
            raise RequestTooLargeException(
                f"Request must be smaller than {_limits.SYNC_REQUEST_MAX_BYTES} bytes for the "
                f"InvokeFunction operation"
            )
        return self.rfile.read(length) if length else b""

    # -- finding functions --------------------------------------------------------------------

    def _region(self) -> str:
        match = _REGION.search(self.headers.get("Authorization", ""))
        return match[1] if match else _aws.DEFAULT_REGION

    def _target(self, fn: str, qualifier: str | None = None) -> Target:
        ref = parse_function_name(fn, qualifier, region=self._region())
        return self.server.service.registry.find(ref)

    def _find(self, fn: str, qualifier: str | None = None) -> tuple[FunctionEntry, str]:
        target = self._target(fn, qualifier)
        return target.entry, target.version

    # -- operations ---------------------------------------------------------------------------

    def op_invoke(self, fn: str) -> tuple[int, bytes, dict[str, str]]:
        invocation_type = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            raise ValidationException(
                f"1 validation error detected: Value '{invocation_type}' at 'invocationType' "
                f"failed to satisfy constraint: Member must satisfy enum value set: "
                f"[Event, RequestResponse, DryRun]"
            )
        log_type = self.headers.get("X-Amz-Log-Type")
        if log_type not in (None, "", "None", "Tail"):
            raise ValidationException(
                f"1 validation error detected: Value '{log_type}' at 'logType' failed to "
                f"satisfy constraint: Member must satisfy enum value set: [None, Tail]"
            )
        target = self._target(fn, self.query.get("Qualifier"))
        function = target.function
        payload = self.body or b"{}"
        client_context = self._client_context()
        service = self.server.service
        if invocation_type == "Event":
            request_id = service.invoke_async(function, payload, invoked_arn=target.invoked_arn)
            return 202, b"", {"x-amzn-RequestId": request_id}
        from pytest_lambda.service.payload import encode_payload

        encode_payload(payload)  # Lambda checks the body before anything runs
        if invocation_type == "DryRun":
            return 204, b"", {}
        request_id = str(uuid.uuid4())
        result = function._invoke(payload, client_context=client_context,
                                  trace_id=self._trace_id(), request_id=request_id,
                                  invoked_arn=target.invoked_arn)
        headers = {"x-amzn-RequestId": result.request_id,
                   "X-Amz-Executed-Version": result.executed_version}
        if result.function_error is not None:
            headers["X-Amz-Function-Error"] = result.function_error
        if log_type == "Tail":
            tail = result.logs.encode()[-_limits.LOG_TAIL_MAX_BYTES:]
            headers["X-Amz-Log-Result"] = base64.b64encode(tail).decode()
        return 200, result.raw_payload, headers

    def op_invoke_async(self, fn: str) -> tuple[int, bytes, dict[str, str]]:
        entry, _version = self._find(fn)
        request_id = self.server.service.invoke_async(
            entry.function, self.body or b"{}", limit=_limits.INVOKE_ASYNC_REQUEST_MAX_BYTES,
            operation="the InvokeAsync operation",
        )
        return 202, b'{"Status": 202}', {"x-amzn-RequestId": request_id}

    def op_get_function(self, fn: str) -> tuple[int, bytes, dict[str, str]]:
        target = self._target(fn, self.query.get("Qualifier"))
        entry = target.entry
        document = documents.function_document(entry, target.version)
        if entry.reserved is not None:
            document["Concurrency"] = {"ReservedConcurrentExecutions": entry.reserved}
        return 200, _json(document), {}

    def op_update_configuration(self, fn: str) -> tuple[int, bytes, dict[str, str]]:
        entry, _version = self._find(fn)
        request = self._json_body()
        others = sorted(set(request) - {"DeadLetterConfig", "RevisionId"})
        if others:
            raise NotImplementedOperation(
                f"UpdateFunctionConfiguration changes only DeadLetterConfig here, not "
                f"{', '.join(others)}: make the function again with lambda_function(...) for "
                f"other settings."
            )
        target = (request.get("DeadLetterConfig") or {}).get("TargetArn") or None
        if target is not None and str(target).split(":")[2:3] not in (["sqs"], ["sns"]):
            raise InvalidParameterValueException(
                f"The provided target arn {target} is invalid: a dead-letter queue is an SQS "
                f"queue or an SNS topic."
            )
        entry.set_dead_letter(validate_destination(target, "DeadLetterConfig"))
        return 200, _json(documents.configuration(entry)), {}

    def op_put_concurrency(self, fn: str) -> tuple[int, bytes, dict[str, str]]:
        entry, _version = self._find(fn)
        reserved = self._json_body().get("ReservedConcurrentExecutions")
        if reserved is None:
            raise ValidationException(
                "1 validation error detected: Value null at 'reservedConcurrentExecutions' "
                "failed to satisfy constraint: Member must not be null"
            )
        entry.function.set_reserved_concurrency(reserved)
        return 200, _json({"ReservedConcurrentExecutions": reserved}), {}

    def op_get_concurrency(self, fn: str) -> tuple[int, bytes, dict[str, str]]:
        entry, _version = self._find(fn)
        document = ({} if entry.reserved is None
                    else {"ReservedConcurrentExecutions": entry.reserved})
        return 200, _json(document), {}

    def op_delete_concurrency(self, fn: str) -> tuple[int, bytes, dict[str, str]]:
        entry, _version = self._find(fn)
        entry.function.set_reserved_concurrency(None)
        return 204, b"", {}

    def op_get_configuration(self, fn: str) -> tuple[int, bytes, dict[str, str]]:
        target = self._target(fn, self.query.get("Qualifier"))
        return 200, _json(documents.configuration(target.entry, target.version)), {}

    def _provisioned_qualifier(self) -> str:
        qualifier = self.query.get("Qualifier")
        if not qualifier:
            raise ValidationException(
                "1 validation error detected: Value null at 'qualifier' failed to satisfy "
                "constraint: Member must not be null"
            )
        return qualifier

    def op_put_provisioned(self, fn: str) -> tuple[int, bytes, dict[str, str]]:
        entry, _version = self._find(fn)
        qualifier = self._provisioned_qualifier()
        count = self._json_body().get("ProvisionedConcurrentExecutions")
        if count is None:
            raise ValidationException(
                "1 validation error detected: Value null at 'provisionedConcurrentExecutions' "
                "failed to satisfy constraint: Member must not be null"
            )
        if isinstance(count, int) and not isinstance(count, bool) and count < 1:
            raise ValidationException(
                f"1 validation error detected: Value '{count}' at "
                f"'provisionedConcurrentExecutions' failed to satisfy constraint: Member must "
                f"have value greater than or equal to 1"
            )
        entry.function.set_provisioned_concurrency(count, qualifier=qualifier)
        return 202, _json(_provisioned(count, entry.provisioned_at.get(qualifier, 0.0))), {}

    def op_get_provisioned(self, fn: str) -> tuple[int, bytes, dict[str, str]]:
        if "List" in self.query:
            return self._list_provisioned(fn)
        entry, _version = self._find(fn)
        qualifier = self._provisioned_qualifier()
        self.server.service.registry.provisioned_target(entry.function, qualifier)
        count = entry.provisioned.get(qualifier)
        if count is None:
            raise _no_provisioned_config(f"{entry.function.arn}:{qualifier}")
        return 200, _json(_provisioned(count, entry.provisioned_at.get(qualifier, 0.0))), {}

    def op_delete_provisioned(self, fn: str) -> tuple[int, bytes, dict[str, str]]:
        entry, _version = self._find(fn)
        qualifier = self._provisioned_qualifier()
        if qualifier == LATEST:
            raise InvalidParameterValueException(
                "The function resource provided must be an alias or a published version."
            )
        entry.function.remove_provisioned_concurrency(qualifier=qualifier)
        return 204, b"", {}

    def _max_items_of_50(self) -> int:
        """The request's `MaxItems` (50 by default), which must be 1 to 50."""
        text = self.query.get("MaxItems", "50")
        max_items = int(text) if text.isdigit() else 0
        if not 1 <= max_items <= 50:
            raise ValidationException(
                f"1 validation error detected: Value '{text}' at 'maxItems' failed to satisfy "
                f"constraint: Member must have value "
                f"{'greater than or equal to 1' if max_items < 1 else 'less than or equal to 50'}"
            )
        return max_items

    def _list_provisioned(self, fn: str) -> tuple[int, bytes, dict[str, str]]:
        """ListProvisionedConcurrencyConfigs (`GET ...?List=ALL`)."""
        max_items = self._max_items_of_50()
        entry, _version = self._find(fn)
        configs = self.server.service.registry.provisioned_configs(entry)
        page, next_marker = _paged(configs, [key for key, _count, _at in configs],
                                   self.query.get("Marker"), max_items)
        document: dict[str, Any] = {"ProvisionedConcurrencyConfigs": [
            {"FunctionArn": f"{entry.function.arn}:{key}", **_provisioned(count, at)}
            for key, count, at in page
        ]}
        if next_marker is not None:
            document["NextMarker"] = next_marker
        return 200, _json(document), {}

    # -- versions and aliases -----------------------------------------------------------------

    def op_publish_version(self, fn: str) -> tuple[int, bytes, dict[str, str]]:
        entry, _version = self._find(fn)
        description = self._json_body().get("Description") or ""
        published = entry.function.publish_version(str(description))
        document = documents.configuration(entry, published.version)
        document["Description"] = entry.descriptions.get(published.version, "")
        return 201, _json(document), {}

    def op_list_versions(self, fn: str) -> tuple[int, bytes, dict[str, str]]:
        entry, _version = self._find(fn)
        listed = [documents.configuration(entry, version) for version in
                  [LATEST, *sorted(entry.versions, key=int)]]
        return 200, _json({"Versions": listed}), {}

    def op_create_alias(self, fn: str) -> tuple[int, bytes, dict[str, str]]:
        entry, _version = self._find(fn)
        request = self._json_body()
        alias = self.server.service.registry.put_alias(
            entry.function, request.get("Name", ""), request.get("FunctionVersion"),
            _weights(request), request.get("Description"), create=True,
        )
        return 201, _json(documents.alias_document(entry.function, alias)), {}

    def op_update_alias(self, fn: str, name: str) -> tuple[int, bytes, dict[str, str]]:
        entry, _version = self._find(fn)
        request = self._json_body()
        alias = entry.function._update_alias(
            name, request.get("FunctionVersion"),
            _weights(request) if "RoutingConfig" in request else None,
            request.get("Description"),
        )
        return 200, _json(documents.alias_document(entry.function, alias)), {}

    def op_get_alias(self, fn: str, name: str) -> tuple[int, bytes, dict[str, str]]:
        entry, _version = self._find(fn)
        alias = entry.aliases.get(name)
        if alias is None:
            raise ResourceNotFoundException(f"Alias not found: {entry.function.arn}:{name}")
        return 200, _json(documents.alias_document(entry.function, alias)), {}

    def op_delete_alias(self, fn: str, name: str) -> tuple[int, bytes, dict[str, str]]:
        entry, _version = self._find(fn)
        if name in entry.provisioned:  # its provisioned concurrency goes with it, as in Lambda
            entry.function.remove_provisioned_concurrency(qualifier=name)
        self.server.service.registry.delete_alias(entry.function, name)
        return 204, b"", {}

    def op_list_aliases(self, fn: str) -> tuple[int, bytes, dict[str, str]]:
        entry, _version = self._find(fn)
        aliases = [documents.alias_document(entry.function, alias)
                   for _name, alias in sorted(entry.aliases.items())]
        return 200, _json({"Aliases": aliases}), {}

    def op_list_functions(self) -> tuple[int, bytes, dict[str, str]]:
        try:
            max_items = int(self.query.get("MaxItems", "50"))
        except ValueError:
            max_items = 0
        if not 1 <= max_items <= 10_000:
            raise ValidationException(
                f"1 validation error detected: Value '{self.query.get('MaxItems')}' at "
                f"'maxItems' failed to satisfy constraint: Member must have value between 1 "
                f"and 10000"
            )
        max_items = min(max_items, 50)
        entries = self.server.service.registry.entries(self._region())
        page, next_marker = _paged(entries, [e.function.name for e in entries],
                                   self.query.get("Marker"), max_items)
        document: dict[str, Any] = {"Functions": [documents.configuration(e) for e in page]}
        if next_marker is not None:
            document["NextMarker"] = next_marker
        return 200, _json(document), {}

    # -- asynchronous settings, by qualifier ---------------------------------------------------

    def _event_invoke_target(self, fn: str, *, missing: str
                             ) -> tuple[FunctionEntry, str]:
        """Return the entry and qualifier (`$LATEST` when none is given) an event-invoke-config
        operation names; for an unknown function, `missing` says which error: "function" (The
        function doesn't exist) or "config" (it doesn't have an EventInvokeConfig)."""
        registry = self.server.service.registry
        ref = parse_function_name(fn, self.query.get("Qualifier"), region=self._region())
        key = ref.qualifier or LATEST
        entry = registry.entry(_aws.function_arn(ref.name, ref.region, ref.account_id))
        try:
            if entry is None:
                raise ResourceNotFoundException("The function doesn't exist.")
            return registry.event_invoke_key(entry.function, key)
        except ResourceNotFoundException:
            if missing == "function":
                raise
            raise _no_event_invoke_config(ref.arn if ref.qualifier else f"{ref.arn}:{key}"
                                          ) from None

    def op_put_event_invoke_config(self, fn: str, *, update: bool = False
                                   ) -> tuple[int, bytes, dict[str, str]]:
        registry = self.server.service.registry
        entry, key = self._event_invoke_target(fn, missing="function")
        request = self._json_body()
        if not {"MaximumRetryAttempts", "MaximumEventAgeInSeconds",
                "DestinationConfig"} & set(request):
            raise InvalidParameterValueException(
                "You must specify at least one of error handling or destination setting."
            )
        current = registry.event_invoke(entry, key)
        if update and current is None:
            raise _no_event_invoke_config(f"{entry.function.arn}:{key}")
        base = current if update and current is not None else EventInvokeConfig()
        retries, age = validate_event_invoke_config(
            request.get("MaximumRetryAttempts", base.maximum_retry_attempts),
            request.get("MaximumEventAgeInSeconds", base.maximum_event_age),
        )
        destinations = request.get("DestinationConfig") or {}
        if not isinstance(destinations, dict):
            raise InvalidRequestContentException("DestinationConfig must be an object.")
        on_success = (destinations.get("OnSuccess") or {}).get("Destination")
        on_failure = (destinations.get("OnFailure") or {}).get("Destination")
        if update:
            on_success = on_success if "OnSuccess" in destinations else base.on_success
            on_failure = on_failure if "OnFailure" in destinations else base.on_failure
        settings = registry.set_event_invoke(entry, key, EventInvokeConfig(
            maximum_retry_attempts=retries, maximum_event_age=age,
            on_success=validate_destination(on_success, "OnSuccess"),
            on_failure=validate_destination(on_failure, "OnFailure"),
        ))
        return 200, _json(documents.event_invoke_document(entry.function, key, settings)), {}

    def op_update_event_invoke_config(self, fn: str) -> tuple[int, bytes, dict[str, str]]:
        return self.op_put_event_invoke_config(fn, update=True)

    def op_get_event_invoke_config(self, fn: str) -> tuple[int, bytes, dict[str, str]]:
        entry, key = self._event_invoke_target(fn, missing="config")
        settings = self.server.service.registry.event_invoke(entry, key)
        if settings is None:
            raise _no_event_invoke_config(f"{entry.function.arn}:{key}")
        return 200, _json(documents.event_invoke_document(entry.function, key, settings)), {}

    def op_delete_event_invoke_config(self, fn: str) -> tuple[int, bytes, dict[str, str]]:
        entry, key = self._event_invoke_target(fn, missing="config")
        if not self.server.service.registry.delete_event_invoke(entry, key):
            raise _no_event_invoke_config(f"{entry.function.arn}:{key}")
        return 204, b"", {}

    def op_list_event_invoke_configs(self, fn: str) -> tuple[int, bytes, dict[str, str]]:
        max_items = self._max_items_of_50()
        entry, _key = self._event_invoke_target(fn, missing="function")
        configs = self.server.service.registry.event_invokes(entry)
        page, next_marker = _paged(configs, [key for key, _settings in configs],
                                   self.query.get("Marker"), max_items)
        document: dict[str, Any] = {"FunctionEventInvokeConfigs": [
            documents.event_invoke_document(entry.function, key, settings)
            for key, settings in page
        ]}
        if next_marker is not None:
            document["NextMarker"] = next_marker
        return 200, _json(document), {}

    # -- the account --------------------------------------------------------------------------

    def op_get_account_settings(self) -> tuple[int, bytes, dict[str, str]]:
        usage = self.server.service.registry.account_usage(self._region())
        return 200, _json(documents.account_settings(usage)), {}

    # -- request parts ------------------------------------------------------------------------

    def _json_body(self) -> dict[str, Any]:
        try:
            document = json.loads(self.body or b"{}")
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidRequestContentException(
                f"Could not parse request body into json: {exc}"
            ) from None
        if not isinstance(document, dict):
            raise InvalidRequestContentException("The request body must be a JSON object.")
        return document

    def _client_context(self) -> dict[str, Any] | None:
        text = self.headers.get("X-Amz-Client-Context")
        if not text:
            return None
        try:
            document = json.loads(base64.b64decode(text, validate=True))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise InvalidRequestContentException(
                "Client context must be a valid Base64-encoded JSON object."
            ) from None
        if not isinstance(document, dict):
            raise InvalidRequestContentException(
                "Client context must be a valid Base64-encoded JSON object."
            )
        return document

    def _trace_id(self) -> str | None:
        header = self.headers.get("X-Amzn-Trace-Id")
        if header and header.startswith("Root=1-"):
            try:
                return _aws.validate_trace_id(header)
            except ValueError:
                return None
        return None


def _error(exc: InvokeError, *, kind: str = "User",
           status: int | None = None) -> tuple[int, bytes, dict[str, str]]:
    """Return Lambda's answer for `exc`: status, body and headers."""
    status = status if status is not None else exc.status_code
    if status >= 500 and exc.error_type == "ServiceException":
        kind = "Service"
    # ResourceNotFoundException spells its member `Message`; the others `message`.
    key = "Message" if exc.error_type == "ResourceNotFoundException" else "message"
    document: dict[str, Any] = {"Type": kind, key: exc.message}
    headers = {"X-Amzn-ErrorType": exc.error_type, "Content-Type": "application/json"}
    if isinstance(exc, TooManyRequestsException):
        document["Reason"] = exc.reason
        headers["Retry-After"] = "1"
    return status, _json(document), headers


def _no_event_invoke_config(arn: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"The function {arn} doesn't have an EventInvokeConfig")


def _paged(items: list[_T], names: list[str], marker: str | None,
           max_items: int) -> tuple[list[_T], str | None]:
    """Return the page of `items` (named `names`, in the same order) that follows the one
    named `marker` (from the first without one), at most `max_items` long, and the marker of
    the page after it (None: this is the last)."""
    start = 0
    if marker:
        if marker not in names:
            raise InvalidParameterValueException(f"Invalid marker {marker!r}.")
        start = names.index(marker) + 1
    page = items[start:start + max_items]
    return page, (names[start + len(page) - 1] if start + max_items < len(items) else None)


def _no_provisioned_config(arn: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(
        f"No Provisioned Concurrency Config found for this function ({arn} has none).",
        error_type="ProvisionedConcurrencyConfigNotFoundException",
    )


def _provisioned(count: object, last_modified: float) -> dict[str, Any]:
    """The provisioned concurrency document: the environments are initialised before the put
    returns, so all of them are allocated and available (`READY`)."""
    import time

    return {"RequestedProvisionedConcurrentExecutions": count,
            "AvailableProvisionedConcurrentExecutions": count,
            "AllocatedProvisionedConcurrentExecutions": count, "Status": "READY",
            "LastModified": time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(last_modified))}


def _weights(request: dict[str, Any]) -> dict[str, float]:
    routing = request.get("RoutingConfig") or {}
    weights = routing.get("AdditionalVersionWeights") or {}
    if not isinstance(weights, dict):
        raise InvalidRequestContentException("AdditionalVersionWeights must be an object.")
    return dict(weights)


def _json(document: Any) -> bytes:
    return json.dumps(document).encode()
