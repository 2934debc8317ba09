"""Residual convolutional networks and the coupling conditioner built on one.

The network is the LGF authors' ResNet for images (their
``networks.get_resnet``, after Dinh et al. 2017): a 3x3 convolution to the
hidden width, residual blocks of ``BN, ReLU, conv 3x3, BN, ReLU, conv 3x3``
added to their input, then ``BN, ReLU`` and a 1x1 convolution to the
outputs, which leave through a learned per-channel scale times ``tanh``.
Every weight keeps torch's default initialisation, as there. Its batch norms
use batch statistics in training and running statistics in evaluation; the
end of training sets those to exact statistics of the training data
(:func:`~sklearn_lgf.nn.bijections.calibrate_batch_norms`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from ..activations import tanh
from ..transforms import MonotoneTransform
from .masks import ImageShape


def residual_widths(hidden_channels: Sequence[int], name: str) -> tuple[int, int]:
    """``(blocks, width)`` of a residual net given as one width per block.

    The blocks add their output to their input, so they all have one width;
    the sequence form matches ``hidden_layer_sizes`` (``(64,) * 4`` is 4
    blocks of 64 channels).
    """
    widths = tuple(hidden_channels)
    if not widths or any(w != widths[0] for w in widths) or widths[0] < 1:
        raise ValueError(
            f"{name} must be one positive width per residual block, all equal "
            f"(e.g. (64, 64, 64, 64)); got {widths}"
        )
    return len(widths), widths[0]


def _conv3x3(channels_in: int, channels_out: int) -> nn.Conv2d:
    return nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False)


class ResidualBlock(nn.Module):
    """``x + conv(relu(bn(conv(relu(bn(x))))))`` with 3x3 convolutions."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(channels)
        self.conv1 = _conv3x3(channels, channels)
        self.norm2 = nn.BatchNorm2d(channels)
        self.conv2 = _conv3x3(channels, channels)

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        h = self.conv1(torch.relu(self.norm1(x)))
        return x + self.conv2(torch.relu(self.norm2(h)))


class ResNet(nn.Module):
    """The authors' residual conv net, ``(N, in, H, W) -> (N, out, H, W)``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output.
    hidden_channels : sequence of int
        One width per residual block, all equal (:func:`residual_widths`):
        more blocks see further across the image, wider ones hold more
        features; the paper's couplers are ``(64,) * 4`` or ``(64,) * 8``.
    spatial : (int, int)
        ``(H, W)`` of the images it will see; it sets
        :attr:`units_per_row` only (convolutions take any size).
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: Sequence[int],
        out_channels: int,
        spatial: tuple[int, int],
    ) -> None:
        super().__init__()
        n_blocks, width = residual_widths(hidden_channels, "hidden_channels")
        self.stem = _conv3x3(in_channels, width)
        self.blocks = nn.Sequential(*(ResidualBlock(width) for _ in range(n_blocks)))
        self.head_norm = nn.BatchNorm2d(width)
        self.head = nn.Conv2d(width, out_channels, 1)
        # tanh bounds every output; the learned scale, one per output channel
        # and 1 at the start, lets a channel leave (-1, 1) when it must.
        self.output_scale = nn.Parameter(torch.ones(out_channels, 1, 1))
        self.units_per_row = (width * (2 * n_blocks + 1) + out_channels) * (
            spatial[0] * spatial[1]
        )
        """Output units of its layers per image: what a row costs in memory."""

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        h = self.blocks(self.stem(x))
        return self.output_scale * tanh(self.head(torch.relu(self.head_norm(h))))


class ConvConditioner(nn.Module):
    """A coupling conditioner on images: the kept elements, laid out as an
    image, through a :class:`ResNet` to the changed elements' parameters.

    Called as ``conditioner(kept, context)`` with the kept elements ``(N,
    kept)`` in the order of the mask, like
    :class:`~sklearn_lgf.nn.conditioners.DenseConditioner`; returns ``(N,
    changed, params_per_feature)``.

    Parameters
    ----------
    in_shape : (int, int, int)
        The image the kept elements are laid out in: the whole image for a
        checkerboard mask (the changed pixels are zeros there, RealNVP's
        ``b * x``), the kept channels for a channel mask.
    out_channels : int
        Channels whose elements get parameters: all of them for a
        checkerboard, the changed channels for a channel mask.
    hidden_channels : sequence of int
        The :class:`ResNet`'s blocks.
    univariate : MonotoneTransform
        The transform the parameters are for (``params_per_feature`` output
        maps per channel, ordered by its ``packing``).
    scatter : Tensor or None
        Flat positions in ``in_shape`` of the kept elements (``None``: they
        fill it in order).
    gather : Tensor or None
        Flat positions in ``(out_channels, H, W)`` of the changed elements
        (``None``: all of them, in order).
    context_channels : int, default=0
        Channels of an image-shaped context (the LGF's ``u`` when it indexes
        the conditioner), stacked onto the input.
    """

    scatter: Tensor | None
    gather: Tensor | None

    def __init__(
        self,
        in_shape: ImageShape,
        out_channels: int,
        hidden_channels: Sequence[int],
        univariate: MonotoneTransform,
        *,
        scatter: Tensor | None = None,
        gather: Tensor | None = None,
        context_channels: int = 0,
    ) -> None:
        super().__init__()
        self.in_shape = tuple(in_shape)
        self.out_channels = out_channels
        self.params_per_feature = univariate.params_per_feature
        self.packing: Literal["parameter", "feature"] = univariate.packing
        self.register_buffer("scatter", scatter)
        self.register_buffer("gather", gather)
        _, height, width = in_shape
        self.net = ResNet(
            in_shape[0] + context_channels,
            hidden_channels,
            self.params_per_feature * out_channels,
            (height, width),
        )

    def forward(self, kept: Tensor, context: Tensor | None = None) -> Tensor:  # type: ignore[override]
        n = kept.shape[0]
        _, height, width = self.in_shape
        if self.scatter is None:
            image = kept.reshape(n, *self.in_shape)
        else:
            flat = kept.new_zeros(n, self.in_shape[0] * height * width)
            flat[:, self.scatter] = kept
            image = flat.view(n, *self.in_shape)
        if context is not None:
            image = torch.cat([image, context.reshape(n, -1, height, width)], dim=1)
        out = self.net(image)
        p = self.params_per_feature
        if self.packing == "parameter":  # channel block j: parameter j
            params = out.reshape(n, p, -1)
        else:  # channel c * p + j: parameter j of channel c
            params = out.view(n, self.out_channels, p, height * width)
            params = params.transpose(1, 2).reshape(n, p, -1)
        if self.gather is not None:
            params = params[:, :, self.gather]
        return params.transpose(1, 2)
