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


class Identity(Bijection):
    """The identity map (volume preserving): the base ``g`` of an indexed
    bijection that is the affine map of ``u`` alone."""

    def forward(
        self, x: Tensor, context: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        return x, x.new_zeros(x.shape[0])

    def inverse(self, z: Tensor, context: Tensor | None = None) -> Tensor:
        return z


class BatchNorm(Bijection):
    """Batch normalisation as a bijection (Dinh et al. 2017; Papamakarios et al.).

    In training mode the statistics of the current batch are used and running
    averages are updated. In evaluation mode the stored statistics are used,
    so the value of a row never depends on the batch it is scored in.
    :meth:`calibrate` replaces the running averages by the exact statistics of
    the training data once training is over.

    Each of the ``features`` entries of a row has statistics of its own
    (:class:`~sklearn_lgf.nn.images.ChannelBatchNorm` shares them across an
    image's pixels). With ``affine`` (the default) a learned scale
    ``exp(log_gamma)`` and shift ``beta`` follow the normalisation; without
    it, none (as the LGF authors' later image models between LGF layers,
    whose indexed maps already hold an affine map).
    """

    running_mean: Tensor
    running_var: Tensor
    affine: bool = True

    def __init__(
        self,
        features: int,
        momentum: float = 0.1,
        eps: float = 1e-5,
        affine: bool = True,
    ):
        super().__init__()
        self.momentum = momentum
        self.eps = eps
        self.affine = affine
        if affine:
            self.log_gamma = nn.Parameter(torch.zeros(features))
            self.beta = nn.Parameter(torch.zeros(features))
        self.register_buffer("running_mean", torch.zeros(features))
        self.register_buffer("running_var", torch.ones(features))
        self._calibrating = False
        self._pooled = PooledMoments()

    def _moments(self, x: Tensor) -> tuple[Tensor, Tensor, int]:
        """The batch's mean and variance of every statistic, and the number
        of values each was taken over."""
        mean = x.mean(0)
        var = x.var(0, unbiased=False) if x.shape[0] > 1 else torch.ones_like(mean)
        return mean, var, x.shape[0]

    def _shaped(self, statistic: Tensor) -> Tensor:
        """``statistic`` (one entry per statistic) broadcastable against a batch."""
        return statistic

    def _per_statistic(self, x: Tensor) -> int:
        """Entries of a row that share one statistic."""
        return 1

    def _statistics(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.training or self._calibrating:
            mean, var, count = self._moments(x)
            with torch.no_grad():
                if self._calibrating:
                    pooled_mean, pooled_var = self._pooled.add(mean, var, count)
                    self.running_mean.copy_(pooled_mean)
                    self.running_var.copy_(pooled_var)
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
        z = (x - self._shaped(mean)) * self._shaped(inv_std)
        log_det = inv_std.log()
        if self.affine:
            z = z * self._shaped(self.log_gamma.exp()) + self._shaped(self.beta)
            log_det = self.log_gamma + log_det
        log_det = log_det.sum()
        per_statistic = self._per_statistic(x)
        if per_statistic != 1:
            log_det = log_det * per_statistic
        return z, log_det.expand(x.shape[0])

    def inverse(self, z: Tensor, context: Tensor | None = None) -> Tensor:
        std = self._shaped(torch.sqrt(self.running_var + self.eps))
        if self.affine:
            z = (z - self._shaped(self.beta)) * self._shaped((-self.log_gamma).exp())
        return z * std + self._shaped(self.running_mean)


class PooledMoments:
    """Mean and variance of several batches' values taken together, from
    each batch's mean and variance (Chan et al.'s pairwise update)."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: Tensor | None = None
        self.var: Tensor | None = None

    def add(self, mean: Tensor, var: Tensor, count: int) -> tuple[Tensor, Tensor]:
        """Pool a batch of ``count`` values per statistic; return the pooled
        mean and (biased) variance so far. The first batch's are returned as
        they are."""
        if self.mean is None or self.var is None:
            self.count, self.mean, self.var = count, mean.clone(), var.clone()
            return self.mean, self.var
        total = self.count + count
        delta = mean - self.mean
        self.mean = self.mean + delta * (count / total)
        self.var = (
            self.var * (self.count / total)
            + var * (count / total)
            + delta.square() * (self.count * count / total**2)
        )
        self.count = total
        return self.mean, self.var


TORCH_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
"""torch's batch norms, as networks inside conditioners hold them."""


def holds_batch_norm(model: nn.Module) -> bool:
    """``model`` holds a :class:`BatchNorm` or a torch batch norm with running
    statistics (inside a network): it has statistics to calibrate."""
    return any(
        isinstance(m, BatchNorm)
        or (isinstance(m, TORCH_BATCH_NORMS) and m.track_running_stats)
        for m in model.modules()
    )


@torch.no_grad()
def calibrate_batch_norms(model: nn.Module, run: Callable[[], object]) -> None:
    """Set every batch norm in ``model`` to exact statistics.

    ``run`` is called once and must push the training set through the model,
    in one batch or in several; each batch norm then records the mean and
    variance of everything it saw, pooled over the batches. Within a batch
    the layers normalise with that batch's statistics, so with one batch the
    records are exactly the statistics of the inputs each layer sees in
    evaluation mode afterwards; with several, of inputs normalised upstream
    by each batch's own statistics (close to those for batches of many
    values, as an image's pixels give).

    Both kinds are set: the flow's :class:`BatchNorm` layers, and torch's
    batch norms with running statistics inside networks (the residual conv
    nets of image couplings), whose running averages would otherwise lag
    behind the weights they were trained with.
    """
    layers = [m for m in model.modules() if isinstance(m, BatchNorm)]
    nets = [
        m
        for m in model.modules()
        if isinstance(m, TORCH_BATCH_NORMS) and m.track_running_stats
    ]
    if not layers and not nets:
        return
    was_training = model.training
    model.eval()
    pooled = {m: PooledMoments() for m in nets}

    def record(module: nn.Module, inputs: tuple[Tensor, ...]) -> None:
        x = inputs[0]
        axes = [0, *range(2, x.dim())]
        mean = x.mean(axes)
        var = x.var(axes, unbiased=False)
        pooled[module].add(mean, var, x.numel() // x.shape[1])

    hooks = [m.register_forward_pre_hook(record) for m in nets]
    for layer in layers:
        layer._calibrating = True
        layer._pooled = PooledMoments()
    for net in nets:
        net.train()  # normalise by the batch's own statistics
    try:
        run()
    finally:
        for hook in hooks:
            hook.remove()
        for layer in layers:
            layer._calibrating = False
        model.train(was_training)
    for net, moments in pooled.items():
        if moments.mean is not None and moments.var is not None:
            net.running_mean.copy_(moments.mean)
            net.running_var.copy_(moments.var)
