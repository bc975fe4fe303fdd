"""`Function`: the handle `lambda_function(...)` and `LambdaService.function(...)` return, and
`FunctionFactory`: the type of the `lambda_function` fixture."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from os import PathLike
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pytest_lambda.config import limits as _limits
from pytest_lambda.config import names as _aws
from pytest_lambda.config.arch import Architecture
from pytest_lambda.config.function import NetworkMode
from pytest_lambda.config.packaging import Layer
from pytest_lambda.config.runtimes import RuntimeName
from pytest_lambda.config.settings import BackendName
from pytest_lambda.errors import InvalidParameterValueException
from pytest_lambda.service import observe as _observe

if TYPE_CHECKING:
    from pytest_lambda.config.function import FunctionConfig
    from pytest_lambda.result import InvokeResult
    from pytest_lambda.service.control import ControlPlane
    from pytest_lambda.service.registry import Alias, FunctionEntry, Target


class Function:
    """A configured Lambda function, invoked in execution environments of one backend.

    Functions with identical configuration and code share warm environments across tests within
    the pytest session, as Lambda reuses an execution environment across invocations.
    """

    def __init__(self, service: ControlPlane, config: FunctionConfig, backend: str) -> None:
        self._service = service
        self.config = config
        self.backend = backend

    @property
    def name(self) -> str:
        """The function's name (`AWS_LAMBDA_FUNCTION_NAME` inside the environment)."""
        return self.config.name

    @property
    def arn(self) -> str:
        """The function's ARN, in the region and account the environment reports."""
        return self.config.arn

    @property
    def version(self) -> str:
        """"$LATEST", or this handle's published version number."""
        return self.config.version

    def invoke(
        self, event: Any = None, *, client_context: dict[str, Any] | None = None,
        trace_id: str | None = None, qualifier: str | None = None,
    ) -> InvokeResult:
        """Invoke the function synchronously (RequestResponse) and return the result.

        `event` is any JSON-serialisable value, or bytes sent as they are. `client_context` is a
        dict the function sees as `context.client_context`. `trace_id` is the X-Ray trace header
        the runtime gets (`Lambda-Runtime-Trace-Id`, `_X_AMZN_TRACE_ID` in the function), in
        Lambda's form `Root=1-...;Parent=...;Sampled=0`; by default each call gets a new one.
        Function errors (exceptions,
        timeouts, crashes) are on the result; errors of the Invoke operation itself raise an
        `InvokeError` subclass (`TooManyRequestsException` over the reserved concurrency).
        `qualifier` invokes a published version ("2") or an alias ("prod", which picks its
        version by its weights); `result.executed_version` says which ran.
        """
        if qualifier is None:
            return self._invoke(event, client_context=client_context, trace_id=trace_id)
        target = self._target(qualifier)
        return target.function._invoke(event, client_context=client_context,
                                       trace_id=trace_id, invoked_arn=target.invoked_arn)

    def _target(self, qualifier: str) -> Target:
        from pytest_lambda.service.registry import parse_function_name

        ref = parse_function_name(self.name, qualifier, region=self.config.region,
                                  account_id=self.config.account_id)
        return self._service.registry.find(ref)

    def _invoke(self, event: Any, *, client_context: dict[str, Any] | None = None,
                trace_id: str | None = None, request_id: str | None = None,
                invoked_arn: str | None = None) -> InvokeResult:
        """Invoke synchronously, as `invoke`, and as the Lambda API and the asynchronous queue
        do (with the request id they chose)."""
        with self._service.registry.admit(self):
            _observe.invoking(self)
            result = self._service.invoke(
                self.config, event, backend=self.backend, client_context=client_context,
                trace_id=trace_id, request_id=request_id, invoked_arn=invoked_arn,
            )
        _observe.invoked(self.name, self.backend, result)
        return result

    def set_reserved_concurrency(self, reserved: int | None) -> None:
        """Reserve `reserved` concurrent executions for the function (None: remove the
        reservation), as PutFunctionConcurrency does: an invocation over it is throttled
        (`TooManyRequestsException`, reason `ReservedFunctionConcurrentInvocationLimitExceeded`)
        and an asynchronous one goes back to the queue; 0 throttles everything. The
        reservations of all the account's functions must leave 100 of its concurrency
        unreserved (`InvalidParameterValueException` otherwise; an account of 100 or less can
        only reserve 0)."""
        from pytest_lambda.service.registry import validate_reserved_concurrency

        self._service.registry.set_reserved(self, validate_reserved_concurrency(reserved))

    def invoke_async(self, event: Any = None, *, qualifier: str | None = None) -> str:
        """Invoke the function asynchronously (the `Event` type) and return the request id.

        The event is queued and run with Lambda's asynchronous semantics: retries after a
        function error, the maximum event age, then the destinations and dead-letter queue
        `configure_async` sets. Function errors never raise here: they show in the service's
        record (`lambda_api.attempts`, `lambda_api.results`) and the destinations. Wait for the
        queue with `lambda_api.wait_for_async()` or `lambda_service.wait_for_async()`.
        The event runs with the asynchronous settings of `qualifier` (unqualified: this
        handle's version, `$LATEST` for the function), as Lambda's do.
        Raises `RequestTooLargeException` over 1 MB (Lambda's limit for `Event`).
        """
        if qualifier is None:
            return self._service.invoke_async(self, event)
        target = self._target(qualifier)
        return self._service.invoke_async(target.function, event, invoked_arn=target.invoked_arn)

    def publish_version(self, description: str = "") -> Function:
        """Publish the function's code and configuration as a new version and return its
        handle (``.version`` is its number); `$LATEST` stays as it is. Publishing again with
        nothing changed returns the latest version, as PublishVersion does.

        A version's environments are its own: `AWS_LAMBDA_FUNCTION_VERSION` is its number.
        Its code is a copy of the function's code as it is now: later edits of the directory
        do not reach it.
        """
        number = self._service.registry.publish(self, description)
        return self._target(number).function

    def set_provisioned_concurrency(self, count: int, *, qualifier: str | None = None) -> None:
        """Initialise `count` environments of this version (or of `qualifier`, a version or an
        alias) now and keep them warm, as PutProvisionedConcurrencyConfig does: their init runs
        here with `AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency`, and the
        invocations they serve start warm (no `Init Duration` in `REPORT`). `$LATEST` has no
        provisioned concurrency in Lambda: publish a version first. Setting it again changes
        the count: more environments are initialised, or the surplus is shut down.

        As in Lambda it counts against concurrency: with a reserved concurrency, the
        provisioned concurrency of all the function's versions and aliases together may not
        exceed it; without one, it comes out of the account's unreserved pool, which must keep
        its minimum (100). An alias and the version it points at cannot both have some
        (`ResourceConflictException`). Raises `InvalidParameterValueException` with Lambda's
        sentence otherwise, and EnvironmentStartError when an init fails (its output in the
        message; the previous count stays).
        """
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidParameterValueException(
                f"provisioned concurrency must be a whole number of environments, 1 or more, "
                f"not {count!r} (remove_provisioned_concurrency() removes it)."
            )
        registry = self._service.registry
        entry, key, version = registry.provisioned_target(self, qualifier)
        previous = registry.claim_provisioned(entry, key, count)
        try:
            self._keep_provisioned(entry, version)
        except BaseException:
            registry.release_provisioned(entry, key, restore=previous)
            raise

    def _keep_provisioned(self, entry: FunctionEntry, *versions: Function) -> None:
        """Bring the environments kept for each of `versions` to what its provisioned
        concurrency asks (its own and its aliases' together): initialise the missing ones
        (also those a reset or a crash took), shut the surplus down. When an init fails, those
        started for this call are shut down again before the error goes on."""
        registry, service = self._service.registry, self._service
        for version in versions:
            config, backend = version.config, version.backend
            wanted = registry.provisioned_for(entry, version.version)
            have = service.provisioned_count(config, backend)
            if wanted > have:
                # Environments about to be used, as an invocation's are: a per-test test
                # discards the warm ones earlier tests left first, not the ones made here.
                _observe.invoking(version)
                have = service.provisioned_count(config, backend)
                try:
                    service.provision(config, backend, wanted - have)
                except BaseException:
                    surplus = service.provisioned_count(config, backend) - have
                    if surplus > 0:
                        service.deprovision(config, backend, surplus)
                    raise
            elif have > wanted:
                service.deprovision(config, backend, have - wanted)

    def remove_provisioned_concurrency(self, *, qualifier: str | None = None) -> None:
        """Stop keeping this version's (or `qualifier`'s) provisioned environments, as
        DeleteProvisionedConcurrencyConfig does: idle ones shut down now, busy ones when their
        invocation ends, and later invocations start on-demand environments
        (`AWS_LAMBDA_INITIALIZATION_TYPE=on-demand`). Raises `ResourceNotFoundException`
        (Lambda's `ProvisionedConcurrencyConfigNotFoundException`) when it has none."""
        from pytest_lambda.errors import ResourceNotFoundException

        registry = self._service.registry
        entry, key, version = registry.provisioned_target(self, qualifier)
        if registry.release_provisioned(entry, key) is None:
            raise ResourceNotFoundException(
                f"No Provisioned Concurrency Config found for this function "
                f"({self.arn}:{key} has none).",
                error_type="ProvisionedConcurrencyConfigNotFoundException",
            )
        self._keep_provisioned(entry, version)

    def create_alias(self, name: str, version: str, *, routing: Mapping[str, float] | None = None,
                     description: str = "") -> None:
        """Create alias `name` for `version` ("$LATEST" or a published number), with an optional
        weighted second version: ``routing={"2": 0.1}`` sends a tenth of the invocations to
        version 2. Invoke it with ``invoke(event, qualifier=name)`` or by its ARN."""
        self._service.registry.put_alias(self, name, version, dict(routing or {}), description,
                                         create=True)

    def update_alias(self, name: str, version: str | None = None, *,
                     routing: Mapping[str, float] | None = None,
                     description: str | None = None) -> None:
        """Point alias `name` at another version or change its weights (None: unchanged;
        ``routing={}`` removes the second version). An alias with provisioned concurrency
        takes it along, as in Lambda: the new version's environments are initialised before
        this returns, and the old version's shut down."""
        self._update_alias(name, version, None if routing is None else dict(routing),
                           description)

    def _update_alias(self, name: str, version: str | None, routing: dict[str, float] | None,
                      description: str | None) -> Alias:
        """`update_alias`, and UpdateAlias: return the alias as it is now."""
        from pytest_lambda.errors import ResourceConflictException

        registry = self._service.registry
        entry = registry.entry(self.arn)
        previous = entry.aliases.get(name) if entry is not None else None
        count = entry.provisioned.get(name) if entry is not None else None
        moving = (entry is not None and previous is not None and count is not None
                  and version is not None and version != previous.version)
        if moving:
            assert entry is not None
            if version == "$LATEST":
                raise InvalidParameterValueException(
                    f"Provisioned Concurrency Configs cannot be applied to unpublished function "
                    f"versions (alias {name} has provisioned concurrency: point it at a "
                    f"published version, or remove_provisioned_concurrency first)."
                )
            if entry.provisioned.get(str(version)):
                raise ResourceConflictException(
                    f"Alias can't be used for Provisioned Concurrency configuration on an "
                    f"already Provisioned version (version {version} has some: delete its "
                    f"configuration first)."
                )
        alias = registry.put_alias(self, name, version, routing, description, create=False)
        if moving and previous is not None and entry is not None:
            try:
                self._keep_provisioned(entry, entry.versions[alias.version])
            except BaseException:
                registry.put_alias(self, name, previous.version, dict(previous.routing),
                                   previous.description, create=False)
                raise
            self._keep_provisioned(entry, entry.versions[previous.version])
        return alias

    def configure_async(
        self,
        *,
        maximum_retry_attempts: int = _limits.ASYNC_RETRY_ATTEMPTS_MAX,
        maximum_event_age: int = _limits.ASYNC_EVENT_AGE_MAX_S,
        on_success: str | None = None,
        on_failure: str | None = None,
        dead_letter_queue: str | None = None,
        qualifier: str | None = None,
    ) -> None:
        """Set the asynchronous invocation settings of one qualifier of the function, as
        PutFunctionEventInvokeConfig does, and `$LATEST`'s dead-letter queue, as its
        DeadLetterConfig does.

        ``maximum_retry_attempts`` (0 to 2; 2 by default) after a function error;
        ``maximum_event_age`` (60 to 21,600 s; 21,600 by default) in the queue;
        ``on_success`` and ``on_failure``: the ARN of an SQS queue, SNS
        topic, Lambda function or EventBridge bus for the invocation record;
        ``dead_letter_queue``: an SQS queue or SNS topic ARN for a failed event's payload.
        ``qualifier``: "$LATEST", a published version or an alias (by default this handle's
        own version: "$LATEST" for the function). Each qualifier has its own settings, and an
        event runs with those of the qualifier it was invoked by (Lambda's defaults when it
        has none). The dead-letter queue is part of the version's configuration, as in Lambda:
        set it on `$LATEST` (without a qualifier, or with "$LATEST"); `publish_version()`
        freezes it into the version, and an event that runs a version (itself or through an
        alias) goes to that version's. The settings of `$LATEST` and its dead-letter queue
        hold until a function of this name is made again; those of versions and aliases stay
        with them.
        """
        from pytest_lambda.service.registry import (
            LATEST,
            EventInvokeConfig,
            validate_destination,
            validate_event_invoke_config,
        )

        registry = self._service.registry
        entry, key = registry.event_invoke_key(self, qualifier)
        retries, age = validate_event_invoke_config(maximum_retry_attempts, maximum_event_age)
        settings = EventInvokeConfig(
            maximum_retry_attempts=retries, maximum_event_age=age,
            on_success=validate_destination(on_success, "on_success"),
            on_failure=validate_destination(on_failure, "on_failure"),
        )
        if key != LATEST and dead_letter_queue is not None:
            raise InvalidParameterValueException(
                f"A dead-letter queue is part of a version's configuration (a published "
                f"version keeps the one it was published with), so {key!r} cannot get one of "
                f"its own: set it on $LATEST (configure_async(dead_letter_queue=...) without "
                f"a qualifier) and publish a new version."
            )
        if key == LATEST:
            if dead_letter_queue is not None and dead_letter_queue.split(":")[2:3] not in (
                    ["sqs"], ["sns"]):
                raise InvalidParameterValueException(
                    f"dead_letter_queue {dead_letter_queue!r} is not an SQS queue or SNS topic "
                    f"ARN."
                )
            entry.set_dead_letter(validate_destination(dead_letter_queue, "dead_letter_queue"))
        registry.set_event_invoke(entry, key, settings)

    def reset(self) -> None:
        """Discard the function's warm environments: the next invocation is a cold start."""
        self._service.reset(self.config, self.backend)

    def __repr__(self) -> str:
        config = self.config
        what = (f"image {config.image.reference}" if config.image is not None
                else f"{config.runtime_name} {config.handler}")
        qualified = self.name if self.version == "$LATEST" else f"{self.name}:{self.version}"
        return f"<Function {qualified} {what} on {self.backend}>"


class FunctionFactory(Protocol):
    """The `lambda_function` fixture: makes a `Function` (see `LambdaService.function`, which
    takes the same arguments)."""

    def __call__(
        self,
        handler: str | None = None,
        *,
        code: str | PathLike[str] | None = None,
        runtime: RuntimeName | None = None,
        image: str | None = None,
        command: Sequence[str] | None = None,
        entry_point: Sequence[str] | None = None,
        working_directory: str | None = None,
        architecture: Architecture | None = None,
        memory_size: int = _limits.MEMORY_DEFAULT_MB,
        timeout: int = _limits.TIMEOUT_DEFAULT_S,
        ephemeral_storage: int = _limits.EPHEMERAL_STORAGE_DEFAULT_MB,
        environment: Mapping[str, str] | None = None,
        name: str | None = None,
        region: str = _aws.DEFAULT_REGION,
        account_id: str = _aws.DEFAULT_ACCOUNT_ID,
        layers: Sequence[str | PathLike[str] | Layer] | None = None,
        requirements: str | PathLike[str] | Literal[True] | None = None,
        network: NetworkMode = "isolated",
        backend: BackendName | None = None,
        reserved_concurrency: int | None = None,
        debug_port: int | None = None,
    ) -> Function: ...
