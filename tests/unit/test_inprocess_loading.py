"""invoke_handler loads a handler string the way an execution environment does: from `code=` and
`layers=`, a fresh module per distinct configuration (a cold start), and without leaving the
function's modules, search paths or variables behind in the test process."""

from __future__ import annotations

import os
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from pytest_lambda import ConfigurationError, invoke_handler

PY = f"python{sys.version_info[0]}.{sys.version_info[1]}"


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


@pytest.fixture
def settings_code(tmp_path: Path) -> Path:
    """A function whose module reads a variable at import, as module-level settings do."""
    code = tmp_path / "settings_fn"
    write(code / "settings_app.py", """
        import os

        TABLE = os.environ["TABLE_NAME"]
        CALLS = 0

        def handler(event, context):
            global CALLS
            CALLS += 1
            return {"table": TABLE, "calls": CALLS}
    """)
    return code


def test_each_environment_gets_its_own_module_and_a_cold_start(settings_code: Path) -> None:
    first = invoke_handler("settings_app.handler", code=settings_code,
                           environment={"TABLE_NAME": "orders"})
    second = invoke_handler("settings_app.handler", code=settings_code,
                            environment={"TABLE_NAME": "invoices"})
    again = invoke_handler("settings_app.handler", code=settings_code,
                           environment={"TABLE_NAME": "orders"})
    assert first.payload == {"table": "orders", "calls": 1}
    assert second.payload == {"table": "invoices", "calls": 1}
    assert first.cold_start and second.cold_start
    assert "Init Duration" in first.logs and "Init Duration" in second.logs
    # The first configuration's environment is still warm: same module, its globals kept.
    assert again.payload == {"table": "orders", "calls": 2}
    assert not again.cold_start and "Init Duration" not in again.logs


