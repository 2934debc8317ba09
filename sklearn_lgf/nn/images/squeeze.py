"""RealNVP's squeeze: each 2 x 2 block of pixels becomes 4 channels."""

from __future__ import annotations

from torch import Tensor

from ..bijections import Bijection
from ..conditioners import ImageShape


def squeezed_shape(shape: ImageShape) -> ImageShape:
    """The shape :class:`Squeeze` gives an image of ``shape``."""
    channels, height, width = shape
    if height % 2 or width % 2:
        raise ValueError(f"a squeeze needs an even height and width, got {shape}")
    return 4 * channels, height // 2, width // 2


class Squeeze(Bijection):
    """``(N, C, H, W) -> (N, 4 C, H / 2, W / 2)``: a permutation (volume
    preserving).

    Output channel ``4 c + 2 i + j`` holds the pixels ``(2 h + i, 2 w + j)``
    of channel ``c``, the order of Dinh et al. and of the LGF authors' code,
    so that a channel mask after it keeps whole 2 x 2 blocks of some
    channels and changes the others.
    """

    def forward(
        self, x: Tensor, context: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        n, c, h, w = x.shape
        blocks = x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
        return blocks.reshape(n, 4 * c, h // 2, w // 2), x.new_zeros(n)

    def inverse(self, z: Tensor, context: Tensor | None = None) -> Tensor:
        n, c4, h, w = z.shape
        blocks = z.reshape(n, c4 // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
        return blocks.reshape(n, c4 // 4, 2 * h, 2 * w)
