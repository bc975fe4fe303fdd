"""Reading the plugin's markers that take one choice (`lambda_isolation`, `lambda_aws_state`)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest


def one_choice(marker: pytest.Mark, keyword: str, choices: Sequence[str]) -> str:
    """Return the one choice `marker` names, positionally or as `keyword=`; raise ValueError,
    in one sentence, when it names none, several, another keyword or something else."""
    args = list(marker.args)
    if keyword in marker.kwargs:
        args.append(marker.kwargs[keyword])
    extra = set(marker.kwargs) - {keyword}
    if len(args) != 1 or extra or args[0] not in choices:
        given = ", ".join([repr(a) for a in marker.args]
                          + [f"{k}={v!r}" for k, v in marker.kwargs.items()])
        raise ValueError(
            f"@pytest.mark.{marker.name}({given}) is not valid: pass one of "
            f"{', '.join(repr(c) for c in choices)}."
        )
    return str(args[0])
