"""The distribution's legal and metadata files agree with what pyproject.toml declares."""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")


def test_license_file_is_the_apache_2_0_text_pyproject_declares() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    words = re.sub(r"\s+", " ", text).strip()
    assert words.startswith("Apache License Version 2.0, January 2004 "
                            "http://www.apache.org/licenses/ "
                            "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION")
    # Each of the nine sections, the end of the terms, and the appendix's boilerplate notice.
    for n, title in enumerate(["Definitions", "Grant of Copyright License",
                               "Grant of Patent License", "Redistribution",
                               "Submission of Contributions", "Trademarks",
                               "Disclaimer of Warranty", "Limitation of Liability",
                               "Accepting Warranty or Additional Liability"], start=1):
        assert f" {n}. {title}." in words, title
    assert "END OF TERMS AND CONDITIONS" in words
    assert words.endswith("See the License for the specific language governing permissions "
                          "and limitations under the License.")


def test_license_file_is_byte_for_byte_the_apache_text() -> None:
    # The SHA-256 of the license as the Apache Software Foundation publishes it (LICENSE-2.0.txt).
    digest = hashlib.sha256((ROOT / "LICENSE").read_bytes()).hexdigest()
    assert digest == "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def test_sdist_ships_the_license() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "LICENSE" in project["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]
