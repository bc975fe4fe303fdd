# A handler of tests/functions/custom/bootstrap that reports the machine it runs on.

handler() {
    printf '{"machine": "%s", "received": %s}' "$(uname -m)" "${1}"
}
