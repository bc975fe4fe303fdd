"""The service's functions by name and ARN, as Lambda's API finds them.

Every `Function` the service makes is registered under its ARN; a later function of the same
name and account in the same region replaces it (as an update of `$LATEST` would). The API
finds a function by name, by full ARN or by partial ARN (`123456789012:function:name`), each
optionally ending in `:qualifier`, or with a separate `Qualifier`.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from pytest_lambda.artifacts.files import snapshot_tree, tree_size
from pytest_lambda.config import limits as _limits
from pytest_lambda.config import names as _aws
from pytest_lambda.errors import (
    InvalidParameterValueException,
    ResourceConflictException,
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
    """The asynchronous invocation settings of one qualifier of a function
    (PutFunctionEventInvokeConfig); an event in the queue carries a copy, with the dead-letter
    queue of the version that runs (its DeadLetterConfig) filled in."""

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


_ALIAS_NAME = re.compile(r"(?!^[0-9]+$)([a-zA-Z0-9-_]{1,128})")


@dataclass
class Alias:
    """A named pointer to a version, with an optional weighted second version."""

    name: str
    version: str
    #: Additional version -> the share of invocations it gets (0 to 1).
    routing: dict[str, float] = field(default_factory=dict)
    description: str = ""
    revision: int = 1


@dataclass
class FunctionEntry:
    """What the service knows of one function name: its `$LATEST`, published versions,
    aliases and settings."""

    function: Function
    #: Asynchronous settings by qualifier ("$LATEST", a version number or an alias name); a
    #: qualifier without any runs with Lambda's defaults.
    event_invokes: dict[str, EventInvokeConfig] = field(default_factory=dict)
    #: `$LATEST`'s dead-letter queue (DeadLetterConfig); a published version keeps the one it
    #: was published with (`version_dead_letters`).
    dead_letter: str | None = None
    version_dead_letters: dict[str, str | None] = field(default_factory=dict)
    #: Reserved concurrency (None: the account's unreserved pool), and invocations under way.
    reserved: int | None = None
    in_flight: int = 0
    #: Published versions by number ("1", "2", ...), and aliases by name.
    versions: dict[str, Function] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, Alias] = field(default_factory=dict)
    last_version: int = 0
    #: Provisioned concurrency by qualifier (a version or an alias), and when each was set.
    provisioned: dict[str, int] = field(default_factory=dict)
    provisioned_at: dict[str, float] = field(default_factory=dict)
    #: When `$LATEST`'s configuration last changed, and when each version was published
    #: (LastModified), in seconds since the epoch.
    modified_at: float = field(default_factory=lambda: _clock.wall())
    version_modified_at: dict[str, float] = field(default_factory=dict)

    def dead_letter_of(self, version: str) -> str | None:
        """The dead-letter queue of `version`: `$LATEST`'s now, or a published version's as it
        was published."""
        return self.dead_letter if version == LATEST else self.version_dead_letters.get(version)

    def function_of(self, version: str) -> Function:
        """`$LATEST`'s function, or a published version's."""
        return self.function if version == LATEST else self.versions[version]

    def modified_at_of(self, version: str) -> float:
        """When `version` last changed: `$LATEST`'s configuration, or a version's publishing."""
        return (self.modified_at if version == LATEST
                else self.version_modified_at.get(version, self.modified_at))

    def set_dead_letter(self, target: str | None) -> None:
        """Set `$LATEST`'s dead-letter queue (a change of its configuration)."""
        if target != self.dead_letter:
            self.dead_letter = target
            self.modified_at = _clock.wall()


@dataclass(frozen=True)
class Target:
    """What an invocation by name and qualifier runs: the function of one version, and the
    ARN it was invoked by (`context.invoked_function_arn`)."""

    entry: FunctionEntry
    function: Function
    version: str
    invoked_arn: str
    alias: str | None = None


