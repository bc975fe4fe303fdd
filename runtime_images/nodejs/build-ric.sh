#!/bin/sh
# Build aws-lambda-ric, as the host's npm fetched it into /build/node_modules (install scripts
# not run), into /out: what the image's /var/runtime gets. Runs in the Dockerfile's build stage,
# without network: what the package's preinstall and postinstall scripts do, with node-gyp
# pointed at Debian's Node.js headers (it would download them otherwise).
set -eu

modules=/build/node_modules
ric="${modules}/aws-lambda-ric"
log=/tmp/aws-lambda-ric-build.log
export MAKEFLAGS="-j$(nproc)"

quietly() {
    "$@" >> "${log}" 2>&1 || { tail -n 40 "${log}"; exit 1; }
}

node_gyp() {
    quietly node "${modules}/node-gyp/bin/node-gyp.js" rebuild --nodedir=/usr "$@"
}

cd "${ric}"
mkdir -p /out
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
