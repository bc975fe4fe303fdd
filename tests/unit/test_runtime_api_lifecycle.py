"""The lifecycle both Runtime API routers share, driven directly: init's end and failure, the
extensions init waits for, one invocation at a time, and close waking every waiter."""

from __future__ import annotations

import threading

import pytest

from pytest_lambda.runtime_api.lifecycle import (
    INIT_ERROR,
    STARTED,
    Invocation,
    Lifecycle,
)

ARN = "arn:aws:lambda:us-east-1:012345678912:function:test_function"


def invocation() -> Invocation:
    return Invocation(payload=b"{}", deadline_ms=0, function_arn=ARN)


def test_without_extensions_init_ends_when_the_runtime_first_asks() -> None:
    life = Lifecycle()
    with life.cond:
        assert life.in_init and life.registration_open and life.subscriptions_open
        assert life.runtime_ready()
        assert not life.runtime_ready()  # only the first request counts
    assert life.ready_at is not None and life.ready_at == life.runtime_ready_at
    assert not life.in_init and not life.registration_open and not life.subscriptions_open


def test_init_waits_for_every_extension_that_joined() -> None:
    life = Lifecycle()
    with life.cond:
        life.extension_joined("a")
        life.extension_joined("b")
        life.runtime_ready()
        assert life.ready_at is None
        assert not life.registration_open  # the runtime asked: no more registrations
        assert life.subscriptions_open  # but init is not over
        life.extension_ready("a")
        assert life.ready_at is None
        life.extension_ready("b")
    assert life.ready_at is not None and life.runtime_ready_at is not None
    assert life.ready_at >= life.runtime_ready_at
    assert not life.subscriptions_open


def test_extensions_ready_before_the_runtime_leave_init_to_the_runtime() -> None:
    life = Lifecycle()
    with life.cond:
        life.extension_joined("a")
        life.extension_ready("a")
        assert life.ready_at is None
        life.runtime_ready()
    assert life.ready_at is not None


def test_the_first_init_failure_stands_and_init_never_ends_after_it() -> None:
    life = Lifecycle()
    with life.cond:
        life.extension_joined("a")
        life.fail_init("Extension.Crash", b"first", "application/json", source="extension")
        life.fail_init("Extension.InitError", b"second", "application/json", source="extension")
        life.extension_ready("a")
        life.runtime_ready()
    assert life.init_error == ("Extension.Crash", b"first", "application/json")
    assert life.init_error_source == "extension"
    assert life.ready_at is None


def test_an_init_failure_after_init_ended_is_ignored() -> None:
    life = Lifecycle()
    with life.cond:
        life.runtime_ready()
        life.fail_init("Extension.Crash", b"late", "application/json", source="extension")
    assert life.init_error is None and life.init_error_source == "runtime"


def test_the_runtimes_init_error_moves_it_to_the_init_error_state() -> None:
    life = Lifecycle()
    assert life.state == STARTED
    with life.cond:
        life.runtime_init_error("Runtime.ImportModuleError", b"{}", "application/json")
    assert life.state == INIT_ERROR
    assert life.init_error == ("Runtime.ImportModuleError", b"{}", "application/json")


def test_one_invocation_at_a_time() -> None:
    life = Lifecycle()
    with life.cond:
        life.dispatch(invocation())
        with pytest.raises(RuntimeError, match="one invocation at a time"):
            life.dispatch(invocation())
    life.abandon_current()
    with life.cond:
        life.dispatch(invocation())  # abandoning frees the environment


def test_close_wakes_every_waiter_once() -> None:
    life = Lifecycle()
    woken: list[bool] = []
    waiter = threading.Thread(target=lambda: woken.append(life.wait_for(lambda: False, None)))
    waiter.start()
    assert life.close()
    waiter.join(timeout=10)
    assert not waiter.is_alive() and woken == [True]
    assert not life.close()  # already closed
    assert life.wait_for(lambda: False, timeout=0)  # a closed lifecycle does not block


def test_shutdown_records_its_reason() -> None:
    life = Lifecycle()
    with life.cond:
        life.begin_shutdown("spindown")
    assert life.shutdown_reason == "spindown"


def test_a_connection_closed_on_this_side_counts_as_closed() -> None:
    # The chaos test under load saw a /next whose connection the server had already closed
    # (the environment was discarded while the runtime waited): poll() refused its fd of -1
    # and the connection's thread died with a ValueError.
    import socket

    from pytest_lambda.runtime_api.wire import peer_closed

    ours, theirs = socket.socketpair()
    try:
        assert not peer_closed(ours)
        ours.close()
        assert peer_closed(ours)
    finally:
        theirs.close()
