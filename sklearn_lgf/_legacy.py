"""What model files of older formats need to score as they were trained.

The state-dict keys are those of format 1 and 2 alike, so no weight names
need mapping. Format 1's affine steps computed another member
of the same family of maps, ``z = (x - shift) * exp(-a)`` with ``a = 5
tanh(raw / 5)``: :func:`restore_forms` gives a model loaded from such a file
that form back. The engine's own transforms know nothing of it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .nn.bijections import soft_clamp
from .nn.transforms import Affine, MonotoneTransform

FORMAT1_LOG_SCALE_BOUND = 5.0
"""The bound of the log-scale of format 1's affine steps."""


class Format1Affine(MonotoneTransform):
    """``z = (x - shift) * exp(-a)`` with ``a = soft_clamp(raw, 5)``: the
    affine transform of format 1, with the parameters ``(shift, raw)`` of
    :class:`~sklearn_lgf.nn.transforms.Affine`."""

    params_per_feature = 2

    def __init__(self, log_scale_bound: float = FORMAT1_LOG_SCALE_BOUND) -> None:
        super().__init__()
        self.log_scale_bound = log_scale_bound

    def forward(self, x: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        shift, raw = params.unbind(-1)
        log_scale = soft_clamp(raw, self.log_scale_bound)
        return (x - shift) * torch.exp(-log_scale), -log_scale

    def inverse(self, y: Tensor, params: Tensor) -> Tensor:
        shift, raw = params.unbind(-1)
        return y * torch.exp(soft_clamp(raw, self.log_scale_bound)) + shift


def restore_forms(model: nn.Module, format_version: int) -> None:
    """Give the steps of ``model``, loaded from a file of ``format_version``,
    the transforms they were trained with (in place)."""
    if format_version != 1:
        return
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is Affine:
                setattr(parent, name, Format1Affine())
