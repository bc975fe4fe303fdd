#!/bin/sh
# Prepare an image's Debian root file system the same way for every family. Each Dockerfile
# copies this script and dpkg-excludes to /tmp/pytest-lambda/, runs it, and removes them.
#
#   prepare-image.sh [--packages-only] "<apt packages>"
#
# With packages (the fallback without an mmdebstrap base, FROM debian:<suite>-slim), install them
# with apt-get under the dpkg path filters, then drop apt's lists and caches. Unless
# --packages-only (a build stage), lay out what Lambda's images have: /var/lang, /var/runtime,
# /var/task, an empty /opt, a world-writable /tmp, the en_US.UTF-8 locale and the user functions
# run as.
set -eu

here="$(dirname "$0")"
layout=yes
if [ "${1:-}" = "--packages-only" ]; then
    layout=no
    shift
fi
packages="${1:-}"

if [ -n "${packages}" ]; then
    grep -v '^#' "${here}/dpkg-excludes" > /etc/dpkg/dpkg.cfg.d/pytest-lambda
    apt-get -o Acquire::Check-Valid-Until=false update
    # shellcheck disable=SC2086 # a list of packages, split on spaces
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${packages}
    apt-get clean
    rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log
fi
if [ "${layout}" = no ]; then
    exit 0
fi

mkdir -p /var/lang/bin /var/lang/lib /var/runtime /var/task /opt /tmp
chmod 1777 /tmp
# Lambda's LANG is en_US.UTF-8: serve it with glibc's built-in C.utf8 so that setlocale()
# succeeds (and Python does not coerce the locale, which would add LC_CTYPE to the environment).
if [ -d /usr/lib/locale/C.utf8 ] && [ ! -e /usr/lib/locale/en_US.utf8 ]; then
    ln -s C.utf8 /usr/lib/locale/en_US.utf8
fi
# Functions run as sbx_user1051 (uid 993), as on Lambda.
echo 'sbx_user1051:x:993:993::/home/sbx_user1051:/sbin/nologin' >> /etc/passwd
echo 'sbx_user1051:x:993:' >> /etc/group
# Amazon Linux's /bin/sh is bash, and bootstraps rely on it (AWS's custom-runtime tutorial runs
# `#!/bin/sh` with `set -euo pipefail`); Debian's is dash.
if [ -x /usr/bin/bash ] || [ -x /bin/bash ]; then
    ln -sf bash /bin/sh
fi
