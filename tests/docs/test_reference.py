"""docs/reference.md covers the whole public surface: every name `pytest_lambda` exports, every
fixture, setting and marker, so a new one cannot be added without its entry."""

from __future__ import annotations

import importlib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import pytest_lambda
from pytest_lambda.config.settings import SETTINGS
from pytest_lambda.plugin import fixtures
from pytest_lambda.plugin.isolation import MARKER

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "reference.md"
_DIRECTIVE = re.compile(r"^::: (?P<path>[\w.]+)\s*$", re.MULTILINE)


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "reference_tables", ROOT / "docs" / "hooks" / "reference_tables.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _documented() -> dict[str, object]:
    """Return the objects the page's `::: path` directives render, by path."""
    found: dict[str, object] = {}
    for path in _DIRECTIVE.findall(PAGE.read_text()):
        module, _, name = path.rpartition(".")
        try:
            found[path] = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError, ValueError):
            found[path] = importlib.import_module(path)
    return found


@pytest.mark.parametrize("name", sorted(set(pytest_lambda.__all__) - {"__version__"}))
def test_every_public_name_has_an_entry(name: str) -> None:
    public = getattr(pytest_lambda, name)
    paths = [path for path, obj in _documented().items() if obj is public]
    assert paths, f"docs/reference.md has no '::: ...' entry for pytest_lambda.{name}"


def test_every_fixture_has_an_entry() -> None:
    names = [name for name in dir(fixtures) if name.startswith("lambda_")
             and callable(getattr(fixtures, name))]
    assert names
    documented = _documented()
    for name in names:
        assert f"pytest_lambda.plugin.fixtures.{name}" in documented, name


def test_the_page_lists_every_setting() -> None:
    page = _hook().fill(PAGE.read_text())
    assert "<!-- settings-table -->" not in page
    for setting in SETTINGS:
        row = next((line for line in page.splitlines() if f"`{setting.option}`" in line), None)
        assert row is not None, setting.option
        assert f"`{setting.env}`" in row and f"`{setting.ini}`" in row
        assert f"`{setting.default}`" in row
        assert all(f"`{choice}`" in row for choice in setting.choices)


def test_the_page_lists_every_marker_the_plugin_registers() -> None:
    # What `pytest --markers` shows with the plugin loaded, less the project's own markers.
    shown = subprocess.run(
        [sys.executable, "-m", "pytest", "--markers", "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    theirs = {name for name in re.findall(r"^@pytest\.mark\.(\w+)", shown, re.MULTILINE)}
    registered = {name for name in theirs if name.startswith("lambda_")}
    assert MARKER in registered
    page = _hook().fill(PAGE.read_text())
    assert "<!-- markers-table -->" not in page
    for name in registered:
        assert f"`@pytest.mark.{name}(" in page, name
