"""`build_config`: a function's configuration from what a test passed, validated and resolved.

It checks every value against Lambda's rules, materialises the code, builds dependencies,
merges layers and inspects a container image, and returns a `FunctionConfig`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_lambda.artifacts.files import check_unzipped_size, code_size, locate_code, materialise
from pytest_lambda.config import limits as _limits
from pytest_lambda.config import names as _aws
from pytest_lambda.config.arch import (
    Architecture,
    host_architecture,
    require_host_can_run,
    validate_architecture,
)
from pytest_lambda.config.function import (
    FunctionConfig,
    default_function_name,
    validate_account_id,
    validate_debug_port,
    validate_environment,
    validate_ephemeral_storage,
    validate_function_name,
    validate_handler,
    validate_memory_size,
    validate_network,
    validate_region,
    validate_timeout,
)
from pytest_lambda.config.runtimes import Runtime, get_runtime
from pytest_lambda.errors import ConfigurationError


def build_config(
    handler: object = None,
    *,
    code: object = None,
    runtime: object = None,
    image: object = None,
    command: object = None,
    entry_point: object = None,
    working_directory: object = None,
    architecture: object = None,
    memory_size: object = _limits.MEMORY_DEFAULT_MB,
    timeout: object = _limits.TIMEOUT_DEFAULT_S,
    ephemeral_storage: object = _limits.EPHEMERAL_STORAGE_DEFAULT_MB,
    environment: Mapping[str, object] | None = None,
    name: object = None,
    region: object = _aws.DEFAULT_REGION,
    account_id: object = _aws.DEFAULT_ACCOUNT_ID,
    layers: object = None,
    requirements: object = None,
    _host_dependencies: bool = False,
    network: object = "isolated",
    debug_port: object = None,
    **more: Any,
) -> FunctionConfig:
    """Validate every argument of `lambda_function(...)` and return the configuration.

    `requirements` are built for the runtime and architecture (`project.dependencies`), or for
    this host's Python when `_host_dependencies` (the process backend runs Python functions on
    it).
    """
    if more:
        unknown = ", ".join(sorted(more))
        raise ConfigurationError(
            f"lambda_function() got unknown keyword argument(s) {unknown}: see "
            f"`pytest --fixtures` for the ones it takes."
        )
    arch = validate_architecture(architecture) if architecture is not None else None
    common: dict[str, Any] = {
        "memory_size": validate_memory_size(memory_size),
        "timeout": validate_timeout(timeout),
        "ephemeral_storage": validate_ephemeral_storage(ephemeral_storage),
        "environment": tuple(sorted(validate_environment(environment).items())),
        "region": validate_region(region),
        "account_id": validate_account_id(account_id),
        "network": validate_network(network),
    }
    fn_name = None if name is None else validate_function_name(name)
    port = validate_debug_port(debug_port)
    if port is not None and (image is not None or not (isinstance(runtime, str)
                                                       and runtime.startswith("python"))):
        raise ConfigurationError(
            "debug_port= applies to Python runtimes (runtime='python3.X'), which start under "
            "debugpy: drop debug_port= for this function."
        )
    if image is not None:
        from pytest_lambda.config.image import default_image_function_name
        from pytest_lambda.images.function_image import resolve_image_function

        for given, what in ((code, "code="), (runtime, "runtime="), (layers, "layers="),
                            (requirements, "requirements=")):
            if given is not None:
                raise ConfigurationError(
                    f"A container-image function takes no {what}: its image carries its code, "
                    f"runtime and dependencies (Lambda does not support layers for images)."
                )
        spec = resolve_image_function(
            image, handler=handler, command=command, entry_point=entry_point,
            working_directory=working_directory, architecture=arch,
        )
        return FunctionConfig(
            handler=spec.command[0] if spec.command else "",
            runtime=None,
            code_dir=None,
            code_hash=spec.image_id,
            name=fn_name or default_image_function_name(spec),
            image=spec,
            architecture=spec.architecture,
            **common,
        )
    for given, what in ((command, "command="), (entry_point, "entry_point="),
                        (working_directory, "working_directory=")):
        if given is not None:
            raise ConfigurationError(
                f"{what} applies only to container-image functions: pass image= as well, or "
                f"drop {what}."
            )
    if code is None or runtime is None:
        raise ConfigurationError(
            "lambda_function() needs code= and runtime= (a function from code), or image= "
            "(a container-image function)."
        )
    if not isinstance(runtime, str):
        raise ConfigurationError(f"runtime must be a string such as 'python3.13', not {runtime!r}.")
    rt = get_runtime(runtime)
    handler_s = validate_handler(handler, custom_runtime=rt.family == "provided")
    code_arch = _code_architecture(arch, rt)
    # Sizes are checked before anything is unpacked (the layers' against code plus layers).
    code_path, is_zip = locate_code(code)
    size = code_size(code_path, is_zip)
    check_unzipped_size(size)
    from pytest_lambda.artifacts.layers import resolve_layers  # it imports this module

    if requirements is not None or _has_dependency_layers(layers):
        from pytest_lambda.config import packaging
        from pytest_lambda.project import dependencies as _deps

        code_dir, code_hash = materialise(code_path, is_zip)
        target = (packaging.host_target() if _host_dependencies and rt.family == "python"
                  else packaging.Target(rt, code_arch))
        who = f"function {fn_name!r}" if fn_name else f"the function {handler_s!r}"
        name_hash = code_hash
        own_code = code_dir
        code_dir, code_hash = _deps.with_code_dependencies(code_dir, code_hash, requirements,
                                                           target, who)
        code_source = own_code if code_dir != own_code and not is_zip else None
        layers = _deps.resolve_layer_values(layers, target, who)
        # The layers' limit counts the code with its dependencies.
        merged = resolve_layers(layers, code_size=code_size(code_dir, False))
    else:
        merged = resolve_layers(layers, code_size=size)
        code_dir, code_hash = materialise(code_path, is_zip)
        name_hash = code_hash
        code_source = None
    return FunctionConfig(
        handler=handler_s,
        runtime=rt,
        code_dir=code_dir,
        code_hash=code_hash,
        name=fn_name or default_function_name(handler_s, rt.name, name_hash),
        layers=merged.hashes if merged else (),
        opt_dir=merged.root if merged else None,
        architecture=code_arch,
        debug_port=port,
        code_source=code_source,
        **common,
    )


def _has_dependency_layers(layers: object) -> bool:
    from pytest_lambda.config.packaging import Layer

    return isinstance(layers, (list, tuple)) and any(isinstance(x, Layer) for x in layers)


def _code_architecture(wanted: Architecture | None, runtime: Runtime) -> Architecture:
    """Return the architecture a function from code runs on: `wanted`, the host's by default.

    Another architecture than the host's runs through emulation, which must be registered with
    binfmt_misc; Node.js runtimes have no images for it (see `images.resolve.require_buildable`).
    """
    host = host_architecture()
    if wanted is None or wanted == host:
        return validate_architecture(host)
    require_host_can_run(wanted)
    from pytest_lambda.images.resolve import require_buildable  # it imports this module

    require_buildable(runtime, wanted)
    return wanted
