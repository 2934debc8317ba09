"""Discrete columns: finding their grids and dequantising them with keyed noise.

A continuous density can put unbounded density on a value that repeats
exactly, so the likelihood of a flow is unbounded on a binary or
few-valued column: training chases a point mass, and a row whose rare value
lies off it loses thousands of nats. Such a column's values lie on a regular
grid ``offset + k * h`` (a ``StandardScaler`` shifts and scales the grid but
keeps it regular); adding uniform noise over the grid cell of each value
turns the column into a continuous variable whose density is bounded by
``1 / h``.

How the estimators use it (their ``dequantise`` parameter):

- ``fit`` finds the grids (:func:`find_grids`, or :class:`GridScan` for a
  memmap read in parts) on the rows it trains on, and stores the spacings
  as ``grid_spacing_``;
- every training batch gets fresh uniform noise
  (:class:`sklearn_lgf.nn.data.DequantisedRows`), so that training
  maximises ``E_u[log p(x + u)]``, the likelihood of the dequantised data;
- the validation rows and every row scored afterwards get one keyed draw
  (:func:`dequantise` with ``draw=0``).

The noise of a scored row is a hash of the row's own values, a seed, the
column and a draw index (the counter-based scheme of
:mod:`sklearn_lgf.nn.keyed_noise`, in numpy): it is deterministic, so a row
always gets the same score, and it depends on nothing else, so a row's score
does not depend on the other rows passed with it or on their order.

What the scores then mean
-------------------------
For a row ``x`` with discrete columns ``D`` (spacings ``h_j``) the cell of
``x`` is the box ``C(x)`` of the values that round to ``x`` (the continuous
columns are kept as they are). The model's density ``p`` is the density of
the dequantised data ``x + u``, ``u`` uniform on the cell, and the score of
``x`` is ``log p(x + u_x)`` at the row's keyed draw ``u_x``. Since ``u_x`` is
uniform on the cell,

    E[log p(x + u_x)] + sum_{j in D} log h_j
        <= log integral_{C(x)} p = log P(cell of x)

(Jensen's inequality), where the integral is over the discrete coordinates
only, so ``P`` is the probability of the discrete values times the density
of the continuous ones. :func:`log_cell_volume` gives the sum of
``log h_j``. Ranking rows by the score ranks them by a one-draw estimate of
that lower bound.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "MAX_CELLS",
    "GRID_TOL",
    "find_grids",
    "column_grid",
    "GridScan",
    "check_spacing",
    "dequantise",
    "keyed_uniform",
    "row_keys",
    "round_to_grid",
    "log_cell_volume",
]

# A column is discrete only if its range spans at most this many grid cells.
# A finer grid cannot be told apart from the float64 values of a continuous
# column (dequantising by such a fine step would change nothing anyway).
MAX_CELLS = 2**20
# A value lies on the grid if it is within GRID_TOL * h of a grid point, plus
# a few float32 rounding steps of its magnitude (data that went through
# float32 before being cast to float64, such as a grid of 0.1, are off by that
# much), the latter at most FLOAT32_SLACK * h: values so large against the
# step that float32 could not have held the grid are judged as float64, and
# the tolerance stays small enough that a continuous column never passes.
GRID_TOL = 1e-3
FLOAT32_ROUNDING = 4.0 * float(np.finfo(np.float32).eps)
FLOAT32_SLACK = 1e-2
# Gaps below this many float64 rounding steps of a column's largest magnitude
# are ties from rounding (``0.1 * 3`` against ``0.3``), not a grid step.
TIE_ROUNDING = 64.0 * float(np.finfo(np.float64).eps)
# Values on a grid without any value repeating: a grid is evidence of
# discreteness only if enough of them agree on it (two or three values lie on
# some grid by chance; five do with probability about (2 * GRID_TOL)**3).
MIN_UNTIED_VALUES = 5

MASK32 = 0xFFFFFFFF
# Seeds the row keys of the dequantisation noise; different from the salt of
# the importance draws (nn/keyed_noise.py) so that the two streams of a row
# are unrelated even under one seed.
DEQUANTISE_SALT = 0x85EBCA6B


# ----------------------------------------------------------------- grids
def _refine(distance: NDArray[np.float64], h: float) -> float:
    """The least-squares spacing of the grid near ``h`` through the points
    ``distance`` (sorted, from 0), fitted over ranges growing 16-fold.

    A candidate read off one gap carries that gap's rounding (float32 data
    are off by parts in 1e4), which thousands of cells would multiply into
    whole steps; each fit leaves an error small enough for the next range.
    """
    limit = 16.0 * h
    while True:
        near = distance[distance <= limit]
        ratio = near / h
        steps = np.rint(ratio)
        norm = steps @ steps
        if norm > 0:
            # Summed in units of h: products of steps and distances would
            # overflow for data in units as large as 1e300.
            h *= float(steps @ ratio / norm)
        if limit >= distance[-1]:
            return h
        limit *= 16.0


def column_grid(values: NDArray[np.float64], n_rows: int) -> tuple[float, float]:
    """The grid ``(h, offset)`` of one column, or ``(0.0, offset)`` if the
    column is continuous (or constant).

    Parameters
    ----------
    values : ndarray of shape (m,)
        The column's distinct finite values, sorted (``np.unique``).
    n_rows : int
        The number of rows they came from (``m < n_rows``: some value
        repeats).

    Returns
    -------
    h : float
        The grid spacing: the largest ``h`` such that every value is within
        ``GRID_TOL * h`` (plus float32 rounding) of ``offset + k * h`` for an
        integer ``k``; ``0.0`` for a continuous column.
    offset : float
        The smallest value (the grid's origin; ``nan`` for an empty column).

    Notes
    -----
    A column is discrete if all hold: it has at least two distinct values;
    they lie on a regular grid of spacing ``h`` whose range spans at most
    :data:`MAX_CELLS` cells; and some value repeats or there are at least
    :data:`MIN_UNTIED_VALUES` distinct values. The spacing is the greatest
    common divisor of the gaps between the values (found by Euclid's
    algorithm on the gaps, each step at least halving the candidate), so
    values ``{0, 2, 5}`` get ``h = 1``, not their smallest gap. A binary
    column gets the gap between its two values. A column with one value is
    left alone: it says nothing about a spacing. A measurement recorded at a
    fixed resolution (e.g. 0.1) with thousands of distinct values is
    discrete by this rule: dequantising it by its resolution models the
    recorded value as the rounding of the true one, which is what it is, and
    moves it by less than that resolution.
    """
    # A range beyond float64's (values near +-1.8e308) overflows to an
    # infinite span: no grid, without a warning.
    with np.errstate(over="ignore", invalid="ignore"):
        return _column_grid(np.asarray(values, dtype=np.float64), n_rows)


def _column_grid(values: NDArray[np.float64], n_rows: int) -> tuple[float, float]:
    m = len(values)
    if m == 0:
        return 0.0, float("nan")
    offset = float(values[0])
    if m < 2 or (m >= n_rows and m < MIN_UNTIED_VALUES):
        return 0.0, offset
    span = float(values[-1] - values[0])
    magnitude = float(max(abs(values[0]), abs(values[-1])))
    gaps = np.diff(values)
    gaps = gaps[gaps > TIE_ROUNDING * magnitude]
    if len(gaps) == 0:  # one value up to rounding
        return 0.0, offset
    distance = values - values[0]
    rounding = FLOAT32_ROUNDING * np.abs(values)
    h = float(gaps.min())
    # Euclid's algorithm on the gaps: each pass replaces the candidate by a
    # residual of at most half of it, so the range passes MAX_CELLS cells
    # within about 20 passes (the cap only guards against a loop).
    for _ in range(64):
        if span > MAX_CELLS * h:
            break
        fitted = _refine(distance, h)
        steps = np.rint(distance / fitted)
        tolerance = GRID_TOL * fitted + np.minimum(rounding, FLOAT32_SLACK * fitted)
        if np.all(np.abs(distance - steps * fitted) <= tolerance):
            return fitted, offset
        residual = distance - np.rint(distance / h) * h
        tolerance = GRID_TOL * h + np.minimum(rounding, FLOAT32_SLACK * h)
        off = np.abs(residual) > tolerance
        if not off.any():
            return h, offset
        # The grid of the candidate and of this value is spanned by the
        # value's residual (a grid point of both, up to rounding).
        h = float(np.abs(residual[np.argmax(off)]))
    return 0.0, offset


def find_grids(
    X: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The grid of every column of the training data ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Training rows, finite.

    Returns
    -------
    spacing : ndarray of shape (n_features,)
        The grid spacing ``h`` of each discrete column, ``0.0`` for a
        continuous (or constant) one; see :func:`column_grid` for the rule.
    offset : ndarray of shape (n_features,)
        The smallest training value of each column, the origin of its grid.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("X must be finite to find the grids of its columns")
    spacing = np.zeros(X.shape[1])
    offset = np.full(X.shape[1], np.nan)
    for j in range(X.shape[1]):
        spacing[j], offset[j] = column_grid(np.unique(X[:, j]), X.shape[0])
    return spacing, offset


# A GridScan checks a column that still looks discrete once its distinct
# values pass this count, then each time they double.
FIRST_CHECK = 64


class GridScan:
    """:func:`find_grids` over rows that arrive in parts (a memmap read a
    chunk at a time), with the same result as over all the rows at once.

    Each column keeps its sorted distinct values while they may still lie on
    a grid. Once they number more than :data:`FIRST_CHECK` (and again each
    time they double) :func:`column_grid` checks them; a column they do not
    fit is continuous for good (more values never make a grid appear) and
    its values are dropped. Memory therefore holds the distinct values of
    the discrete columns only: at most about ``MAX_CELLS`` each, a few
    hundred at most on typical data.
    """

    def __init__(self, n_features: int) -> None:
        self.n_rows = 0
        self.values: list[NDArray[np.float64] | None] = [
            np.zeros(0) for _ in range(n_features)
        ]
        self.check_at = np.full(n_features, FIRST_CHECK)
        self.minimum = np.full(n_features, np.inf)

    def add(self, x: NDArray[np.float64]) -> None:
        """Take the finite rows ``x`` into account."""
        x = np.asarray(x, dtype=np.float64)
        if len(x) == 0:
            return
        self.n_rows += len(x)
        np.minimum(self.minimum, x.min(axis=0), out=self.minimum)
        for j, known in enumerate(self.values):
            if known is None:
                continue
            new = np.unique(x[:, j])
            at = np.searchsorted(known, new)
            seen = at < len(known)
            seen[seen] = known[at[seen]] == new[seen]
            if seen.all():
                continue
            known = np.insert(known, at[~seen], new[~seen])
            if len(known) > self.check_at[j]:
                if column_grid(known, self.n_rows)[0] == 0.0:
                    self.values[j] = None
                    continue
                self.check_at[j] = 2 * len(known)
            self.values[j] = known

    def result(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """:func:`find_grids`'s ``(spacing, offset)`` of all rows added."""
        n_features = len(self.values)
        spacing = np.zeros(n_features)
        offset = np.where(self.n_rows > 0, self.minimum, np.nan)
        for j, known in enumerate(self.values):
            if known is not None:
                spacing[j] = column_grid(known, self.n_rows)[0]
        return spacing, offset


def check_spacing(spacing: object, n_features: int, name: str) -> NDArray[np.float64]:
    """Grid spacings given by a user, as float64 ``(n_features,)``: finite,
    non-negative (``0``: continuous); a ValueError naming ``name`` if not."""
    try:
        values = np.array(spacing, dtype=np.float64)  # a copy of the user's
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be 'auto', None or an array-like of {n_features} "
            f"non-negative grid spacings, got {spacing!r}"
        ) from None
    if values.shape != (n_features,):
        raise ValueError(
            f"{name} must hold one grid spacing per feature ({n_features}), got "
            f"shape {values.shape}"
        )
    bad = ~(np.isfinite(values) & (values >= 0))
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} must hold finite, non-negative grid spacings (0 for a "
            f"continuous feature), got {values[j]!r} for feature {j}"
        )
    return values


