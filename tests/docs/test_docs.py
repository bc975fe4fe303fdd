"""The code blocks of README.md and docs/ that are marked runnable run, exactly as written.

A fenced block runs when the line before its opening fence is an HTML comment (invisible in the
rendered page) naming what it is:

- `<!-- doctest: file path/in/project -->`: a file of the reader's project (a handler, a
  requirements file); every test block of the same page sees it;
- `<!-- doctest: test -->`: a pytest test module, run with the plugin in a fresh project made of
  the page's files, in a subprocess, from another working directory than the project's (the
  examples must not depend on where pytest starts);
- `<!-- doctest: python -->`: a script run with this Python in that project.

So the docs cannot drift from the code: a renamed argument or a changed result fails here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_MARK = re.compile(r"^\s*<!--\s*doctest:\s*(?P<kind>file|test|python)\s*(?P<arg>\S*)\s*-->\s*$")
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)")


@dataclass
class Block:
    page: Path
    line: int
    kind: str
    arg: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """Return the marked blocks of `page`, in order."""
    lines = page.read_text().splitlines()
    found = []
    i = 0
    while i < len(lines):
        mark = _MARK.match(lines[i])
        if mark is None:
            i += 1
            continue
        opening = _FENCE.match(lines[i + 1]) if i + 1 < len(lines) else None
        if opening is None:
            raise AssertionError(f"{page.relative_to(ROOT)}:{i + 1}: a doctest mark must sit "
                                 f"on the line just before a fenced code block")
        indent, fence = opening["indent"], opening["fence"]
        body = []
        j = i + 2
        while j < len(lines) and not lines[j].strip().startswith(fence):
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j])
            j += 1
        found.append(Block(page, i + 2, mark["kind"], mark["arg"], "\n".join(body) + "\n"))
        i = j + 1
    return found


ALL = [block for page in PAGES for block in blocks(page)]
RUNNABLE = [block for block in ALL if block.kind in ("test", "python")]


def test_the_docs_have_runnable_blocks() -> None:
    assert any(block.page.name == "README.md" for block in RUNNABLE)


def _project(tmp_path: Path, block: Block) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    for other in ALL:
        if other.page == block.page and other.kind == "file":
            path = project / other.arg
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(other.text)
    return project


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.id for b in RUNNABLE])
def test_block_runs(block: Block, tmp_path: Path, pytestconfig: pytest.Config) -> None:
    project = _project(tmp_path, block)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if block.kind == "test":
        script = project / "test_from_docs.py"
        script.write_text(block.text)
        backend = pytestconfig.getoption("lambda_backend", None) or "auto"
        argv = [sys.executable, "-m", "pytest", str(script), "-p", "no:cacheprovider",
                f"--lambda-backend={backend}", "-q", "--rootdir", str(project)]
    else:
        script = project / "from_docs.py"
        script.write_text(block.text)
        argv = [sys.executable, str(script)]
    done = subprocess.run(argv, cwd=elsewhere, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (
        f"{block.id}: the block failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    if block.kind == "test":
        assert " passed" in done.stdout and "skipped" not in done.stdout, done.stdout
