"""Memory-bounded, batch-independent evaluation.

Rows are always evaluated in chunks of one fixed shape (the last chunk is
padded), so the floating-point operations applied to a row, and therefore its
result, do not depend on how many rows were passed or where the row sits.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from .lgf import LGF


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


@torch.no_grad()
def lgf_log_prob(
    model: LGF,
    x: Tensor,
    noise: Tensor,
    max_row_samples: int = 8192,
    estimate: str = "importance",
) -> Tensor:
    """Per-row estimate of ``log p(x)`` from the ``K`` draws in ``noise``.

    ``estimate="importance"``: ``logsumexp_k log w_k - log K``, which tends to
    ``log p(x)`` from below as ``K`` grows. ``estimate="elbo"``: the mean of
    ``log w_k``, a Monte Carlo estimate of the evidence lower bound.

    ``noise`` is the ``(K, n_indexed, u_features)`` bank shared by all rows.
    At most ``max_row_samples`` rows x draws are in memory at once: when ``K``
    exceeds that, the draws are taken in slices and combined exactly.
    """
    if estimate not in ("importance", "elbo"):
        raise ValueError(f"estimate must be 'importance' or 'elbo', got {estimate!r}")
    k = noise.shape[0]
    k_slice = min(k, max_row_samples)
    rows_per_chunk = max(1, max_row_samples // k)

    def reduce(rows: Tensor) -> Tensor:
        total: Tensor | None = None
        for start in range(0, k, k_slice):
            log_w = model.tiled_log_weights(rows, noise[start : start + k_slice])
            if estimate == "importance":
                part = torch.logsumexp(log_w, dim=1)
                total = part if total is None else torch.logaddexp(total, part)
            else:
                part = log_w.sum(dim=1)
                total = part if total is None else total + part
        assert total is not None
        return total - math.log(k) if estimate == "importance" else total / k

    return map_fixed_chunks(reduce, x, rows_per_chunk)


@torch.no_grad()
def lgf_log_prob_independent_draws(
    model: LGF,
    x: Tensor,
    n_draws: int,
    seed: int,
    max_row_samples: int = 8192,
) -> Tensor:
    """Importance-sampling estimate with ``n_draws`` draws of its own per row.

    Unlike :func:`lgf_log_prob`, whose draws are shared by all rows (so a
    row's value does not depend on the batch), every row here gets fresh
    draws from a generator seeded with ``seed``: the errors of the rows are
    independent and average out in their mean, which makes this the better
    estimate of a set's mean log-likelihood (early stopping). The same ``x``
    and ``seed`` give the same values on every call.
    """
    generator = torch.Generator(device=x.device).manual_seed(seed)
    k_slice = min(n_draws, max_row_samples)
    rows_per_chunk = max(1, max_row_samples // n_draws)
    result = x.new_empty(x.shape[0])
    for start in range(0, x.shape[0], rows_per_chunk):
        rows = x[start : start + rows_per_chunk]
        total: Tensor | None = None
        for first in range(0, n_draws, k_slice):
            k = min(k_slice, n_draws - first)
            noise = torch.randn(
                rows.shape[0] * k,
                model.n_indexed,
                model.u_features,
                generator=generator,
                device=x.device,
                dtype=x.dtype,
            )
            log_w = model.log_weights(rows.repeat_interleave(k, dim=0), noise)
            part = torch.logsumexp(log_w.view(rows.shape[0], k), dim=1)
            total = part if total is None else torch.logaddexp(total, part)
        assert total is not None
        result[start : start + rows.shape[0]] = total - math.log(n_draws)
    return result
