"""The emulated Lambda control plane: invocations, warm pools, deadlines and reports.

It validates an Invoke request, routes it to a warm environment of the function or starts one
(a cold start), enforces the deadline, writes `START`, `END` and `REPORT` lines with measured
figures, and returns an `InvokeResult`. An environment serves one invocation at a time;
concurrent invocations of one function get environments of their own, all reused afterwards.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_lambda.backends.base import Backend, ExecutionEnvironment
from pytest_lambda.backends.instrument import CoverageRequest
from pytest_lambda.config import limits as _limits
from pytest_lambda.config import names as _aws
from pytest_lambda.config.function import FunctionConfig
from pytest_lambda.result import InvokeResult
from pytest_lambda.runtime_api.lifecycle import FAILURE, SPINDOWN, TIMEOUT, Invocation
from pytest_lambda.service.asynchronous import AsyncQueue, Delivery, QueuedEvent
from pytest_lambda.service.destinations import Destinations
from pytest_lambda.service.environments import (
    StaleEnvironment,
    init_timed_out,
    runtime_exit_error,
    shut_down,
    wait_unless_debugged,
)
from pytest_lambda.service.payload import (
    encode_async_payload,
    encode_client_context,
    encode_payload,
    encode_trace_id,
)
from pytest_lambda.service.platform_events import (
    init_start,
    publish_init,
    publish_report,
    publish_runtime_done,
)
from pytest_lambda.service.registry import Registry
from pytest_lambda.service.reporting import (
    billed_ms,
    invocation_logs,
    report_line,
    response_too_large,
    timeout_error,
)
from pytest_lambda.system import clock as _clock

if TYPE_CHECKING:
    from pytest_lambda.service.asynchronous import AsyncResult
    from pytest_lambda.service.function import Function

#: Idle environments the control plane keeps warm in all, across functions (None: no cap).
#: Lambda reclaims idle environments too; with the cap a long suite's hundreds of functions do
#: not each keep a runtime in memory and its /tmp's disk (512 MB by default, reserved) until the
#: session ends.
MAX_IDLE_ENVIRONMENTS: int | None = 48


@dataclass
class _Slot:
    env: ExecutionEnvironment
    generation: int
    #: When it last became idle (real clock): the least recently used goes first.
    idle_since: float = field(default_factory=_clock.perf)


class _Pool:
    """Warm environments of one configuration."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: list[_Slot] = []
        self.busy = 0
        self.generation = 0
        #: The environments provisioned concurrency keeps (idle or busy), and those a smaller
        #: or deleted provisioned concurrency gave up: each is shut down when it is next idle.
        self.provisioned: set[ExecutionEnvironment] = set()
        self.retiring: set[ExecutionEnvironment] = set()


