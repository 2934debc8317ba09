"""Coupling masks and the fully connected coupling conditioner."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..mlp import mlp
from ..transforms import MonotoneTransform


def parity_split(features: int, parity: int) -> tuple[Tensor, Tensor]:
    """The mask of a coupling step over ``features`` elements: the indices of
    the elements it keeps (index parity ``parity``) and of those it changes.

    Alternating ``parity`` between steps lets every element be changed.
    """
    index = torch.arange(features)
    return index[index % 2 == parity], index[index % 2 != parity]


class DenseConditioner(nn.Sequential):
    """An MLP from the kept elements (and the context) to the parameters of
    the changed ones, with torch's default initialisation.

    As zuko's couplings, its last layer is not zeroed: that would hide a
    context ``u`` from the gradient at the start. It is a
    :class:`~torch.nn.Sequential` of the MLP's layers (its parameters are
    named ``0.weight``, ``0.bias``, ...).

    Parameters
    ----------
    in_features : int
        Kept elements plus context entries per row.
    hidden_layer_sizes : sequence of int
        Widths of the hidden layers (ReLU).
    changed : int
        Changed elements per row.
    univariate : MonotoneTransform
        The transform the parameters are for: its ``params_per_feature``
        and ``packing`` fix the output layer.
    """

    def __init__(
        self,
        in_features: int,
        hidden_layer_sizes: Sequence[int],
        changed: int,
        univariate: MonotoneTransform,
    ) -> None:
        width = univariate.params_per_feature
        super().__init__(*mlp(in_features, hidden_layer_sizes, width * changed))
        self.changed = changed
        self.params_per_feature = width
        self.packing = univariate.packing

    def forward(self, kept: Tensor, context: Tensor | None = None) -> Tensor:  # type: ignore[override]
        """The parameters ``(batch, changed, params_per_feature)``."""
        h = kept if context is None else torch.cat([context.flatten(1), kept], dim=-1)
        out = super().forward(h)
        n = kept.shape[0]
        if self.packing == "parameter":
            return out.view(n, self.params_per_feature, self.changed).movedim(1, -1)
        return out.view(n, self.changed, self.params_per_feature)
