"""An exact normalising flow: a bijection onto a standard normal prior."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .affine import LOG_SCALE_BOUND
from .bijections import HALF_LOG_TWO_PI, BatchNorm, Bijection, Compose, Reverse
from .coupling import AffineCoupling
from .made import MaskedAffineAutoregressive
from .model import DensityModel, MonteCarlo
from .splines import (
    DEFAULT_BINS,
    DEFAULT_TAIL_BOUND,
    MaskedSplineAutoregressive,
    SplineCoupling,
)

BASES = ("made", "coupling", "spline", "spline-coupling")
"""The base steps: affine or rational-quadratic spline transforms, each with
an autoregressive (MADE) or a coupling conditioner."""
AUTOREGRESSIVE_BASES = ("made", "spline")


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """Row-wise log-density of ``N(0, I)``."""
    return -0.5 * z.square().sum(-1) - z.shape[-1] * HALF_LOG_TWO_PI


class Flow(DensityModel):
    """``x = T^{-1}(z)`` with ``z ~ N(0, I)``, where ``T`` maps data to latent."""

    def __init__(self, transform: Bijection, features: int) -> None:
        super().__init__()
        self.transform = transform
        self.features = features
        self.monte_carlo = MonteCarlo()

    def log_prob(
        self,
        x: Tensor,
        noise: Tensor | None = None,
        *,
        n_importance_samples: int | None = None,
    ) -> Tensor:
        """Exact ``log p(x)`` per row (``noise`` and ``n_importance_samples``
        are unused)."""
        z, log_det = self.transform(x)
        return standard_normal_log_prob(z) + log_det

    def training_loss(
        self, x: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        """Mean negative log-likelihood of a batch (``generator`` is unused)."""
        return -self.log_prob(x).mean()

    def generate(self, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self.transform.inverse(z)


def flow_steps(
    features: int,
    n_layers: int,
    base: str,
    hidden_layer_sizes: Sequence[int],
    *,
    batch_norm: bool = False,
    context_features: int = 0,
    log_scale_bound: float = LOG_SCALE_BOUND,
    n_bins: int = DEFAULT_BINS,
    tail_bound: float = DEFAULT_TAIL_BOUND,
) -> list[list[Bijection]]:
    """The steps of a MAF (``base="made"``), a RealNVP (``"coupling"``) or a
    neural spline flow (``"spline"``: autoregressive, ``"spline-coupling"``).

    Returns one list per layer: the layer's main step first, then the batch
    norm and the order reversal that follow it (none after the last layer);
    coupling steps alternate their masks instead of reversing the order.
    ``context_features`` are extra inputs of every step's conditioner;
    ``n_bins`` and ``tail_bound`` shape the spline steps.
    """
    if base not in BASES:
        raise ValueError(
            f"unknown base step {base!r}; use one of {', '.join(map(repr, BASES))}"
        )
    layers: list[list[Bijection]] = []
    for index in range(n_layers):
        step: Bijection
        if base == "made":
            step = MaskedAffineAutoregressive(
                features, hidden_layer_sizes, context_features, log_scale_bound
            )
        elif base == "coupling":
            step = AffineCoupling(
                features,
                hidden_layer_sizes,
                index % 2,
                context_features,
                log_scale_bound,
            )
        elif base == "spline":
            step = MaskedSplineAutoregressive(
                features, hidden_layer_sizes, context_features, n_bins, tail_bound
            )
        else:
            step = SplineCoupling(
                features,
                hidden_layer_sizes,
                index % 2,
                context_features,
                n_bins,
                tail_bound,
            )
        extras: list[Bijection] = []
        if index < n_layers - 1:
            if batch_norm:
                extras.append(BatchNorm(features))
            if base in AUTOREGRESSIVE_BASES:
                extras.append(Reverse())
        layers.append([step, *extras])
    return layers


def build_flow(
    features: int,
    n_layers: int = 5,
    hidden_layer_sizes: Sequence[int] = (100, 100),
    *,
    base: str = "made",
    n_bins: int = DEFAULT_BINS,
    tail_bound: float = DEFAULT_TAIL_BOUND,
    batch_norm: bool = False,
    log_scale_bound: float = LOG_SCALE_BOUND,
) -> Flow:
    """A MAF, RealNVP or neural spline flow (see :func:`flow_steps`), with
    alternating orders/masks between layers.

    The arguments and defaults are those of :class:`~sklearn_lgf.MAFDensity`.
    """
    steps = flow_steps(
        features,
        n_layers,
        base,
        hidden_layer_sizes,
        batch_norm=batch_norm,
        log_scale_bound=log_scale_bound,
        n_bins=n_bins,
        tail_bound=tail_bound,
    )
    return Flow(Compose([s for layer in steps for s in layer]), features)
