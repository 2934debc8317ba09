"""An exact normalising flow: a bijection onto a standard normal prior."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .bijections import HALF_LOG_TWO_PI, BatchNorm, Bijection, Compose, Reverse
from .conditioners import CONDITIONERS
from .model import DensityModel, MonteCarlo
from .steps import AutoregressiveStep, make_step
from .transforms import (
    DEFAULT_BINS,
    DEFAULT_TAIL_BOUND,
    LOG_SCALE_BOUND,
    UNIVARIATES,
    make_univariate,
)


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
    hidden_layer_sizes: Sequence[int],
    *,
    conditioner: str = "autoregressive",
    univariate: str = "affine",
    batch_norm: bool = False,
    context_features: int = 0,
    log_scale_bound: float = LOG_SCALE_BOUND,
    n_bins: int = DEFAULT_BINS,
    tail_bound: float = DEFAULT_TAIL_BOUND,
) -> list[list[Bijection]]:
    """The steps of a MAF (``conditioner="autoregressive"``,
    ``univariate="affine"``), a RealNVP (``"coupling"``, ``"affine"``) or a
    neural spline flow (``univariate="spline"``, either conditioner).

    Returns one list per layer: the layer's main step first, then the batch
    norm and the order reversal that follow it (none after the last layer);
    coupling steps alternate their masks instead of reversing the order.
    ``context_features`` are extra inputs of every step's conditioner;
    ``log_scale_bound`` shapes the affine transform, ``n_bins`` and
    ``tail_bound`` the spline (see
    :func:`~sklearn_lgf.nn.transforms.make_univariate`).
    """
    for name, value, names in (
        ("conditioner", conditioner, CONDITIONERS),
        ("univariate", univariate, UNIVARIATES),
    ):
        if value not in names:
            raise ValueError(
                f"unknown {name} {value!r}; use one of {', '.join(map(repr, names))}"
            )
    layers: list[list[Bijection]] = []
    for index in range(n_layers):
        transform = make_univariate(
            univariate,
            hidden_layer_sizes,
            log_scale_bound=log_scale_bound,
            n_bins=n_bins,
            tail_bound=tail_bound,
        )
        step = make_step(
            conditioner,
            transform,
            features,
            hidden_layer_sizes,
            context_features=context_features,
            layer=index,
        )
        extras: list[Bijection] = []
        if index < n_layers - 1:
            if batch_norm:
                extras.append(BatchNorm(features))
            if isinstance(step, AutoregressiveStep):
                extras.append(Reverse())
        layers.append([step, *extras])
    return layers


def build_flow(
    features: int,
    n_layers: int = 5,
    hidden_layer_sizes: Sequence[int] = (100, 100),
    *,
    conditioner: str = "autoregressive",
    univariate: str = "affine",
    n_bins: int = DEFAULT_BINS,
    tail_bound: float = DEFAULT_TAIL_BOUND,
    batch_norm: bool = False,
    log_scale_bound: float = LOG_SCALE_BOUND,
) -> Flow:
    """A MAF, RealNVP or neural spline flow (see :func:`flow_steps`), with
    alternating orders/masks between layers.

    ``conditioner`` and ``univariate`` choose the step (see
    :func:`flow_steps`); the arguments and defaults are those of
    :class:`~sklearn_lgf.MAFDensity`.
    """
    steps = flow_steps(
        features,
        n_layers,
        hidden_layer_sizes,
        conditioner=conditioner,
        univariate=univariate,
        batch_norm=batch_norm,
        log_scale_bound=log_scale_bound,
        n_bins=n_bins,
        tail_bound=tail_bound,
    )
    return Flow(Compose([s for layer in steps for s in layer]), features)
