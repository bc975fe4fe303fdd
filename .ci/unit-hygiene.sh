#!/usr/bin/env bash
# The unit tests write nothing into the checkout nor into the user's cache: run them in a fresh
# clone of this checkout's HEAD with HOME and XDG_CACHE_HOME pointed at empty directories, then
# fail if the clone holds any file git does not track (ignored ones included, `.hypothesis/`
# among them) or if anything appeared in the home or cache directory. Python's byte-code and
# pytest's own cache directory are turned off: they are the interpreter's and pytest's, not the
# tests'.
set -euo pipefail
checkout="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$checkout/.venv/bin/python}"
work="$(mktemp -d /tmp/pytest-lambda-hygiene.XXXXXX)"
trap 'rm -rf "$work"' EXIT
git clone -q "$checkout" "$work/clone"
mkdir "$work/home" "$work/cache"
cd "$work/clone"
# `python -m pytest` puts the clone first on sys.path: the tests import the clone's package.
HOME="$work/home" XDG_CACHE_HOME="$work/cache" PYTHONDONTWRITEBYTECODE=1 \
    "$python" -m pytest tests/unit -q -p no:cacheprovider -x "$@"
status=0
left="$(git status --porcelain --ignored)"
if [ -n "$left" ]; then
    echo "the unit tests left files in the checkout:" >&2
    echo "$left" >&2
    status=1
fi
for dir in home cache; do
    found="$(find "$work/$dir" -mindepth 1 | head -20)"
    if [ -n "$found" ]; then
        echo "the unit tests wrote into \$$( [ $dir = home ] && echo HOME || echo XDG_CACHE_HOME ):" >&2
        echo "$found" >&2
        status=1
    fi
done
[ $status -eq 0 ] && echo "the unit tests left nothing behind"
exit $status
