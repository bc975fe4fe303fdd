"""The public surface: its names, its types, the settings it resolves, and a light plugin."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import pytest_lambda
from pytest_lambda import ConfigurationError, FunctionFactory, LambdaService


def test_every_public_name_is_importable_and_listed() -> None:
    for name in pytest_lambda.__all__:
        assert getattr(pytest_lambda, name) is not None, name
    assert sorted(pytest_lambda.__all__) == sorted(dir(pytest_lambda))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        pytest_lambda.Nope  # noqa: B018


def test_the_fixture_type_takes_exactly_what_the_service_method_takes() -> None:
    factory = inspect.signature(FunctionFactory.__call__)
    method = inspect.signature(LambdaService.function)
    assert list(factory.parameters.values())[1:] == list(method.parameters.values())[1:]
    assert factory.return_annotation == method.return_annotation


def test_the_fixtures_docstring_names_every_argument() -> None:
    from pytest_lambda.plugin import fixtures

    doc = inspect.getdoc(fixtures.lambda_function) or ""
    for name in list(inspect.signature(LambdaService.function).parameters)[1:]:
        assert f"``{name}``" in doc, name


def test_importing_the_plugin_loads_none_of_the_engine() -> None:
    code = ("import sys, pytest_lambda.plugin\n"
            "heavy = ('docker', 'pytest_lambda.service.service', 'pytest_lambda.backends',\n"
            "         'pytest_lambda.images', 'pytest_lambda.runtime_api', 'boto3', 'moto')\n"
            "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_settings_come_from_keywords_then_variables_then_defaults(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_LAMBDA_IMAGE_POLICY", "prefer-official")
    monkeypatch.delenv("PYTEST_LAMBDA_BACKEND", raising=False)
    with LambdaService(backend="process") as service:
        assert service.settings["backend"].value == "process"
        assert service.settings["backend"].source == "backend="
        assert service.settings["image_policy"].value == "prefer-official"
        assert service.settings["image_policy"].source == "PYTEST_LAMBDA_IMAGE_POLICY"
        assert service.settings["connect"].source == "default"
        assert service.backend_choice().name == "process"


def test_a_bad_setting_is_one_sentence_naming_where_it_came_from(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match=r"^backend= = 'kubernetes' is not a valid "
                                                 r"backend: use one of auto, docker, process\.$"):
        LambdaService(backend="kubernetes")  # type: ignore[arg-type]  # unknown, on purpose
    monkeypatch.setenv("PYTEST_LAMBDA_CACHE_MAX_SIZE", "lots")
    with pytest.raises(ConfigurationError, match=r"^PYTEST_LAMBDA_CACHE_MAX_SIZE: 'lots' is "
                                                 r"not a size"):
        LambdaService()


def test_settings_and_keywords_together_are_refused() -> None:
    from pytest_lambda.config.settings import resolve

    with pytest.raises(ConfigurationError, match="either settings= or the setting keywords"):
        LambdaService(settings=resolve(), backend="process")