class ControlPlane:
    """Route invocations to execution environments and report them as Lambda does.

    `backends` makes each backend by name on first use.
    """

    def __init__(self, backends: Mapping[str, Callable[[], Backend]]) -> None:
        self._backend_factories = backends
        self._backends: dict[str, Backend] = {}
        self._backends_lock = threading.Lock()
        self._pools: dict[tuple[str, str], _Pool] = {}
        self._pools_lock = threading.Lock()
        self._reaper = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lambda-teardown")
        self._pending: list[Future[None]] = []
        self._closed = False
        #: Idle environments kept in all; beyond it the least recently used is shut down.
        self.max_idle_environments = MAX_IDLE_ENVIRONMENTS
        #: The functions made, by ARN, as Lambda's API finds them.
        self.registry = Registry()
        #: Where asynchronous invocation records go (give it an AWS endpoint for SQS, SNS and
        #: EventBridge destinations).
        self.destinations = Destinations(self._invoke_destination)
        #: The factor on Lambda's asynchronous waits and event age (the async_delay_scale
        #: setting).
        self.async_delay_scale = 1.0
        self._async: AsyncQueue | None = None
        self._async_lock = threading.Lock()
        #: Given the address an environment reaches this host at, returns the Lambda API's URL
        #: there (`AWS_ENDPOINT_URL_LAMBDA`), or None; the Lambda API sets it.
        self.lambda_endpoint: Callable[[str], str | None] | None = None
        #: Measure Python functions' code for the caller's coverage data (see `collect_coverage`).
        self.coverage: CoverageRequest | None = None

    # -- backends and pools -------------------------------------------------------------------

    def backend(self, name: str) -> Backend:
        """Return the backend called `name`, making it on first use."""
        with self._backends_lock:
            if name not in self._backends:
                self._backends[name] = self._backend_factories[name]()
            return self._backends[name]

    def made_backend(self, name: str) -> Backend | None:
        """Return the backend called `name` if it has been made, without making it."""
        with self._backends_lock:
            return self._backends.get(name)

    def _pool(self, config: FunctionConfig, backend: str) -> _Pool:
        key = (backend, config.pool_key())
        with self._pools_lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = _Pool()
            return pool

    def _discard(self, env: ExecutionEnvironment, reason: str = SPINDOWN) -> None:
        if env.server.extensions.registered:
            # Lambda's shutdown phase (SIGTERM, SHUTDOWN events, up to 2 s) runs in the background.
            self._in_background(shut_down, env, reason)
            return
        # Stop it answering at once; the slow part (removing a container) runs in the background.
        # A runtime whose launcher is still saving coverage data keeps its Runtime API (without
        # it the runtime exits) until `destroy` has let the saving end.
        if not env.coverage_unsaved():
            env.server.close()
        self._in_background(env.destroy)

    def _in_background(self, work: Callable[..., None], *args: Any) -> None:
        """Run teardown `work` on the reaper's threads, or here once the service has closed
        (an invocation that was in flight then ends after the reaper stopped)."""
        try:
            self._pending.append(self._reaper.submit(work, *args))
        except RuntimeError:  # the reaper has shut down
            work(*args)

    def _reclaim_idle(self) -> None:
        """Shut down the least recently used idle environments beyond `max_idle_environments`;
        the functions they served start cold next time, as after Lambda reclaims them."""
        if self.max_idle_environments is None:  # the default: no walk over every pool
            return
        with self._pools_lock:
            pools = list(self._pools.values())
        while True:
            count, oldest = 0, None
            for pool in pools:
                with pool.lock:
                    count += len(pool.idle)
                    for slot in pool.idle:
                        if slot.env in pool.provisioned:
                            continue  # kept by provisioned concurrency, as in Lambda
                        if oldest is None or slot.idle_since < oldest[1].idle_since:
                            oldest = (pool, slot)
            if count <= self.max_idle_environments or oldest is None:
                return
            pool, slot = oldest
            with pool.lock:
                if slot not in pool.idle:  # taken by an invocation meanwhile
                    continue
                pool.idle.remove(slot)
            self._discard(slot.env)

    def reset(self, config: FunctionConfig, backend: str) -> None:
        """Discard the warm environments of `config`: the next invocation is a cold start."""
        pool = self._pool(config, backend)
        with pool.lock:
            pool.generation += 1
            idle, pool.idle = pool.idle, []
            pool.provisioned.difference_update(slot.env for slot in idle)
        for slot in idle:
            self._discard(slot.env)

    def warm_count(self, config: FunctionConfig, backend: str) -> int:
        """Return how many idle warm environments `config` has."""
        pool = self._pool(config, backend)
        with pool.lock:
            return len(pool.idle)

    def close(self, *, wait: bool = True) -> None:
        """Destroy every environment and backend (session end). With `wait=False`, a backend
        may leave its engine's share of the removal to a process that outlives this one (see
        `Backend.closing`)."""
        self._closed = True
        for backend in list(self._backends.values()):
            backend.closing(hand_off=not wait)
        if self._async is not None:
            self._async.close()
        with self._pools_lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            with pool.lock:
                idle, pool.idle = pool.idle, []
                pool.generation += 1
            for slot in idle:
                self._discard(slot.env)
        for future in list(self._pending):
            try:
                future.result(timeout=60)
            except Exception:
                pass
        self._reaper.shutdown(wait=True)
        for backend in self._backends.values():
            backend.close()
        self._backends.clear()
        if self.coverage is not None:
            import shutil

            shutil.rmtree(self.coverage.root, ignore_errors=True)

    def collect_coverage(self, sources: list[str], target: Any,
                         packages: list[str] | None = None) -> int:
        """Merge what Python functions' environments measured so far into the CoverageData
        `target`, their paths mapped back to the host's; keep files under the directories
        `sources` or in the `packages` (all when both are empty). Return how many data files
        were merged."""
        if self.coverage is None:
            return 0
        from pytest_lambda.backends.instrument import collect_coverage

        return collect_coverage(self.coverage.root, sources, target, packages)

    # -- invoking -----------------------------------------------------------------------------

    def invoke(
        self,
        config: FunctionConfig,
        event: object = None,
        *,
        backend: str,
        client_context: dict[str, Any] | None = None,
        trace_id: str | None = None,
        request_id: str | None = None,
        invoked_arn: str | None = None,
    ) -> InvokeResult:
        """Run one synchronous (RequestResponse) invocation and return its result.

        `request_id` is the one the function sees (a new one when None; retries of an
        asynchronous event keep theirs); `invoked_arn` the ARN it was invoked by (with the
        version or alias), `context.invoked_function_arn`."""
        payload = encode_payload(event)
        context_text = encode_client_context(client_context)
        trace = encode_trace_id(trace_id)
        pool = self._pool(config, backend)
        with pool.lock:
            slot = None
            while pool.idle:
                candidate = pool.idle.pop()
                if candidate.env.exited.is_set() or candidate.env.server.closed:
                    self._discard(candidate.env)
                    continue
                slot = candidate
                break
            pool.busy += 1
            generation = pool.generation
        try:
            if slot is not None:
                try:
                    return self._invoke_warm(config, payload, context_text, pool, slot,
                                             trace=trace, request_id=request_id,
                                             invoked_arn=invoked_arn)
                except StaleEnvironment:
                    pass  # it died between invocations: Lambda would start a new one
            return self._invoke_cold(config, payload, context_text, backend, pool, generation,
                                     trace=trace, request_id=request_id,
                                     invoked_arn=invoked_arn)
        finally:
            with pool.lock:
                pool.busy -= 1

    def _new_invocation(self, config: FunctionConfig, payload: bytes,
                        context_text: str | None, trace: str | None = None,
                        request_id: str | None = None,
                        invoked_arn: str | None = None) -> Invocation:
        deadline_ms = int(_clock.wall() * 1000) + config.timeout * 1000
        invocation = Invocation(payload=payload, deadline_ms=deadline_ms,
                                function_arn=invoked_arn or config.arn,
                                client_context=context_text,
                                trace_id=trace or _aws.new_trace_id())
        if request_id is not None:
            invocation.request_id = request_id
        return invocation

    def _start_and_wait(
        self, backend: Backend, config: FunctionConfig, limit: float,
        initialization_type: str = "on-demand",
    ) -> tuple[ExecutionEnvironment, float]:
        """Start an environment and wait up to `limit` seconds for its init to end either way."""
        env = backend.create(config, log_stream_name=_aws.log_stream_name(version=config.version))
        env.initialization_type = initialization_type
        if self.lambda_endpoint is not None:
            env.lambda_endpoint_url = self.lambda_endpoint(env.server.host)
        env.coverage = self.coverage
        started = _clock.perf()
        try:
            env.start()
        except BaseException:
            env.destroy()
            raise
        started = env.launched_at or started
        server = env.server
        wait_unless_debugged(
            env,
            lambda: server.ready_at is not None or server.init_error is not None
            or env.exited.is_set(),
            timeout=limit,
        )
        return env, started

    def _invoke_cold(
        self, config: FunctionConfig, payload: bytes, context_text: str | None, backend_name: str,
        pool: _Pool, generation: int, *, trace: str | None = None,
        request_id: str | None = None, invoked_arn: str | None = None,
    ) -> InvokeResult:
        backend = self.backend(backend_name)
        init_limit = float(_limits.INIT_TIMEOUT_S)
        env, started = self._start_and_wait(backend, config, init_limit)
        before = init_start(config)
        budget = float(config.timeout)
        retried = False
        if init_timed_out(env):
            # Lambda cuts an init phase at 10 s and retries it within the first invocation,
            # under the function's timeout ("suppressed init").
            before += _ensure_newline(env.take_logs()) + (
                f"INIT_REPORT Init Duration: {init_limit * 1000:.2f} ms\tPhase: init\t"
                f"Status: timeout\n"
            )
            self._discard(env, TIMEOUT)
            env, started = self._start_and_wait(backend, config, budget)
            before += init_start(config)
            init_limit = budget
            retried = True
        invocation = self._new_invocation(config, payload, context_text, trace, request_id,
                                          invoked_arn)
        if env.server.ready_at is None:
            return self._init_failed(env, config, invocation, started, init_limit, before)
        init_ms = (env.server.ready_at - started) * 1000
        env.after_init()
        if retried:  # the retried init spent part of the invocation's time
            budget -= init_ms / 1000
            invocation.deadline_ms -= int(init_ms)
        before += env.take_logs()
        return self._run(env, config, invocation, pool, generation, init_ms, before, budget)

    def _invoke_warm(
        self, config: FunctionConfig, payload: bytes, context_text: str | None, pool: _Pool,
        slot: _Slot, *, trace: str | None = None, request_id: str | None = None,
        invoked_arn: str | None = None,
    ) -> InvokeResult:
        # The launcher saving the last invocation's coverage data is the harness's work between
        # invocations: it ends before this one's clock starts.
        slot.env.settle_coverage()
        invocation = self._new_invocation(config, payload, context_text, trace, request_id,
                                          invoked_arn)
        # Output written between invocations (background threads) belongs to no invocation's
        # START..END; CloudWatch shows it before the next START.
        leftover = slot.env.take_logs()
        logs = slot.env.logs
        if slot.env.exited.is_set() or (logs is not None and logs.eof.is_set()):
            # Its output stream just ended (the drain above saw it): it died idle.
            self._discard(slot.env, FAILURE)
            raise StaleEnvironment()
        return self._run(slot.env, config, invocation, pool, slot.generation, None, leftover)

    def _init_failed(
        self, env: ExecutionEnvironment, config: FunctionConfig, invocation: Invocation,
        started: float, init_limit: float, before: str,
    ) -> InvokeResult:
        server = env.server
        request_id = invocation.request_id
        if server.init_error is not None:
            if server.init_error_source == "runtime":
                # The runtime reported the failure; it exits next. Give its last words a moment.
                env.exited.wait(timeout=2)
            error_type, body, _ctype = server.init_error
            status = "error"
        elif env.exited.is_set():
            document, _trailer = runtime_exit_error(env, request_id)
            error_type, body = document["errorType"], _json(document)
            status = "error"
        else:
            document, _trailer = timeout_error(request_id, init_limit)
            error_type, body = document["errorType"], _json(document)
            status = "timeout"
        init_ms = (_clock.perf() - started) * 1000
        memory = env.max_memory_used_mb()
        output = env.take_logs() or env.startup_problem()
        if server.telemetry.subscribers:  # before the discard, whose shutdown delivers them
            publish_init(env, before + output, init_ms, status,
                               error_type if status == "error" else "Sandbox.Timedout")
        self._discard(env, TIMEOUT if status == "timeout" else FAILURE)
        logs = (
            before + _ensure_newline(output)
            + f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: init\tStatus: {status}"
            + (f"\tError Type: {error_type}" if status == "error" else "") + "\n"
            f"START RequestId: {request_id} Version: {config.version}\n"
            f"END RequestId: {request_id}\n"
            + report_line(request_id, 0.0, config.memory_size, memory, init_ms, status, error_type)
        )
        return InvokeResult(
            raw_payload=body, request_id=request_id, function_error="Unhandled", logs=logs,
            cold_start=True, init_duration_ms=init_ms, duration_ms=0.0, billed_duration_ms=0,
            max_memory_used_mb=memory, memory_size_mb=config.memory_size,
            executed_version=config.version,
        )

    def _run(
        self, env: ExecutionEnvironment, config: FunctionConfig, invocation: Invocation,
        pool: _Pool, generation: int, init_ms: float | None, before: str,
        budget: float | None = None,
    ) -> InvokeResult:
        server = env.server
        budget = float(config.timeout) if budget is None else budget
        request_id = invocation.request_id
        extensions = server.extensions
        publishing = bool(server.telemetry.subscribers)
        started_wall = _clock.wall() if publishing else 0.0
        if publishing and init_ms is not None:
            publish_init(env, before, init_ms, "success", None)
        if publishing:
            server.telemetry.publish_start(request_id=request_id, wall=started_wall,
                                           trace_id=invocation.trace_id)
        started = _clock.perf()
        deadline = started + max(budget, 0.0)
        server.dispatch(invocation)
        # The runtime's part ends when it asks for its next event (Lambda counts what it does
        # after answering), or when it exits after answering.
        wait_unless_debugged(env, lambda: invocation.finished.is_set() or env.exited.is_set(),
                              timeout=max(budget, 0.0))
        answered = invocation.done.is_set()
        runtime_over = invocation.finished.is_set() or (answered and env.exited.is_set())
        output = env.take_logs()
        if publishing and runtime_over:
            # Before the extensions are done: they may wait for it (the OpenTelemetry
            # collector's extension does).
            publish_runtime_done(env, invocation, started, output, None, None)
            output_sent = len(output)
        else:
            output_sent = 0
        if runtime_over and extensions.by_id:
            # It ends when every INVOKE-subscribed extension has asked for its next event.
            wait_unless_debugged(env, lambda: extensions.idle() or env.exited.is_set(),
                                  timeout=max(0.0, deadline - _clock.perf()))
        done = runtime_over and (not extensions.by_id or extensions.idle())
        ended = _clock.perf()
        if done:
            env.invocation_over()
        output += env.take_logs()
        status: str | None = None
        error_type: str | None = None
        function_error: str | None = None
        keep = False
        trailer = ""
        if done:
            completed = invocation.finished_at or ended
            if extensions.by_id and extensions.idle_at is not None:
                completed = max(completed, extensions.idle_at)
            duration = (completed - started) * 1000
            if invocation.outcome == "response":
                body = invocation.body
                keep = True
            elif invocation.outcome == "error":
                body = invocation.body
                function_error = "Unhandled"
                keep = True
            else:
                function_error = "Unhandled"
                document = response_too_large(invocation.response_size)
                error_type, body = document["errorType"], _json(document)
                status = "error"
                keep = True  # the runtime decides: awslambdaric exits, others carry on
            if env.exited.is_set():  # it exited after answering
                keep = False
        elif env.exited.is_set() and not answered:
            if not invocation.delivered and init_ms is None:
                self._discard(env, FAILURE)
                raise StaleEnvironment()
            duration = (ended - started) * 1000
            function_error = "Unhandled"
            document, trailer = runtime_exit_error(env, request_id)
            error_type, body = document["errorType"], _json(document)
            status = "error"
        else:
            server.abandon_current()
            duration = budget * 1000.0
            # Also when the runtime had answered but it (or an extension) was not done: like
            # the emulator, the answer is dropped and the caller gets the timeout.
            function_error = "Unhandled"
            document, trailer = timeout_error(request_id, config.timeout)
            error_type, body = document["errorType"], _json(document)
            status = "timeout"
        memory = env.max_memory_used_mb()
        if extensions.failed:  # an extension crashed or reported an exit error
            keep = False
        if publishing:
            # Published before the environment may be discarded, so that its shutdown delivers it.
            if not runtime_over:
                publish_runtime_done(env, invocation, started, output, status, error_type)
                output_sent = len(output)
            publish_report(env, invocation, output[output_sent:], status, error_type,
                                 duration, memory, init_ms)
        if keep and self._closed:  # it was busy when the service closed: it goes now
            keep = False
        if keep:
            with pool.lock:
                if generation == pool.generation and env not in pool.retiring:
                    pool.idle.append(_Slot(env, generation))
                    keep = True
                else:
                    keep = False
            if keep:
                self._reclaim_idle()
        if not keep:
            with pool.lock:
                pool.provisioned.discard(env)
                pool.retiring.discard(env)
            self._discard(env, TIMEOUT if status == "timeout" else
                          FAILURE if status == "error" or extensions.failed else SPINDOWN)
        logs = invocation_logs(
            before, request_id, output, trailer,
            report_line(request_id, duration, config.memory_size, memory, init_ms, status,
                        error_type),
            config.version,
        )
        return InvokeResult(
            raw_payload=body,
            request_id=request_id,
            function_error=function_error,
            logs=logs,
            cold_start=init_ms is not None,
            init_duration_ms=init_ms,
            duration_ms=round(duration, 2),
            billed_duration_ms=billed_ms(duration),
            max_memory_used_mb=memory,
            memory_size_mb=config.memory_size,
            executed_version=config.version,
        )

    def provision(self, config: FunctionConfig, backend: str, count: int) -> list[float]:
        """Initialise `count` environments of `config` ahead of invocations, as provisioned
        concurrency does (`AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency`), and keep
        them warm; return each init's duration (ms). Raises EnvironmentStartError, with the
        init's output, when one fails."""
        from pytest_lambda.errors import EnvironmentStartError

        pool = self._pool(config, backend)
        made = self.backend(backend)
        limit = float(_limits.PROVISIONED_INIT_TIMEOUT_S)

        def start() -> tuple[ExecutionEnvironment, float]:
            env, started = self._start_and_wait(made, config, limit, "provisioned-concurrency")
            if env.server.ready_at is None:
                output = env.take_logs() or env.startup_problem()
                self._discard(env, FAILURE)
                raise EnvironmentStartError(
                    f"Provisioned concurrency for {config.arn}:{config.version} failed: the "
                    f"init phase did not finish. Its output:\n{output}"
                )
            env.after_init()
            return env, (env.server.ready_at - started) * 1000

        with ThreadPoolExecutor(max_workers=max(1, min(count, 8)),
                                thread_name_prefix="lambda-provision") as workers:
            futures = [workers.submit(start) for _ in range(count)]
        durations = []
        failure: BaseException | None = None
        for future in futures:
            try:
                env, init_ms = future.result()
            except BaseException as exc:
                failure = failure or exc
                continue
            with pool.lock:
                pool.idle.append(_Slot(env, pool.generation))
                pool.provisioned.add(env)
            durations.append(init_ms)
        self._reclaim_idle()
        if failure is not None:
            raise failure
        return durations

    def deprovision(self, config: FunctionConfig, backend: str, count: int | None = None) -> int:
        """Stop keeping `count` (None: all) of the environments `provision` made for `config`,
        as a smaller or deleted provisioned concurrency does: idle ones are shut down now, busy
        ones when their invocation ends; later invocations start on-demand environments.
        Return how many were given up."""
        pool = self._pool(config, backend)
        with pool.lock:
            wanted = len(pool.provisioned) if count is None else count
            idle = [slot for slot in pool.idle if slot.env in pool.provisioned][:wanted]
            for slot in idle:
                pool.idle.remove(slot)
                pool.provisioned.discard(slot.env)
            busy = [env for env in pool.provisioned
                    if not env.exited.is_set()][:max(wanted - len(idle), 0)]
            for env in busy:
                pool.provisioned.discard(env)
                pool.retiring.add(env)
        for slot in idle:
            self._discard(slot.env)
        return len(idle) + len(busy)

    def provisioned_count(self, config: FunctionConfig, backend: str) -> int:
        """Return how many environments provisioned concurrency keeps for `config` now (one
        that died, or that `reset` discarded, no longer counts)."""
        pool = self._pool(config, backend)
        with pool.lock:
            pool.provisioned = {env for env in pool.provisioned
                                if not env.exited.is_set() and not env.server.closed}
            return len(pool.provisioned)

    # -- asynchronous invocation --------------------------------------------------------------

    def invoke_async(self, function: Function, event: object = None, *,
                     limit: int = _limits.ASYNC_REQUEST_MAX_BYTES,
                     operation: str = "the Event invocation type",
                     invoked_arn: str | None = None) -> str:
        """Queue an asynchronous (`Event`) invocation of `function`; return its request id.

        The payload is checked at once (Lambda's 202 comes after that); the rest follows
        Lambda's asynchronous semantics (see `service.asynchronous`).
        """
        import uuid

        payload = encode_async_payload(event, limit, operation)
        settings = self.registry.async_settings(function, invoked_arn)
        queued = QueuedEvent(request_id=str(uuid.uuid4()), function_arn=function.arn,
                             payload=payload, config=settings,
                             target=(function, invoked_arn))
        self.async_queue().submit(queued)
        return queued.request_id

    def async_queue(self) -> AsyncQueue:
        """Return the service's asynchronous invocation queue, made on first use."""
        with self._async_lock:
            if self._async is None:
                self._async = AsyncQueue(self._run_async, self._deliver_async,
                                         delay_scale=self.async_delay_scale)
            return self._async

    def wait_for_async(self, timeout: float | None = 60.0) -> list[AsyncResult]:
        """Wait until every asynchronous event has finished (retries, destinations and all);
        return every finished event's result. Raises AsyncTimeoutError, naming what is still
        pending, after `timeout` seconds."""
        __tracebackhide__ = True
        queue = self.async_queue()
        queue.wait(timeout)
        return list(queue.results)

    def _run_async(self, event: QueuedEvent) -> InvokeResult:
        function, invoked_arn = event.target
        return function._invoke(event.payload, request_id=event.request_id,  # type: ignore[no-any-return]
                                invoked_arn=invoked_arn)

    def _deliver_async(self, event: QueuedEvent, result: AsyncResult) -> tuple[Delivery, ...]:
        return self.destinations.deliver(event, result)

    def _invoke_destination(self, arn: str, payload: bytes) -> None:
        from pytest_lambda.service.registry import parse_function_name

        target = self.registry.find(parse_function_name(arn))
        self.invoke_async(target.function, payload, invoked_arn=target.invoked_arn)


def _ensure_newline(text: str) -> str:
    return text + "\n" if text and not text.endswith("\n") else text


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()
