"""The masks of RealNVP's image couplings (Dinh et al. 2017).

A mask is the pair ``(kept, changed)`` of flat indices into an image of shape
``(C, H, W)`` flattened in C order (index ``c H W + h W + w``), as
:class:`~sklearn_lgf.nn.steps.CouplingStep` takes it: the kept elements pass
through and condition the transform of the changed ones.
"""

from __future__ import annotations

import torch
from torch import Tensor

ImageShape = tuple[int, int, int]
"""``(channels, height, width)`` of one image."""


def checkerboard_mask(shape: ImageShape, parity: int) -> tuple[Tensor, Tensor]:
    """Keep the pixels with ``(h + w) % 2 == parity`` in every channel.

    Alternating ``parity`` between steps changes every pixel. The LGF
    authors' code passes ``(h + w) % 2 == 1`` through in a step whose mask is
    not reversed: that is ``parity=1``.
    """
    channels, height, width = shape
    h = torch.arange(height)[:, None]
    w = torch.arange(width)[None, :]
    board = ((h + w) % 2 == parity).expand(channels, height, width).flatten()
    index = torch.arange(channels * height * width)
    return index[board], index[~board]


def channel_mask(shape: ImageShape, keep_second_half: bool) -> tuple[Tensor, Tensor]:
    """Keep the first half of the channels (or the second, with
    ``keep_second_half``) and change the other.

    With an odd number of channels the first "half" is the smaller one, as
    ``torch.chunk`` would not split it; the halves are contiguous blocks of
    the flat row, so a conditioner sees its input as whole channels.
    """
    channels, height, width = shape
    if channels < 2:
        raise ValueError(f"a channel mask needs 2 or more channels, got {channels}")
    first = channels // 2
    index = torch.arange(channels * height * width)
    first_half, second_half = (
        index[: first * height * width],
        index[first * height * width :],
    )
    return (second_half, first_half) if keep_second_half else (first_half, second_half)
