"""Configuration checks, in Lambda's words, and how code directories and archives are handled."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pytest_lambda
from pytest_lambda import ConfigurationError
from pytest_lambda.artifacts.files import hash_tree
from pytest_lambda.config.function import RESERVED_ENVIRONMENT_KEYS, FunctionConfig
from pytest_lambda.service.build import build_config


@pytest.fixture
def code(tmp_path: Path) -> Path:
    d = tmp_path / "code"
    d.mkdir()
    (d / "app.py").write_text("def handler(event, context):\n    return event\n")
    return d


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("PYTEST_LAMBDA_CACHE_DIR", str(d))
    return d


def build(code: object, **kwargs: Any) -> FunctionConfig:
    kwargs.setdefault("runtime", "python3.13")
    return build_config(kwargs.pop("handler", "app.handler"), code=code, **kwargs)


def refused(code: object, **kwargs: Any) -> str:
    with pytest.raises(ConfigurationError) as info:
        build(code, **kwargs)
    assert isinstance(info.value, pytest_lambda.ConfigurationError)
    return str(info.value)


# -- numbers ---------------------------------------------------------------------------------

def test_memory_below_the_minimum(code: Path) -> None:
    assert refused(code, memory_size=127) == (
        "1 validation error detected: Value '127' at 'memorySize' failed to satisfy constraint: "
        "Member must have value greater than or equal to 128 (pass memory_size= between 128 and "
        "10240 MB)."
    )


def test_memory_above_the_maximum(code: Path) -> None:
    assert refused(code, memory_size=10241) == (
        "1 validation error detected: Value '10241' at 'memorySize' failed to satisfy "
        "constraint: Member must have value less than or equal to 10240 (pass memory_size= "
        "between 128 and 10240 MB)."
    )


@pytest.mark.parametrize("value", ["256", True, 256.0, None])
def test_memory_must_be_a_whole_number(code: Path, value: object) -> None:
    assert refused(code, memory_size=value) == (
        f"memorySize must be a whole number, not {value!r} (pass memory_size= between 128 and "
        f"10240 MB)."
    )


@pytest.mark.parametrize("value", [128, 10240])
def test_memory_boundaries_are_accepted(code: Path, value: int) -> None:
    assert build(code, memory_size=value).memory_size == value


def test_timeout_zero(code: Path) -> None:
    assert refused(code, timeout=0) == (
        "1 validation error detected: Value '0' at 'timeout' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1 (pass timeout= between 1 and 900 "
        "seconds)."
    )


def test_timeout_over_fifteen_minutes(code: Path) -> None:
    assert refused(code, timeout=901) == (
        "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: "
        "Member must have value less than or equal to 900 (pass timeout= between 1 and 900 "
        "seconds)."
    )


@pytest.mark.parametrize("value", [1, 900])
def test_timeout_boundaries_are_accepted(code: Path, value: int) -> None:
    assert build(code, timeout=value).timeout == value


@pytest.mark.parametrize(
    ("value", "bound"),
    [(511, "greater than or equal to 512"), (10241, "less than or equal to 10240")],
)
def test_ephemeral_storage_out_of_range(code: Path, value: int, bound: str) -> None:
    assert refused(code, ephemeral_storage=value) == (
        f"1 validation error detected: Value '{value}' at 'ephemeralStorage.size' failed to "
        f"satisfy constraint: Member must have value {bound} (pass ephemeral_storage= between "
        f"512 and 10240 MB)."
    )


@pytest.mark.parametrize("value", [512, 10240])
def test_ephemeral_storage_boundaries_are_accepted(code: Path, value: int) -> None:
    assert build(code, ephemeral_storage=value).ephemeral_storage == value


# -- environment -----------------------------------------------------------------------------

def test_environment_over_four_kilobytes(code: Path) -> None:
    env = {"BIG": "x" * 4096}
    measured = json.dumps(env, separators=(",", ":"))
    assert refused(code, environment=env) == (
        "Lambda was unable to configure your environment variables because the environment "
        f"variables you have provided exceeded the 4KB limit. String measured: {measured}"
    )


def test_environment_of_exactly_four_kilobytes_is_accepted(code: Path) -> None:
    overhead = len('{"BIG":""}')
    env = {"BIG": "x" * (4096 - overhead)}
    assert build(code, environment=env).env == env
    assert refused(code, environment={"BIG": "x" * (4097 - overhead)}).startswith(
        "Lambda was unable to configure your environment variables because the environment "
        "variables you have provided exceeded the 4KB limit."
    )


@pytest.mark.parametrize("key", sorted(RESERVED_ENVIRONMENT_KEYS))
def test_each_reserved_key_is_refused(code: Path, key: str) -> None:
    message = refused(code, environment={key: "x", "MINE": "y"})
    if key.startswith("_"):
        # Lambda checks the name pattern first, so `_HANDLER` never reaches the reserved check.
        assert message.startswith("1 validation error detected: Value at 'environment.variables'")
        assert message.endswith(f"(rename {key!r}).")
        return
    assert message == (
        "Lambda was unable to configure your environment variables because the environment "
        "variables you have provided contains reserved keys that are currently not supported "
        f"for modification. Reserved keys used in this request: {key}"
    )


@pytest.mark.parametrize("key", ["1abc", "A-B", "", "a b", "AB\n", "ÄB"])
def test_invalid_variable_names(code: Path, key: str) -> None:
    assert refused(code, environment={key: "x"}) == (
        "1 validation error detected: Value at 'environment.variables' failed to satisfy "
        "constraint: Map keys must satisfy constraint: [Member must satisfy regular expression "
        f"pattern: [a-zA-Z]([a-zA-Z0-9_])+] (rename {key!r})."
    )


@pytest.mark.parametrize("value", [1, None, True, b"x", ["x"]])
def test_variable_values_must_be_strings(code: Path, value: object) -> None:
    assert refused(code, environment={"COUNT": value}) == (
        f"Environment variable COUNT must be a string, not {type(value).__name__}: Lambda "
        f"stores variables as strings (pass str(value))."
    )


def test_environment_must_be_a_mapping(code: Path) -> None:
    assert refused(code, environment=[("A1", "x")]) == (
        "environment must be a dict of variable names to strings, not list."
    )


# -- names, runtimes, handlers ---------------------------------------------------------------

def test_function_name_over_64_characters(code: Path) -> None:
    name = "f" * 65
    assert refused(code, name=name) == (
        f"1 validation error detected: Value '{name}' at 'functionName' failed to satisfy "
        f"constraint: Member must have length less than or equal to 64 (pass a shorter name=)."
    )
    assert build(code, name="f" * 64).name == "f" * 64


@pytest.mark.parametrize("name", ["my function", "fn:prod", "fn\n"])
def test_function_name_with_forbidden_characters(code: Path, name: str) -> None:
    shown = name if name.isprintable() else repr(name)[1:-1]
    assert refused(code, name=name) == (
        f"1 validation error detected: Value '{shown}' at 'functionName' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: "
        r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?"
        r"(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
        " (use only letters, digits, '-' and '_' in name=)."
    )


@pytest.mark.parametrize("name", ["", 5])
def test_function_name_must_be_a_non_empty_string(code: Path, name: str | int) -> None:
    assert refused(code, name=name) == f"Function name must be a non-empty string, not {name!r}."


def test_unknown_runtime_lists_the_known_ones(code: Path) -> None:
    assert refused(code, runtime="python2.7") == (
        "Unknown runtime 'python2.7': pytest-aws-lambda supports nodejs20.x, nodejs22.x, "
        "nodejs24.x, provided.al2, provided.al2023, python3.10, python3.11, python3.12, "
        "python3.13, python3.14."
    )
    assert refused(code, runtime=3.13) == (
        "runtime must be a string such as 'python3.13', not 3.13."
    )


@pytest.mark.parametrize("handler", ["app", ".handler"])
def test_handler_without_a_module(code: Path, handler: str) -> None:
    assert refused(code, handler=handler) == (
        f"Handler {handler!r} has no module: pass 'module.function', for example 'app.handler' "
        f"for the function handler in app.py."
    )


def test_handler_without_a_function(code: Path) -> None:
    assert refused(code, handler="app.") == (
        "Handler 'app.' has no function: pass 'module.function', for example 'app.handler' "
        "for the function handler in app.py."
    )


@pytest.mark.parametrize("handler", ["app. handler", " app.handler", "app.handler\n", "", None])
def test_handler_with_whitespace_or_empty(code: Path, handler: str | None) -> None:
    assert refused(code, handler=handler) == (
        f"Handler {handler!r} is not valid: pass 'module.function', for example 'app.handler'."
    )


@pytest.mark.parametrize("runtime", ["python3.13", "provided.al2023"])
def test_handler_with_a_nul_is_refused_in_one_sentence(code: Path, runtime: str) -> None:
    message = refused(code, handler="app.hand\x00ler", runtime=runtime)
    assert message.startswith("Handler 'app.hand\\x00ler' contains a NUL character")
    assert "\x00" not in message and "\n" not in message


def test_handler_over_128_characters_is_refused_as_lambda_refuses_it(code: Path) -> None:
    handler = "m" * 121 + ".handler"
    assert refused(code, handler=handler).startswith(
        f"1 validation error detected: Value '{handler}' at 'handler' failed to satisfy "
        f"constraint: Member must have length less than or equal to 128"
    )
    assert len(build(code, handler="m" * 120 + ".handler").handler) == 128


def test_environment_value_with_a_nul_is_refused_in_one_sentence(code: Path) -> None:
    message = refused(code, environment={"KEY": "a\x00b"})
    assert message.startswith("Environment variable KEY contains a NUL character")
    assert "\x00" not in message


def test_unknown_keyword_argument(code: Path) -> None:
    assert refused(code, colour="blue", size=1) == (
        "lambda_function() got unknown keyword argument(s) colour, size: see `pytest --fixtures` "
        "for the ones it takes."
    )


# -- code ------------------------------------------------------------------------------------

def test_missing_code_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    assert refused(missing) == (
        f"Code path {str(missing)!r} does not exist: pass code= a directory or a .zip file with "
        f"the function's code (relative paths start at {os.getcwd()})."
    )


def test_code_path_too_long_to_stat_is_a_configuration_error(tmp_path: Path) -> None:
    long = tmp_path / ("a" * 300)
    assert refused(long) == (
        f"Code path {str(long)!r} does not exist: pass code= a directory or a .zip file with "
        f"the function's code (relative paths start at {os.getcwd()})."
    )


def test_code_that_is_neither_directory_nor_zip(tmp_path: Path) -> None:
    f = tmp_path / "app.py"
    f.write_text("x = 1\n")
    assert refused(f) == (
        f"Code path {str(f.resolve())!r} is neither a directory nor a .zip file: pass code= one "
        f"of those."
    )


def test_code_must_be_a_path(tmp_path: Path) -> None:
    assert refused(42) == "code must be a path to a directory or a .zip file, not int."


def _zip(path: Path, entries: list[tuple[str, bytes | str, int]]) -> Path:
    """Write a zip of (name, content, mode) entries; a symlink's content is its target."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, content, mode in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            zf.writestr(info, content)
    return path


