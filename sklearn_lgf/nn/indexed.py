"""Indexed bijections G(x; u) and the conditional Gaussians p(u | .) and q(u | .).

Nothing here assumes a flat feature axis: ``x`` and ``u`` may be rows
``(N, D)`` or images ``(N, C, H, W)``, and each layer's ``u`` has the size
its own networks give it. A network's output holds its two halves (raw
log-scale and shift, or mean and raw log-std) one after the other along
axis 1, as an MLP's ``2 D`` outputs or a conv net's ``2 C`` channels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from .activations import Tanh
from .bijections import HALF_LOG_TWO_PI, Bijection, Identity, soft_clamp
from .conditioners import ImageShape, ResNet
from .mlp import mlp


class IndexedAffine(Bijection):
    """``G(x; u) = s(u) * g(x) + t(u)`` with ``s = exp(a)``, ``a`` soft-clamped.

    ``log|det dG/dx| = log|det Dg(x)| + sum_i a_i(u)``. ``scale_shift``
    maps ``u`` to the raw ``a`` and ``t``, each of the shape of ``x``, one
    after the other along axis 1. The index ``u`` travels as the
    bijection's ``context``.
    """

    def __init__(
        self,
        base: Bijection,
        scale_shift: nn.Module,
        log_scale_bound: float = 5.0,
    ) -> None:
        super().__init__()
        self.base = base
        self.log_scale_bound = log_scale_bound
        self.scale_shift = scale_shift

    @classmethod
    def dense(
        cls,
        base: Bijection,
        features: int,
        u_dim: int,
        hidden_layer_sizes: Sequence[int],
        log_scale_bound: float = 5.0,
    ) -> IndexedAffine:
        """``s`` and ``t`` from one tanh MLP of ``u``, with torch's default
        initialisation, as in the authors' code: a zero-initialised last
        layer would make ``G`` independent of ``u`` at the start, so the
        gradient that teaches ``q`` to use ``u`` would vanish and training
        would start on the collapsed solution."""
        net = mlp(u_dim, hidden_layer_sizes, 2 * features, activation=Tanh)
        return cls(base, net, log_scale_bound)

    @classmethod
    def conv(
        cls,
        shape: ImageShape,
        u_channels: int,
        hidden_channels: Sequence[int],
        base: Bijection | None = None,
        log_scale_bound: float = 5.0,
    ) -> IndexedAffine:
        """The indexed map of images of ``shape`` ``(C, H, W)`` by a ``u`` of
        ``u_channels`` channels of the same height and width: ``s`` and ``t``
        from one residual conv net of ``u`` (blocks of widths
        ``hidden_channels``) with ``2 C`` output channels, as the LGF
        authors' "cond-affine" layer. ``base`` defaults to the identity:
        there the ordinary step is a layer of its own before this one, so
        that ``q`` sees that step's output."""
        channels, height, width = shape
        net = ResNet(u_channels, hidden_channels, 2 * channels, (height, width))
        return cls(Identity() if base is None else base, net, log_scale_bound)

    def _log_scale_shift(self, u: Tensor) -> tuple[Tensor, Tensor]:
        raw, shift = self.scale_shift(u).chunk(2, dim=1)
        return soft_clamp(raw, self.log_scale_bound), shift

    def forward(
        self, x: Tensor, context: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        if context is None:
            raise ValueError("IndexedAffine needs the index u as context")
        g, log_det = self.base(x)
        log_scale, shift = self._log_scale_shift(context)
        return g * log_scale.exp() + shift, log_det + log_scale.flatten(1).sum(-1)

    def forward_expanded(
        self, x: Tensor, u: Tensor, expand: Callable[[Tensor], Tensor]
    ) -> tuple[Tensor, Tensor]:
        """:meth:`forward` at ``expand(x)``, with ``g`` run once per row of ``x``.

        ``g`` does not depend on ``u``: when several draws of ``u`` share a
        row, ``expand`` copies the row's ``g(x)`` to its draws instead of
        running the base step on every copy.
        """
        g, log_det = self.base(x)
        log_scale, shift = self._log_scale_shift(u)
        return (
            expand(g) * log_scale.exp() + shift,
            expand(log_det) + log_scale.flatten(1).sum(-1),
        )

    def inverse(self, z: Tensor, context: Tensor | None = None) -> Tensor:
        if context is None:
            raise ValueError("IndexedAffine needs the index u as context")
        log_scale, shift = self._log_scale_shift(context)
        return self.base.inverse((z - shift) * (-log_scale).exp())


class ConditionalGaussian(nn.Module):
    """Mean-field Gaussian over ``u`` whose mean and log-std a network computes
    from a condition.

    ``net`` maps the condition to the mean and the raw log-std, each of the
    shape of ``u``, one after the other along axis 1. The log-std is
    soft-clamped to ``(-log_std_bound, log_std_bound)``.
    """

    def __init__(self, net: nn.Module, log_std_bound: float = 5.0) -> None:
        super().__init__()
        self.log_std_bound = log_std_bound
        self.net = net

    @classmethod
    def dense(
        cls,
        condition_features: int,
        u_dim: int,
        hidden_layer_sizes: Sequence[int],
        log_std_bound: float = 5.0,
    ) -> ConditionalGaussian:
        """The Gaussian whose parameters a tanh MLP of the condition gives."""
        return cls(
            mlp(condition_features, hidden_layer_sizes, 2 * u_dim, Tanh), log_std_bound
        )

    @classmethod
    def conv(
        cls,
        condition_shape: ImageShape,
        u_channels: int,
        hidden_channels: Sequence[int],
        log_std_bound: float = 5.0,
    ) -> ConditionalGaussian:
        """The Gaussian over an image-shaped ``u`` of ``u_channels`` channels
        whose mean and log-std maps a residual conv net (blocks of widths
        ``hidden_channels``) computes from a condition image of
        ``condition_shape`` ``(C, H, W)``; ``u`` has its height and width."""
        channels, height, width = condition_shape
        net = ResNet(channels, hidden_channels, 2 * u_channels, (height, width))
        return cls(net, log_std_bound)

    def mean_log_std(self, condition: Tensor) -> tuple[Tensor, Tensor]:
        mean, raw = self.net(condition).chunk(2, dim=1)
        return mean, soft_clamp(raw, self.log_std_bound)

    def log_prob(self, u: Tensor, condition: Tensor) -> Tensor:
        mean, log_std = self.mean_log_std(condition)
        eps = (u - mean) * (-log_std).exp()
        return gaussian_log_prob_of_noise(eps, log_std)

    def sample(
        self, condition: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        mean, log_std = self.mean_log_std(condition)
        eps = torch.randn(
            mean.shape, generator=generator, device=mean.device, dtype=mean.dtype
        )
        return mean + log_std.exp() * eps


def gaussian_log_prob_of_noise(eps: Tensor, log_std: Tensor) -> Tensor:
    """Log-density of ``u = mean + exp(log_std) * eps`` at that ``u``, per row."""
    return (-0.5 * eps.square() - log_std - HALF_LOG_TWO_PI).flatten(1).sum(-1)
