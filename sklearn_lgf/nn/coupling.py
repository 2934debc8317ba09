"""Affine coupling step (RealNVP, Dinh et al. 2017) with alternating masks."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .affine import LOG_SCALE_BOUND, AffineStep
from .mlp import mlp


def parity_split(features: int, parity: int) -> tuple[Tensor, Tensor]:
    """Indices of the features a coupling step keeps (index parity
    ``parity``) and of those it changes; alternating ``parity`` between
    steps lets every feature be changed."""
    index = torch.arange(features)
    return index[index % 2 == parity], index[index % 2 != parity]


class AffineCoupling(AffineStep):
    """Features of one parity pass through; the others get an affine map.

    ``z_B = x_B * exp(a(x_A)) + t(x_A)`` where ``A`` holds the features with
    index parity ``parity`` and ``B`` the rest; ``a`` is clamped as in
    :class:`~sklearn_lgf.nn.affine.AffineStep`. The
    conditioner has torch's default initialisation (as zuko's couplings): a
    zero last layer would hide a context ``u`` from the gradient at the start.
    """

    kept: Tensor
    changed: Tensor

    def __init__(
        self,
        features: int,
        hidden_layer_sizes: Sequence[int],
        parity: int = 0,
        context_features: int = 0,
        log_scale_bound: float = LOG_SCALE_BOUND,
    ) -> None:
        super().__init__()
        kept, changed = parity_split(features, parity)
        self.register_buffer("kept", kept)
        self.register_buffer("changed", changed)
        self.log_scale_bound = log_scale_bound
        self.shift_before_scale = False
        self.conditioner = mlp(
            len(self.kept) + context_features,
            hidden_layer_sizes,
            2 * len(self.changed),
        )

    def _shift_raw(self, kept: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        h = kept if context is None else torch.cat([context, kept], dim=-1)
        shift, raw = self.conditioner(h).chunk(2, dim=-1)
        return shift, raw

    def forward(
        self, x: Tensor, context: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        shift, raw = self._shift_raw(x[:, self.kept], context)
        z = x.clone()
        z[:, self.changed], log_slope = self.to_latent(x[:, self.changed], shift, raw)
        return z, log_slope.sum(-1)

    def inverse(self, z: Tensor, context: Tensor | None = None) -> Tensor:
        shift, raw = self._shift_raw(z[:, self.kept], context)
        x = z.clone()
        x[:, self.changed] = self.to_data(z[:, self.changed], shift, raw)
        return x
