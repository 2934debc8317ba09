"""Where the training loop's rows come from: a tensor in memory, or blocks of
rows read on demand (data larger than memory).

:func:`~sklearn_lgf.nn.training.train` asks a :class:`TrainingRows` for three
things: the minibatches of an epoch in a random order, the rows in a fixed
order (the loss of fixed weights), and a fixed subset of rows (batch-norm
calibration). :class:`TensorRows` gives exactly what training on a tensor
always did; :class:`BlockRows` keeps only a window of rows in memory;
:class:`DequantisedRows` spreads either's discrete features over their grid
cells.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import Tensor


class TrainingRows(metaclass=ABCMeta):
    """The training set as the training loop sees it."""

    n_rows: int
    n_features: int
    device: torch.device
    dtype: torch.dtype

    @abstractmethod
    def epoch_batches(
        self, batch_size: int, generator: torch.Generator
    ) -> Iterator[Tensor]:
        """One epoch's minibatches, in an order drawn from ``generator``; every
        row exactly once, every batch but the last of ``batch_size`` rows."""

    @abstractmethod
    def batches(self, batch_size: int) -> Iterator[Tensor]:
        """Every row once, in a fixed order, in batches of ``batch_size``."""

    @abstractmethod
    def head(self, rows: int) -> Tensor:
        """A fixed set of ``min(rows, n_rows)`` rows, the same on every call."""


class TensorRows(TrainingRows):
    """Rows held in one tensor: a fresh permutation per epoch."""

    def __init__(self, x: Tensor) -> None:
        self.x = x
        self.n_rows = int(x.shape[0])
        self.n_features = int(x.shape[1])
        self.device = x.device
        self.dtype = x.dtype

    def epoch_batches(
        self, batch_size: int, generator: torch.Generator
    ) -> Iterator[Tensor]:
        order = torch.randperm(self.n_rows, generator=generator).to(self.device)
        for first in range(0, self.n_rows, batch_size):
            yield self.x[order[first : first + batch_size]]

    def batches(self, batch_size: int) -> Iterator[Tensor]:
        for first in range(0, self.n_rows, batch_size):
            yield self.x[first : first + batch_size]

    def head(self, rows: int) -> Tensor:
        return self.x[:rows]


class BlockRows(TrainingRows):
    """Rows read block by block through ``read``; memory holds one window.

    ``read(blocks)`` returns the training rows of the given blocks (in that
    order, concatenated) on ``device``; blocks may hold different numbers of
    training rows, none at all included, as long as they add up to
    ``n_rows``. An epoch visits the blocks in a random order, ``window_blocks``
    at a time, and shuffles the rows of each window: a minibatch mixes rows
    from up to ``window_blocks`` places of the data, and reads stay
    contiguous within a block (a random row order would read one row per
    disk page). Rows left over at the end of a window start the next one,
    so that batches are full but for the last.

    ``seed`` fixes which blocks :meth:`head` reads.
    """

    def __init__(
        self,
        read: Callable[[Sequence[int]], Tensor],
        n_blocks: int,
        n_rows: int,
        n_features: int,
        *,
        window_blocks: int,
        seed: int,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.read = read
        self.n_blocks = n_blocks
        self.n_rows = n_rows
        self.n_features = n_features
        self.window_blocks = max(1, window_blocks)
        self.seed = seed
        self.device = device
        self.dtype = dtype

    def _windows(self, order: list[int]) -> Iterator[Tensor]:
        for first in range(0, len(order), self.window_blocks):
            yield self.read(order[first : first + self.window_blocks])

    def epoch_batches(
        self, batch_size: int, generator: torch.Generator
    ) -> Iterator[Tensor]:
        order = torch.randperm(self.n_blocks, generator=generator).tolist()
        return self._rebatch(self._windows(order), batch_size, generator)

    def batches(self, batch_size: int) -> Iterator[Tensor]:
        windows = self._windows(list(range(self.n_blocks)))
        return self._rebatch(windows, batch_size, None)

    def _rebatch(
        self,
        windows: Iterator[Tensor],
        batch_size: int,
        generator: torch.Generator | None,
    ) -> Iterator[Tensor]:
        """Minibatches of ``batch_size`` rows cut from consecutive windows,
        the rows of each shuffled with ``generator`` (if any) and the rows
        left over carried into the next; the last batch may be short."""
        carry = self._empty()
        for window in windows:
            rows = torch.cat([carry, window]) if len(carry) else window
            if generator is not None:
                shuffle = torch.randperm(len(rows), generator=generator)
                rows = rows[shuffle.to(self.device)]
            full = len(rows) - len(rows) % batch_size
            for first in range(0, full, batch_size):
                yield rows[first : first + batch_size]
            carry = rows[full:]
        if len(carry):
            yield carry

    def head(self, rows: int) -> Tensor:
        generator = torch.Generator().manual_seed(self.seed)
        order = torch.randperm(self.n_blocks, generator=generator).tolist()
        parts: list[Tensor] = []
        have = 0
        for window in self._windows(order):
            parts.append(window[: rows - have])
            have += len(parts[-1])
            if have >= rows:
                break
        return torch.cat(parts) if parts else self._empty()

    def _empty(self) -> Tensor:
        return torch.empty(0, self.n_features, dtype=self.dtype, device=self.device)


class DequantisedRows(TrainingRows):
    """``rows`` with uniform noise of a per-feature width added to every batch.

    A feature whose values lie on a grid of spacing ``h`` (standardised:
    ``widths = h / scale``) is a point mass to a continuous model, whose
    likelihood on it is unbounded. Adding ``(v - 1/2) * width``, ``v``
    uniform on ``(0, 1)``, spreads each value over its cell; a feature of
    width ``0`` is left as it is (adding ``0`` changes no value).

    An epoch's batches get fresh noise from ``generator`` at every step, so
    that over the steps training follows the gradient of
    ``E_v[log p(x + (v - 1/2) * width)]``, the likelihood of the
    dequantised data, rather than fitting one fixed draw per row.
    :meth:`batches` and :meth:`head` (the loss of fixed weights, batch-norm
    calibration) draw from a generator seeded with ``fixed_seed`` at every
    call: the same noisy rows each time, so that the losses of two sets of
    weights compare like with like.
    """

    def __init__(
        self,
        rows: TrainingRows,
        widths: Tensor,
        generator: torch.Generator,
        fixed_seed: int,
    ) -> None:
        if widths.shape != (rows.n_features,):
            raise ValueError(
                f"widths must have shape ({rows.n_features},), got "
                f"{tuple(widths.shape)}"
            )
        self.rows = rows
        self.widths = widths.to(device=rows.device, dtype=rows.dtype)
        self.generator = generator
        self.fixed_seed = fixed_seed
        self.n_rows = rows.n_rows
        self.n_features = rows.n_features
        self.device = rows.device
        self.dtype = rows.dtype

    def _noisy(self, batch: Tensor, generator: torch.Generator) -> Tensor:
        v = torch.rand(
            batch.shape, generator=generator, device=batch.device, dtype=batch.dtype
        )
        return batch + (v - 0.5) * self.widths

    def _fixed(self) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(self.fixed_seed)

    def epoch_batches(
        self, batch_size: int, generator: torch.Generator
    ) -> Iterator[Tensor]:
        for batch in self.rows.epoch_batches(batch_size, generator):
            yield self._noisy(batch, self.generator)

    def batches(self, batch_size: int) -> Iterator[Tensor]:
        fixed = self._fixed()
        for batch in self.rows.batches(batch_size):
            yield self._noisy(batch, fixed)

    def head(self, rows: int) -> Tensor:
        return self._noisy(self.rows.head(rows), self._fixed())
