"""The interface of an elementwise monotone transform."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn


class MonotoneTransform(nn.Module):
    """An elementwise monotone map ``y = f(x; params)`` and its inverse.

    A step's conditioner computes the parameters; the transform says how
    many it needs per element (:attr:`params_per_feature`) and what they
    parametrise. ``params`` has the shape of ``x`` with one more, last axis
    of :attr:`params_per_feature` entries, whatever the shape of ``x``
    (``(N, D)`` rows, ``(N, C, H, W)`` images, or one feature's ``(N,)``).

    A transform holds no learnable parameters or buffers: what it computes
    is set by its constructor's arguments alone, so replacing a model's
    transforms leaves its state dict as it is.
    """

    params_per_feature: int
    """Parameters per transformed element."""

    packing: Literal["parameter", "feature"] = "parameter"
    """How a conditioner whose network ends in one flat output vector per row
    orders it: ``"parameter"``, the first parameter of every element, then
    the second of every element, ... (as RealNVP splits its output into
    shift and scale); ``"feature"``, each element's parameters side by side
    (as nflows' spline couplings). The network's weights were trained in
    this order, so it is part of the transform."""

    def forward(self, x: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        """``(y, log|dy/dx|)``, both of the shape of ``x``."""
        raise NotImplementedError

    def inverse(self, y: Tensor, params: Tensor) -> Tensor:
        """The ``x`` that :meth:`forward` maps to ``y``."""
        raise NotImplementedError
