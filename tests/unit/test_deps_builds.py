"""Dependency builds without Docker or a network: a local wheel and a `--no-index` requirements
file stand in for a package index, so the cache, the merge and invoke_handler's isolation are
tested in milliseconds."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_lambda import ConfigurationError, Layer, invoke_handler
from pytest_lambda.config import packaging
from pytest_lambda.config.runtimes import get_runtime
from pytest_lambda.project import builds as _builds
from pytest_lambda.project import dependencies as _deps
from pytest_lambda.project import manifests as _manifests
from pytest_lambda.project import npm_install as _npm
from pytest_lambda.project import pip_install as _pip
from pytest_lambda.project import reporting as _reporting

#: The process backend runs a Python runtime on an interpreter of its version: the host's.
HOST_PYTHON = "python{}.{}".format(*sys.version_info[:2])


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("PYTEST_LAMBDA_CACHE_DIR", str(root))
    return root


def requirements(directory: Path, wheels: Path, line: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "requirements.txt"
    path.write_text(f"--no-index\n--find-links {wheels}\n{line}\n")
    return path


def test_platforms_follow_the_runtimes_glibc_and_never_musl() -> None:
    on_al2 = packaging.python_platforms("3.11", "x86_64")
    on_al2023 = packaging.python_platforms("3.13", "arm64")
    assert on_al2[0] == "manylinux_2_26_x86_64"
    assert "manylinux_2_28_x86_64" not in on_al2
    assert on_al2023[0] == "manylinux_2_34_aarch64"
    assert {"manylinux2014_aarch64", "manylinux_2_17_aarch64"} <= set(on_al2023)
    assert not any("musl" in tag for tag in on_al2 + on_al2023)


def test_a_build_is_made_once_and_found_by_its_content(cache: Path, tmp_path: Path,
                                                       wheel_index: Path) -> None:
    target = packaging.Target(get_runtime("python3.13"), "x86_64")
    manifest = requirements(tmp_path / "a", wheel_index, "pldeps_probe==1.0")
    reporter = _reporting.Reporter(progress=lambda line: None)
    with _reporting.reporting_to(reporter):
        first = _builds.build(manifest, target, who="fn a")
        again = _builds.build(manifest, target, who="fn a")
        # Another function with the same requirements (another file, same bytes): same build.
        same = _builds.build(requirements(tmp_path / "b", wheel_index, "pldeps_probe==1.0")
                           .resolve(), target, who="fn b")
    assert first.built and not again.built and not same.built
    assert first.root == again.root == same.root
    assert (first.root / "pldeps_probe" / "__init__.py").read_text() == "VALUE = 'one'\n"
    assert [(r.what, r.built) for r in reporter.records] == [("fn a", True), ("fn b", False)]
    # Another runtime, another architecture or other contents: another build.
    keys = {_manifests.build_key(manifest, target),
            _manifests.build_key(manifest, packaging.Target(get_runtime("python3.11"), "x86_64")),
            _manifests.build_key(manifest, packaging.Target(get_runtime("python3.13"), "arm64"))}
    manifest.write_text(manifest.read_text().replace("1.0", "2.0"))
    changed = _builds.build(manifest, target, who="fn a")
    assert len(keys | {changed.key}) == 4 and changed.root != first.root
    assert (changed.root / "pldeps_probe" / "__init__.py").read_text() == "VALUE = 'two'\n"


def test_an_interrupted_build_is_never_taken_for_a_complete_one(cache: Path, tmp_path: Path,
                                                                wheel_index: Path) -> None:
    target = packaging.Target(get_runtime("python3.13"), "x86_64")
    manifest = requirements(tmp_path / "a", wheel_index, "pldeps_probe==1.0")
    key = _manifests.build_key(manifest, target)
    # What a session killed mid-build leaves: a staging directory of a process that is gone.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    staging = cache / "deps" / f"{key}.{dead.pid}.1.tmp"
    (staging / "tree" / "half_installed").mkdir(parents=True)
    built = _builds.build(manifest, target, who="fn")
    assert built.built
    assert not staging.exists()
    assert not (built.root / "half_installed").exists()


def test_a_build_killed_midway_leaves_no_entry(cache: Path, tmp_path: Path, wheel_index: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    target = packaging.Target(get_runtime("python3.13"), "x86_64")
    manifest = requirements(tmp_path / "a", wheel_index, "pldeps_probe==1.0")

    class Interrupted(BaseException):
        pass

    def interrupted(*args: object, **kwargs: object) -> None:
        raise Interrupted()

    with monkeypatch.context() as patch:
        patch.setattr(_pip, "install", interrupted)
        with pytest.raises(Interrupted):
            _builds.build(manifest, target, who="fn")
    assert [p.name for p in (cache / "deps").iterdir() if not p.name.endswith(".lock")] == []
    assert _builds.build(manifest, target, who="fn").built


def test_a_requirement_pip_cannot_find_names_the_function_and_target(
        cache: Path, tmp_path: Path, wheel_index: Path) -> None:
    target = packaging.Target(get_runtime("python3.13"), "arm64")
    manifest = requirements(tmp_path / "a", wheel_index, "pldeps_probe==9.9")
    with pytest.raises(ConfigurationError) as info:
        _builds.build(manifest, target, who="function 'orders'")
    message = str(info.value)
    assert message.startswith("Cannot install the requirements of function 'orders' (")
    assert "for python3.13 on arm64 (manylinux_2_34_aarch64 wheels)" in message
    assert "ERROR: No matching distribution found for pldeps_probe==9.9" in message
    assert not (cache / "deps").exists() or not any(
        p.name.endswith(".tmp") for p in (cache / "deps").iterdir())


def test_the_code_wins_over_its_dependencies(cache: Path, tmp_path: Path,
                                             wheel_index: Path) -> None:
    code = tmp_path / "code"
    requirements(code, wheel_index, "pldeps_probe==1.0")
    (code / "pldeps_probe").mkdir()
    (code / "pldeps_probe" / "__init__.py").write_text("VALUE = 'mine'\n")
    (code / "app.py").write_text("def handler(e, c):\n    return 1\n")
    target = packaging.Target(get_runtime("python3.13"), "x86_64")
    merged, key = _deps.with_code_dependencies(code, "hash-of-code", True, target, "fn")
    assert (merged / "pldeps_probe" / "__init__.py").read_text() == "VALUE = 'mine'\n"
    assert (merged / "pldeps_probe-1.0.dist-info" / "METADATA").is_file()
    assert (merged / "app.py").is_file()
    assert key != "hash-of-code"


def test_a_layers_dependencies_go_under_python(cache: Path, tmp_path: Path,
                                               wheel_index: Path) -> None:
    layer = tmp_path / "layer"
    requirements(layer, wheel_index, "pldeps_probe==2.0")
    (layer / "python").mkdir()
    (layer / "python" / "own.py").write_text("X = 1\n")
    target = packaging.Target(get_runtime("python3.13"), "x86_64")
    resolved = _deps.resolve_layer_values(
        [Layer(layer, requirements=True), Layer(tmp_path / "elsewhere")], target, "fn")
    assert isinstance(resolved, list)
    built, plain = resolved
    assert isinstance(built, Path)
    assert (built / "python" / "pldeps_probe" / "__init__.py").is_file()
    assert (built / "python" / "own.py").is_file()
    assert plain == tmp_path / "elsewhere"


@pytest.mark.parametrize(("value", "match"), [
    ("missing.txt", "requirements file .*missing.txt.* does not exist"),
    (3, "must be a path relative to its code"),
    ("package.json", "names a package.json"),
])
def test_bad_requirements_values(cache: Path, tmp_path: Path, value: object, match: str) -> None:
    (tmp_path / "package.json").write_text("{}")
    target = packaging.Target(get_runtime("python3.13"), "x86_64")
    with pytest.raises(ConfigurationError, match=match):
        _manifests.manifest_path(value, tmp_path, target, "fn")


def test_custom_runtimes_take_no_requirements(tmp_path: Path) -> None:
    target = packaging.Target(get_runtime("provided.al2023"), "x86_64")
    with pytest.raises(ConfigurationError, match="dependencies are part of its code"):
        _manifests.manifest_path(True, tmp_path, target, "fn")


def test_invoke_handler_requirements_stay_out_of_the_test_process(
        cache: Path, tmp_path: Path, wheel_index: Path) -> None:
    code = tmp_path / "code"
    requirements(code, wheel_index, "pldeps_probe==2.0")
    (code / "deps_app.py").write_text(textwrap.dedent("""
        import pldeps_probe

        def handler(event, context):
            return {"value": pldeps_probe.VALUE, "file": pldeps_probe.__file__}
    """))
    path_before = list(sys.path)
    result = invoke_handler("deps_app.handler", code=code, requirements=True)
    assert result.function_error is None, result.payload
    assert result.payload["value"] == "two"
    assert result.payload["file"].startswith(str(cache / "deps"))
    assert "pldeps_probe" not in sys.modules
    assert importlib.util.find_spec("pldeps_probe") is None
    assert sys.path == path_before


def test_invoke_handler_requirements_need_a_handler_string(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="requirements= load a handler given as"):
        invoke_handler(lambda e, c: 1, requirements="requirements.txt")


def test_native_addons_are_the_packages_with_a_binding_gyp(tmp_path: Path) -> None:
    modules = tmp_path / "node_modules"
    for rel, gyp in [("plain", False), ("addon", True), ("@scope/scoped", True),
                     ("plain/node_modules/nested", True), ("addon/deps/vendored", True)]:
        package = modules / rel
        package.mkdir(parents=True)
        (package / "package.json").write_text("{}")
        if gyp:
            (package / "binding.gyp").write_text("{}")
    assert _npm.native_node_packages(modules) == [
        "@scope/scoped", "addon", "plain/node_modules/nested"]


def test_code_with_dependencies_over_lambdas_limit_is_refused(
        cache: Path, tmp_path: Path, wheel_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_lambda.config import limits as _limits
    from pytest_lambda.service.build import build_config

    code = tmp_path / "code"
    requirements(code, wheel_index, "pldeps_probe==1.0")
    (code / "app.py").write_text("def handler(e, c):\n    return 1\n")
    monkeypatch.setattr(_limits, "UNZIPPED_CODE_MAX_BYTES", 300)
    with pytest.raises(ConfigurationError,
                       match=r"^Unzipped size must be smaller than 300 bytes \(function 'big': "
                             r"its code with the dependencies of .*requirements.txt is \d+ "
                             r"bytes"):
        build_config("app.handler", code=code, runtime="python3.13", requirements=True,
                     name="big")


def test_the_process_backend_gets_dependencies_for_this_interpreter(
        cache: Path, tmp_path: Path, wheel_index: Path) -> None:
    from pytest_lambda.service.build import build_config

    code = tmp_path / "code"
    requirements(code, wheel_index, "pldeps_probe==1.0")
    (code / "app.py").write_text("def handler(e, c):\n    return 1\n")
    reporter = _reporting.Reporter(progress=lambda line: None)
    with _reporting.reporting_to(reporter):
        for_container = build_config("app.handler", code=code, runtime="python3.13",
                                     requirements=True)
        for_host = build_config("app.handler", code=code, runtime="python3.13",
                                requirements=True, _host_dependencies=True)
    assert for_container.code_dir != for_host.code_dir
    assert [r.target for r in reporter.records] == [
        "python3.13 on x86_64 (manylinux_2_34_x86_64 wheels)"
        if packaging.host_target().architecture == "x86_64" else
        "python3.13 on arm64 (manylinux_2_34_aarch64 wheels)",
        f"this host's Python {sys.version_info[0]}.{sys.version_info[1]}",
    ]


@pytest.mark.parametrize(("runtime", "arch", "marker", "installed"), [
    ("python3.13", "x86_64", 'python_version >= "3.12"', True),
    ("python3.11", "x86_64", 'python_version >= "3.12"', False),
    ("python3.13", "arm64", 'platform_machine == "aarch64"', True),
    ("python3.13", "x86_64", 'platform_machine == "aarch64"', False),
])
def test_environment_markers_are_the_targets(cache: Path, tmp_path: Path, wheel_index: Path,
                                             runtime: str, arch: str, marker: str,
                                             installed: bool) -> None:
    # pip alone would evaluate these against the interpreter it runs on (Python 3.11 in CI).
    manifest = requirements(tmp_path / "a", wheel_index, f"pldeps_probe==1.0; {marker}")
    built = _builds.build(manifest, packaging.Target(get_runtime(runtime), arch), who="fn")
    assert (built.root / "pldeps_probe").is_dir() is installed


def test_xdist_workers_report_their_builds_to_the_controllers_summary(
        pytester: pytest.Pytester, tmp_path: Path, wheel_index: Path) -> None:
    code = tmp_path / "fn"
    requirements(code, wheel_index, "pldeps_probe==1.0")
    (code / "app.py").write_text("import pldeps_probe\n\ndef handler(e, c):\n"
                                 "    return pldeps_probe.VALUE\n")
    pytester.makepyfile(test_fn=f"""
        import pytest

        @pytest.mark.parametrize("i", range(2))
        def test_it(lambda_function, i):
            fn = lambda_function("app.handler", code={str(code)!r}, runtime={HOST_PYTHON!r},
                                 requirements=True, backend="process")
            assert fn.invoke({{}}).payload == "one"
    """)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTEST_LAMBDA_CACHE_DIR", str(tmp_path / "cache"))
        result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "*lambda dependencies*",
        "*requirements.txt for this host's Python *: 1 package, built in*",
    ])


def test_a_nodejs_layers_dependencies_go_under_nodejs_node_modules(
        cache: Path, tmp_path: Path) -> None:
    import shutil
    import tarfile

    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    layer = tmp_path / "layer"
    layer.mkdir()
    source = tmp_path / "pkg"
    source.mkdir()
    (source / "package.json").write_text('{"name": "pl-probe", "version": "1.0.0"}')
    (source / "index.js").write_text("module.exports = 'probe';\n")
    with tarfile.open(layer / "pl-probe-1.0.0.tgz", "w:gz") as tar:
        tar.add(source, arcname="package")
    (layer / "package.json").write_text(
        '{"name": "layer", "version": "1.0.0", '
        '"dependencies": {"pl-probe": "file:pl-probe-1.0.0.tgz"}}')
    target = packaging.Target(get_runtime("nodejs22.x"), "x86_64")
    resolved = _deps.resolve_layer_values([Layer(layer, requirements=True)], target, "fn")
    assert isinstance(resolved, list)
    [built] = resolved
    assert isinstance(built, Path)
    modules = built / "nodejs" / "node_modules"
    assert (modules / "pl-probe" / "index.js").read_text() == "module.exports = 'probe';\n"
    # The build itself holds only node_modules: the manifest and the tarball stay the layer's.
    assert sorted(p.name for p in (built / "nodejs").iterdir()) == ["node_modules"]