LINK = stat.S_IFLNK | 0o777
FILE = stat.S_IFREG | 0o644
EXEC = stat.S_IFREG | 0o755


def test_zip_is_unpacked_into_the_cache_by_hash(tmp_path: Path, cache: Path) -> None:
    archive = _zip(tmp_path / "fn.zip", [
        ("app.py", "def handler(e, c):\n    return 1\n", FILE),
        ("bin/tool", "#!/bin/sh\necho hi\n", EXEC),
    ])
    from pytest_lambda.artifacts.files import hash_file

    config = build(archive)
    digest = hash_file(archive)
    assert config.code_dir == cache / "code" / digest
    assert config.code_hash == digest
    assert (config.code_dir / "app.py").read_text().startswith("def handler")
    assert os.stat(config.code_dir / "bin/tool").st_mode & 0o111 == 0o111
    assert os.stat(config.code_dir / "app.py").st_mode & 0o111 == 0
    inode = (config.code_dir / "app.py").stat().st_ino
    again = build(archive)
    assert again.code_dir == config.code_dir and again.pool_key() == config.pool_key()
    assert (config.code_dir / "app.py").stat().st_ino == inode  # not unpacked again
    assert sorted(p.name for p in (cache / "code").iterdir()) == [digest]  # no staging left


@pytest.mark.parametrize("name", ["../x", "/x", "a/../../x"])
def test_zip_entries_outside_are_refused(tmp_path: Path, cache: Path, name: str) -> None:
    archive = _zip(tmp_path / "bad.zip", [("app.py", "", FILE), (name, "evil", FILE)])
    assert refused(archive) == (
        f"{archive.resolve()} has an entry {name!r} that points outside the directory it is "
        f"unpacked into: rebuild the archive with relative paths."
    )
    assert not (tmp_path / "x").exists()
    assert not any((cache / "code").iterdir())  # the staging directory is removed


