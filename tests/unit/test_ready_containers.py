"""The pool of containers started ahead of need (`backends/docker/ready.py`), with fake makers,
and the mount table reading it relies on (`system/mounts.py`)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from pytest_lambda.backends.docker.ready import ReadyContainer, ReadyContainers, ReadyKey
from pytest_lambda.config.settings import resolve
from pytest_lambda.errors import ConfigurationError
from pytest_lambda.system import mounts


def _key(memory: int = 128) -> ReadyKey:
    return ReadyKey(image="img", platform=None, network="net", memory_mb=memory, tmp_mb=512,
                    names=(), resolv_conf=True)


class _Maker:
    """Makes fake ready containers; `gate` holds background makes until set."""

    def __init__(self) -> None:
        self.made: list[ReadyContainer] = []
        self.discarded: list[ReadyContainer] = []
        self.threads: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False
        self.lock = threading.Lock()

    def make(self, key: ReadyKey) -> ReadyContainer:
        if threading.current_thread().name.startswith("lambda-ready"):
            assert self.gate.wait(timeout=10)
        if self.fail:
            raise RuntimeError("engine refused")
        container = ReadyContainer(key, Path("/nonexistent"), None)
        with self.lock:
            self.made.append(container)
            self.threads.append(threading.current_thread().name)
        return container

    def discard(self, container: ReadyContainer) -> None:
        self.discarded.append(container)


def _settle(pool: ReadyContainers, key: ReadyKey, count: int) -> None:
    for _ in range(1000):
        if pool.count(key) == count:
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"{pool.count(key)} ready, expected {count}")


def test_first_take_makes_one_itself_and_queues_one_replacement() -> None:
    maker = _Maker()
    pool = ReadyContainers(maker.make, maker.discard, depth=2)
    try:
        first = pool.take(_key())
        assert maker.threads[0] == threading.current_thread().name
        _settle(pool, _key(), 1)  # taken once: one replacement, not `depth`
        second = pool.take(_key())
        assert second is not first and second in maker.made
        _settle(pool, _key(), 2)  # taken twice: up to depth
        assert len(maker.made) == 4
    finally:
        pool.close()
    assert len(maker.discarded) == 2  # the two never taken


def test_kinds_are_kept_apart() -> None:
    maker = _Maker()
    pool = ReadyContainers(maker.make, maker.discard, depth=1)
    try:
        pool.take(_key(128))
        _settle(pool, _key(128), 1)
        assert pool.count(_key(256)) == 0
        pool.take(_key(256))
        assert maker.made[-1].key == _key(256) or maker.made[-2].key == _key(256)
    finally:
        pool.close()


def test_a_take_waits_for_the_container_being_made() -> None:
    maker = _Maker()
    pool = ReadyContainers(maker.make, maker.discard, depth=1)
    try:
        pool.take(_key())
        maker.gate.clear()  # the replacement is now held half-made in the background
        for _ in range(1000):
            if pool._making[_key()]:
                break
            threading.Event().wait(0.01)
        got: list[ReadyContainer] = []
        taker = threading.Thread(target=lambda: got.append(pool.take(_key())))
        taker.start()
        taker.join(timeout=0.3)
        assert taker.is_alive() and not got  # waiting, not making a second one
        maker.gate.set()
        taker.join(timeout=10)
        assert got and maker.threads[1].startswith("lambda-ready")
    finally:
        pool.close()


def test_a_failing_engine_reaches_the_caller_and_stops_the_refills() -> None:
    maker = _Maker()
    pool = ReadyContainers(maker.make, maker.discard, depth=2)
    try:
        pool.take(_key())
        _settle(pool, _key(), 1)
        pool.take(_key())
        maker.fail = True
        for _ in range(1000):  # the background refills fail and are not retried
            if not pool._queued and not pool._making[_key()]:
                break
            threading.Event().wait(0.01)
        ready_now = pool.count(_key())
        for _ in range(ready_now):
            pool.take(_key())
        with pytest.raises(RuntimeError, match="engine refused"):
            pool.take(_key())
    finally:
        pool.close()


def test_close_discards_what_is_ready_and_what_is_finished_after() -> None:
    maker = _Maker()
    pool = ReadyContainers(maker.make, maker.discard, depth=2)
    pool.take(_key())
    _settle(pool, _key(), 1)
    pool.take(_key())
    maker.gate.clear()  # a refill is in the middle of being made when the session ends
    threading.Timer(0.2, maker.gate.set).start()
    pool.close()
    taken = 2
    assert len(maker.discarded) == len(maker.made) - taken


def test_the_setting_takes_a_count_from_0_to_16() -> None:
    assert resolve(overrides={"ready_containers": "0"})["ready_containers"].value == "0"
    assert resolve()["ready_containers"].value == "2"
    with pytest.raises(ConfigurationError, match="whole number from 0 to 16"):
        resolve(overrides={"ready_containers": "many"})
    with pytest.raises(ConfigurationError, match="ready containers"):
        resolve(overrides={"ready_containers": "17"})


def test_mount_points_are_read_with_their_escapes(tmp_path: Path) -> None:
    base = tmp_path / "a b"
    escaped = str(base).replace(" ", "\\040")
    table = tmp_path / "mountinfo"
    table.write_text(
        f"22 27 0:21 / /proc rw - proc proc rw\n"
        f"45 27 254:0 / {escaped} rw shared:2 - ext4 x rw\n"
        f"46 45 254:0 / {escaped}/task/x ro - ext4 x rw\n"
        f"47 27 254:0 / {escaped}2 rw - ext4 x rw\n"
    )
    assert mounts.mounted_under(base, table=str(table)) == [base / "task" / "x", base]


def test_only_the_kinds_taken_last_keep_ready_containers() -> None:
    maker = _Maker()
    pool = ReadyContainers(maker.make, maker.discard, depth=1, kinds=2)
    try:
        for memory in (128, 256):
            pool.take(_key(memory))
            _settle(pool, _key(memory), 1)
        pool.take(_key(512))  # 128 is now the third kind back: its ready container goes
        _settle(pool, _key(512), 1)
        for _ in range(1000):
            if maker.discarded:
                break
            threading.Event().wait(0.01)
        assert [c.key for c in maker.discarded] == [_key(128)]
        assert pool.count(_key(128)) == 0 and pool.count(_key(256)) == 1
    finally:
        pool.close()


def _measured_key(memory: int = 128) -> ReadyKey:
    return ReadyKey(image="img", platform=None, network="net", memory_mb=memory, tmp_mb=512,
                    names=(), resolv_conf=True, tools="/cache/env-tools/abc")


def test_instrumented_and_plain_kinds_are_kept_apart() -> None:
    assert _key() != _measured_key() and _key().tools is None
    maker = _Maker()
    pool = ReadyContainers(maker.make, maker.discard, depth=1)
    try:
        pool.take(_key())
        _settle(pool, _key(), 1)
        assert pool.count(_measured_key()) == 0
        measured = pool.take(_measured_key())  # not the plain one waiting
        assert measured.key.tools == "/cache/env-tools/abc"
        _settle(pool, _measured_key(), 1)
        assert pool.count(_key()) == 1
    finally:
        pool.close()


def test_a_state_directory_goes_with_an_instrumented_kind_only(tmp_path: Path) -> None:
    """Checked before anything is mounted or handed over: a plain container has no mount point
    for it, and an instrumented runtime without one would write its data nowhere."""
    plain = ReadyContainer(_key(), tmp_path, None)
    with pytest.raises(ValueError, match="state directory"):
        plain.launch(tmp_path, None, {}, ["true"], state_dir=tmp_path)
    measured = ReadyContainer(_measured_key(), tmp_path, None)
    with pytest.raises(ValueError, match="state directory"):
        measured.launch(tmp_path, None, {}, ["true"])
    assert measured.state == tmp_path / "state"


@pytest.mark.skipif(mounts.available() is not None, reason=f"{mounts.available()}")
def test_a_writable_bind_shows_the_source_and_writes_through(tmp_path: Path) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    source.mkdir()
    target.mkdir()
    (source / "seen").write_text("yes")
    mounts.bind(source, target)
    try:
        assert (target / "seen").read_text() == "yes"
        (target / "written").write_text("through")
        assert target in mounts.mounted_under(tmp_path)
    finally:
        mounts.unmount(target)
    assert (source / "written").read_text() == "through"
    assert list(target.iterdir()) == []
