"""The elementwise affine transform ``y = x * exp(a) + shift``."""

from __future__ import annotations

import torch
from torch import Tensor

from .base import MonotoneTransform

LOG_SCALE_BOUND = 3.0
"""Default bound of the log-scale ``a``: one step scales a feature by at
most ``e**3`` (about 20) either way, so that a deep stack of steps cannot
blow a feature up early in training."""


def rational_clamp(x: Tensor, bound: float) -> Tensor:
    """Squash ``x`` into ``(-bound, bound)`` as ``x / (1 + |x| / bound)``.

    The identity near zero, like :func:`~sklearn_lgf.nn.soft_clamp`, but
    its slope decays as a power of ``|x|`` rather than exponentially, so a
    log-scale pushed far out still gets a gradient back (zuko's
    ``MonotonicAffineTransform`` bounds its log-scale this way).
    """
    return x / (1 + x.abs() / bound)


class Affine(MonotoneTransform):
    """``y = x * exp(a) + shift`` with ``a = rational_clamp(raw, log_scale_bound)``.

    The parameters are ``(shift, raw)``, in that order, as zuko's and
    nflows' affine transforms take them.
    """

    params_per_feature = 2

    def __init__(self, log_scale_bound: float = LOG_SCALE_BOUND) -> None:
        super().__init__()
        self.log_scale_bound = log_scale_bound

    def forward(self, x: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        shift, raw = params.unbind(-1)
        log_scale = rational_clamp(raw, self.log_scale_bound)
        return x * torch.exp(log_scale) + shift, log_scale

    def inverse(self, y: Tensor, params: Tensor) -> Tensor:
        shift, raw = params.unbind(-1)
        return (y - shift) * torch.exp(-rational_clamp(raw, self.log_scale_bound))

    def extra_repr(self) -> str:
        return f"log_scale_bound={self.log_scale_bound}"
