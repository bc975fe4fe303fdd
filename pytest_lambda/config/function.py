"""A function's configuration, validated the way Lambda's CreateFunction validates it.

Every check reads its numbers from `_limits`; messages use Lambda's own wording where Lambda has
one, followed by how to fix the call.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

from pytest_lambda.config import limits as _limits
from pytest_lambda.config import names as _aws
from pytest_lambda.config.arch import Architecture
from pytest_lambda.config.runtimes import Runtime
from pytest_lambda.errors import ConfigurationError

if TYPE_CHECKING:
    from pytest_lambda.config.image import ImageSpec

#: Keys Lambda sets itself and refuses in a function's environment.
#: What a function's network reaches (docs/security.md): the plugin's own servers only
#: ("isolated"), or also whatever its engine routes to ("open": the host's services, other
#: networks, the internet).
NetworkMode = Literal["isolated", "open"]
NETWORK_MODES: tuple[NetworkMode, ...] = get_args(NetworkMode)

RESERVED_ENVIRONMENT_KEYS = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)

_ENV_KEY_RE = re.compile(r"^[a-zA-Z]([a-zA-Z0-9_])+$")
_FUNCTION_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]+$")
_FUNCTION_NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?"
    r"(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)


def _range_error(field_name: str, value: object, low: int, high: int, hint: str) -> str:
    bound = (
        f"greater than or equal to {low}"
        if isinstance(value, int) and value < low
        else f"less than or equal to {high}"
    )
    return (
        f"1 validation error detected: Value '{value}' at '{field_name}' failed to satisfy "
        f"constraint: Member must have value {bound} ({hint})."
    )


def _check_int(field_name: str, value: object, low: int, high: int, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(
            f"{field_name} must be a whole number, not {value!r} ({hint})."
        )
    if not low <= value <= high:
        raise ConfigurationError(_range_error(field_name, value, low, high, hint))
    return value


def validate_memory_size(value: object) -> int:
    """Return `value` if Lambda accepts it as MemorySize (MB), else raise ConfigurationError."""
    return _check_int(
        "memorySize", value, _limits.MEMORY_MIN_MB, _limits.MEMORY_MAX_MB,
        f"pass memory_size= between {_limits.MEMORY_MIN_MB} and {_limits.MEMORY_MAX_MB} MB",
    )


def validate_timeout(value: object) -> int:
    """Return `value` if Lambda accepts it as Timeout (seconds), else raise ConfigurationError."""
    return _check_int(
        "timeout", value, _limits.TIMEOUT_MIN_S, _limits.TIMEOUT_MAX_S,
        f"pass timeout= between {_limits.TIMEOUT_MIN_S} and {_limits.TIMEOUT_MAX_S} seconds",
    )


def validate_ephemeral_storage(value: object) -> int:
    """Return `value` if Lambda accepts it as EphemeralStorage.Size (MB)."""
    return _check_int(
        "ephemeralStorage.size", value, _limits.EPHEMERAL_STORAGE_MIN_MB,
        _limits.EPHEMERAL_STORAGE_MAX_MB,
        f"pass ephemeral_storage= between {_limits.EPHEMERAL_STORAGE_MIN_MB} and "
        f"{_limits.EPHEMERAL_STORAGE_MAX_MB} MB",
    )


def validate_function_name(name: object) -> str:
    """Return `name` if Lambda accepts it as a function name."""
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"Function name must be a non-empty string, not {name!r}.")
    shown = name if name.isprintable() else repr(name)[1:-1]
    if len(name) > _limits.FUNCTION_NAME_MAX_LEN:
        raise ConfigurationError(
            f"1 validation error detected: Value '{shown}' at 'functionName' failed to satisfy "
            f"constraint: Member must have length less than or equal to "
            f"{_limits.FUNCTION_NAME_MAX_LEN} (pass a shorter name=)."
        )
    if not _FUNCTION_NAME_RE.fullmatch(name):
        raise ConfigurationError(
            f"1 validation error detected: Value '{shown}' at 'functionName' failed to satisfy "
            f"constraint: Member must satisfy regular expression pattern: "
            f"{_FUNCTION_NAME_PATTERN} (use only letters, digits, '-' and '_' in name=)."
        )
    return name


def validate_handler(handler: object, *, custom_runtime: bool = False) -> str:
    """Return `handler` if it names a module and a function (`module.function`).

    A custom runtime's handler is any string without whitespace (Lambda's pattern): the
    function's own bootstrap reads `_HANDLER` as it likes.
    """
    if not isinstance(handler, str) or not handler or any(c.isspace() for c in handler):
        example = "'function.handler' or 'bootstrap'" if custom_runtime else "'app.handler'"
        raise ConfigurationError(
            f"Handler {handler!r} is not valid: pass a handler without spaces, for example "
            f"{example}." if custom_runtime else
            f"Handler {handler!r} is not valid: pass 'module.function', for example {example}."
        )
    if "\0" in handler:
        # Lambda hands the handler to the runtime in _HANDLER, and no environment variable
        # (nor argument) can carry a NUL.
        raise ConfigurationError(
            f"Handler {handler!r} contains a NUL character, which no environment variable can "
            f"carry: remove it from the handler."
        )
    if len(handler) > _limits.HANDLER_MAX_LEN:
        raise ConfigurationError(
            f"1 validation error detected: Value '{handler}' at 'handler' failed to satisfy "
            f"constraint: Member must have length less than or equal to "
            f"{_limits.HANDLER_MAX_LEN} (pass a shorter handler: rename the module or function)."
        )
    if custom_runtime:
        return handler
    module, dot, function = handler.rpartition(".")
    if dot and module and not function:
        raise ConfigurationError(
            f"Handler {handler!r} has no function: pass 'module.function', for example "
            f"'app.handler' for the function handler in app.py."
        )
    if not dot or not module:
        raise ConfigurationError(
            f"Handler {handler!r} has no module: pass 'module.function', for example "
            f"'app.handler' for the function handler in app.py."
        )
    return handler


def validate_environment(environment: Mapping[str, object] | None) -> dict[str, str]:
    """Return the user's variables as strings if Lambda accepts them."""
    if environment is None:
        return {}
    if not isinstance(environment, Mapping):
        raise ConfigurationError(
            f"environment must be a dict of variable names to strings, not "
            f"{type(environment).__name__}."
        )
    result: dict[str, str] = {}
    for key, value in environment.items():
        if not isinstance(key, str) or not _ENV_KEY_RE.fullmatch(key):
            raise ConfigurationError(
                f"1 validation error detected: Value at 'environment.variables' failed to "
                f"satisfy constraint: Map keys must satisfy constraint: [Member must satisfy "
                f"regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+] (rename {key!r})."
            )
        if not isinstance(value, str):
            raise ConfigurationError(
                f"Environment variable {key} must be a string, not {type(value).__name__}: "
                f"Lambda stores variables as strings (pass str(value))."
            )
        if "\0" in value:
            raise ConfigurationError(
                f"Environment variable {key} contains a NUL character, which no environment "
                f"variable can carry: remove it from the value."
            )
        result[key] = value
    reserved = sorted(k for k in result if k in RESERVED_ENVIRONMENT_KEYS)
    if reserved:
        raise ConfigurationError(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not supported "
            f"for modification. Reserved keys used in this request: {', '.join(reserved)}"
        )
    measured = json.dumps(result, separators=(",", ":"))
    if len(measured.encode()) > _limits.ENVIRONMENT_MAX_BYTES:
        raise ConfigurationError(
            "Lambda was unable to configure your environment variables because the environment "
            f"variables you have provided exceeded the 4KB limit. String measured: {measured}"
        )
    return result