# ----------------------------------------------------------- keyed noise
def _times(x: NDArray[np.uint32], constant: int) -> NDArray[np.uint32]:
    """``x * constant`` modulo ``2**32`` (numpy's unsigned arrays wrap)."""
    return x * np.uint32(constant)


def mix32(x: NDArray[np.uint32]) -> NDArray[np.uint32]:
    """Wellons's "triple32" integer hash on a ``uint32`` array, bit for bit
    :func:`sklearn_lgf.nn.keyed_noise.mix32`."""
    x = x ^ (x >> np.uint32(17))
    x = _times(x, 0xED5AD4BB)
    x = x ^ (x >> np.uint32(11))
    x = _times(x, 0xAC4C1B51)
    x = x ^ (x >> np.uint32(15))
    x = _times(x, 0x31848BAB)
    return x ^ (x >> np.uint32(14))


def row_keys(
    X: NDArray[np.float64], seed: int, salt: int = DEQUANTISE_SALT
) -> NDArray[np.uint32]:
    """A 32-bit key per row of the 2-D float64 ``X``, from its bytes and ``seed``.

    The scheme of :func:`sklearn_lgf.nn.keyed_noise.row_keys` (with ``salt``
    the same keys, bit for bit): each 32-bit word of the row hashed with its
    position, summed modulo ``2**32`` and hashed again. Equal rows get equal
    keys; ``-0.0`` counts as ``0.0``.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {X.shape}")
    # Adding 0.0 turns -0.0 into 0.0: equal values, equal keys.
    words = np.ascontiguousarray(X + 0.0).view(np.uint32)
    positions = np.arange(words.shape[1], dtype=np.uint32)
    seed_word = np.array([salt ^ (int(seed) & MASK32)], dtype=np.uint32)
    position_salt = mix32(positions ^ mix32(seed_word))
    total = mix32(words ^ position_salt).sum(axis=1, dtype=np.uint64)
    return mix32((total & np.uint64(MASK32)).astype(np.uint32))


def keyed_uniform(
    keys: NDArray[np.uint32], n_columns: int, draw: int | NDArray[np.integer] = 0
) -> NDArray[np.float64]:
    """Uniform numbers in ``(0, 1)``, one per key and column: ``(len(keys),
    n_columns)``, deterministic in ``(key, column, draw)``.

    ``draw`` (one int, or one per key) picks an independent stream of a key:
    number ``j`` of draw ``r`` is a hash of the key and the counter
    ``r * n_columns + j``, which for a fixed key is a bijection, so a key's
    numbers never repeat across columns and draws.
    """
    keys = np.asarray(keys, dtype=np.uint32)
    draw = np.broadcast_to(np.asarray(draw, dtype=np.int64), keys.shape)
    if draw.size and (draw.min() < 0 or (int(draw.max()) + 1) * n_columns > MASK32):
        raise ValueError(f"draw must lie in [0, {MASK32 // max(n_columns, 1) - 1}]")
    counters = (
        draw[:, None] * n_columns + np.arange(n_columns, dtype=np.int64)[None, :]
    ).astype(np.uint32)
    hashed = mix32(keys[:, None] ^ mix32(counters))
    return (hashed.astype(np.float64) + 0.5) * 2.0**-32


def dequantise(
    X: NDArray[np.float64],
    spacing: NDArray[np.float64],
    seed: int,
    draw: int | NDArray[np.integer] = 0,
) -> NDArray[np.float64]:
    """``X`` with each discrete column's value moved uniformly within its cell.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Rows in the data's units.
    spacing : ndarray of shape (n_features,)
        :func:`find_grids`'s spacings; columns with ``0`` are returned as
        they are, bit for bit.
    seed : int
        Seeds the noise (with the row's bytes).
    draw : int or ndarray of shape (n_samples,), default=0
        The noise stream: ``0`` for scoring; another index gives noise
        independent of it.

    Returns
    -------
    X_dequantised : ndarray of shape (n_samples, n_features)
        ``x_j + (u_j - 1/2) h_j`` in each discrete column ``j``, with ``u_j``
        the row's keyed uniform: the cell ``[x_j - h_j/2, x_j + h_j/2)``
        centred on the recorded value, the values that round to it. A new
        array; ``X`` itself if no column is discrete.

    Notes
    -----
    The noise is centred on the value (the recorded value is the rounding
    of a continuous one) rather than on ``[x, x + h)`` (its floor): the
    dequantised column keeps the mean of the recorded one, and a row is
    scored by the density around its own value, not half a cell above it,
    which matters for a test value that is off the training grid.
    """
    X = np.asarray(X, dtype=np.float64)
    spacing = np.asarray(spacing, dtype=np.float64)
    discrete = np.flatnonzero(spacing > 0)
    if len(discrete) == 0:
        return X
    u = keyed_uniform(row_keys(X, seed), X.shape[1], draw)[:, discrete]
    out = X.copy()
    out[:, discrete] += (u - 0.5) * spacing[discrete]
    return out


# ------------------------------------------------------------- samples
def round_to_grid(
    X: NDArray[np.float64], spacing: NDArray[np.float64], offset: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Each discrete column of ``X`` rounded to the nearest point of its grid
    (the inverse of :func:`dequantise`'s cells); continuous columns as they
    are. A sample of the dequantised density so rounded is a sample of the
    discrete distribution whose cell probabilities the density defines."""
    X = np.asarray(X, dtype=np.float64)
    spacing = np.asarray(spacing, dtype=np.float64)
    discrete = np.flatnonzero(spacing > 0)
    if len(discrete) == 0:
        return X
    h, origin = spacing[discrete], np.asarray(offset, dtype=np.float64)[discrete]
    out = X.copy()
    out[:, discrete] = origin + np.rint((X[:, discrete] - origin) / h) * h
    return out


def log_cell_volume(spacing: NDArray[np.float64]) -> float:
    """``sum_j log h_j`` over the discrete columns: added to a score it gives
    the bound on the log-probability of the row's cell (module docstring)."""
    spacing = np.asarray(spacing, dtype=np.float64)
    return float(np.log(spacing[spacing > 0]).sum())
