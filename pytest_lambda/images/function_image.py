"""Container-image functions (Lambda's `PackageType: Image`): the image, its config, its overrides.

The image must be present in the local Docker engine (the harness never pulls). Its `ENTRYPOINT`,
`CMD` and `WORKDIR` are read from the engine, and Lambda's image configuration overrides replace
each one separately, as `ImageConfig` does. The configuration pins the image's id, so rebuilding
a tag between tests gives a new pool and a cold start instead of a warm environment of the old
image.
"""

from __future__ import annotations

from typing import Any

from pytest_lambda.config import arch as _arch
from pytest_lambda.config.image import ImageSpec, _string_list
from pytest_lambda.errors import ConfigurationError

#: Lambda's `ImageConfig` bound on the working directory's length.
_MAX_WORKDIR = 1000


def inspect_image(reference: str) -> dict[str, Any]:
    """Return the engine's `docker image inspect` document for `reference`, never pulling it."""
    from pytest_lambda.containers.client import get_client

    try:
        from docker.errors import ImageNotFound
    except ImportError:  # pragma: no cover - docker is a dependency
        raise ConfigurationError("Container-image functions need the docker package.") from None
    client = get_client()
    try:
        return client.api.inspect_image(reference)  # type: ignore[no-any-return]
    except ImageNotFound:
        raise ConfigurationError(
            f"Image {reference!r} is not in the local Docker engine: build it first (docker "
            f"build -t {reference} .) or load it; pytest-aws-lambda never pulls images."
        ) from None
    except Exception as exc:  # the engine refused the name or failed: say which image
        raise ConfigurationError(
            f"The Docker engine could not look up image {reference!r}: {exc}."
        ) from None


def resolve_image_function(
    image: object,
    *,
    handler: object = None,
    command: object = None,
    entry_point: object = None,
    working_directory: object = None,
    architecture: object = None,
) -> ImageSpec:
    """Validate a container-image function's arguments against the local image."""
    if not isinstance(image, str) or not image.strip():
        raise ConfigurationError(
            f"image must be the name of a local Docker image such as 'my-function:latest', "
            f"not {image!r}."
        )
    commands = _string_list(command, "command")
    if handler is not None:
        if commands is not None:
            raise ConfigurationError(
                "Give a container-image function its handler either as the first argument or "
                "in command=[...], not both."
            )
        if not isinstance(handler, str) or not handler:
            raise ConfigurationError(f"handler must be a string, not {handler!r}.")
        commands = (handler,)
    entry_points = _string_list(entry_point, "entry_point")
    if working_directory is not None and (
        not isinstance(working_directory, str) or not working_directory.startswith("/")
        or len(working_directory) > _MAX_WORKDIR
    ):
        raise ConfigurationError(
            f"working_directory must be an absolute path of at most {_MAX_WORKDIR} characters, "
            f"not {working_directory!r}."
        )
    wanted = _arch.validate_architecture(architecture) if architecture is not None else None

    attrs = inspect_image(image)
    config = attrs.get("Config") or {}
    image_arch = _arch.lambda_name(str(attrs.get("Architecture") or "amd64"))
    if wanted is not None and wanted != image_arch:
        raise ConfigurationError(
            f"Image {image!r} is built for {image_arch} but the function asks for "
            f"architecture={wanted!r}: build the image for {wanted} (docker build --platform "
            f"{_arch.docker_platform(wanted)}) or change architecture."
        )
    _arch.require_host_can_run(image_arch)
    spec = ImageSpec(
        reference=image,
        image_id=str(attrs["Id"]),
        entry_point=entry_points if entry_points is not None else tuple(config.get("Entrypoint")
                                                                        or ()),
        command=commands if commands is not None else tuple(config.get("Cmd") or ()),
        working_directory=(working_directory if isinstance(working_directory, str)
                           else str(config.get("WorkingDir") or "/")),
        architecture=_arch.validate_architecture(image_arch),
    )
    if not spec.argv:
        raise ConfigurationError(
            f"Image {image!r} has neither an ENTRYPOINT nor a CMD, so Lambda would not know what "
            f"to run: set them in its Dockerfile, or pass entry_point=[...] and command=[...]."
        )
    return spec
