"""Memory-bounded, batch-independent evaluation: every chunk size and memory
budget of the engine lives here.

Rows are always evaluated in chunks of one fixed shape (the last chunk is
padded), and the elementwise maps whose CPU kernels round a tensor's last
partial vector differently run in whole vectors
(:data:`~sklearn_lgf.nn.activations.WHOLE_VECTORS`), so the floating-point
operations applied to a row, and therefore its result, do not depend on how
many rows were passed or where the row sits. One exception was seen on this
project's CPU: matrix products with 2 to 11 outputs and an inner width of
5, 7 or 43 (not 2, 4, 8, 16, 32, 64 or 128; say hidden layers of 7 units
before a 3-feature affine MADE output) round a row by its position, in
float32's last bits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator

import torch
from torch import Tensor, nn

from .activations import logaddexp
from .model import DensityModel, importance_estimate

# Rows x draws of an estimating model (LGF) in memory at once.
ROW_SAMPLE_BUDGET = {"cpu": 8192, "cuda": 131072}
# On the CPU an estimate's scoring chunk is also kept to about this many
# activations (row-draws x units of one layer's networks), and to at least
# MIN_CPU_ROW_SAMPLES row-draws. Larger chunks made glibc's allocator return
# freed memory to the kernel between chunks and fault it back in: scoring a
# d=43 LGF-MAF ([512, 512] MADEs) ran at 15.1k row-draws/s with 242k page
# faults per call in chunks of 8192, 21.3k with none in chunks of 1024; a
# d=2 one ([50]*4 everywhere) at 144k in 8192, 171k in 4096.
CPU_ACTIVATION_BUDGET = 2**22
MIN_CPU_ROW_SAMPLES = 1024
# An exact model's scoring chunk holds about this many parameter-rows (small
# models get large chunks, large models small ones), within per-device bounds.
PARAMETER_ROW_BUDGET = 2**28
EXACT_CHUNK_BOUNDS = {"cpu": (1024, 8192), "cuda": (8192, 8192)}
# Rows drawn together when sampling (no batch-independence needed).
SAMPLE_CHUNK_ROWS = {"cpu": 8192, "cuda": 262144}
# Adaptive importance sampling (MonteCarlo.importance_tolerance) takes a
# row's K draws in this many blocks; a row may stop after the second block,
# since a standard error from fewer draws is too rough to stop on.
ADAPTIVE_BLOCKS = 10
MIN_ADAPTIVE_BLOCKS = 2
# Training rows in the one pass that sets batch norms' running statistics
# once training ends.
BATCH_NORM_CALIBRATION_ROWS = 100_000


def row_sample_budget(device: torch.device, model: nn.Module | None = None) -> int:
    """Rows x draws an estimating model may hold in memory at once (with
    ``model``: when scoring it, see :data:`CPU_ACTIVATION_BUDGET`)."""
    budget = ROW_SAMPLE_BUDGET.get(device.type, 8192)
    if model is None or device.type != "cpu":
        return budget
    fit = CPU_ACTIVATION_BUDGET // max(1, units_per_step(model))
    fit = max(MIN_CPU_ROW_SAMPLES, 1 << max(0, fit.bit_length() - 1))
    return min(budget, fit)


def units_per_step(model: nn.Module) -> int:
    """Output units of all the model's linear layers, per indexed step."""
    units = sum(m.out_features for m in model.modules() if isinstance(m, nn.Linear))
    return units // max(1, getattr(model, "n_indexed", 1))


def sample_chunk_rows(device: torch.device) -> int:
    return SAMPLE_CHUNK_ROWS.get(device.type, 8192)


