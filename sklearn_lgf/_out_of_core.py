"""Fitting and scoring a :class:`numpy.memmap` without loading it: data larger
than memory.

An estimator given a memmap reads it in blocks of rows, never whole:

- one sequential pass checks that every value is finite (the error names the
  first bad row) and draws a uniform sample of about :data:`SAMPLE_VALUES`
  values' worth of rows (each row with the same chance), from which the fence of
  :func:`~sklearn_lgf._standardise.fence_scale` is computed; a file of up to
  that many rows is its own sample, and gets exactly the in-memory fence;
- a second sequential pass finds the rows beyond that fence and sums the
  rest into the mean and standard deviation of
  :func:`~sklearn_lgf._standardise.robust_location_scale` (the same
  statistics, summed in another order: equal to rounding) and, when asked,
  their grid spacings (:class:`~sklearn_lgf._dequantise.GridScan`: exactly
  the in-memory ones);
- training reads blocks of rows in a random order (:class:`BlockRows
  <sklearn_lgf.nn.data.BlockRows>`), and each epoch's validation score
  streams the held-out rows in file order.

The validation split keeps row numbers only: a row is held out when a
pseudo-random permutation of the rows (:class:`RowPermutation`, computed on
demand) puts it among the first ``n_validation``; nothing of size
``n_rows`` is ever allocated. Rows are read from the file with ``pread``
where they lie contiguously in it (:class:`RowReader`), so that no page of
the file is mapped into the process and resident memory does not grow with
the file; otherwise through the mapping, whose pages are handed back to the
kernel as reading goes on (:class:`PageRelease`). No tensor maths: rows leave here as
float32 tensors of standardised values.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from ._dequantise import GridScan
from ._standardise import (
    TRAINING_FENCE,
    Standardisation,
    Statistics,
    extreme_rows,
    fence,
    location_scale_from_sums,
    pooled,
)

# Bytes of raw rows read at once by the sequential passes and by scoring.
CHUNK_BYTES = 1 << 22
# Training reads blocks of this many bytes of rows (at least one row) ...
BLOCK_BYTES = 1 << 16
# ... and shuffles the rows of this many bytes of blocks together.
WINDOW_BYTES = 1 << 24
# The fence (which rows are too far out to train on) is computed from a
# uniform sample of rows holding about this many values.
SAMPLE_VALUES = 1 << 21
# Pages read through a mapping are released after this many bytes.
RELEASE_BYTES = 1 << 26
# Rounds of the Feistel network of RowPermutation.
FEISTEL_ROUNDS = 4


class PageRelease:
    """Hands the pages of ``X``'s mapping back to the kernel every
    :data:`RELEASE_BYTES` read, so that they stop counting as resident
    memory of this process (they stay in the page cache).

    Only for shared mappings: ``madvise(MADV_DONTNEED)`` on a copy-on-write
    mapping (``mode="c"``) would throw away the caller's changes.
    """

    def __init__(self, X: np.memmap) -> None:
        self.mapping = getattr(X, "_mmap", None) if X.mode != "c" else None
        self.pending = 0

    def account(self, nbytes: int) -> None:
        self.pending += nbytes
        if self.pending >= RELEASE_BYTES:
            self.release()

    def release(self) -> None:
        self.pending = 0
        if self.mapping is not None:
            try:
                self.mapping.madvise(mmap.MADV_DONTNEED)
            except (ValueError, OSError, AttributeError):
                self.mapping = None  # closed, or no madvise here: keep reading


def chunk_rows(X: np.ndarray, nbytes: int) -> int:
    """Rows of ``X`` in ``nbytes`` of float64 (at least one)."""
    return max(1, nbytes // (8 * X.shape[1]))


class RowReader:
    """Reads rows of the memmap ``X`` into float64 arrays of their own.

    Where each row of ``X`` lies contiguously in its file and the mapping is
    shared, rows are read from the file with ``pread``: no page of the file
    is then mapped into this process, and none counts as its resident
    memory (the kernel keeps them in its page cache). Reading through the
    mapping is not enough, even with pages handed back: on Linux 6 with
    large folios (ext4) one 64 KiB block read through a mapping maps 2 MiB
    of it, and training reads blocks all over the file. A copy-on-write
    mapping (``mode="c"``) is read through the mapping, whose private
    changes the file does not have; so is any other layout.
    """

    def __init__(self, X: np.ndarray) -> None:
        self.X = X
        self.pages = PageRelease(X)
        self.fd: int | None = None
        self.position = 0
        try:
            self._open()
        except (AttributeError, OSError, TypeError, ValueError, BufferError):
            self.fd = None

    def _open(self) -> None:
        X = self.X
        mapping = getattr(X, "_mmap", None)
        filename = getattr(X, "filename", None)
        if (
            mapping is None
            or filename is None
            or X.mode == "c"
            or (X.shape[1] > 1 and X.strides[1] != X.itemsize)
            or X.strides[0] <= 0
        ):
            return
        base = np.frombuffer(mapping, dtype=np.uint8).ctypes.data
        # np.memmap maps from the allocation boundary below its offset.
        mapped_from = X.offset - X.offset % mmap.ALLOCATIONGRANULARITY
        self.position = mapped_from + (X.ctypes.data - base)
        self.fd = os.open(filename, os.O_RDONLY)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        self.pages.release()

    def __del__(self) -> None:
        self.close()

    def _pread(self, out: np.ndarray, start: int) -> None:
        """Rows from ``start`` on into ``out`` (of ``X``'s dtype)."""
        assert self.fd is not None
        row_bytes = self.X.strides[0]
        width = self.X.shape[1] * self.X.itemsize
        view = memoryview(out.reshape(-1).view(np.uint8))
        if row_bytes == width:
            self._read_exactly(view, self.position + start * row_bytes)
            return
        for i in range(len(out)):  # rows with gaps between them
            at = self.position + (start + i) * row_bytes
            self._read_exactly(view[i * width : (i + 1) * width], at)

    def _read_exactly(self, view: memoryview, at: int) -> None:
        assert self.fd is not None
        done = 0
        while done < len(view):
            got = os.preadv(self.fd, [view[done:]], at + done)
            if got <= 0:
                raise OSError(f"{self.X.filename} ends before the memmap's rows")
            done += got

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` of ``X`` as a float64 array of their own."""
        return self.blocks([(start, stop)])

    def blocks(self, spans: Sequence[tuple[int, int]]) -> np.ndarray:
        """The rows of the ``(start, stop)`` spans, concatenated, as float64."""
        total = sum(stop - start for start, stop in spans)
        if self.fd is None:
            x = np.empty((total, self.X.shape[1]), dtype=np.float64)
            at = 0
            for start, stop in spans:
                x[at : at + stop - start] = self.X[start:stop]
                at += stop - start
            self.pages.account(x.nbytes)
            return x
        raw = np.empty((total, self.X.shape[1]), dtype=self.X.dtype)
        at = 0
        for start, stop in spans:
            self._pread(raw[at : at + stop - start], start)
            at += stop - start
        return raw.astype(np.float64, copy=False)


def chunks(
    reader: RowReader, nbytes: int | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, float64 rows)`` of the reader's memmap in file order,
    ``nbytes`` of rows at a time (default: :data:`CHUNK_BYTES`)."""
    X = reader.X
    step = chunk_rows(X, CHUNK_BYTES if nbytes is None else nbytes)
    for start in range(0, X.shape[0], step):
        yield start, reader.rows(start, min(start + step, X.shape[0]))
    reader.pages.release()


def check_finite(x: np.ndarray, first_row: int) -> None:
    """A ValueError naming the first non-finite value of ``x`` (rows of ``X``
    from ``first_row`` on), if any."""
    if np.isfinite(x).all():
        return
    i, j = (int(k) for k in np.argwhere(~np.isfinite(x))[0])
    value = x[i, j]
    what = "NaN" if np.isnan(value) else "infinity"
    raise ValueError(
        f"Input X contains {what}: X[{first_row + i}, {j}] = {value} is its first "
        "non-finite value (row "
        f"{first_row + i}). Remove or impute such rows before fitting or scoring."
    )


def scan(
    X: np.ndarray, seed: int, grids: bool = False, scaling: str = "feature"
) -> Statistics:
    """The finiteness check and the :class:`Statistics` of the memmap ``X`` in
    two sequential passes (see the module's description); ``grids``: with the
    grid spacings; ``scaling``: as :func:`~sklearn_lgf._standardise.statistics`
    (decided, like the fence, on the fence's sample). ``seed`` draws the
    fence's sample (used only when ``X`` has more rows than it)."""
    n, d = X.shape
    reader = RowReader(X)
    # Each row joins the sample with the same chance, drawn chunk by chunk:
    # drawing row numbers up front takes memory in proportion to the file.
    share = min(1.0, max(1, SAMPLE_VALUES // d) / n)
    draws = np.random.default_rng(seed)
    sample: list[np.ndarray] = []
    minimum = np.full(d, np.inf)
    maximum = np.full(d, -np.inf)
    for start, x in chunks(reader):
        check_finite(x, start)
        np.minimum(minimum, x.min(axis=0), out=minimum)
        np.maximum(maximum, x.max(axis=0), out=maximum)
        sample.append(x if share == 1.0 else x[draws.random(len(x)) < share])
    median, spread, shared = fence(np.concatenate(sample), scaling)
    del sample
    grid = GridScan(d) if grids else None
    extreme, sums = _kept_sums(reader, median, spread, minimum, maximum, True, grid)
    if sums[0][0] == 0:
        # Every row is beyond the fence: as in memory, the statistics of all.
        grid = GridScan(d) if grids else None
        _, sums = _kept_sums(reader, median, spread, minimum, maximum, False, grid)
    location, scale, constant = location_scale_from_sums(median, *sums)
    spacing = None if grid is None else grid.result()[0]
    found = Statistics(
        n, median, spread, extreme, minimum, maximum, location, scale, constant,
        spacing,
    )  # fmt: skip
    return pooled(found) if shared else found


def _kept_sums(
    reader: RowReader,
    median: np.ndarray,
    spread: np.ndarray,
    minimum: np.ndarray,
    maximum: np.ndarray,
    drop_far: bool,
    grid: GridScan | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """The rows beyond the fence, and the count and the sums of the
    deviations from ``median`` (and of their squares) of the other rows (all
    rows without ``drop_far``), deviations in units of ``2**exponent``, and
    their smallest and largest values: the arguments of
    :func:`location_scale_from_sums` after the centre. ``grid``, if given,
    takes in the same rows.

    The unit is a power of two at least as large as any deviation (the fence
    bounds them; for a feature without spread, the range of the data does):
    scaling by it is exact and keeps squares of values up to float64's
    range finite.
    """
    d = reader.X.shape[1]
    with np.errstate(over="ignore", invalid="ignore"):
        bound = np.maximum(np.abs(maximum - median), np.abs(minimum - median))
        if drop_far:
            fenced = TRAINING_FENCE * spread
            bound = np.where(spread > 0, np.minimum(bound, fenced), bound)
    exponent = np.where(np.isfinite(bound), np.frexp(bound)[1], 0)
    count = np.zeros(d)
    first = np.zeros(d)
    second = np.zeros(d)
    lowest = np.full(d, np.inf)
    highest = np.full(d, -np.inf)
    extreme: list[np.ndarray] = []
    for start, x in chunks(reader):
        if drop_far:
            far = extreme_rows(x, (median, spread))
            if far.any():
                extreme.append(np.flatnonzero(far) + start)
                x = x[~far]
        with np.errstate(over="ignore", invalid="ignore"):
            deviation = np.ldexp(x - median, -exponent)
            first += deviation.sum(axis=0)
            second += (deviation * deviation).sum(axis=0)
        count += len(x)
        if grid is not None:
            grid.add(x)
        if len(x):
            np.minimum(lowest, x.min(axis=0), out=lowest)
            np.maximum(highest, x.max(axis=0), out=highest)
    rows = np.concatenate(extreme) if extreme else np.zeros(0, dtype=np.int64)
    return rows.astype(np.int64), (count, first, second, exponent, lowest, highest)


class RowPermutation:
    """A pseudo-random permutation of ``range(n)``, computed on demand.

    A balanced Feistel network on the smallest even number of bits that
    holds ``n`` permutes that power of two; values at or beyond ``n`` are
    mapped again until they fall below it ("cycle walking"), which keeps it
    a permutation of ``range(n)``. Memory: a few keys, whatever ``n``.
    """

    def __init__(self, n: int, seed: int) -> None:
        self.n = n
        bits = max(2, (max(n, 2) - 1).bit_length())
        bits += bits % 2
        self.half = np.uint64(bits // 2)
        self.mask = np.uint64((1 << (bits // 2)) - 1)
        self.keys = np.random.default_rng(seed).integers(
            0, 2**63, size=FEISTEL_ROUNDS, dtype=np.uint64
        )

    def _round(self, right: np.ndarray, key: np.uint64) -> np.ndarray:
        # splitmix64's finaliser: every bit of the input moves every bit out.
        v = right ^ key
        v = v * np.uint64(0xBF58476D1CE4E5B9)
        v ^= v >> np.uint64(31)
        v = v * np.uint64(0x94D049BB133111EB)
        v ^= v >> np.uint64(29)
        return v & self.mask

    def _encrypt(self, i: np.ndarray) -> np.ndarray:
        left, right = i >> self.half, i & self.mask
        for key in self.keys:
            left, right = right, left ^ self._round(right, key)
        return (left << self.half) | right

    def __call__(self, i: np.ndarray) -> np.ndarray:
        """The images of the (int64) ``i`` in ``range(n)``."""
        out = self._encrypt(np.asarray(i, dtype=np.uint64))
        todo = np.flatnonzero(out >= self.n)
        while len(todo):
            out[todo] = self._encrypt(out[todo])
            todo = todo[out[todo] >= self.n]
        return out.astype(np.int64)


class MemmapRows:
    """The training and validation rows of a memmap, read on demand as
    standardised float32 tensors (the validation rows dequantised by their
    keyed draws, as :func:`~sklearn_lgf._rows.training_rows` does in memory).

    The rows beyond the fence (``scan.extreme``) are left out; of the others,
    numbered in file order, those that a :class:`RowPermutation` seeded with
    ``seed`` sends below ``n_validation`` are the validation rows.
    """

    def __init__(
        self,
        X: np.ndarray,
        extreme: np.ndarray,
        standardisation: Standardisation,
        n_validation: int,
        seed: int,
        device: torch.device,
    ) -> None:
        self.X = X
        self.extreme = extreme
        self.standardisation = standardisation
        self.n_kept = X.shape[0] - len(extreme)
        self.n_validation = n_validation
        self.n_training = self.n_kept - n_validation
        self.permutation = RowPermutation(self.n_kept, seed)
        self.device = device
        self.reader = RowReader(X)
        self.block_rows = chunk_rows(X, BLOCK_BYTES)
        self.n_blocks = -(-X.shape[0] // self.block_rows)
        self.window_blocks = max(1, WINDOW_BYTES // (8 * X.shape[1] * self.block_rows))

    def _standardised(
        self, x: np.ndarray, rows: np.ndarray, validation: bool
    ) -> torch.Tensor:
        """The standardised training (or validation) rows among the rows
        ``rows`` of ``X``, whose values are ``x``."""
        far = np.zeros(len(rows), dtype=bool)
        if len(self.extreme):
            at = np.searchsorted(self.extreme, rows)
            inside = at < len(self.extreme)
            far[inside] = self.extreme[at[inside]] == rows[inside]
            kept_number = rows - at
        else:
            kept_number = rows
        held_out = self.permutation(kept_number[~far]) < self.n_validation
        keep = np.zeros(len(rows), dtype=bool)
        keep[np.flatnonzero(~far)[held_out if validation else ~held_out]] = True
        z = self.standardisation.values(x[keep], keyed=validation)
        return torch.from_numpy(z.astype(np.float32)).to(self.device)

    def read_training(self, blocks: Sequence[int]) -> torch.Tensor:
        """The training rows of ``blocks``, in that order."""
        n = self.X.shape[0]
        spans = [
            (b * self.block_rows, min((b + 1) * self.block_rows, n)) for b in blocks
        ]
        x = self.reader.blocks(spans)
        rows = np.concatenate([np.arange(a, b) for a, b in spans])
        return self._standardised(x, rows, validation=False)

    def validation_parts(self) -> Iterator[torch.Tensor]:
        """The validation rows in file order, a chunk at a time."""
        for start, x in chunks(self.reader):
            part = self._standardised(x, np.arange(start, start + len(x)), True)
            if len(part):
                yield part
