#!/bin/sh
# The image ENTRYPOINT, with the contract of AWS's Lambda base images: one argument, the handler.
# Unlike the official images there is no Runtime Interface Emulator inside, so a Runtime API
# (pytest-aws-lambda's host-side server) must be given in AWS_LAMBDA_RUNTIME_API.

if [ $# -ne 1 ]; then
    echo "lambda-entrypoint.sh: expected exactly one argument, the handler (got $#)" 1>&2
    exit 142
fi
export _HANDLER="$1"

if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
    echo "lambda-entrypoint.sh: AWS_LAMBDA_RUNTIME_API is not set; this image has no Runtime Interface Emulator and needs a Runtime API server (pytest-aws-lambda provides one)" 1>&2
    exit 1
fi
exec /var/runtime/bootstrap