def scoring_layout(model: DensityModel, device: torch.device) -> tuple[int, int]:
    """Rows scored together in one fixed-shape chunk, and the rows of the
    model's input in one pass over such a chunk (an estimate repeats each
    row for its draws)."""
    draws = model.draws_per_row
    if not model.exact:
        budget = row_sample_budget(device, model)
        rows = max(1, budget // draws)
        return rows, rows * min(draws, budget)
    low, high = EXACT_CHUNK_BOUNDS.get(device.type, (1024, 8192))
    n_parameters = sum(p.numel() for p in model.parameters())
    wanted = PARAMETER_ROW_BUDGET // max(1, n_parameters)
    rows = int(min(max(1 << max(0, wanted.bit_length() - 1), low), high))
    return rows, rows


@torch.no_grad()
def map_fixed_chunks(
    fn: Callable[[Tensor], Tensor], x: Tensor, chunk_rows: int
) -> Tensor:
    """``fn`` applied to ``x`` in padded chunks of exactly ``chunk_rows`` rows."""
    n = x.shape[0]
    # One preallocated result: a list of per-chunk outputs kept alive beside
    # each chunk's temporaries fragments the CPU heap until memory grows with n.
    result: Tensor | None = None
    for start in range(0, n, chunk_rows):
        chunk = x[start : start + chunk_rows]
        m = chunk.shape[0]
        if m < chunk_rows:
            padding = chunk[:1].expand(chunk_rows - m, *chunk.shape[1:])
            chunk = torch.cat([chunk, padding])
        value = fn(chunk)[:m]
        if result is None:
            result = value.new_empty((n, *value.shape[1:]))
        result[start : start + m] = value
    return result if result is not None else x.new_zeros(0)


def log_prob(model: DensityModel, x: Tensor) -> Tensor:
    """``model.log_prob`` of every row, in fixed-shape chunks (adaptive with
    an importance tolerance: :func:`adaptive_log_prob_and_std`)."""
    if _adaptive(model):
        return adaptive_log_prob_and_std(model, x)[:, 0]
    return map_fixed_chunks(model.log_prob, x, scoring_layout(model, x.device)[0])


def log_prob_and_std(model: DensityModel, x: Tensor) -> Tensor:
    """``model.log_prob_and_std`` of every row, in fixed-shape chunks: ``(n, 2)``
    (adaptive with an importance tolerance)."""
    if _adaptive(model):
        return adaptive_log_prob_and_std(model, x)
    rows = scoring_layout(model, x.device)[0]
    return map_fixed_chunks(model.log_prob_and_std, x, rows)


def _adaptive(model: DensityModel) -> bool:
    return not model.exact and model.monte_carlo.importance_tolerance is not None


@torch.no_grad()
def adaptive_log_prob_and_std(model: DensityModel, x: Tensor) -> Tensor:
    """Importance-sampling estimates that stop drawing once precise enough:
    ``(n, 2)``, the estimate and its standard error per row.

    The rule, the same for every row and independent of the other rows: a
    row's own ``K`` draws (``model.importance_draws``) are split into
    :data:`ADAPTIVE_BLOCKS` consecutive blocks (of ``ceil(K /
    ADAPTIVE_BLOCKS)`` draws; the last may be shorter). A row uses the first
    ``m`` blocks, for the smallest ``m`` from :data:`MIN_ADAPTIVE_BLOCKS` on
    at which the standard error of its estimate from those draws is at most
    ``model.monte_carlo.importance_tolerance``, or all ``K``. Each block is
    evaluated in fixed-shape chunks of the rows still drawing, so a row's
    value is deterministic and does not depend on the other rows; the work
    saved is the blocks of the rows that stopped.
    """
    tolerance = model.monte_carlo.importance_tolerance
    k = model.monte_carlo.importance_samples
    block = -(-k // ADAPTIVE_BLOCKS)
    rows = max(1, row_sample_budget(x.device, model) // block)
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
            active = active[~(std <= tolerance)]
    estimate, std = importance_estimate(sums[:, 0], sums[:, 1], used)
    return torch.stack([estimate, std], dim=1)


def elbo(model: DensityModel, x: Tensor) -> Tensor:
    """``model.elbo`` of every row, in fixed-shape chunks."""
    return map_fixed_chunks(model.elbo, x, scoring_layout(model, x.device)[0])


@torch.no_grad()
def validation_log_prob(model: DensityModel, x: Tensor) -> Tensor:
    """``model.validation_log_prob`` of every row, memory bounded.

    An estimating model bounds its own memory (its independent draws are
    taken in an order that depends on its chunks); an exact model is scored
    in the fixed chunks of :func:`log_prob`.
    """
    if not model.exact:
        return model.validation_log_prob(x)
    rows = scoring_layout(model, x.device)[0]
    return map_fixed_chunks(model.validation_log_prob, x, rows)


@torch.no_grad()
def streamed_validation_mean(model: DensityModel, parts: Iterable[Tensor]) -> float:
    """Mean of :func:`validation_log_prob` over rows that arrive in ``parts``
    (data larger than memory), summed in float64.

    An estimating model's draws continue from part to part, as they would
    over all rows at once: a fresh generator per part would give every part
    the same draws, and their errors would no longer average out.
    """
    total, count = 0.0, 0
    generator: torch.Generator | None = None
    for x in parts:
        if model.exact:
            values = validation_log_prob(model, x)
        else:
            if generator is None:
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
    chunk = sample_chunk_rows(device)
    for start in range(0, n, chunk):
        yield model.sample(min(chunk, n - start), generator)