@dataclass(frozen=True)
class FunctionConfig:
    """A validated function configuration; equal configurations share warm environments."""

    handler: str
    #: None for a container-image function, whose image carries its runtime.
    runtime: Runtime | None
    #: The code mounted at /var/task; None for a container-image function.
    code_dir: Path | None
    #: The code's content hash, or a container-image function's image id.
    code_hash: str
    name: str
    memory_size: int = _limits.MEMORY_DEFAULT_MB
    timeout: int = _limits.TIMEOUT_DEFAULT_S
    ephemeral_storage: int = _limits.EPHEMERAL_STORAGE_DEFAULT_MB
    environment: tuple[tuple[str, str], ...] = ()
    region: str = _aws.DEFAULT_REGION
    account_id: str = _aws.DEFAULT_ACCOUNT_ID
    #: Content hashes of the layers, in order; `opt_dir` is their merged tree (None: no layers).
    layers: tuple[str, ...] = ()
    opt_dir: Path | None = None
    #: What a container-image function (`image=`) runs; None for code and a runtime.
    image: ImageSpec | None = None
    architecture: Architecture = "x86_64"
    #: "isolated" (the plugin's own servers only) or "open" (outbound allowed).
    network: NetworkMode = "isolated"
    #: "$LATEST", or the number of a published version (its environments are its own).
    version: str = "$LATEST"
    #: Start the Python runtime under debugpy listening on this port of 127.0.0.1 (None: no).
    debug_port: int | None = None
    #: The user's code directory `code_dir` was made from (merged with its dependencies), where
    #: coverage of the function's own files is reported; None when `code_dir` is that directory.
    code_source: Path | None = None

    @property
    def runtime_name(self) -> str:
        """Return the runtime's name, or "image" for a container-image function."""
        return self.runtime.name if self.runtime is not None else "image"

    @property
    def env(self) -> dict[str, str]:
        return dict(self.environment)

    @property
    def arn(self) -> str:
        return _aws.function_arn(self.name, self.region, self.account_id)

    def pool_key(self) -> str:
        """Return the key under which warm environments of this configuration are kept."""
        parts = [
            self.handler, self.runtime_name, str(self.code_dir), self.code_hash, self.name,
            str(self.memory_size), str(self.timeout), str(self.ephemeral_storage),
            repr(self.environment), self.region, self.account_id,
            repr(self.layers), str(self.opt_dir), repr(self.image), self.architecture,
            self.network, str(self.debug_port),
        ]
        if self.version != "$LATEST":
            parts.append(self.version)
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def default_function_name(handler: str, runtime: str, code_hash: str) -> str:
    """Return a readable name that is stable for one handler, runtime and code."""
    stem = re.sub(r"[^a-zA-Z0-9_-]+", "-", handler).strip("-") or "function"
    suffix = hashlib.sha256(f"{runtime}\0{code_hash}".encode()).hexdigest()[:8]
    return f"{stem[: _limits.FUNCTION_NAME_MAX_LEN - 9]}-{suffix}"