@pytest.mark.parametrize("target", ["../outside", "/etc/passwd", "sub/../../x"])
def test_zip_symlink_outside_is_refused(tmp_path: Path, target: str) -> None:
    archive = _zip(tmp_path / "bad.zip", [("app.py", "", FILE), ("evil", target, LINK)])
    assert refused(archive) == (
        f"{archive.resolve()} has a symbolic link 'evil' -> {target!r} that points outside the "
        f"directory it is unpacked into: rebuild the archive without it."
    )


def test_zip_chained_symlinks_that_end_up_outside_are_refused(tmp_path: Path) -> None:
    # "z" -> "x/y/.." looks inside while x/y does not exist; then x/y -> ".." makes z escape.
    archive = _zip(tmp_path / "bad.zip", [
        ("app.py", "", FILE), ("z", "x/y/..", LINK), ("x/y", "..", LINK),
    ])
    message = refused(archive)
    assert message.startswith(f"{archive.resolve()} has a symbolic link ")
    assert message.endswith(
        "that points outside the directory it is unpacked into: rebuild the archive without it."
    )


def test_zip_symlink_inside_is_kept(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "ok.zip", [
        ("app.py", "def handler(e, c):\n    return 1\n", FILE),
        ("lib/real.py", "X = 1\n", FILE),
        ("alias.py", "lib/real.py", LINK),
    ])
    root = build(archive).code_dir
    assert root is not None
    assert os.readlink(root / "alias.py") == "lib/real.py"
    assert (root / "alias.py").read_text() == "X = 1\n"


