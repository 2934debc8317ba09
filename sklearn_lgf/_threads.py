"""Torch CPU threads owned by the estimators, as scikit-learn does with threadpoolctl.

Every public computation of an estimator (``fit``, ``score_samples``,
``score``, ``sample``, ``elbo``) runs inside :func:`torch_threads`, which sets
torch's intra-op thread count for the duration of the call and restores the
caller's value afterwards, also when the call raises or is interrupted.

How many threads: ``n_threads="auto"`` (the default) is :func:`auto_threads`:
one thread unless each step does enough work to pay for the others, and
never more than ``torch.get_num_threads()`` reports when the call starts. That
value already carries every limit set from outside: ``OMP_NUM_THREADS``,
``torch.set_num_threads``, ``threadpoolctl.threadpool_limits`` and joblib's
loky workers (which get ``cpu_count() // n_jobs`` threads each), so "auto"
never oversubscribes the cores that the caller granted. An int is used as
given (like scikit-learn's ``n_jobs``, asking for more threads than cores is
the caller's choice); ``None`` leaves torch's setting alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from numbers import Integral

import torch
from torch import nn

AUTO_MIN_WORK = 2**27
"""Multiply-adds in the largest matrix product of one step (rows in the batch
or scoring chunk times the largest weight matrix) from which ``"auto"`` uses
all the threads it may.

Threads only pay for products of about this size and more, and only on
cores not busy with other work: below it, starting and waiting for the other
threads costs more than they save. A model of the default sizes stays below
it; a d=64 MAF of 512-wide MADEs reaches it from 512 rows. Whoever shares
the cores with other processes should pass ``n_threads=1``."""


def largest_matrix(model: nn.Module) -> int:
    """Entries of the model's largest weight matrix (its widest layer)."""
    return max(
        (p.numel() for p in model.parameters() if p.dim() >= 2),
        default=max((p.numel() for p in model.parameters()), default=1),
    )


def auto_threads(model: nn.Module, rows: int, available: int | None = None) -> int:
    """The ``"auto"`` thread count for ``rows`` rows evaluated together.

    One thread when ``rows`` times the model's largest weight matrix is
    below :data:`AUTO_MIN_WORK`, else ``available`` (by default
    ``torch.get_num_threads()``).
    """
    if available is None:
        available = torch.get_num_threads()
    if rows * largest_matrix(model) < AUTO_MIN_WORK:
        return 1
    return max(1, available)


def resolve_threads(
    n_threads: int | str | None, model: nn.Module, rows: int
) -> int | None:
    """The thread count for a call: ``None`` means leave torch's setting.

    ``n_threads`` is checked here, where it is read: it may be set after
    ``fit``.
    """
    if n_threads is None:
        return None
    if isinstance(n_threads, str) and n_threads == "auto":
        return auto_threads(model, rows)
    if isinstance(n_threads, Integral) and not isinstance(n_threads, bool):
        if n_threads >= 1:
            return int(n_threads)
    raise ValueError(
        f"n_threads must be 'auto', a positive int or None, got {n_threads!r}"
    )


@contextlib.contextmanager
def torch_threads(n_threads: int | None) -> Iterator[None]:
    """Run the block with ``n_threads`` torch intra-op threads; restore after.

    ``None`` changes nothing. The previous value is restored even when the
    block raises (including ``KeyboardInterrupt``).
    """
    if n_threads is None:
        yield
        return
    before = torch.get_num_threads()
    if n_threads == before:
        yield
        return
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
