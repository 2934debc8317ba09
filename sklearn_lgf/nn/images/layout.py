"""Images as flat rows, and the leading part of a row that a layer sees.

An image model takes rows of ``C H W`` values, the image flattened in C
order (entry ``c H W + h W + w`` is channel ``c``, row ``h``, column ``w``,
as ``image.reshape(-1)`` in PyTorch and NumPy), so that the code that
scores, chunks and trains rows works on it unchanged.

A multi-scale flow (Dinh et al. 2017) factors out half of the channels
after each scale: they go straight to the standard-normal base while the
other half is transformed further. Kept in the row, the factored-out
channels are simply entries that no later layer touches, so factoring out is
no map at all: if a scale ends on an image of shape ``(C, H, W)`` whose
first ``C / 2`` channels go on, the next layers see the leading ``C / 2 H
W`` entries of the row as an image of shape ``(C / 2, H, W)``, and the
entries after them reach the base unchanged, where each adds its
standard-normal log-density. :class:`OnLeading` gives a layer that view.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..bijections import Bijection

Shape = tuple[int, ...]
"""The shape of one row's leading part, e.g. ``(C, H, W)``."""


def split_leading(x: Tensor, shape: Shape) -> tuple[Tensor, Tensor | None]:
    """The leading ``prod(shape)`` entries of every row of ``x``, as
    ``(N, *shape)``, and the rest of the row (``None`` when nothing is left)."""
    size = math.prod(shape)
    if x.shape[1] == size:
        return x.reshape(x.shape[0], *shape), None
    return x[:, :size].reshape(x.shape[0], *shape), x[:, size:]


def join_leading(leading: Tensor, rest: Tensor | None) -> Tensor:
    """The rows whose leading part is ``leading`` (any shape per row),
    flattened, followed by ``rest``."""
    flat = leading.reshape(leading.shape[0], -1)
    return flat if rest is None else torch.cat([flat, rest], dim=1)


class OnLeading(Bijection):
    """``bijection`` applied to the leading part of each flat row, viewed as
    ``shape``; the entries after it (factored out earlier) pass unchanged.

    ``bijection`` may give the leading part another shape, ``out_shape`` (a
    squeeze does), but not another number of entries; the result is flat
    rows again. The context is passed through.
    """

    def __init__(
        self, bijection: Bijection, shape: Shape, out_shape: Shape | None = None
    ) -> None:
        super().__init__()
        self.bijection = bijection
        self.shape = tuple(shape)
        self.out_shape = self.shape if out_shape is None else tuple(out_shape)
        if math.prod(self.out_shape) != math.prod(self.shape):
            raise ValueError(
                f"out_shape {self.out_shape} has not the entries of shape {self.shape}"
            )

    def forward(
        self, x: Tensor, context: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        leading, rest = split_leading(x, self.shape)
        z, log_det = self.bijection(leading, context)
        return join_leading(z, rest), log_det

    def inverse(self, z: Tensor, context: Tensor | None = None) -> Tensor:
        leading, rest = split_leading(z, self.out_shape)
        return join_leading(self.bijection.inverse(leading, context), rest)

    def extra_repr(self) -> str:
        return f"shape={self.shape}, out_shape={self.out_shape}"