def validate_reserved_concurrency(value: object) -> int | None:
    """Return `value` if it is a reservation at all (None: no reservation); whether the
    account has room for it is the registry's to say (`Registry.set_reserved`)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidParameterValueException(
            f"reserved_concurrency must be a whole number, 0 or more, not {value!r}."
        )
    return value


def unreserved_minimum(account_concurrency: int) -> int:
    """Return what reservations must leave unreserved in an account of that concurrency:
    100, or the whole account when it has 100 or less (so it can reserve nothing)."""
    return min(_limits.UNRESERVED_CONCURRENCY_MIN, account_concurrency)


@dataclass(frozen=True)
class AccountUsage:
    """The concurrency and code of one account in one region (GetAccountSettings)."""

    #: The account's concurrency (`ConcurrentExecutions`).
    limit: int
    #: What the functions with a reservation hold, all together.
    reserved: int
    #: Invocations under way in the unreserved pool.
    in_flight: int
    #: The functions, and the bytes of their code (every published version's included).
    function_count: int
    code_size: int

    @property
    def unreserved(self) -> int:
        """`UnreservedConcurrentExecutions`: the pool the functions without a reservation
        share."""
        return max(self.limit - self.reserved, 0)


_CODE_SIZES: dict[tuple[str, str], int] = {}
_CODE_SIZES_LOCK = threading.Lock()


def code_size(function: Function) -> int:
    """Return the bytes of `function`'s code as it is deployed (its files unpacked: the
    harness never zips them); 0 for a container image, whose code is stored elsewhere."""
    config = function.config
    if config.code_dir is None or config.image is not None:
        return 0
    key = (str(config.code_dir), config.code_hash)
    with _CODE_SIZES_LOCK:
        size = _CODE_SIZES.get(key)
    if size is None:
        try:
            size = tree_size(config.code_dir)
        except OSError:
            return 0  # the directory went away: nothing stored
        with _CODE_SIZES_LOCK:
            _CODE_SIZES[key] = size
    return size


class Registry:
    """The service's functions, by unqualified ARN, and the account's concurrency.

    Each account has `account_concurrency` concurrent executions in each region (Lambda's
    `ConcurrentExecutions`). A function with reserved concurrency runs at most that many at
    once; the functions without one share what the reservations leave (the unreserved
    pool), and the reservations together must leave at least 100 of it (all of it, in an
    account of 100 or less).
    """

    def __init__(self, account_concurrency: int = _limits.ACCOUNT_CONCURRENCY) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, FunctionEntry] = {}
        #: The account's concurrency in each region (the account_concurrency setting).
        self.account_concurrency = account_concurrency
        #: Invocations under way in each (account, region)'s unreserved pool.
        self._pooled: dict[tuple[str, str], int] = {}

    def register(self, function: Function, reserved: int | None = None) -> None:
        """Make `function` the one its ARN names (its `$LATEST` asynchronous settings and its
        dead-letter queue start afresh), or raise Lambda's InvalidParameterValueException
        when the account has no room for `reserved`."""
        with self._lock:
            self._check_reservation(function, reserved)
            previous = self._entries.get(function.arn)
            entry = self._entries[function.arn] = FunctionEntry(function, reserved=reserved)
            if previous is not None:
                _carry_over(previous, entry)

    def set_reserved(self, function: Function, reserved: int | None) -> None:
        """Set (None: remove) `function`'s reserved concurrency, as PutFunctionConcurrency
        does: InvalidParameterValueException when the reservations would leave less than the
        account's minimum unreserved (the function's own earlier reservation not counted)."""
        with self._lock:
            self._check_reservation(function, reserved)
            self._current(function).reserved = reserved

    def _check_reservation(self, function: Function, reserved: int | None) -> None:
        if reserved is None:
            return
        current = self._entries.get(function.arn)
        provisioned = sum(current.provisioned.values()) if current is not None else 0
        if reserved < provisioned:
            raise InvalidParameterValueException(
                f"Specified ReservedConcurrentExecutions for function is less than the "
                f"provisioned concurrency of its versions and aliases [{provisioned}] (reserve "
                f"at least {provisioned}, or lower their provisioned concurrency first)."
            )
        if not reserved:
            return  # 0: nothing is taken from the pool
        limit = self.account_concurrency
        minimum = unreserved_minimum(limit)
        pool = _pool_of(function)
        others = self._reserved_in(pool, but=function.arn)
        # Reserving moves the function's own provisioned concurrency into its reservation;
        # that of the other functions without a reservation stays in the unreserved pool.
        claimed = self._provisioned_unreserved_in(pool, but=function.arn)
        if limit - others - claimed - reserved < minimum:
            room = max(limit - minimum - others - claimed, 0)
            provisioned_part = (f", {claimed} provisioned for functions without a reservation"
                                if claimed else "")
            raise InvalidParameterValueException(
                f"Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{minimum}] (the "
                f"account's {limit} concurrent executions, less {minimum} unreserved and "
                f"{others} reserved by other functions{provisioned_part}, leave {room} to "
                f"reserve)."
            )

    def _provisioned_unreserved_in(self, pool: tuple[str, str], but: str | None = None) -> int:
        """The provisioned concurrency of the functions without a reservation: Lambda takes it
        out of the unreserved pool."""
        return sum(sum(entry.provisioned.values()) for arn, entry in self._entries.items()
                   if entry.reserved is None and arn != but
                   and _pool_of(entry.function) == pool)

    # -- provisioned concurrency --------------------------------------------------------------

    def provisioned_target(self, function: Function, qualifier: str | None
                           ) -> tuple[FunctionEntry, str, Function]:
        """Return the entry, the qualifier (`qualifier`, else the handle's own version) and the
        published version whose environments provisioned concurrency on it keeps (an alias's
        own version, never its weighted second one). Raises Lambda's errors for `$LATEST` and
        for a version or alias the function does not have."""
        key = qualifier if qualifier is not None else function.version
        with self._lock:
            entry = self._current(function)
            if key == LATEST:
                raise InvalidParameterValueException(
                    "Provisioned Concurrency Configs cannot be applied to unpublished function "
                    "versions (publish_version() first, and use the version or an alias)."
                )
            alias = entry.aliases.get(key)
            version = alias.version if alias is not None else key
            if version == LATEST:
                raise InvalidParameterValueException(
                    f"Provisioned Concurrency Configs cannot be applied to unpublished function "
                    f"versions (alias {key} points at $LATEST: point it at a published "
                    f"version)."
                )
            published = entry.versions.get(version)
            if published is None:
                raise ResourceNotFoundException(f"Function not found: {function.arn}:{key}")
            return entry, key, published

    def claim_provisioned(self, entry: FunctionEntry, key: str, count: int) -> int:
        """Record `count` provisioned concurrency on `entry`'s qualifier `key` and return what
        it had (0: none), or raise Lambda's error: over the function's reservation (its
        versions and aliases together), or, without one, taking the account's unreserved pool
        below its minimum; an alias and the version it points at cannot both have some."""
        with self._lock:
            conflict = _provisioned_conflict(entry, key)
            if conflict is not None:
                raise ResourceConflictException(conflict)
            others = sum(n for qualifier, n in entry.provisioned.items() if qualifier != key)
            if entry.reserved is not None:
                if others + count > entry.reserved:
                    raise InvalidParameterValueException(
                        f"Requested Provisioned Concurrency should not be greater than the "
                        f"reservedConcurrentExecution for function (it reserves "
                        f"{entry.reserved}, and its versions and aliases would have "
                        f"{others + count} provisioned: lower the provisioned concurrency or "
                        f"raise the reservation)."
                    )
            else:
                limit = self.account_concurrency
                minimum = unreserved_minimum(limit)
                pool = _pool_of(entry.function)
                claimed = (self._reserved_in(pool)
                           + self._provisioned_unreserved_in(pool, but=entry.function.arn)
                           + others)
                if limit - claimed - count < minimum:
                    raise InvalidParameterValueException(
                        f"Specified ConcurrentExecutions for function decreases account's "
                        f"UnreservedConcurrentExecution below its minimum value of [{minimum}] "
                        f"(the account's {limit} concurrent executions, less {minimum} "
                        f"unreserved and {claimed} reserved or provisioned already, leave "
                        f"{max(limit - minimum - claimed, 0)} to provision)."
                    )
            previous = entry.provisioned.get(key, 0)
            entry.provisioned[key] = count
            entry.provisioned_at[key] = _clock.wall()
            return previous

    def release_provisioned(self, entry: FunctionEntry, key: str,
                            restore: int = 0) -> int | None:
        """Remove the provisioned concurrency of `entry`'s qualifier `key` (or, with
        `restore`, put that count back) and return what it had; None when it had none."""
        with self._lock:
            previous = entry.provisioned.pop(key, None)
            if restore:
                entry.provisioned[key] = restore
            else:
                entry.provisioned_at.pop(key, None)
            return previous

    def provisioned_for(self, entry: FunctionEntry, version: str) -> int:
        """Return the provisioned concurrency `entry`'s published `version` has: its own and
        that of the aliases that point at it, together."""
        with self._lock:
            return sum(count for key, count in entry.provisioned.items()
                       if key == version or (key in entry.aliases
                                             and entry.aliases[key].version == version))

    def provisioned_configs(self, entry: FunctionEntry) -> list[tuple[str, int, float]]:
        """Return every qualifier's provisioned concurrency and when it was set: versions by
        number, then aliases by name."""
        with self._lock:
            items = [(key, count, entry.provisioned_at.get(key, 0.0))
                     for key, count in entry.provisioned.items()]
        return sorted(items, key=lambda item: (0, int(item[0]), "") if item[0].isdigit()
                      else (1, 0, item[0]))

    def _reserved_in(self, pool: tuple[str, str], but: str | None = None) -> int:
        return sum(entry.reserved for arn, entry in self._entries.items()
                   if entry.reserved is not None and arn != but
                   and _pool_of(entry.function) == pool)

    @contextmanager
    def admit(self, function: Function) -> Iterator[None]:
        """Count an invocation of `function` while it runs, or raise Lambda's throttle: over
        its reserved concurrency, or, without a reservation, over the account's unreserved
        pool (reason `ConcurrentInvocationLimitExceeded`)."""
        pool = _pool_of(function)
        pooled = False
        with self._lock:
            entry = self._entries.get(function.arn)
            if entry is not None and entry.reserved is not None:
                if entry.in_flight >= entry.reserved:
                    raise TooManyRequestsException(
                        "Rate Exceeded.",
                        reason="ReservedFunctionConcurrentInvocationLimitExceeded",
                        limit=entry.reserved,
                    )
            else:
                unreserved = self.account_concurrency - self._reserved_in(pool)
                if self._pooled.get(pool, 0) >= unreserved:
                    raise TooManyRequestsException(
                        "Rate Exceeded.", reason="ConcurrentInvocationLimitExceeded",
                    )
                self._pooled[pool] = self._pooled.get(pool, 0) + 1
                pooled = True
            if entry is not None:
                entry.in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                if entry is not None:
                    entry.in_flight -= 1
                if pooled:
                    self._pooled[pool] -= 1

    def account_usage(self, region: str = _aws.DEFAULT_REGION,
                      account_id: str = _aws.DEFAULT_ACCOUNT_ID) -> AccountUsage:
        """Return the concurrency and code of `account_id` in `region`."""
        pool = (account_id, region)
        with self._lock:
            entries = [e for e in self._entries.values() if _pool_of(e.function) == pool]
            reserved = self._reserved_in(pool)
            in_flight = self._pooled.get(pool, 0)
            functions = [f for e in entries for f in (e.function, *e.versions.values())]
        return AccountUsage(limit=self.account_concurrency, reserved=reserved,
                            in_flight=in_flight, function_count=len(entries),
                            code_size=sum(code_size(f) for f in functions))

    # -- asynchronous settings, by qualifier --------------------------------------------------

    def event_invoke_key(self, function: Function, qualifier: str | None = None
                         ) -> tuple[FunctionEntry, str]:
        """Return the entry and the qualifier whose asynchronous settings `function` (a
        handle of `$LATEST` or of a version) and `qualifier` name: `qualifier` if given, else
        the handle's own version. Raises Lambda's ResourceNotFoundException for a version or
        alias the function does not have."""
        with self._lock:
            entry = self._current(function)
            key = qualifier if qualifier is not None else function.version
            if key != LATEST and key not in entry.versions and key not in entry.aliases:
                raise ResourceNotFoundException("The function doesn't exist.")
            return entry, key

    def event_invoke(self, entry: FunctionEntry, key: str) -> EventInvokeConfig | None:
        """Return the asynchronous settings of `entry`'s qualifier `key`, if it has any."""
        with self._lock:
            return entry.event_invokes.get(key)

    def set_event_invoke(self, entry: FunctionEntry, key: str,
                         settings: EventInvokeConfig) -> EventInvokeConfig:
        """Give `entry`'s qualifier `key` these settings, stamped now."""
        settings.last_modified = _clock.wall()
        with self._lock:
            entry.event_invokes[key] = settings
        return settings

    def delete_event_invoke(self, entry: FunctionEntry, key: str) -> bool:
        """Remove the settings of `entry`'s qualifier `key`; False when it had none."""
        with self._lock:
            return entry.event_invokes.pop(key, None) is not None

    def event_invokes(self, entry: FunctionEntry) -> list[tuple[str, EventInvokeConfig]]:
        """Return every qualifier's settings: `$LATEST`, versions by number, then aliases."""
        with self._lock:
            items = list(entry.event_invokes.items())

        def order(item: tuple[str, EventInvokeConfig]) -> tuple[int, int, str]:
            key = item[0]
            if key == LATEST:
                return (0, 0, key)
            return (1, int(key), key) if key.isdigit() else (2, 0, key)

        return sorted(items, key=order)

    def async_settings(self, function: Function, invoked_arn: str | None = None
                       ) -> EventInvokeConfig:
        """Return a copy of the settings an asynchronous event of `function` runs with: those
        of the qualifier it was invoked by (`invoked_arn`'s; unqualified: the handle's own
        version, `$LATEST` for a function's handle), with the dead-letter queue of the version
        that runs (`$LATEST`'s, or the one a published version was published with);
        Lambda's defaults for a qualifier without any, and for a handle a later function of
        its name has replaced."""
        with self._lock:
            entry = self._entries.get(function.arn)
            if entry is None or (function.version == LATEST
                                 and entry.function.config != function.config):
                return EventInvokeConfig()
            key = function.version
            if invoked_arn is not None and invoked_arn != function.arn:
                key = invoked_arn.rsplit(":", 1)[1]
            settings = entry.event_invokes.get(key) or EventInvokeConfig()
            return replace(settings, dead_letter=entry.dead_letter_of(function.version))

    def _current(self, function: Function) -> FunctionEntry:
        """Return `function`'s entry (under the lock), making a `$LATEST` handle the current
        one again if a later function of its name replaced it."""
        entry = self._entries.get(function.arn)
        if entry is None or (function.version == LATEST
                             and entry.function.config != function.config):
            previous = entry
            entry = self._entries[function.arn] = FunctionEntry(
                function, reserved=previous.reserved if previous is not None else None)
            if previous is not None:
                _carry_over(previous, entry)
        return entry

    def entry(self, arn: str) -> FunctionEntry | None:
        with self._lock:
            return self._entries.get(arn)

    def entries(self, region: str | None = None) -> list[FunctionEntry]:
        """Return the registered functions' entries (of `region`), by name."""
        with self._lock:
            entries = list(self._entries.values())
        return sorted((e for e in entries
                       if region is None or e.function.config.region == region),
                      key=lambda e: e.function.name)

    def find(self, ref: FunctionRef) -> Target:
        """Return what `ref` names (an alias picks its version by its weights), or raise
        Lambda's ResourceNotFoundException."""
        unqualified = _aws.function_arn(ref.name, ref.region, ref.account_id)
        entry = self.entry(unqualified)
        if entry is None:
            raise ResourceNotFoundException(f"Function not found: {unqualified}")
        return self.qualify(entry, ref.qualifier)

    def qualify(self, entry: FunctionEntry, qualifier: str | None) -> Target:
        """Return `entry`'s target for `qualifier` (None and "$LATEST": the latest)."""
        arn = entry.function.arn
        with self._lock:
            if qualifier is None:
                return Target(entry, entry.function, LATEST, arn)
            if qualifier == LATEST:
                return Target(entry, entry.function, LATEST, f"{arn}:{LATEST}")
            function = entry.versions.get(qualifier)
            if function is not None:
                return Target(entry, function, qualifier, f"{arn}:{qualifier}")
            alias = entry.aliases.get(qualifier)
            if alias is None:
                raise ResourceNotFoundException(f"Function not found: {arn}:{qualifier}")
            version = alias.version
            draw = random.random()
            for other, weight in alias.routing.items():
                if draw < weight:
                    version = other
                    break
                draw -= weight
            function = entry.function_of(version)
            return Target(entry, function, version, f"{arn}:{qualifier}", alias=alias.name)

    def publish(self, function: Function, description: str = "") -> str:
        """Publish `function`'s current code and configuration (its dead-letter queue
        included) as a new version, or return the latest version when nothing changed since
        (as PublishVersion does)."""
        entry = self._entry_of(function)
        config = function.config
        if config.code_dir is not None:
            # A version keeps the code it was published with, whatever happens to the
            # directory later: a copy in the cache, made once per content.
            code_dir, code_hash = snapshot_tree(config.code_dir)
            config = replace(config, code_dir=code_dir, code_hash=code_hash)
        with self._lock:
            if entry.last_version:
                last = entry.versions[str(entry.last_version)]
                if replace(last.config, version=LATEST) == config and entry.dead_letter_of(
                        str(entry.last_version)) == entry.dead_letter:
                    return str(entry.last_version)
            entry.last_version += 1
            number = str(entry.last_version)
            entry.versions[number] = type(function)(function._service,
                                               replace(config, version=number),
                                               function.backend)
            entry.descriptions[number] = description
            entry.version_dead_letters[number] = entry.dead_letter
            entry.version_modified_at[number] = _clock.wall()
            return number

    def put_alias(self, function: Function, name: str, version: str | None,
                  routing: dict[str, float] | None, description: str | None, *,
                  create: bool) -> Alias:
        """Create (or update) alias `name` of `function`, checked as Lambda checks it."""
        entry = self._entry_of(function)
        arn = function.arn
        if not isinstance(name, str) or not _ALIAS_NAME.fullmatch(name) or name == LATEST:
            raise ValidationException(
                f"1 validation error detected: Value '{name}' at 'name' failed to satisfy "
                f"constraint: Member must satisfy regular expression pattern: "
                f"(?!^[0-9]+$)([a-zA-Z0-9-_]+) (an alias name is not a number)"
            )
        with self._lock:
            existing = entry.aliases.get(name)
            if create and existing is not None:
                raise ResourceConflictException(f"Alias already exists: {arn}:{name}")
            if not create and existing is None:
                raise ResourceNotFoundException(f"Alias not found: {arn}:{name}")
            version = version if version is not None else (existing.version if existing
                                                           else None)
            if version is None:
                raise ValidationException("An alias needs a FunctionVersion.")
            if version != LATEST and version not in entry.versions:
                raise ResourceNotFoundException(f"Function not found: {arn}:{version}")
            if routing is None:
                routing = dict(existing.routing) if existing is not None else {}
            _check_routing(arn, version, routing, entry.versions)
            alias = Alias(name=name, version=version, routing=dict(routing),
                          description=(description if description is not None
                                       else existing.description if existing else ""),
                          revision=existing.revision + 1 if existing else 1)
            entry.aliases[name] = alias
            return alias

    def delete_alias(self, function: Function, name: str) -> None:
        entry = self._entry_of(function)
        with self._lock:
            entry.aliases.pop(name, None)

    def _entry_of(self, function: Function) -> FunctionEntry:
        with self._lock:
            entry = self._entries.get(function.arn)
            if entry is None:
                entry = self._entries[function.arn] = FunctionEntry(function)
            return entry


