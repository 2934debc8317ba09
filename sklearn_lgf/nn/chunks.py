"""Memory budgets and the fixed-shape chunks every model is evaluated in.

The models and the scorer (:mod:`sklearn_lgf.nn.evaluation`) both read
these; nothing here knows a model's class.

Rows are always evaluated in chunks of one fixed shape (the last chunk is
padded), and the elementwise maps whose CPU kernels round a tensor's last
partial vector differently run in whole vectors
(:data:`~sklearn_lgf.nn.activations.WHOLE_VECTORS`), so the floating-point
operations applied to a row, and therefore its result, do not depend on how
many rows were passed or where the row sits. One known exception on the CPU:
matrix products with 2 to 11 outputs and an inner width of 5, 7 or 43 (not
2, 4, 8, 16, 32, 64 or 128; say hidden layers of 7 units before a 3-feature
affine MADE output) round a row by its position, in float32's last bits.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

# Rows x draws of an estimating model (LGF) in memory at once.
ROW_SAMPLE_BUDGET = {"cpu": 8192, "cuda": 131072}
# On the CPU an estimate's scoring chunk is also kept to about this many
# activations (row-draws x units of one layer's networks), and to at least
# MIN_CPU_ROW_SAMPLES row-draws: larger chunks make glibc's allocator hand
# freed memory back to the kernel between chunks and fault it in again.
CPU_ACTIVATION_BUDGET = 2**22
MIN_CPU_ROW_SAMPLES = 1024
# An exact model's scoring chunk holds about this many parameter-rows (small
# models get large chunks, large models small ones), within per-device bounds.
PARAMETER_ROW_BUDGET = 2**28
EXACT_CHUNK_BOUNDS = {"cpu": (1024, 8192), "cuda": (8192, 8192)}
# Rows drawn together when sampling (no batch-independence needed).
SAMPLE_CHUNK_ROWS = {"cpu": 8192, "cuda": 262144}


def row_sample_budget(device: torch.device, units_per_draw: int | None = None) -> int:
    """Rows x draws an estimating model may hold in memory at once; with
    ``units_per_draw`` (output units of the networks one draw passes through
    per indexed step), kept within :data:`CPU_ACTIVATION_BUDGET` on the CPU."""
    budget = ROW_SAMPLE_BUDGET.get(device.type, 8192)
    if units_per_draw is None or device.type != "cpu":
        return budget
    fit = CPU_ACTIVATION_BUDGET // max(1, units_per_draw)
    fit = max(MIN_CPU_ROW_SAMPLES, 1 << max(0, fit.bit_length() - 1))
    return min(budget, fit)


def exact_chunk_rows(device: torch.device, n_parameters: int) -> int:
    """Rows of an exact model's scoring chunk: a power of two near
    :data:`PARAMETER_ROW_BUDGET` over ``n_parameters``, within
    :data:`EXACT_CHUNK_BOUNDS`."""
    low, high = EXACT_CHUNK_BOUNDS.get(device.type, (1024, 8192))
    wanted = PARAMETER_ROW_BUDGET // max(1, n_parameters)
    return int(min(max(1 << max(0, wanted.bit_length() - 1), low), high))


def sample_chunk_rows(device: torch.device) -> int:
    """Rows drawn together when sampling on ``device``."""
    return SAMPLE_CHUNK_ROWS.get(device.type, 8192)


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
