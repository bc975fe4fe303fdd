#!/bin/sh
# Build aws-lambda-ric, as the host's npm fetched it into /build/node_modules (install scripts
# not run), into /out: what the image's /var/runtime gets. Runs in the Dockerfile's build stage,
# without network: what the package's preinstall and postinstall scripts do, with node-gyp
# pointed at the image's Node.js headers (it would download them otherwise).
#
# The image's Node.js is Debian's (/usr/bin/node, headers under /usr/include/node) or, for a
# version no Debian suite ships, the official build the host's npm fetched into /build/node
# (bin/node, include/node). The latter also goes to /lang: what the image's /var/lang gets.
set -eu

modules=/build/node_modules
ric="${modules}/aws-lambda-ric"
log=/tmp/aws-lambda-ric-build.log
export MAKEFLAGS="-j$(nproc)"

quietly() {
    "$@" >> "${log}" 2>&1 || { tail -n 40 "${log}"; exit 1; }
}

mkdir -p /out /lang
if [ -x /build/node/bin/node ]; then
    nodedir=/build/node
    export PATH="/build/node/bin:${PATH}"
    mkdir -p /lang/bin
    cp /build/node/bin/node /lang/bin/node
    cp /build/node/LICENSE /lang/LICENSE
else
    nodedir=/usr
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "${major}" != "${NODE_MAJOR}" ]; then
    echo "build-ric.sh: the build stage's Node.js is ${major}, not ${NODE_MAJOR}" 1>&2
    exit 1
fi

node_gyp() {
    quietly node "${modules}/node-gyp/bin/node-gyp.js" rebuild --nodedir="${nodedir}" "$@"
}

cd "${ric}"
quietly sh scripts/preinstall.sh
if [ -f src/native/binding.gyp ]; then
    # 4.x: one bundled index.mjs that starts the client itself.
    export DEPS_PREFIX="${ric}/deps/artifacts"
    node_gyp --directory=src/native
    cp index.mjs src/native/build/Release/rapid-client.node /out/
else
    # 3.x: dist/index.mjs exports run(); the image's own index.mjs calls it.
    node_gyp
    mkdir -p /out/dist
    cp dist/index.mjs build/Release/rapid-client.node /out/dist/
    cp /build/index-3.mjs /out/index.mjs
fi
cp LICENSE NOTICE THIRD-PARTY-LICENSES /out/