def test_a_handler_on_sys_path_gets_a_fresh_module_per_environment(
    settings_code: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The way tests written before `code=` existed load a handler: sys.path prepended by hand.
    monkeypatch.syspath_prepend(str(settings_code))
    first = invoke_handler("settings_app.handler", environment={"TABLE_NAME": "orders"})
    second = invoke_handler("settings_app.handler", environment={"TABLE_NAME": "invoices"})
    assert first.payload["table"] == "orders" and first.cold_start
    assert second.payload["table"] == "invoices" and second.cold_start
    assert "settings_app" not in sys.modules


def test_code_and_layers_load_without_touching_sys_path(tmp_path: Path) -> None:
    code = tmp_path / "code"
    write(code / "layered_app.py", """
        import layer_dir_helper
        import layer_zip_helper

        def handler(event, context):
            import lazy_helper  # imported at call time, from the code too
            return [layer_dir_helper.WHO, layer_zip_helper.WHO, lazy_helper.WHO]
    """)
    write(code / "lazy_helper.py", "WHO = 'code'\n")
    layer_dir = tmp_path / "layer_dir"
    write(layer_dir / "python" / "layer_dir_helper.py", "WHO = 'directory layer'\n")
    layer_zip = tmp_path / "layer.zip"
    with zipfile.ZipFile(layer_zip, "w") as zf:
        zf.writestr(f"python/lib/{PY}/site-packages/layer_zip_helper.py", "WHO = 'zip layer'\n")
    path_before, modules_before = list(sys.path), set(sys.modules)

    result = invoke_handler("layered_app.handler", code=code, layers=[layer_dir, layer_zip])
    assert result.function_error is None, result.payload
    assert result.payload == ["directory layer", "zip layer", "code"]
    assert sys.path == path_before
    assert not {"layered_app", "layer_dir_helper", "layer_zip_helper",
                "lazy_helper"} & set(sys.modules)
    # What else the call imported is the process's (the standard library's), not the function's.
    added = [sys.modules[name] for name in set(sys.modules) - modules_before]
    assert not [m for m in added if str(tmp_path) in str(getattr(m, "__file__", ""))
                or "pytest-lambda" in str(getattr(m, "__file__", ""))]
    # Warm: the module imported at call time is the environment's, found again.
    assert invoke_handler("layered_app.handler", code=code,
                          layers=[layer_dir, layer_zip]).payload[2] == "code"


def test_code_as_a_zip_and_lambda_task_root(tmp_path: Path) -> None:
    archive = tmp_path / "function.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("zipped_app.py", textwrap.dedent("""
            import os

            ROOT = os.environ["LAMBDA_TASK_ROOT"]

            def handler(event, context):
                return [ROOT, os.path.dirname(__file__)]
        """))
    result = invoke_handler("zipped_app.handler", code=archive)
    root, directory = result.payload
    assert root == directory and root != str(tmp_path)


def test_the_modules_a_handler_imports_do_not_stay_in_sys_modules(tmp_path: Path) -> None:
    code = tmp_path / "code"
    write(code / "pkg_app" / "__init__.py", "")
    write(code / "pkg_app" / "main.py", """
        from pkg_app import config

        def handler(event, context):
            return config.VALUE
    """)
    write(code / "pkg_app" / "config.py", "VALUE = 42\n")
    assert invoke_handler("pkg_app.main.handler", code=code).payload == 42
    assert not [name for name in sys.modules if name.partition(".")[0] == "pkg_app"]


def test_the_tests_own_copy_of_a_module_is_left_alone(settings_code: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(settings_code))
    monkeypatch.setenv("TABLE_NAME", "the test's")
    monkeypatch.delitem(sys.modules, "settings_app", raising=False)
    import settings_app  # type: ignore[import-not-found]  # written by the fixture, on sys.path

    settings_app.TABLE = "patched by the test"
    result = invoke_handler("settings_app.handler", code=settings_code,
                            environment={"TABLE_NAME": "orders"})
    assert result.payload["table"] == "orders"  # a fresh module, as in a new environment
    assert sys.modules["settings_app"] is settings_app
    assert settings_app.TABLE == "patched by the test"
    monkeypatch.delitem(sys.modules, "settings_app")


def test_import_side_effects_on_the_process_are_undone(tmp_path: Path) -> None:
    code = tmp_path / "code"
    write(code / "leaky_app.py", """
        import os
        import sys

        os.environ["SET_AT_IMPORT"] = "1"
        sys.path.append("/added/at/import")

        def handler(event, context):
            return "/added/at/import" in sys.path
    """)
    path_before = list(sys.path)
    assert invoke_handler("leaky_app.handler", code=code).payload is True
    assert "SET_AT_IMPORT" not in os.environ
    assert sys.path == path_before


def test_a_library_from_outside_the_function_stays_shared(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # The documented limit: a module from the test's environment (site-packages, here a
    # directory on sys.path) is the process's, imported once, and any patching it does stays.
    site = tmp_path / "site"
    write(site / "shared_lib_for_inprocess.py", "PATCHED = []\n")
    monkeypatch.syspath_prepend(str(site))
    code = tmp_path / "code"
    write(code / "patching_app.py", """
        import shared_lib_for_inprocess

        shared_lib_for_inprocess.PATCHED.append("patch_all")

        def handler(event, context):
            return shared_lib_for_inprocess.PATCHED
    """)
    assert invoke_handler("patching_app.handler", code=code).payload == ["patch_all"]
    shared = sys.modules["shared_lib_for_inprocess"]
    assert shared.PATCHED == ["patch_all"]
    monkeypatch.delitem(sys.modules, "shared_lib_for_inprocess")


def test_an_exit_makes_the_next_call_a_cold_start_with_a_new_module(tmp_path: Path) -> None:
    code = tmp_path / "code"
    write(code / "exiting_app.py", """
        import sys

        CALLS = []

        def handler(event, context):
            CALLS.append(event)
            if event == "exit":
                sys.exit(3)
            return len(CALLS)
    """)
    assert invoke_handler("exiting_app.handler", "one", code=code).payload == 1
    assert invoke_handler("exiting_app.handler", "exit", code=code).function_error
    after = invoke_handler("exiting_app.handler", "two", code=code)
    assert after.cold_start and after.payload == 1


def test_an_init_failure_is_retried_on_the_next_call(tmp_path: Path) -> None:
    code = tmp_path / "code"
    write(code / "failing_app.py", "raise RuntimeError('no config')\n")
    for _ in range(2):
        result = invoke_handler("failing_app.handler", code=code)
        assert result.payload["errorType"] == "RuntimeError" and result.cold_start
    assert "failing_app" not in sys.modules


@pytest.mark.parametrize("options, message", [
    ({"code": 42}, "code must be a path to a directory or a .zip file, not int."),
    ({"code": "no/such/dir"}, "Code path 'no/such/dir' does not exist"),
    ({"layers": "one"}, "layers must be a list of directories or .zip files, not str."),
])
def test_bad_code_or_layers_are_configuration_errors(tmp_path: Path, options: dict[str, object],
                                                     message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        invoke_handler("app.handler", **options)  # type: ignore[arg-type]  # bad on purpose
    assert str(info.value).startswith(message)


def test_code_with_a_callable_handler_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"^code= and layers= load a handler given as "
                       r"a 'module\.function' string"):
        invoke_handler(lambda event, context: None, code=tmp_path)


def test_the_least_recently_used_environment_is_recycled(settings_code: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_lambda.inprocess import invoke as _inprocess

    monkeypatch.setattr(_inprocess, "_ENVIRONMENTS_MAX", 2)
    calls = [invoke_handler("settings_app.handler", code=settings_code,
                            environment={"TABLE_NAME": table})
             for table in ("a", "b", "a", "c", "a", "b")]
    # a, b cold; a warm (most recent); c cold recycles b; a warm; b cold again.
    assert [call.cold_start for call in calls] == [True, True, False, True, False, True]


def test_a_compiled_package_in_the_code_is_loaded_once_and_shared(tmp_path: Path) -> None:
    # A stand-in for NumPy in a function's zip: its compiled module refuses a second
    # initialisation in one process, as NumPy's does. (A Python file under an extension
    # module's name, loaded by the package as the compiled module would be.)
    suffix = __import__("importlib.machinery").machinery.EXTENSION_SUFFIXES[0]
    code = tmp_path / "code"
    write(code / "vendored_np" / "__init__.py", f"""
        import importlib.util, os, sys

        _path = os.path.join(os.path.dirname(__file__), "_native{suffix}")
        _spec = importlib.util.spec_from_loader(
            "vendored_np._native",
            importlib.machinery.SourceFileLoader("vendored_np._native", _path))
        _native = sys.modules.get("vendored_np._native")
        if _native is None:
            _native = importlib.util.module_from_spec(_spec)
            sys.modules["vendored_np._native"] = _native
            _spec.loader.exec_module(_native)
        VERSION = _native.VERSION
    """)
    write(code / "vendored_np" / f"_native{suffix}", """
        import sys

        if getattr(sys, "_pytest_lambda_native_inits", 0):
            raise ImportError("cannot load module more than once per process")
        sys._pytest_lambda_native_inits = 1
        VERSION = "2.0"
    """)
    write(code / "np_app.py", """
        import os
        import vendored_np

        TABLE = os.environ["TABLE_NAME"]

        def handler(event, context):
            return [TABLE, vendored_np.VERSION]
    """)
    try:
        first = invoke_handler("np_app.handler", code=code, environment={"TABLE_NAME": "a"})
        second = invoke_handler("np_app.handler", code=code, environment={"TABLE_NAME": "b"})
        assert first.payload == ["a", "2.0"], first.payload
        assert second.payload == ["b", "2.0"], second.payload  # the handler's module is new
        assert second.cold_start
        assert not [name for name in sys.modules if name.startswith(("vendored_np", "np_app"))]
    finally:
        sys.__dict__.pop("_pytest_lambda_native_inits", None)


def test_layers_with_a_handler_found_on_sys_path(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    code = tmp_path / "code"
    write(code / "found_app.py", """
        import found_layer_helper

        def handler(event, context):
            return found_layer_helper.WHO
    """)
    layer = tmp_path / "layer"
    write(layer / "python" / "lib" / PY / "site-packages" / "found_layer_helper.py",
          "WHO = 'site-packages of a layer'\n")
    monkeypatch.syspath_prepend(str(code))
    path_before = list(sys.path)
    assert invoke_handler("found_app.handler", layers=[layer]).payload == (
        "site-packages of a layer")
    assert sys.path == path_before
    assert "found_layer_helper" not in sys.modules and "found_app" not in sys.modules