@pytest.mark.parametrize("region", ["eu-west-1", "us-gov-west-1", "ap-southeast-4",
                                    "cn-northwest-1", "us-isob-east-1"])
def test_region_names_are_accepted(code: Path, region: str) -> None:
    config = build(code, region=region)
    assert config.arn.startswith(f"arn:aws:lambda:{region}:")


@pytest.mark.parametrize("region", ["", "moon", "EU-WEST-1", "eu-west", "eu west 1", 3])
def test_bad_regions_are_refused(code: Path, region: str | int) -> None:
    assert refused(code, region=region) == (
        f"region must be an AWS region name such as 'us-east-1', not {region!r}."
    )


@pytest.mark.parametrize("account_id", ["12345678901", "1234567890123", "abcdefghijkl",
                                        123456789012])
def test_bad_account_ids_are_refused(code: Path, account_id: str | int) -> None:
    assert "twelve-digit AWS account id" in refused(code, account_id=account_id)


# -- hashing ---------------------------------------------------------------------------------

def test_hash_tree_follows_content_and_exec_bit_not_mtime(code: Path) -> None:
    first = hash_tree(code)
    app = code / "app.py"
    st_ = app.stat()
    os.utime(app, ns=(st_.st_atime_ns, st_.st_mtime_ns + 5_000_000_000))
    assert hash_tree(code) == first
    app.write_text(app.read_text().replace("event", "EVENT"))  # same size, new content
    changed = hash_tree(code)
    assert changed != first
    os.chmod(app, 0o755)
    executable = hash_tree(code)
    assert executable != changed
    os.chmod(app, 0o644)
    assert hash_tree(code) == changed


def test_hash_tree_ignores_pycache(code: Path) -> None:
    first = hash_tree(code)
    (code / "__pycache__").mkdir()
    (code / "__pycache__" / "app.cpython-313.pyc").write_bytes(b"\0" * 10)
    assert hash_tree(code) == first
    (code / "new.py").write_text("")
    assert hash_tree(code) != first


