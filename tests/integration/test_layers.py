"""Layers: up to five directories or .zip files merged into /opt in Lambda's order.

On Docker the merged tree is mounted read-only at /opt. The process backend cannot mount it
there: `sys.path`, PATH and LD_LIBRARY_PATH point into the tree instead, so those tests compare
against the tree's own path.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_lambda import BackendName, ConfigurationError, Function, FunctionFactory, RuntimeName
from pytest_lambda.config.function import FunctionConfig
from pytest_lambda.service.build import build_config

docker_only = pytest.mark.parametrize("backend", ["docker"], indirect=True)
RUNTIME: RuntimeName = "python3.13"


@pytest.fixture
def layers_dir(functions_dir: Path) -> Path:
    return functions_dir / "layers"


@pytest.fixture
def make_fn(
    lambda_function: FunctionFactory, layers_dir: Path, backend: BackendName,
    python_runtime: RuntimeName,
) -> Callable[..., Function]:
    def make(layers: list[Path], **options: Any) -> Function:
        return lambda_function("app.handler", code=layers_dir / "fn", runtime=python_runtime,
                               backend=backend, layers=layers, **options)
    return make


def opt(fn: Function, backend: BackendName) -> str:
    """Return where the function sees /opt: /opt itself, or the merged tree on process."""
    return "/opt" if backend == "docker" else str(fn.config.opt_dir)


def python_version(backend: BackendName) -> str:
    """Return the runtime `make_fn` uses on `backend` (the `python_runtime` fixture's rule)."""
    from pytest_lambda.backends.host_python import find_python

    if backend == "docker" or find_python(RUNTIME.removeprefix("python")) is not None:
        return RUNTIME
    return "python{}.{}".format(*sys.version_info[:2])


def invoke(fn: Function, event: dict[str, Any]) -> Any:
    result = fn.invoke(event)
    assert result.function_error is None, (result.payload, result.logs)
    return result.payload


def write_zip(path: Path, entries: dict[str, tuple[bytes, int]]) -> Path:
    """Write a .zip whose entries carry Unix modes (S_IFLNK entries are symbolic links)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, (data, mode) in entries.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            zf.writestr(info, data)
    return path


# -- order and search paths --------------------------------------------------------------------

def test_later_layers_replace_earlier_files(
    make_fn: Callable[..., Function], layers_dir: Path, backend: BackendName,
) -> None:
    fn = make_fn([layers_dir / n for n in ("one", "two", "three", "four", "five")])
    found = invoke(fn, {"action": "import", "modules": ["shared", "only_one"]})
    root = opt(fn, backend)
    assert found["shared"] == {"value": "five", "file": f"{root}/python/shared.py"}
    assert found["only_one"] == {"value": "one", "file": f"{root}/python/only_one.py"}
    assert invoke(fn, {"action": "read", "path": f"{root}/etc/which.txt"}) == "four\n"


def test_python_search_paths_are_lambdas(
    make_fn: Callable[..., Function], backend: BackendName, tmp_path: Path,
) -> None:
    layer = tmp_path / "layer"
    site = layer / "python" / "lib" / python_version(backend) / "site-packages"
    site.mkdir(parents=True)
    (layer / "python" / "top.py").write_text('VALUE = "top"\n')
    (layer / "python" / "both.py").write_text('VALUE = "python"\n')
    (site / "deep.py").write_text('VALUE = "deep"\n')
    (site / "both.py").write_text('VALUE = "site-packages"\n')
    fn = make_fn([layer])
    root = opt(fn, backend)
    task = "/var/task" if backend == "docker" else str(fn.config.code_dir)
    site_dir = f"{root}/python/lib/{python_version(backend)}/site-packages"
    assert invoke(fn, {"action": "sys_path"})[:3] == [task, site_dir, f"{root}/python"]
    found = invoke(fn, {"action": "import", "modules": ["top", "deep", "both"]})
    assert {k: v["value"] for k, v in found.items()} == {
        "top": "top", "deep": "deep", "both": "site-packages",  # site-packages comes first
    }
    env = invoke(fn, {"action": "env", "keys": ["_PYTEST_LAMBDA_OPT", "PATH"]})
    assert env["_PYTEST_LAMBDA_OPT"] is None  # the bootstrap's, never the function's
    assert f"{root}/bin" in env["PATH"].split(":")


def test_binary_from_opt_bin_runs_by_name(
    make_fn: Callable[..., Function], layers_dir: Path,
) -> None:
    fn = make_fn([layers_dir / "three"])
    assert invoke(fn, {"action": "run", "argv": ["layer-hello", "x"]}) == {
        "code": 0, "stdout": "hello from layer three: x\n",
    }


def test_shared_library_from_opt_lib_loads_by_name(
    make_fn: Callable[..., Function], tmp_path: Path,
) -> None:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build the layer's shared library")
    source = tmp_path / "x.c"
    source.write_text("int layer_answer(void) { return 42; }\n")
    (tmp_path / "layer" / "lib").mkdir(parents=True)
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(tmp_path / "layer" / "lib" / "libx.so"),
                    str(source)], check=True)
    fn = make_fn([tmp_path / "layer"])
    assert invoke(fn, {"action": "cdll", "name": "libx.so"}) == 42


def test_zip_layer_keeps_exec_bits(make_fn: Callable[..., Function], tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "tools.zip", {
        "bin/zipped-tool": (b'#!/bin/sh\necho "zipped $1"\n', stat.S_IFREG | 0o755),
        "python/zipped.py": (b'VALUE = "zipped"\n', stat.S_IFREG | 0o644),
    })
    fn = make_fn([archive])
    assert invoke(fn, {"action": "run", "argv": ["zipped-tool", "ok"]})["stdout"] == "zipped ok\n"
    assert invoke(fn, {"action": "import", "modules": ["zipped"]})["zipped"]["value"] == "zipped"
    assert fn.config.opt_dir is not None
    assert os.stat(fn.config.opt_dir / "bin" / "zipped-tool").st_mode & 0o111 == 0o111


# -- the cache ---------------------------------------------------------------------------------

def test_changed_layer_is_picked_up_with_a_new_tree(
    make_fn: Callable[..., Function], tmp_path: Path, backend: BackendName,
) -> None:
    layer = tmp_path / "layer"
    (layer / "python").mkdir(parents=True)
    module = layer / "python" / "shared.py"
    module.write_text('VALUE = "first"\n')
    first = make_fn([layer])
    assert invoke(first, {"action": "import", "modules": ["shared"]})["shared"]["value"] == "first"
    module.write_text('VALUE = "second edit"\n')
    second = make_fn([layer])
    assert second.config.opt_dir != first.config.opt_dir
    result = second.invoke({"action": "import", "modules": ["shared"]})
    assert result.cold_start and result.payload["shared"]["value"] == "second edit"
    # The first tree was copied, not linked: editing the layer left it as it was.
    assert first.config.opt_dir is not None
    assert (first.config.opt_dir / "python" / "shared.py").read_text() == 'VALUE = "first"\n'
    assert make_fn([layer]).config.opt_dir == second.config.opt_dir  # unchanged: same tree


# -- docker: /opt ------------------------------------------------------------------------------

@docker_only
def test_opt_is_read_only_on_docker(make_fn: Callable[..., Function], layers_dir: Path) -> None:
    fn = make_fn([layers_dir / "four"])
    assert invoke(fn, {"action": "write", "path": "/opt/new.txt"}) == "EROFS"
    assert invoke(fn, {"action": "write", "path": "/opt/etc/which.txt"}) == "EROFS"


@docker_only
def test_no_layers_leaves_opt_empty(make_fn: Callable[..., Function]) -> None:
    fn = make_fn(None)
    assert fn.config.opt_dir is None
    assert invoke(fn, {"action": "listdir", "path": "/opt"}) == []


@docker_only
def test_paths_with_colons_are_mounted(
    lambda_function: FunctionFactory, layers_dir: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, backend: BackendName,
) -> None:
    # A bind's "source:target:mode" string cannot carry a colon in its source; mounts can.
    monkeypatch.setenv("PYTEST_LAMBDA_CACHE_DIR", str(tmp_path / "cache:dir"))  # /tmp, zips
    code = tmp_path / "code:dir"
    shutil.copytree(layers_dir / "fn", code, ignore=shutil.ignore_patterns("__pycache__"))
    layer = tmp_path / "layer:one"
    (layer / "python").mkdir(parents=True)
    (layer / "python" / "colon.py").write_text('VALUE = "colon"\n')
    archive = write_zip(tmp_path / "zipped:layer.zip", {
        "python/zipped.py": (b'VALUE = "zipped"\n', stat.S_IFREG | 0o644),
    })
    fn = lambda_function("app.handler", code=code, runtime=RUNTIME, backend=backend,
                         layers=[layer, archive])
    found = invoke(fn, {"action": "import", "modules": ["colon", "zipped"]})
    assert found == {"colon": {"value": "colon", "file": "/opt/python/colon.py"},
                     "zipped": {"value": "zipped", "file": "/opt/python/zipped.py"}}
    assert invoke(fn, {"action": "listdir", "path": "/var/task"}) == ["app.py"]
    assert invoke(fn, {"action": "write", "path": "/tmp/written"}) == "written"
    assert invoke(fn, {"action": "write", "path": "/var/task/new"}) == "EROFS"
    fn.reset()  # its /tmp lives under tmp_path: release it before the test's directory goes


# -- refusals ----------------------------------------------------------------------------------

def config(layers_dir: Path, layers: object) -> FunctionConfig:
    return build_config("app.handler", code=layers_dir / "fn", runtime=RUNTIME, layers=layers)


def test_sixth_layer_is_refused(layers_dir: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"^Cannot reference more than 5 layers"):
        config(layers_dir, [layers_dir / "one"] * 6)


def test_code_and_layers_over_250_mb_are_refused(layers_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "big").mkdir()
    with open(tmp_path / "big" / "sparse.bin", "wb") as f:
        f.truncate(251 * 1024 * 1024)
    with pytest.raises(ConfigurationError, match=(
        r"^Function code combined with layers exceeds the maximum allowed size of 262144000 "
        r"bytes\. The actual size is \d+ bytes")):
        config(layers_dir, [layers_dir / "one", tmp_path / "big"])


@pytest.mark.parametrize(("name", "what"), [
    ("../escape.py", "entry '../escape.py' that points outside"),
    ("/etc/absolute.py", "entry '/etc/absolute.py' that points outside"),
])
def test_zip_entry_outside_is_refused(
    layers_dir: Path, tmp_path: Path, name: str, what: str,
) -> None:
    archive = write_zip(tmp_path / "bad.zip", {name: (b"x", stat.S_IFREG | 0o644)})
    with pytest.raises(ConfigurationError, match=what):
        config(layers_dir, [archive])


def test_zip_symlink_outside_is_refused(layers_dir: Path, tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "bad.zip", {"lib/evil": (b"../../../etc", stat.S_IFLNK | 0o777)})
    with pytest.raises(ConfigurationError, match="symbolic link 'lib/evil'"):
        config(layers_dir, [archive])


@pytest.mark.parametrize("target", ["/etc/passwd", "../../outside"])
def test_directory_symlink_outside_is_refused(
    layers_dir: Path, tmp_path: Path, target: str,
) -> None:
    (tmp_path / "layer" / "lib").mkdir(parents=True)
    os.symlink(target, tmp_path / "layer" / "lib" / "evil")
    with pytest.raises(ConfigurationError, match=r"symbolic link 'lib/evil' .* outside the layer"):
        config(layers_dir, [tmp_path / "layer"])


def test_symlink_inside_a_layer_is_kept(layers_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "layer" / "lib").mkdir(parents=True)
    (tmp_path / "layer" / "lib" / "libreal.so").write_text("real")
    os.symlink("libreal.so", tmp_path / "layer" / "lib" / "libalias.so")
    merged = config(layers_dir, [tmp_path / "layer"]).opt_dir
    assert merged is not None
    assert (merged / "lib" / "libalias.so").read_text() == "real"


def test_layers_are_part_of_the_pool_key(layers_dir: Path) -> None:
    plain = config(layers_dir, None)
    with_layer = config(layers_dir, [layers_dir / "one"])
    assert plain.pool_key() != with_layer.pool_key()
    assert hash(with_layer) == hash(config(layers_dir, [layers_dir / "one"]))