def _pool_of(function: Function) -> tuple[str, str]:
    """The (account, region) whose concurrency `function` uses."""
    return function.config.account_id, function.config.region


def _carry_over(previous: FunctionEntry, entry: FunctionEntry) -> None:
    """Keep what a new `$LATEST` does not change: invocations under way, published versions,
    aliases, and the settings of those (as in Lambda)."""
    entry.in_flight = previous.in_flight
    entry.versions, entry.descriptions = previous.versions, previous.descriptions
    entry.aliases, entry.last_version = previous.aliases, previous.last_version
    entry.version_dead_letters = previous.version_dead_letters
    entry.provisioned, entry.provisioned_at = previous.provisioned, previous.provisioned_at
    entry.version_modified_at = previous.version_modified_at
    if previous.function.config == entry.function.config and previous.dead_letter is None:
        entry.modified_at = previous.modified_at  # the same function made again
    entry.event_invokes = {key: settings for key, settings in previous.event_invokes.items()
                           if key != LATEST}


def _provisioned_conflict(entry: FunctionEntry, key: str) -> str | None:
    """Lambda's refusal when an alias and the version it points at would both have provisioned
    concurrency (they would share the same environments), else None."""
    alias = entry.aliases.get(key)
    if alias is not None:
        if entry.provisioned.get(alias.version):
            return ("Alias can't be used for Provisioned Concurrency configuration on an "
                    f"already Provisioned version (version {alias.version} has some: delete "
                    f"its configuration first).")
        return None
    for other in entry.aliases.values():
        if other.version == key and entry.provisioned.get(other.name):
            return (f"Version is pointed by a Provisioned Concurrency alias ({other.name}: "
                    f"delete its configuration first).")
    return None


def _check_routing(arn: str, version: str, routing: dict[str, float],
                   versions: dict[str, Function]) -> None:
    if not routing:
        return
    if len(routing) > 1:
        raise InvalidParameterValueException(
            "Number of items in AdditionalVersionWeights cannot be greater than 1."
        )
    ((other, weight),) = routing.items()
    if version == LATEST or other == LATEST:
        raise InvalidParameterValueException(
            "$LATEST is not supported for an alias pointing to more than 1 version."
        )
    if other == version:
        raise InvalidParameterValueException(
            f"Invalid function version {other}. Function version {other} is already included "
            f"in routing configuration."
        )
    if other not in versions:
        raise InvalidParameterValueException(f"Function not found: {arn}:{other}")
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) \
            or not 0.0 <= weight <= 1.0:
        raise ValidationException(
            f"1 validation error detected: Value '{weight}' at 'routingConfig."
            f"additionalVersionWeights' failed to satisfy constraint: Map value must be "
            f"between 0.0 and 1.0"
        )
