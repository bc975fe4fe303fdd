"""The service's functions by name and ARN, as Lambda's API finds them.

Every `Function` the service makes is registered under its ARN; a later function of the same
name and account in the same region replaces it (as an update of `$LATEST` would). The API
finds a function by name, by full ARN or by partial ARN (`123456789012:function:name`), each
optionally ending in `:qualifier`, or with a separate `Qualifier`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pytest_lambda.config import limits as _limits
from pytest_lambda.config import names as _aws
from pytest_lambda.errors import (
    InvalidParameterValueException,
    ResourceNotFoundException,
    TooManyRequestsException,
    ValidationException,
)
from pytest_lambda.system import clock as _clock

if TYPE_CHECKING:
    from pytest_lambda.service.function import Function

LATEST = "$LATEST"

#: Lambda's pattern for FunctionName in Invoke, GetFunction and friends.
FUNCTION_NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?"
    r"(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)
_FUNCTION_NAME = re.compile(
    r"(?:arn:(?:aws[a-zA-Z-]*)?:lambda:(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d):)?"
    r"(?:(?P<account>\d{12}):)?(?:function:)?(?P<name>[a-zA-Z0-9_-]+)"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?"
)
_QUALIFIER = re.compile(r"\$LATEST|[a-zA-Z0-9_-]{1,128}")
#: Longest FunctionName Lambda takes (an ARN with a qualifier).
FUNCTION_IDENTIFIER_MAX_LEN = 170


@dataclass(frozen=True)
class FunctionRef:
    """A function identifier as a request gave it, taken apart."""

    name: str
    region: str
    account_id: str
    qualifier: str | None

    @property
    def arn(self) -> str:
        return _aws.function_arn(self.name, self.region, self.account_id, self.qualifier)


def parse_function_name(identifier: str, qualifier: str | None = None, *,
                        region: str = _aws.DEFAULT_REGION,
                        account_id: str = _aws.DEFAULT_ACCOUNT_ID) -> FunctionRef:
    """Take apart a FunctionName (and Qualifier) as Lambda does, or raise its error.

    A bare name or a partial ARN takes the caller's `region`; a partial ARN without an account
    takes `account_id`.
    """
    if len(identifier) > FUNCTION_IDENTIFIER_MAX_LEN or not identifier:
        raise ValidationException(
            f"1 validation error detected: Value '{identifier}' at 'functionName' failed to "
            f"satisfy constraint: Member must have length "
            f"{'greater than or equal to 1' if not identifier else 'less than or equal to 170'}"
        )
    match = _FUNCTION_NAME.fullmatch(identifier)
    if match is None:
        raise ValidationException(
            f"1 validation error detected: Value '{identifier}' at 'functionName' failed to "
            f"satisfy constraint: Member must satisfy regular expression pattern: "
            f"{FUNCTION_NAME_PATTERN}"
        )
    if qualifier is not None and not _QUALIFIER.fullmatch(qualifier):
        raise ValidationException(
            f"1 validation error detected: Value '{qualifier}' at 'qualifier' failed to satisfy "
            f"constraint: Member must satisfy regular expression pattern: "
            f"(|[a-zA-Z0-9$_-]+)"
        )
    name = match["name"]
    if len(name) > _limits.FUNCTION_NAME_MAX_LEN:
        raise ValidationException(
            f"1 validation error detected: Value '{identifier}' at 'functionName' failed to "
            f"satisfy constraint: Member must have length less than or equal to "
            f"{_limits.FUNCTION_NAME_MAX_LEN}"
        )
    derived = match["qualifier"]
    if derived is not None and qualifier is not None and derived != qualifier:
        raise InvalidParameterValueException(
            "The derived qualifier from the function name does not match the specified "
            "qualifier."
        )
    return FunctionRef(name=name, region=match["region"] or region,
                       account_id=match["account"] or account_id,
                       qualifier=derived if derived is not None else qualifier)


@dataclass
class EventInvokeConfig:
    """A function's asynchronous invocation settings (PutFunctionEventInvokeConfig), and its
    dead-letter queue (the function's DeadLetterConfig)."""

    maximum_retry_attempts: int = _limits.ASYNC_RETRY_ATTEMPTS_MAX
    maximum_event_age: int = _limits.ASYNC_EVENT_AGE_MAX_S
    on_success: str | None = None
    on_failure: str | None = None
    dead_letter: str | None = None
    last_modified: float = 0.0


def validate_event_invoke_config(maximum_retry_attempts: object,
                                 maximum_event_age: object) -> tuple[int, int]:
    """Return the two numbers if PutFunctionEventInvokeConfig would take them."""
    for field_name, value, low, high in (
        ("maximumRetryAttempts", maximum_retry_attempts, 0, _limits.ASYNC_RETRY_ATTEMPTS_MAX),
        ("maximumEventAgeInSeconds", maximum_event_age, _limits.ASYNC_EVENT_AGE_MIN_S,
         _limits.ASYNC_EVENT_AGE_MAX_S),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            bound = (f"greater than or equal to {low}" if isinstance(value, int)
                     and not isinstance(value, bool) and value < low
                     else f"less than or equal to {high}")
            raise ValidationException(
                f"1 validation error detected: Value '{value}' at '{field_name}' failed to "
                f"satisfy constraint: Member must have value {bound} (a whole number from {low} "
                f"to {high})."
            )
    assert isinstance(maximum_retry_attempts, int) and isinstance(maximum_event_age, int)
    return maximum_retry_attempts, maximum_event_age


_DESTINATION = re.compile(r"arn:aws[a-zA-Z-]*:(sqs|sns|lambda|events):[a-z0-9-]+:\d{12}:\S+")


def validate_destination(arn: object, role: str) -> str | None:
    """Return a destination ARN if Lambda would take it (SQS, SNS, Lambda, EventBridge)."""
    if arn is None:
        return None
    if not isinstance(arn, str) or not _DESTINATION.fullmatch(arn):
        raise InvalidParameterValueException(
            f"The destination ARN {arn!r} ({role}) is invalid: give the ARN of an SQS queue, an "
            f"SNS topic, a Lambda function or an EventBridge event bus."
        )
    return arn


@dataclass
class FunctionEntry:
    """What the service knows of one function name: its `$LATEST` and its settings."""

    function: Function
    event_invoke: EventInvokeConfig = field(default_factory=EventInvokeConfig)
    #: Reserved concurrency (None: the account's unreserved pool), and invocations under way.
    reserved: int | None = None
    in_flight: int = 0


def validate_reserved_concurrency(value: object) -> int | None:
    """Return `value` if PutFunctionConcurrency would take it (None: no reservation)."""
    if value is None:
        return None
    most = _limits.ACCOUNT_CONCURRENCY - _limits.UNRESERVED_CONCURRENCY_MIN
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidParameterValueException(
            f"reserved_concurrency must be a whole number from 0 to {most}, not {value!r}."
        )
    if value > most:
        raise InvalidParameterValueException(
            f"Specified ReservedConcurrentExecutions for function decreases account's "
            f"UnreservedConcurrentExecution below its minimum value of "
            f"[{_limits.UNRESERVED_CONCURRENCY_MIN}] (reserve at most {most} of the "
            f"account's {_limits.ACCOUNT_CONCURRENCY})."
        )
    return value


class Registry:
    """The service's functions, by unqualified ARN."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, FunctionEntry] = {}

    def register(self, function: Function, reserved: int | None = None) -> None:
        """Make `function` the one its ARN names (its asynchronous settings start afresh)."""
        with self._lock:
            previous = self._entries.get(function.arn)
            self._entries[function.arn] = FunctionEntry(
                function, reserved=reserved,
                in_flight=previous.in_flight if previous is not None else 0,
            )

    def set_reserved(self, function: Function, reserved: int | None) -> None:
        """Set (None: remove) `function`'s reserved concurrency."""
        with self._lock:
            entry = self._entries.get(function.arn)
            if entry is None or entry.function.config != function.config:
                entry = self._entries[function.arn] = FunctionEntry(function)
            entry.reserved = reserved

    @contextmanager
    def admit(self, function: Function) -> Iterator[None]:
        """Count an invocation of `function` while it runs, or raise Lambda's throttle when
        its reserved concurrency is used up."""
        with self._lock:
            entry = self._entries.get(function.arn)
            if entry is not None and entry.reserved is not None \
                    and entry.in_flight >= entry.reserved:
                raise TooManyRequestsException(
                    "Rate Exceeded.", reason="ReservedFunctionConcurrentInvocationLimitExceeded",
                    limit=entry.reserved,
                )
            if entry is not None:
                entry.in_flight += 1
        try:
            yield
        finally:
            if entry is not None:
                with self._lock:
                    entry.in_flight -= 1

    def event_invoke_config(self, function: Function) -> EventInvokeConfig:
        """Return `function`'s asynchronous settings to change (registering it if needed)."""
        with self._lock:
            entry = self._entries.get(function.arn)
            if entry is None or entry.function.config != function.config:
                entry = self._entries[function.arn] = FunctionEntry(function)
            entry.event_invoke.last_modified = _clock.wall()
            return entry.event_invoke

    def entry(self, arn: str) -> FunctionEntry | None:
        with self._lock:
            return self._entries.get(arn)

    def functions(self, region: str | None = None) -> list[Function]:
        """Return the registered functions (of `region`), by name."""
        with self._lock:
            entries = list(self._entries.values())
        return sorted((e.function for e in entries
                       if region is None or e.function.config.region == region),
                      key=lambda f: f.name)

    def find(self, ref: FunctionRef) -> tuple[FunctionEntry, str]:
        """Return the entry `ref` names and the version it resolves to, or raise Lambda's
        ResourceNotFoundException."""
        unqualified = _aws.function_arn(ref.name, ref.region, ref.account_id)
        entry = self.entry(unqualified)
        if entry is None:
            raise ResourceNotFoundException(f"Function not found: {unqualified}")
        if ref.qualifier not in (None, LATEST):
            raise ResourceNotFoundException(f"Function not found: {ref.arn}")
        return entry, LATEST
