"""The two steps of a flow: a conditioner times an elementwise transform.

:class:`AutoregressiveStep` (MAF, autoregressive neural spline flow) and
:class:`CouplingStep` (RealNVP, coupling neural spline flow) each take any
:class:`~sklearn_lgf.nn.transforms.MonotoneTransform`; :func:`make_step`
builds one from the names ``conditioner=`` and ``univariate=`` take, and
:func:`conv_coupling_step` RealNVP's image coupling (a checkerboard or
channel mask and a residual conv conditioner). Both steps accept inputs of
shape ``(N, D)`` or ``(N, C, H, W)`` (and a context of any shape per row)
and return the log-determinant per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from torch import Tensor, nn

from .bijections import Bijection
from .conditioners import (
    CONDITIONERS,
    MADE,
    ConvConditioner,
    DenseConditioner,
    ImageShape,
    channel_mask,
    checkerboard_mask,
    parity_split,
)
from .transforms import MonotoneTransform


class AutoregressiveStep(Bijection):
    """``z_i = f(x_i; theta_i(x_<i, context))``, ``theta`` from a :class:`MADE`.

    The density direction (``forward``, data to latent) is one network
    pass; ``inverse`` solves element by element with
    :meth:`MADE.autoregressive_inverse`, at the cost of one pass too.
    """

    def __init__(self, univariate: MonotoneTransform, made: MADE) -> None:
        super().__init__()
        if made.params_per_feature != univariate.params_per_feature:
            raise ValueError(
                f"the MADE gives {made.params_per_feature} parameters per "
                f"feature; the transform needs {univariate.params_per_feature}"
            )
        self.made = made
        self.univariate = univariate

    def forward(
        self, x: Tensor, context: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        flat = x.flatten(1)
        z, log_derivative = self.univariate(flat, self.made(flat, context))
        return z.view_as(x), log_derivative.sum(-1)

    def inverse(self, z: Tensor, context: Tensor | None = None) -> Tensor:
        x = self.made.autoregressive_inverse(
            z.flatten(1), self.univariate.inverse, context
        )
        return x.view_as(z)


class CouplingStep(Bijection):
    """The ``kept`` elements pass through; the ``changed`` ones get
    ``f(x_changed; theta(x_kept, context))``.

    ``kept`` and ``changed`` (the mask) index the elements of a row
    flattened over all its non-batch axes; the ``conditioner`` is called as
    ``conditioner(x_kept, context)`` and returns ``(N, changed,
    params_per_feature)``, e.g. a :class:`DenseConditioner`.
    """

    kept: Tensor
    changed: Tensor

    def __init__(
        self,
        univariate: MonotoneTransform,
        mask: tuple[Tensor, Tensor],
        conditioner: nn.Module,
    ) -> None:
        super().__init__()
        kept, changed = mask
        self.register_buffer("kept", kept)
        self.register_buffer("changed", changed)
        self.conditioner = conditioner
        self.univariate = univariate

    def forward(
        self, x: Tensor, context: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        flat = x.flatten(1)
        params = self.conditioner(flat[:, self.kept], context)
        y, log_derivative = self.univariate(flat[:, self.changed], params)
        z = flat.clone()
        z[:, self.changed] = y
        return z.view_as(x), log_derivative.sum(-1)

    def inverse(self, z: Tensor, context: Tensor | None = None) -> Tensor:
        flat = z.flatten(1)
        params = self.conditioner(flat[:, self.kept], context)
        y = self.univariate.inverse(flat[:, self.changed], params)
        x = flat.clone()
        x[:, self.changed] = y
        return x.view_as(z)


def make_step(
    conditioner: str,
    univariate: MonotoneTransform,
    features: int,
    hidden_layer_sizes: Sequence[int],
    *,
    context_features: int = 0,
    layer: int = 0,
) -> AutoregressiveStep | CouplingStep:
    """A step with the conditioner named ``conditioner`` (one of
    :data:`~sklearn_lgf.nn.conditioners.CONDITIONERS`) and ``univariate``.

    ``features`` elements per row, ``context_features`` context entries per
    row, ``hidden_layer_sizes`` the conditioner's hidden widths; a coupling
    step keeps the elements of index parity ``layer % 2``, so that
    consecutive layers change complementary halves.
    """
    if conditioner == "autoregressive":
        made = MADE(
            features,
            hidden_layer_sizes,
            univariate.params_per_feature,
            context_features,
        )
        return AutoregressiveStep(univariate, made)
    if conditioner == "coupling":
        kept, changed = parity_split(features, layer % 2)
        net = DenseConditioner(
            len(kept) + context_features, hidden_layer_sizes, len(changed), univariate
        )
        return CouplingStep(univariate, (kept, changed), net)
    raise ValueError(
        f"unknown conditioner {conditioner!r}; use one of "
        f"{', '.join(map(repr, CONDITIONERS))}"
    )


def conv_coupling_step(
    univariate: MonotoneTransform,
    shape: ImageShape,
    mask: Literal["checkerboard", "channel"],
    parity: int,
    hidden_channels: Sequence[int],
    *,
    context_channels: int = 0,
) -> CouplingStep:
    """RealNVP's coupling step on images of ``shape`` ``(C, H, W)``.

    ``mask="checkerboard"`` keeps the pixels with ``(h + w) % 2 == parity``
    (in every channel); ``"channel"`` keeps the first half of the channels
    (``parity=0``) or the second (``parity=1``). The conditioner is a
    :class:`~sklearn_lgf.nn.conditioners.ConvConditioner` whose residual
    blocks have the widths ``hidden_channels``; ``context_channels`` are the
    channels of an image-shaped context stacked onto its input. The step
    takes ``(N, C, H, W)`` images or their flat rows.
    """
    if mask == "checkerboard":
        kept, changed = checkerboard_mask(shape, parity)
        conditioner = ConvConditioner(
            shape,
            shape[0],
            hidden_channels,
            univariate,
            scatter=kept,
            gather=changed,
            context_channels=context_channels,
        )
    elif mask == "channel":
        kept, changed = channel_mask(shape, keep_second_half=bool(parity))
        _, height, width = shape
        kept_channels = len(kept) // (height * width)
        conditioner = ConvConditioner(
            (kept_channels, height, width),
            shape[0] - kept_channels,
            hidden_channels,
            univariate,
            context_channels=context_channels,
        )
    else:
        raise ValueError(f"unknown mask {mask!r}; use 'checkerboard' or 'channel'")
    return CouplingStep(univariate, (kept, changed), conditioner)
