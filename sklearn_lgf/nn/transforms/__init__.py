"""Elementwise monotone transforms: what a step's parameters parametrise.

A transform (:class:`MonotoneTransform`) says how many parameters it needs
per element and maps ``(x, params)`` to ``(y, log|dy/dx|)`` and back; a
conditioner (:mod:`sklearn_lgf.nn.conditioners`) computes the parameters.
A new transform is one small module here plus a line in
:func:`make_univariate`; every step then offers it.
"""

from __future__ import annotations

from collections.abc import Sequence

from .affine import LOG_SCALE_BOUND, Affine, rational_clamp
from .base import MonotoneTransform
from .spline import (
    DEFAULT_BINS,
    DEFAULT_TAIL_BOUND,
    RationalQuadraticSpline,
    rational_quadratic_knots,
    rational_quadratic_spline,
    spline_logit_scale,
)

UNIVARIATES = ("affine", "spline")
"""The names of the transforms, as ``univariate=`` takes them."""

__all__ = [
    "DEFAULT_BINS",
    "DEFAULT_TAIL_BOUND",
    "LOG_SCALE_BOUND",
    "UNIVARIATES",
    "Affine",
    "MonotoneTransform",
    "RationalQuadraticSpline",
    "make_univariate",
    "rational_clamp",
    "rational_quadratic_knots",
    "rational_quadratic_spline",
    "spline_logit_scale",
]


def make_univariate(
    name: str,
    hidden_layer_sizes: Sequence[int],
    *,
    log_scale_bound: float = LOG_SCALE_BOUND,
    n_bins: int = DEFAULT_BINS,
    tail_bound: float = DEFAULT_TAIL_BOUND,
) -> MonotoneTransform:
    """The transform named ``name`` (one of :data:`UNIVARIATES`).

    ``hidden_layer_sizes`` are those of the conditioner that feeds it (the
    spline scales its bin logits by the last width); ``log_scale_bound``
    shapes the affine transform, ``n_bins`` and ``tail_bound`` the spline.
    """
    if name == "affine":
        return Affine(log_scale_bound)
    if name == "spline":
        return RationalQuadraticSpline(
            n_bins, tail_bound, spline_logit_scale(hidden_layer_sizes)
        )
    raise ValueError(
        f"unknown univariate {name!r}; use one of {', '.join(map(repr, UNIVARIATES))}"
    )