def validate_network(network: object) -> NetworkMode:
    """Return `network` if it is one of `NETWORK_MODES`."""
    if network == "isolated" or network == "open":
        return network
    raise ConfigurationError(
        f"network must be 'isolated' (the default: only the plugin's own servers) or "
        f"'open' (outbound connections allowed), not {network!r}."
    )


def validate_debug_port(port: object) -> int | None:
    """Return `port` if it is None or a TCP port number a test may listen on (1024-65535)."""
    if port is None:
        return None
    if isinstance(port, bool) or not isinstance(port, int) or not 1024 <= port <= 65535:
        raise ConfigurationError(
            f"debug_port must be a TCP port number from 1024 to 65535 (5678 is debugpy's "
            f"usual one), not {port!r}."
        )
    return port


_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_ACCOUNT = re.compile(r"\d{12}")


def validate_region(region: object) -> str:
    """Return `region` if it is shaped like an AWS region name ("eu-west-1")."""
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise ConfigurationError(
            f"region must be an AWS region name such as 'us-east-1', not {region!r}."
        )
    return region


def validate_account_id(account_id: object) -> str:
    """Return `account_id` if it is an AWS account id: twelve digits, as a string."""
    if not isinstance(account_id, str) or not _ACCOUNT.fullmatch(account_id):
        raise ConfigurationError(
            f"account_id must be a twelve-digit AWS account id as a string such as "
            f"'123456789012', not {account_id!r}."
        )
    return account_id