def _age(root: Path, seconds: float = 3600) -> None:
    then = os.stat(root).st_mtime - seconds
    for path in [root, *root.rglob("*")]:
        os.utime(path, (then, then))


def _later(monkeypatch: pytest.MonkeyPatch, seconds: float = 5) -> None:
    """Let the clock the racy-digest rule reads run `seconds` ahead (files look older)."""
    import time

    now = time.time_ns() + int(seconds * 1e9)
    monkeypatch.setattr(time, "time_ns", lambda: now)


def _records(cache_root: Path) -> list[Path]:
    return [p for p in (cache_root / "digests").rglob("*") if p.is_file()]


def test_a_later_session_reads_digests_back_instead_of_the_files(
    code: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pytest_lambda.artifacts import files
    from pytest_lambda.system import paths

    _age(code)
    _later(monkeypatch)
    first = hash_tree(code)
    (record,) = _records(paths.cache_dir())
    files._HASH_CACHE.clear()  # what a new session starts with
    record.write_text("f" * 64)  # only a digest read back, not the files' bytes, says this
    assert hash_tree(code) == "f" * 64
    assert first != "f" * 64


def test_digests_of_files_just_modified_are_not_written_down(
    code: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pytest_lambda.artifacts import files
    from pytest_lambda.system import paths

    hash_tree(code)  # the fixture's files were written a moment ago
    assert not _records(paths.cache_dir())
    _age(code)  # old mtimes, but setting them changed the ctimes just now
    hash_tree(code)
    assert not _records(paths.cache_dir())
    _later(monkeypatch)
    files._HASH_CACHE.clear()
    hash_tree(code)
    assert len(_records(paths.cache_dir())) == 1


def _same_size_and_mtime_rewrite(path: Path, new_text: str) -> None:
    """Rewrite `path` as `cp -p` / `rsync -a` would: other bytes, same size, the old mtime."""
    before = path.stat()
    assert len(new_text.encode()) == before.st_size
    staging = path.with_name(path.name + ".new")
    staging.write_text(new_text)
    os.utime(staging, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(staging, path)


@pytest.mark.parametrize("in_place", [False, True], ids=["replaced", "in-place"])
def test_a_file_rewritten_with_its_old_size_and_mtime_gets_a_new_digest(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, in_place: bool,
) -> None:
    from pytest_lambda.artifacts import files
    from pytest_lambda.artifacts.files import hash_file

    archive = tmp_path / "fn.zip"
    archive.write_text("version A")
    _age(tmp_path)
    _later(monkeypatch)
    first = hash_file(archive)
    assert len(_records(cache)) == 1  # written down for later sessions
    if in_place:
        before = archive.stat()
        archive.write_text("version B")
        os.utime(archive, ns=(before.st_atime_ns, before.st_mtime_ns))
    else:
        _same_size_and_mtime_rewrite(archive, "version B")
    for new_session in (False, True):
        if new_session:
            files._HASH_CACHE.clear()
        assert hash_file(archive) == hashlib.sha256(b"version B").hexdigest() != first


def test_a_tree_with_a_file_rewritten_with_its_old_size_and_mtime_gets_a_new_digest(
        code: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_lambda.artifacts import files

    _age(code)
    _later(monkeypatch)
    first = hash_tree(code)
    app = code / "app.py"
    _same_size_and_mtime_rewrite(app, app.read_text().replace("event", "EVENT"))
    files._HASH_CACHE.clear()
    assert hash_tree(code) != first


# -- pool keys and names ---------------------------------------------------------------------

def test_equal_configs_share_a_pool_key(code: Path) -> None:
    a = build(code, memory_size=256, environment={"A1": "x", "B2": "y"})
    b = build(code, memory_size=256, environment={"B2": "y", "A1": "x"})
    assert a == b and a.pool_key() == b.pool_key()


def test_different_configs_have_different_pool_keys(code: Path, tmp_path: Path) -> None:
    base = build(code)
    other_code = tmp_path / "other"
    other_code.mkdir()
    (other_code / "app.py").write_text("def handler(event, context):\n    return 2\n")
    keys = {
        base.pool_key(),
        build(code, memory_size=256).pool_key(),
        build(code, environment={"A1": "x"}).pool_key(),
        build(code, environment={"A1": "y"}).pool_key(),
        build(other_code).pool_key(),
        build(code, timeout=4).pool_key(),
    }
    assert len(keys) == 6


def test_default_function_name_is_readable_and_stable(code: Path) -> None:
    name = build(code).name
    assert name.startswith("app-handler-")
    assert build(code, memory_size=512).name == name
    assert 0 < len(name) <= 64
    long = build(code, handler="m" * 100 + ".handler").name
    assert len(long) == 64 and long.startswith("mmmm")


# -- fuzzing ---------------------------------------------------------------------------------

_junk = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.binary(max_size=20),
    st.text(max_size=20), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def _arg(*valid: object, extra: st.SearchStrategy | None = None) -> st.SearchStrategy:
    options = [st.sampled_from(valid), _junk]
    if extra is not None:
        options.append(extra)
    return st.one_of(*options)


# Relative paths only, without "..": an arbitrary string must not make the test hash "/" or ~.
_code_text = st.text(max_size=300).filter(
    lambda s: not s.startswith(("/", "~")) and ".." not in s
)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "code").mkdir()
    (root / "code" / "app.py").write_text("def handler(e, c):\n    return e\n")
    _zip(root / "fn.zip", [("app.py", "x = 1\n", FILE)])
    _zip(root / "bad.zip", [("../x", "x", FILE)])
    (root / "plain.txt").write_text("hi")
    return root


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    handler=_arg("app.handler", "a.b.c"),
    code=_arg("code", "fn.zip", "bad.zip", "plain.txt", "missing", extra=_code_text),
    runtime=_arg("python3.13", "python3.11"),
    memory_size=_arg(128, 256, 10240),
    timeout=_arg(1, 3, 900),
    ephemeral_storage=_arg(512, 10240),
    environment=_arg(None, {"A1": "x"}, extra=st.dictionaries(
        st.text(max_size=8), st.one_of(st.text(max_size=50), st.integers()), max_size=4)),
    name=_arg(None, "fn", extra=st.text(max_size=80)),
    region=_arg("us-east-1"),
    account_id=_arg("123456789012"),
)
def test_build_config_either_configures_or_says_why_in_one_line(
    fuzz_dir: Path, monkeypatch: pytest.MonkeyPatch, handler: object, code: object,
    runtime: object, memory_size: object, timeout: object, ephemeral_storage: object,
    environment: dict[str, object] | None, name: object, region: object, account_id: object,
) -> None:
    monkeypatch.chdir(fuzz_dir)
    try:
        config = build_config(
            handler, code=code, runtime=runtime, memory_size=memory_size, timeout=timeout,
            ephemeral_storage=ephemeral_storage, environment=environment, name=name,
            region=region, account_id=account_id,
        )
    except pytest_lambda.ConfigurationError as exc:
        message = str(exc)
        assert message and "\n" not in message and "\r" not in message
    else:
        assert isinstance(config, FunctionConfig)
        assert len(config.pool_key()) == 16


def test_zip_symlink_loop_is_a_configuration_error(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "loop.zip", [
        ("app.py", "", FILE), ("a", "b", LINK), ("b", "a", LINK), ("a/x", "x", FILE),
    ])
    message = refused(archive)
    assert message.startswith(f"{archive.resolve()} cannot be unpacked (")
    assert "\n" not in message


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize("entries", [
    [("a", "x", FILE), ("a/b", "y", FILE)],
    [("a", "x", FILE), ("a", "b", LINK)],
])
def test_zip_with_clashing_entries_is_a_configuration_error(
    tmp_path: Path, entries: list[Any],
) -> None:
    archive = _zip(tmp_path / "clash.zip", entries)
    message = refused(archive)
    assert message.startswith(f"{archive.resolve()} cannot be unpacked (")
    assert "\n" not in message


# -- the unzipped size limit -------------------------------------------------------------------

MB = 1024 * 1024


def _big_zip(path: Path, sizes: dict[str, int]) -> Path:
    """Write a small .zip whose entries unpack to `sizes` bytes of zeros each."""
    block = bytes(MB)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, size in sizes.items():
            with zf.open(zipfile.ZipInfo(name), "w", force_zip64=True) as out:
                for offset in range(0, size, MB):
                    out.write(block[: min(MB, size - offset)])
    return path


def _cached_trees(cache: Path) -> list[str]:
    return sorted(p.name for kind in ("code", "layers") if (cache / kind).is_dir()
                  for p in (cache / kind).iterdir())


def test_code_zip_over_250_mb_unzipped_is_refused_before_unpacking(
    tmp_path: Path, cache: Path,
) -> None:
    archive = _big_zip(tmp_path / "big.zip", {"app.py": 10, "blob.bin": 300 * MB})
    message = refused(archive)
    assert message.startswith(
        f"Unzipped size must be smaller than 262144000 bytes. The actual size is "
        f"{300 * MB + 10} bytes ("
    )
    assert _cached_trees(cache) == []  # nothing was unpacked, nothing is left


def test_code_directory_over_250_mb_is_refused(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("def handler(e, c):\n    return 1\n")
    with open(code / "sparse.bin", "wb") as f:
        f.truncate(251 * MB)
    assert refused(code).startswith("Unzipped size must be smaller than 262144000 bytes.")


def test_code_zip_and_layers_over_250_mb_are_refused_before_unpacking(
    tmp_path: Path, cache: Path,
) -> None:
    archive = _big_zip(tmp_path / "code.zip", {"app.py": 10, "blob.bin": 200 * MB})
    layer = _big_zip(tmp_path / "layer.zip", {"python/big.bin": 60 * MB})
    message = refused(archive, layers=[layer])
    assert message.startswith(
        f"Function code combined with layers exceeds the maximum allowed size of 262144000 "
        f"bytes. The actual size is {260 * MB + 10} bytes"
    )
    assert _cached_trees(cache) == []


def test_code_at_the_limit_with_layers_is_accepted(tmp_path: Path, cache: Path) -> None:
    archive = _zip(tmp_path / "code.zip", [("app.py", "x = 1\n", FILE)])
    layer = tmp_path / "layer"
    layer.mkdir()
    with open(layer / "sparse.bin", "wb") as f:
        f.truncate(250 * MB - len("x = 1\n"))
    config = build(archive, layers=[layer])
    assert config.code_dir is not None
    assert (config.code_dir / "app.py").is_file() and config.opt_dir is not None


def _lying_zip(path: Path, real: bytes, declared: int) -> Path:
    """Write a stored .zip whose one entry says it holds `declared` bytes but holds `real`."""
    _zip(path, [("blob.bin", real, FILE)])
    data = bytearray(path.read_bytes())
    size = len(real).to_bytes(4, "little")
    for header, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # uncompressed size
        at = data.index(header)
        assert data[at + offset: at + offset + 4] == size
        data[at + offset: at + offset + 4] = declared.to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path


def test_zip_whose_entries_hold_more_than_declared_is_refused(tmp_path: Path, cache: Path) -> None:
    archive = _lying_zip(tmp_path / "lying.zip", b"x" * 4096, declared=16)
    message = refused(archive)
    assert message.startswith(f"{archive.resolve()} cannot be unpacked")
    assert "\n" not in message
    assert _cached_trees(cache) == []


def test_extraction_stops_at_the_bytes_the_archive_declared(tmp_path: Path) -> None:
    from pytest_lambda.artifacts.files import safe_extract

    archive = _zip(tmp_path / "fn.zip", [("a.bin", b"a" * 3000, FILE),
                                         ("b.bin", b"b" * 3000, FILE)])
    (tmp_path / "out").mkdir()
    with pytest.raises(ConfigurationError, match=r"unpacks to more than the 5000 bytes"):
        safe_extract(archive, tmp_path / "out", budget=5000)


def test_invoke_handler_checks_code_and_layers_before_unpacking(
    tmp_path: Path, cache: Path,
) -> None:
    archive = _big_zip(tmp_path / "code.zip", {"app.py": 10, "blob.bin": 200 * MB})
    layer = _big_zip(tmp_path / "layer.zip", {"python/big.bin": 60 * MB})
    with pytest.raises(ConfigurationError, match=r"^Function code combined with layers exceeds"):
        pytest_lambda.invoke_handler("app.handler", {}, code=archive, layers=[layer])
    assert _cached_trees(cache) == []
