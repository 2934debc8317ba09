"""The paper's image models: multi-scale RealNVP and LGF-RealNVP.

Both take flat rows of ``C H W`` intensities in ``[0, n_levels)`` (the image
flattened in C order, see :mod:`sklearn_lgf.nn.images.layout`) and start
with RealNVP's logit pre-transform, so that their scores are densities of
the rows in the rows' units. The layout is Dinh et al.'s multi-scale
architecture as the LGF authors' code builds it (``structure.py``, schema
"multiscale-realnvp"): per scale but the last, three checkerboard couplings,
a squeeze, three channel couplings and the factoring out of half the
channels; on the last scale, four checkerboard couplings. With two scales
(the default) that is the paper's ten couplings:

    (C, H, W)        checkerboard x 3
    (4C, H/2, W/2)   squeeze, channel x 3, half the channels factored out
    (2C, H/2, W/2)   checkerboard x 4

Every coupling's conditioner is a residual conv net
(:class:`~sklearn_lgf.nn.conditioners.ResNet`). The exact flow puts a batch
norm after every coupling; the LGF puts an indexed layer there (the
authors' "cond-affine": ``G(z; u) = s(u) * z + t(u)`` with a one-channel
image ``u`` of the layer's height and width, ``p(u | .)``, ``q(u | .)``,
``s`` and ``t`` from residual conv nets).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from torch import nn

from .bijections import BatchNorm, Bijection, Compose
from .conditioners import ImageShape, residual_widths
from .flow import Flow
from .images import ChannelBatchNorm, LogitTransform, OnLeading, Squeeze
from .images.squeeze import squeezed_shape
from .indexed import ConditionalGaussian, IndexedAffine
from .lgf import LGF, LGFLayer
from .steps import conv_coupling_step
from .transforms import (
    DEFAULT_BINS,
    DEFAULT_TAIL_BOUND,
    LOG_SCALE_BOUND,
    UNIVARIATES,
    make_univariate,
)

IMAGE_CALIBRATION_ROWS = 1024
"""Rows per pass when an image model's batch norms are calibrated after
training (:attr:`~sklearn_lgf.nn.DensityModel.calibration_chunk_rows`):
about 1 GiB of activations at the paper's sizes on 28 x 28 images."""

BATCH_NORMS = ("channel", "element")
"""The batch norms of :func:`build_image_flow`."""


@dataclass(frozen=True)
class CouplingAt:
    """A coupling on images of ``shape`` with the mask ``mask`` of ``parity``
    (see :func:`~sklearn_lgf.nn.steps.conv_coupling_step`)."""

    shape: ImageShape
    mask: Literal["checkerboard", "channel"]
    parity: int


@dataclass(frozen=True)
class SqueezeAt:
    """A squeeze of images of ``shape``."""

    shape: ImageShape


