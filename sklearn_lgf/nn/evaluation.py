"""Memory-bounded, batch-independent evaluation of any :class:`DensityModel`.

Every function here asks the model the same questions, whether its
log-density is exact or estimated: the model says how it is chunked
(:meth:`DensityModel.scoring_layout`), and the scoring-time settings
(``n_importance_samples``, ``importance_tol``) are passed through as
arguments. The memory budgets live in :mod:`sklearn_lgf.nn.chunks`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import torch
from torch import Tensor

from .activations import logaddexp
from .chunks import map_fixed_chunks
from .model import DensityModel, importance_estimate

# Adaptive importance sampling (``importance_tol``) takes a row's K draws in
# this many blocks; a row may stop after the second block, since a standard
# error from fewer draws is too rough to stop on.
ADAPTIVE_BLOCKS = 10
MIN_ADAPTIVE_BLOCKS = 2
# Training rows in the one pass that sets batch norms' running statistics
# once training ends.
BATCH_NORM_CALIBRATION_ROWS = 100_000

__all__ = [
    "adaptive_log_prob_and_std",
    "elbo",
    "log_prob",
    "log_prob_and_std",
    "map_fixed_chunks",
    "sample_chunks",
    "streamed_validation_mean",
    "validation_log_prob",
]


def log_prob(
    model: DensityModel,
    x: Tensor,
    *,
    n_importance_samples: int | None = None,
    importance_tol: float | None = None,
) -> Tensor:
    """``model.log_prob`` of every row, in fixed-shape chunks (with an
    ``importance_tol``: :func:`adaptive_log_prob_and_std`'s estimate)."""
    if importance_tol is not None:
        return adaptive_log_prob_and_std(
            model,
            x,
            n_importance_samples=n_importance_samples,
            importance_tol=importance_tol,
        )[:, 0]
    rows = model.scoring_layout(x.device, n_importance_samples)[0]

    def estimate(chunk: Tensor) -> Tensor:
        return model.log_prob(chunk, n_importance_samples=n_importance_samples)

    return map_fixed_chunks(estimate, x, rows)


def log_prob_and_std(
    model: DensityModel,
    x: Tensor,
    *,
    n_importance_samples: int | None = None,
    importance_tol: float | None = None,
) -> Tensor:
    """``model.log_prob_and_std`` of every row, in fixed-shape chunks:
    ``(n, 2)`` (adaptive with an ``importance_tol``)."""
    if importance_tol is not None:
        return adaptive_log_prob_and_std(
            model,
            x,
            n_importance_samples=n_importance_samples,
            importance_tol=importance_tol,
        )
    rows = model.scoring_layout(x.device, n_importance_samples)[0]

    def estimate(chunk: Tensor) -> Tensor:
        return model.log_prob_and_std(chunk, n_importance_samples=n_importance_samples)

    return map_fixed_chunks(estimate, x, rows)


@torch.no_grad()
def adaptive_log_prob_and_std(
    model: DensityModel,
    x: Tensor,
    *,
    n_importance_samples: int | None,
    importance_tol: float,
) -> Tensor:
    """Importance-sampling estimates that stop drawing once precise enough:
    ``(n, 2)``, the estimate and its standard error per row (models that
    estimate their log-density).

    The rule, the same for every row and independent of the other rows: a
    row's own ``K = n_importance_samples`` draws (``model.importance_draws``)
    are split into :data:`ADAPTIVE_BLOCKS` consecutive blocks (of ``ceil(K /
    ADAPTIVE_BLOCKS)`` draws; the last may be shorter). A row uses the first
    ``m`` blocks, for the smallest ``m`` from :data:`MIN_ADAPTIVE_BLOCKS` on
    at which the standard error of its estimate from those draws is at most
    ``importance_tol``, or all ``K``. Each block is evaluated in fixed-shape
    chunks of the rows still drawing, so a row's value is deterministic and
    does not depend on the other rows; the work saved is the blocks of the
    rows that stopped.
    """
    if n_importance_samples is None:
        raise ValueError("adaptive scoring needs n_importance_samples")
    k = n_importance_samples
    block = -(-k // ADAPTIVE_BLOCKS)
    rows = model.scoring_layout(x.device, block)[0]
    sums = x.new_full((x.shape[0], 2), -math.inf)
    used = x.new_zeros(x.shape[0])
    active = torch.arange(x.shape[0], device=x.device)
    for index, start in enumerate(range(0, k, block)):
        if active.numel() == 0:
            break
        count = min(block, k - start)

        def block_sums(chunk: Tensor, start: int = start, count: int = count) -> Tensor:
            return model.log_weight_sums(
                chunk, model.importance_draws(chunk, start, count)
            )

        sums[active] = logaddexp(
            sums[active], map_fixed_chunks(block_sums, x[active], rows)
        )
        used[active] += count
        if index + 1 >= MIN_ADAPTIVE_BLOCKS:
            _, std = importance_estimate(sums[active, 0], sums[active, 1], used[active])
            active = active[~(std <= importance_tol)]
    estimate, std = importance_estimate(sums[:, 0], sums[:, 1], used)
    return torch.stack([estimate, std], dim=1)


def elbo(
    model: DensityModel, x: Tensor, *, n_importance_samples: int | None = None
) -> Tensor:
    """``model.elbo`` of every row, in fixed-shape chunks."""
    rows = model.scoring_layout(x.device, n_importance_samples)[0]

    def bound(chunk: Tensor) -> Tensor:
        return model.elbo(chunk, n_importance_samples=n_importance_samples)

    return map_fixed_chunks(bound, x, rows)


@torch.no_grad()
def validation_log_prob(model: DensityModel, x: Tensor) -> Tensor:
    """``model.validation_log_prob`` of every row (the model bounds its
    memory: an estimate's independent draws are taken in an order that
    depends on its own chunks)."""
    return model.validation_log_prob(x)


@torch.no_grad()
def streamed_validation_mean(model: DensityModel, parts: Iterable[Tensor]) -> float:
    """Mean of :func:`validation_log_prob` over rows that arrive in ``parts``
    (data larger than memory), summed in float64.

    The draws of a model that estimates continue from part to part, as they
    would over all rows at once: a fresh generator per part would give every
    part the same draws, and their errors would no longer average out.
    """
    total, count = 0.0, 0
    generator: torch.Generator | None = None
    for index, x in enumerate(parts):
        if index == 0:
            generator = model.validation_generator(x.device)
        values = model.validation_log_prob(x, generator=generator)
        total += float(values.double().sum())
        count += x.shape[0]
    return total / count if count else float("nan")


def sample_chunks(
    model: DensityModel, n: int, generator: torch.Generator | None = None
) -> Iterator[Tensor]:
    """``n`` rows drawn from ``model``, in chunks of bounded size."""
    device = next(model.parameters()).device
    chunk = model.sample_chunk_rows(device)
    for start in range(0, n, chunk):
        yield model.sample(min(chunk, n - start), generator)
