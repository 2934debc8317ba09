"""The bijection interface, composition, order reversal and batch normalisation.

Every bijection maps data to latent in ``forward`` and returns the log absolute
determinant of that map's Jacobian per row; ``inverse`` maps latent to data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn

from .activations import tanh

HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)


class Bijection(nn.Module):
    """A map from data to latent space with a tractable log-determinant.

    ``context`` is an optional per-row conditioning tensor; bijections that do
    not use it ignore it.
    """

    def forward(  # type: ignore[override]
        self, x: Tensor, context: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Map data ``x`` to latent ``z``; return ``(z, log|det dz/dx|)``."""
        raise NotImplementedError

    def inverse(self, z: Tensor, context: Tensor | None = None) -> Tensor:
        """Map latent ``z`` back to data."""
        raise NotImplementedError


def soft_clamp(x: Tensor, bound: float) -> Tensor:
    """Smoothly squash ``x`` into ``(-bound, bound)``; identity near zero.

    Network outputs that are exponentiated go through this so that ``exp``
    can neither overflow nor underflow, whatever the optimiser does.
    """
    return bound * tanh(x / bound)


class Compose(Bijection):
    """Bijections applied in sequence, data side first."""

    def __init__(self, bijections: Iterable[Bijection]) -> None:
        super().__init__()
        self.bijections = nn.ModuleList(bijections)

    def forward(
        self, x: Tensor, context: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        log_det = x.new_zeros(x.shape[0])
        for bijection in self.bijections:
            x, step_log_det = bijection(x, context)
            log_det = log_det + step_log_det
        return x, log_det

    def inverse(self, z: Tensor, context: Tensor | None = None) -> Tensor:
        for bijection in reversed(self.bijections):
            z = bijection.inverse(z, context)
        return z


class Reverse(Bijection):
    """Reverses the order of the features (volume preserving)."""

    def forward(
        self, x: Tensor, context: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        return x.flip(-1), x.new_zeros(x.shape[0])

    def inverse(self, z: Tensor, context: Tensor | None = None) -> Tensor:
        return z.flip(-1)


class BatchNorm(Bijection):
    """Batch normalisation as a bijection (Dinh et al. 2017; Papamakarios et al.).

    In training mode the statistics of the current batch are used and running
    averages are updated. In evaluation mode the stored statistics are used,
    so the value of a row never depends on the batch it is scored in.
    :meth:`calibrate` replaces the running averages by the exact statistics of
    the training data once training is over.
    """

    running_mean: Tensor
    running_var: Tensor

    def __init__(self, features: int, momentum: float = 0.1, eps: float = 1e-5):
        super().__init__()
        self.momentum = momentum
        self.eps = eps
        self.log_gamma = nn.Parameter(torch.zeros(features))
        self.beta = nn.Parameter(torch.zeros(features))
        self.register_buffer("running_mean", torch.zeros(features))
        self.register_buffer("running_var", torch.ones(features))
        self._calibrating = False

    def _statistics(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.training or self._calibrating:
            mean = x.mean(0)
            var = x.var(0, unbiased=False) if x.shape[0] > 1 else torch.ones_like(mean)
            with torch.no_grad():
                if self._calibrating:
                    self.running_mean.copy_(mean)
                    self.running_var.copy_(var)
                else:
                    self.running_mean.lerp_(mean, self.momentum)
                    self.running_var.lerp_(var, self.momentum)
            return mean, var
        return self.running_mean, self.running_var

    def forward(
        self, x: Tensor, context: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        mean, var = self._statistics(x)
        inv_std = torch.rsqrt(var + self.eps)
        z = (x - mean) * inv_std * self.log_gamma.exp() + self.beta
        log_det = (self.log_gamma + inv_std.log()).sum().expand(x.shape[0])
        return z, log_det

    def inverse(self, z: Tensor, context: Tensor | None = None) -> Tensor:
        std = torch.sqrt(self.running_var + self.eps)
        return (z - self.beta) * (-self.log_gamma).exp() * std + self.running_mean


@torch.no_grad()
def calibrate_batch_norms(model: nn.Module, run: Callable[[], object]) -> None:
    """Set every :class:`BatchNorm` in ``model`` to exact statistics.

    ``run`` is called once and must push the whole training set through the
    model in one batch; each batch-norm layer then records the mean and
    variance of exactly what it saw.
    """
    layers = [m for m in model.modules() if isinstance(m, BatchNorm)]
    if not layers:
        return
    was_training = model.training
    model.eval()
    for layer in layers:
        layer._calibrating = True
    try:
        run()
    finally:
        for layer in layers:
            layer._calibrating = False
        model.train(was_training)