def multiscale_layout(
    image_shape: ImageShape, n_scales: int = 2
) -> list[CouplingAt | SqueezeAt]:
    """The couplings and squeezes of a multi-scale RealNVP, data side first.

    Each entry carries the shape of the leading part of the row it sees:
    after a scale's channel couplings the next entry's shape has half the
    channels, the rest having been factored out. The parities follow the
    authors' masks (a checkerboard "not reversed" keeps ``(h + w) % 2 ==
    1``; the first channel coupling of a scale keeps the second half).
    """
    if n_scales < 1:
        raise ValueError(f"n_scales must be at least 1, got {n_scales}")
    shape = tuple(image_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"image_shape must be (C, H, W), got {image_shape}")
    layout: list[CouplingAt | SqueezeAt] = []
    for _ in range(n_scales - 1):
        layout += [CouplingAt(shape, "checkerboard", parity) for parity in (1, 0, 1)]
        layout.append(SqueezeAt(shape))
        shape = squeezed_shape(shape)
        layout += [CouplingAt(shape, "channel", parity) for parity in (1, 0, 1)]
        shape = (shape[0] // 2, shape[1], shape[2])
    layout += [CouplingAt(shape, "checkerboard", parity) for parity in (1, 0, 1, 0)]
    return layout


def _coupling(
    at: CouplingAt,
    hidden_channels: Sequence[int],
    univariate: str,
    n_bins: int,
    tail_bound: float,
    log_scale_bound: float,
) -> OnLeading:
    transform = make_univariate(
        univariate,
        hidden_channels,
        log_scale_bound=log_scale_bound,
        n_bins=n_bins,
        tail_bound=tail_bound,
    )
    step = conv_coupling_step(transform, at.shape, at.mask, at.parity, hidden_channels)
    return OnLeading(step, at.shape)


def _squeeze(at: SqueezeAt) -> OnLeading:
    return OnLeading(Squeeze(), at.shape, squeezed_shape(at.shape))


def _check(image_shape: ImageShape, univariate: str) -> None:
    if univariate not in UNIVARIATES:
        raise ValueError(
            f"unknown univariate {univariate!r}; use one of "
            f"{', '.join(map(repr, UNIVARIATES))}"
        )
    if len(tuple(image_shape)) != 3:
        raise ValueError(f"image_shape must be (C, H, W), got {image_shape}")


def build_image_flow(
    image_shape: ImageShape,
    *,
    n_levels: int = 256,
    logit_lambda: float = 1e-6,
    n_scales: int = 2,
    hidden_channels: Sequence[int] = (64,) * 8,
    batch_norm: str | None = "channel",
    univariate: str = "affine",
    n_bins: int = DEFAULT_BINS,
    tail_bound: float = DEFAULT_TAIL_BOUND,
    log_scale_bound: float = LOG_SCALE_BOUND,
) -> Flow:
    """Multi-scale RealNVP on flat rows of images (the paper's baseline).

    Parameters
    ----------
    image_shape : (int, int, int)
        ``(C, H, W)``; a row holds the image flattened in C order. Height
        and width must be divisible by ``2 ** (n_scales - 1)``.
    n_levels : int, default=256
        Intensity levels: rows hold (dequantised) values in ``[0,
        n_levels)``.
    logit_lambda : float, default=1e-6
        The logit pre-transform's squeeze
        (:class:`~sklearn_lgf.nn.images.LogitTransform`): the authors' value
        for MNIST and Fashion-MNIST; they use 0.05 for CIFAR-10.
    n_scales : int, default=2
        Scales of the multi-scale layout (:func:`multiscale_layout`): 2 gives
        the paper's ten couplings; each further scale adds six and halves the
        height and width once more.
    hidden_channels : sequence of int, default=(64,) * 8
        The residual blocks of every coupling's conditioner, one width per
        block, all equal: the paper's RealNVP (8) is ``(64,) * 8``, RealNVP
        (4) ``(64,) * 4``; a small CPU model might take ``(16, 16)``.
    batch_norm : {"channel", "element"} or None, default="channel"
        The batch norm after every coupling: ``"channel"``, one statistic,
        scale and shift per channel (Dinh et al.; the authors' later code);
        ``"element"``, one per pixel and channel (the LGF paper's code, whose
        parameters Table 2 counts); ``None``, none.
    univariate : {"affine", "spline"}, default="affine"
        The couplings' elementwise transform (RealNVP: affine).
    n_bins, tail_bound : int, float
        The spline's bins and tail bound (``univariate="spline"``).
    log_scale_bound : float
        Bound of the affine transform's log-scale.

    Returns
    -------
    Flow
        An exact flow on rows of ``C H W`` features.
    """
    _check(image_shape, univariate)
    residual_widths(hidden_channels, "hidden_channels")
    if batch_norm is not None and batch_norm not in BATCH_NORMS:
        raise ValueError(
            f"unknown batch_norm {batch_norm!r}; use 'channel', 'element' or None"
        )
    channels, height, width = image_shape
    layers: list[Bijection] = [LogitTransform(n_levels, logit_lambda)]
    for at in multiscale_layout(image_shape, n_scales):
        if isinstance(at, SqueezeAt):
            layers.append(_squeeze(at))
            continue
        layers.append(
            _coupling(
                at, hidden_channels, univariate, n_bins, tail_bound, log_scale_bound
            )
        )
        if batch_norm == "channel":
            layers.append(OnLeading(ChannelBatchNorm(at.shape[0]), at.shape))
        elif batch_norm == "element":
            size = at.shape[0] * at.shape[1] * at.shape[2]
            layers.append(OnLeading(BatchNorm(size), (size,)))
    flow = Flow(Compose(layers), channels * height * width)
    flow.calibration_chunk_rows = IMAGE_CALIBRATION_ROWS
    return flow


def build_image_lgf(
    image_shape: ImageShape,
    *,
    n_levels: int = 256,
    logit_lambda: float = 1e-6,
    n_scales: int = 2,
    hidden_channels: Sequence[int] = (64,) * 4,
    u_channels: int = 1,
    pq_hidden_channels: Sequence[int] = (64,) * 2,
    st_hidden_channels: Sequence[int] = (8,) * 2,
    batch_norm: bool = False,
    univariate: str = "affine",
    n_bins: int = DEFAULT_BINS,
    tail_bound: float = DEFAULT_TAIL_BOUND,
    log_scale_bound: float = 5.0,
) -> LGF:
    """LGF-RealNVP on flat rows of images (the paper's Section 5.2 model).

    The multi-scale RealNVP of :func:`build_image_flow` with, after every
    coupling, an indexed layer ``G(z; u) = s(u) * z + t(u)``: ``u`` is an
    image of ``u_channels`` channels and the coupling's height and width;
    ``q(u | z)`` (of the layer's input, the coupling's output),
    ``p(u | G(z; u))`` and ``s, t`` are residual conv nets. The defaults are
    the paper's LGF-RealNVP (4).

    Parameters
    ----------
    image_shape, n_levels, logit_lambda, n_scales
        As in :func:`build_image_flow`.
    hidden_channels : sequence of int, default=(64,) * 4
        The residual blocks of every coupling's conditioner.
    u_channels : int, default=1
        Channels of each layer's ``u``.
    pq_hidden_channels : sequence of int, default=(64, 64)
        The residual blocks of the nets of ``p`` and ``q``.
    st_hidden_channels : sequence of int, default=(8, 8)
        The residual blocks of the net of ``s`` and ``t``.
    batch_norm : bool, default=False
        A batch norm without learned scale and shift, one statistic per
        channel, after every indexed layer (the authors' later code; the
        paper has none in the LGF).
    univariate : {"affine", "spline"}, default="affine"
        The couplings' elementwise transform.
    n_bins, tail_bound : int, float
        The spline's bins and tail bound (``univariate="spline"``).
    log_scale_bound : float, default=5.0
        Bound of ``log s(u)`` (the couplings keep the affine transform's
        default bound).

    Returns
    -------
    LGF
        On rows of ``C H W`` features; its noise holds every layer's ``u``
        on one axis (:attr:`~sklearn_lgf.nn.LGF.noise_shape`).
    """
    _check(image_shape, univariate)
    for name, widths in (
        ("hidden_channels", hidden_channels),
        ("pq_hidden_channels", pq_hidden_channels),
        ("st_hidden_channels", st_hidden_channels),
    ):
        residual_widths(widths, name)
    if u_channels < 1:
        raise ValueError(f"u_channels must be positive, got {u_channels}")
    channels, height, width = image_shape
    layers: list[nn.Module] = [LogitTransform(n_levels, logit_lambda)]
    u_shapes: list[tuple[int, int, int]] = []
    for at in multiscale_layout(image_shape, n_scales):
        if isinstance(at, SqueezeAt):
            layers.append(_squeeze(at))
            continue
        layers.append(
            _coupling(
                at,
                hidden_channels,
                univariate,
                n_bins,
                tail_bound,
                LOG_SCALE_BOUND,
            )
        )
        layers.append(
            LGFLayer(
                IndexedAffine.conv(
                    at.shape,
                    u_channels,
                    st_hidden_channels,
                    log_scale_bound=log_scale_bound,
                ),
                prior=ConditionalGaussian.conv(
                    at.shape, u_channels, pq_hidden_channels
                ),
                posterior=ConditionalGaussian.conv(
                    at.shape, u_channels, pq_hidden_channels
                ),
                shape=at.shape,
            )
        )
        u_shapes.append((u_channels, at.shape[1], at.shape[2]))
        if batch_norm:
            layers.append(
                OnLeading(ChannelBatchNorm(at.shape[0], affine=False), at.shape)
            )
    model = LGF(layers, channels * height * width, u_channels, u_shapes)
    model.calibration_chunk_rows = IMAGE_CALIBRATION_ROWS
    return model
