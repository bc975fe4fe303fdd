"""mkdocs hook: fill the reference page's settings and markers tables from the code.

`docs/reference.md` holds the markers `<!-- settings-table -->` and `<!-- markers-table -->`;
this hook replaces them with tables made from `pytest_lambda.config.settings.SETTINGS` and the
plugin's markers, so the page lists every `--lambda-*` option, `PYTEST_LAMBDA_*` variable and
`lambda_*` ini key the plugin has, with its choices and default, and cannot drift from them.
"""

from __future__ import annotations

from typing import Any

SETTINGS_MARK = "<!-- settings-table -->"
MARKERS_MARK = "<!-- markers-table -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def settings_table() -> str:
    """Return a Markdown table of every setting: option, variable, ini key, values, meaning."""
    from pytest_lambda.config.settings import SETTINGS

    rows = [
        "| Option | Environment variable | ini key | Values | Default | What it sets |",
        "|---|---|---|---|---|---|",
    ]
    for s in SETTINGS:
        values = ", ".join(f"`{c}`" for c in s.choices) if s.choices else "a size, or `off`"
        rows.append(
            f"| `{s.option}` | `{s.env}` | `{s.ini}` | {values} | `{s.default}` | "
            f"{_cell(s.help[:1].upper() + s.help[1:])}. |"
        )
    return "\n".join(rows)


def markers_table() -> str:
    """Return a Markdown table of the markers the plugin registers: each module of
    `pytest_lambda.plugin` that defines a marker says so with `MARKER` and `MARKER_HELP`."""
    import importlib
    import pkgutil

    import pytest_lambda.plugin as plugin

    rows = ["| Marker | What it does |", "|---|---|"]
    for info in sorted(pkgutil.iter_modules(plugin.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{plugin.__name__}.{info.name}")
        marker, text = getattr(module, "MARKER", None), getattr(module, "MARKER_HELP", None)
        if not isinstance(marker, str) or not isinstance(text, str):
            continue
        signature, _, meaning = text.partition(": ")
        rows.append(f"| `@pytest.mark.{signature}` | {_cell(meaning)} |")
    return "\n".join(rows)


def fill(markdown: str) -> str:
    """Return `markdown` with the tables in place of their markers."""
    return markdown.replace(SETTINGS_MARK, settings_table()).replace(MARKERS_MARK, markers_table())


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if page.file.src_uri == "reference.md":
        return fill(markdown)
    return markdown
