#!/usr/bin/env bash
# A newcomer's first test, scripted: a throwaway project outside this checkout, a fresh
# virtualenv, the plugin installed the way docs/index.md says (from a checkout), the quickstart's
# handler and test copied from docs/index.md as they are written, run with the Docker backend.
set -euo pipefail
checkout="$(cd "$(dirname "$0")/.." && pwd)"
project="$(mktemp -d /tmp/pytest-lambda-newcomer.XXXXXX)"
trap 'rm -rf "$project"' EXIT

cd "$project"
python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q "$checkout"
# The quickstart's marked blocks: its files, then its test.
python - "$checkout/docs/index.md" <<'PY'
import re
import sys
from pathlib import Path

lines = Path(sys.argv[1]).read_text().splitlines()
mark = re.compile(r"^<!--\s*doctest:\s*(file|test)\s*(\S*)\s*-->$")
tests = 0
for i, line in enumerate(lines):
    m = mark.match(line.strip())
    if not m:
        continue
    end = lines.index("```", i + 2)
    body = "\n".join(lines[i + 2:end]) + "\n"
    if m.group(1) == "file":
        path = Path("tests") / m.group(2)  # "next to the test file", as the page says
    else:
        tests += 1
        path = Path(f"tests/test_quickstart_{tests}.py")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    print(f"wrote {path} from docs/index.md:{i + 2}")
if not tests:
    sys.exit("docs/index.md has no block marked <!-- doctest: test -->")
PY
python -m pytest tests --lambda-backend=docker -p no:cacheprovider -q
