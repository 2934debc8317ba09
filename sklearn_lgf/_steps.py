"""The flow step an estimator builds: its two names, and the deprecated ``base``.

A step is a conditioner (which features a step's networks see) and a
univariate monotone transform (what each feature goes through). ``base``
named the four combinations with one string; it is accepted for one release.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

CONDITIONERS = ("autoregressive", "coupling")
UNIVARIATES = ("affine", "spline")

# The deprecated ``base`` values and the (conditioner, univariate) each names.
BASE_STEPS: dict[str, tuple[str, str]] = {
    "made": ("autoregressive", "affine"),
    "coupling": ("coupling", "affine"),
    "spline": ("autoregressive", "spline"),
    "spline-coupling": ("coupling", "spline"),
}


def _defaults(estimator: Any) -> dict[str, set[Any]]:
    """The values of ``conditioner`` and ``univariate`` that count as left at
    the default: ``"auto"`` and what it means for tabular data (the defaults
    before ``"auto"``, which ``get_params`` of 0.2.0 estimators holds)."""
    parameters = inspect.signature(type(estimator).__init__).parameters
    tabular = getattr(type(estimator), "_tabular_defaults", {})
    return {
        name: {parameters[name].default, tabular.get(name, parameters[name].default)}
        for name in ("conditioner", "univariate")
    }


def resolve_step(estimator: Any, *, warn: bool) -> tuple[str, str]:
    """The ``(conditioner, univariate)`` that ``estimator`` builds.

    A ``base`` other than ``"deprecated"`` wins over the new parameters left
    at their defaults (with a ``FutureWarning`` when ``warn``); a new
    parameter set to another value that ``base`` contradicts is a
    ValueError. The estimator's parameters are not changed.
    """
    step = (estimator.conditioner, estimator.univariate)
    if estimator.base == "deprecated":
        return step
    from_base = BASE_STEPS[estimator.base]
    defaults = _defaults(estimator)
    for name, value, implied in zip(
        ("conditioner", "univariate"), step, from_base, strict=True
    ):
        if value not in defaults[name] and value != implied:
            raise ValueError(
                f"base={estimator.base!r} (deprecated) means {name}={implied!r}, "
                f"but {name}={value!r} was given: set conditioner and univariate "
                "only, and leave base out"
            )
    if warn:
        cls = type(estimator).__name__
        conditioner, univariate = from_base
        warnings.warn(
            f"{cls}'s parameter base was deprecated in 0.2.0 and will be removed "
            f"in 0.3.0; base={estimator.base!r} is conditioner={conditioner!r} "
            f"with univariate={univariate!r}: write {cls}(conditioner="
            f"{conditioner!r}, univariate={univariate!r}) instead",
            FutureWarning,
            stacklevel=5,
        )
    return from_base


def translate_base(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with a deprecated ``base`` value written as the new names
    (for model files written before the rename)."""
    base = params.get("base", "deprecated")
    if base not in BASE_STEPS:
        return params
    conditioner, univariate = BASE_STEPS[base]
    return {
        **params,
        "base": "deprecated",
        "conditioner": conditioner,
        "univariate": univariate,
    }
