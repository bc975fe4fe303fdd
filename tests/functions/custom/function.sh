# Handlers of the custom runtime in ./bootstrap (or a layer's /opt/bootstrap).

handler() {
    echo "Processing ${1}" 1>&2
    printf '{"received": %s, "execution_env": "%s", "bootstrap": "%s", "handler": "%s", "uid": %s}' \
        "${1}" "${AWS_EXECUTION_ENV:-unset}" "${0}" "${_HANDLER}" "$(id -u)"
}

fail() {
    echo "fail: giving up" 1>&2
    return 3
}

sleepy() {
    sleep 30
    echo '"woke up"'
}
