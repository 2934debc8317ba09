"""Standardisation that a few extreme rows cannot wreck.

The estimators train on standardised features, each by its own mean and
standard deviation or, when the features share one unit, all by the pooled
ones; these statistics decide the scale, which training rows are too far
out to train on and, on the other rows, the grids of the discrete features.
:class:`Standardisation` maps rows to what the float32 model takes: the
keyed dequantisation of the rows that are scored, then the standardisation.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from ._dequantise import dequantise as keyed_dequantise
from ._dequantise import find_grids
from ._images import check_pixels

# Interquartile range of the standard normal: IQR / this is the standard
# deviation for Gaussian data, and unmoved by a few extreme rows.
NORMAL_IQR = 1.3489795003921634
# Training rows further than this many robust standard deviations (see
# fence_scale) from the median in any feature are left out of training and
# of the standardisation statistics, with a warning.
TRAINING_FENCE = 30.0
# Standardised values the float32 model can take: their squares (in the
# Gaussian base density and the networks) must not overflow float32.
FLOAT32_SAFE = math.sqrt(float(np.finfo(np.float32).max))
# Features share their units (scaling="auto") when the typical one spans at
# least this share of the range that all of them span together.
SHARED_RANGE = 0.5
SCALINGS = ("feature", "shared")


def _spread(deviation: np.ndarray) -> float:
    """Root mean square of ``deviation``, without squaring huge values."""
    with np.errstate(over="ignore", invalid="ignore"):
        largest = float(np.max(np.abs(deviation))) if deviation.size else 0.0
        if not largest > 0:
            return 0.0
        return largest * float(np.sqrt(np.mean((deviation / largest) ** 2)))


def fence_scale(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature median and a spread that a few extreme rows cannot move.

    The spread is the larger of the interquartile range over that of the
    standard normal and the root mean square deviation of the central 99 %
    of the values: the first ignores tails, the second keeps the genuine
    tail of a sparse or skewed feature (a pixel that is mostly blank) from
    looking extreme, while the 0.5 % trimmed on each side keep one wild row
    out of it. Zero for a feature with 99 % of its values equal.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        median = np.median(X, axis=0)
        q = np.percentile(X, [0.5, 25.0, 75.0, 99.5], axis=0)
        spread = (q[2] - q[1]) / NORMAL_IQR
    for j in range(X.shape[1]):
        column = X[:, j]
        central = column[(column >= q[0, j]) & (column <= q[3, j])]
        with np.errstate(over="ignore", invalid="ignore"):
            spread[j] = max(spread[j], _spread(central - median[j]))
    return median, spread


def extreme_rows(
    X: np.ndarray, fence: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """Rows further than :data:`TRAINING_FENCE` fence spreads from the median
    in some feature; ``fence``: :func:`fence_scale`'s ``(median, spread)`` of
    ``X`` if already known."""
    median, spread = fence_scale(X) if fence is None else fence
    active = spread > 0
    with np.errstate(over="ignore", invalid="ignore"):
        distance = np.abs(X[:, active] - median[active]) / spread[active]
    return (~(distance <= TRAINING_FENCE)).any(axis=1)


def robust_location_scale(
    X: np.ndarray, extreme: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation of the non-extreme rows, and
    which features are constant.

    The mean and standard deviation make the model's inputs comparable
    across features as a plain standardisation does; computing them without
    the rows of :func:`extreme_rows` keeps one wild row from inflating the
    scale until every other row sits at zero. Computed relative to the
    median, so that values up to float64's range neither overflow nor lose
    the scale. A feature with no spread gets scale 1. ``extreme``:
    :func:`extreme_rows` of ``X`` if already known.
    """
    if len(X) > 1:
        kept = X[~(extreme_rows(X) if extreme is None else extreme)]
    else:
        kept = X
    if len(kept) == 0:
        kept = X
    with np.errstate(over="ignore", invalid="ignore"):
        median = np.median(kept, axis=0)
    location = np.empty(X.shape[1])
    scale = np.empty(X.shape[1])
    constant = np.zeros(X.shape[1], dtype=bool)
    for j in range(X.shape[1]):
        with np.errstate(over="ignore", invalid="ignore"):
            deviation = kept[:, j] - median[j]
            largest = float(np.max(np.abs(deviation)))
            if largest > 0 and np.isfinite(largest):
                shift = float(np.mean(deviation / largest))
                location[j] = median[j] + largest * shift
                scale[j] = _spread(deviation - largest * shift)
            else:
                location[j], scale[j] = median[j], largest
        if not scale[j] > 1e-12 * max(1.0, abs(location[j])):
            if np.isfinite(scale[j]):
                scale[j], constant[j] = 1.0, True
    _check_representable(location, scale)
    return location, scale, constant


def _check_representable(location: np.ndarray, scale: np.ndarray) -> None:
    if not (np.isfinite(location).all() and np.isfinite(scale).all()):
        j = int(np.flatnonzero(~(np.isfinite(location) & np.isfinite(scale)))[0])
        raise ValueError(
            "Input X contains values too large for dtype('float64') to "
            f"standardise: the spread of column {j} overflows float64."
        )


def location_scale_from_sums(
    centre: np.ndarray,
    count: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    exponent: np.ndarray,
    lowest: np.ndarray,
    highest: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`robust_location_scale` from sums over the non-extreme rows,
    for data read in parts: per feature, ``count`` rows whose deviations
    from ``centre``, in units of ``2**exponent``, sum to ``first`` and their
    squares to ``second``; ``lowest`` and ``highest`` are their extremes.

    The mean and standard deviation are the same as in memory, summed in
    another order. The centre is a median (of a sample, for large data),
    and a median lies within a standard deviation of the mean: the
    variance as mean square minus squared mean loses at most a bit or two
    to cancellation.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        mean = first / count
        variance = np.maximum(second / count - mean * mean, 0.0)
        location = centre + np.ldexp(mean, exponent)
        scale = np.ldexp(np.sqrt(variance), exponent)
    # Rounding in the sums would leave a constant feature a tiny spread.
    equal = lowest == highest
    location[equal], scale[equal] = lowest[equal], 0.0
    constant = np.zeros(len(centre), dtype=bool)
    for j in range(len(centre)):
        if not scale[j] > 1e-12 * max(1.0, abs(location[j])):
            if np.isfinite(scale[j]):
                scale[j], constant[j] = 1.0, True
    _check_representable(location, scale)
    return location, scale, constant


@dataclass(frozen=True)
class Statistics:
    """What the training rows say about themselves: the fence, the rows
    beyond it, the range of every feature and the standardisation."""

    n_rows: int
    median: np.ndarray
    """The fence's centre per feature (see :func:`fence_scale`)."""
    spread: np.ndarray
    """The fence's spread per feature."""
    extreme: np.ndarray
    """Sorted numbers of the rows beyond the fence (int64)."""
    minimum: np.ndarray
    maximum: np.ndarray
    location: np.ndarray
    scale: np.ndarray
    constant: np.ndarray
    """Which features are constant (their scale is 1)."""
    spacing: np.ndarray | None = None
    """The grid spacing of each feature over the rows within the fence (all
    rows if none is), 0 for a continuous one (see
    :func:`~sklearn_lgf._dequantise.find_grids`); ``None`` if not asked for."""


def statistics(
    X: np.ndarray, grids: bool = False, scaling: str = "feature"
) -> Statistics:
    """The :class:`Statistics` of the rows ``X`` (of at least two rows) in
    memory; ``grids``: with the grid spacings; ``scaling``: per feature or
    shared (see :func:`fence`), the location and scale then :func:`pooled`."""
    median, spread, shared = fence(X, scaling)
    far = extreme_rows(X, (median, spread))
    location, scale, constant = robust_location_scale(X, far)
    spacing = None
    if grids:
        # The grids of the rows the model is fitted to: one wild value (a
        # typing error far beyond the fence) would otherwise stretch a
        # column's range past any grid and leave its point masses in.
        kept = X[~far] if (~far).any() else X
        spacing = find_grids(kept)[0]
    found = Statistics(
        len(X),
        median,
        spread,
        np.flatnonzero(far).astype(np.int64),
        X.min(axis=0),
        X.max(axis=0),
        location,
        scale,
        constant,
        spacing,
    )
    return pooled(found) if shared else found


def shares_units(minimum: np.ndarray, maximum: np.ndarray) -> bool:
    """Whether features ranging from ``minimum`` to ``maximum`` look like
    one quantity measured in one unit (pixels, scores on one scale): among
    the features that vary, the typical one (the lower median) spans at
    least :data:`SHARED_RANGE` of the range that all of them span together.

    A feature whose values are confined to a sliver of that common range
    (a pixel that is nearly always blank) is then narrow *in the shared
    unit*, and blowing it up to unit variance would make its few other
    values look many standard deviations out, and dominate training.
    Features in different units (metres beside grams) fail the test as soon
    as half of them span less than half of the widest's range. The ranges
    are meant to be those of the rows within the fence (see :func:`fence`):
    one wild row would stretch them.
    """
    live = maximum > minimum
    if live.sum() < 2:
        return False
    with np.errstate(over="ignore", invalid="ignore"):
        width = float(np.max(maximum[live]) - np.min(minimum[live]))
        spans = np.sort(maximum[live] - minimum[live])
    typical = float(spans[(len(spans) - 1) // 2])
    return math.isfinite(width) and typical >= SHARED_RANGE * width


def fence(rows: np.ndarray, scaling: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """The fence's median and spread per feature (see :func:`fence_scale`),
    from ``rows`` (all the training rows, or a sample of them), and whether
    ``scaling`` (``"feature"``, ``"shared"`` or ``"auto"``) gives the
    features one shared scale.

    ``"auto"`` reads the ranges of the rows within the per-feature fence
    (:func:`shares_units`), so that a wild row cannot decide. Shared
    features are fenced in the shared unit too: no spread below
    :func:`shared_spread` of those rows, so that a stroke in a pixel that is
    nearly always blank is not extreme among pixels.
    """
    median, spread = fence_scale(rows)
    if scaling == "feature":
        return median, spread, False
    far = extreme_rows(rows, (median, spread))
    kept = rows[~far] if (~far).any() else rows
    low, high = kept.min(axis=0), kept.max(axis=0)
    shared = scaling == "shared" or shares_units(low, high)
    if shared:
        spread = np.maximum(spread, shared_spread(kept[:, high > low]))
    return median, spread, shared


def shared_spread(values: np.ndarray) -> float:
    """The standard deviation of all ``values`` pooled (the columns of the
    features that vary): the fence's unit when the features share one."""
    if values.size == 0:
        return 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        centre = float(np.mean(values))
        return _spread((values - centre).ravel())


def pooled(found: Statistics) -> Statistics:
    """``found`` with one location and one scale for its non-constant
    features: the mean and standard deviation of all their values pooled
    (the features' means averaged; their variances and the spread of their
    means combined). Constant features keep location = their value, scale 1."""
    live = ~found.constant
    if not live.any():
        return found
    location, scale = found.location.copy(), found.scale.copy()
    with np.errstate(over="ignore", invalid="ignore"):
        centre = float(np.mean(location[live]))
        deviation = np.concatenate([scale[live], location[live] - centre])
        spread = math.sqrt(2.0) * _spread(deviation)
    location[live], scale[live] = centre, spread
    _check_representable(location, scale)
    return dataclasses.replace(found, location=location, scale=scale)


@dataclass(frozen=True)
class Standardisation:
    """``(x - location) / scale`` per feature, the keyed dequantisation of
    the rows that are scored, and the checks that the float32 model can hold
    the result; ``owner`` names the estimator in messages.

    ``spacing`` (the fitted ``grid_spacing_``) and ``seed`` key the
    dequantisation noise (:func:`~sklearn_lgf._dequantise.dequantise`,
    draw 0); with no positive spacing the rows are only standardised.
    ``levels``: rows are images whose pixels must be the integers ``0 ..
    levels - 1`` (checked by :meth:`float32`, see :mod:`sklearn_lgf._images`).
    """

    location: np.ndarray
    scale: np.ndarray
    owner: str
    spacing: np.ndarray | None = None
    seed: int = 0
    levels: int | None = None
    discrete: bool = field(init=False)

    def __post_init__(self) -> None:
        discrete = self.spacing is not None and bool((self.spacing > 0).any())
        object.__setattr__(self, "discrete", discrete)

    @property
    def log_det_correction(self) -> float:
        """``log p_X(x) = log p_Z(z) + this``, for ``z`` the standardised ``x``."""
        return float(-np.log(self.scale).sum())

    @property
    def noise_widths(self) -> tuple[float, ...] | None:
        """The width of each feature's grid cell in standardised units
        (``spacing / scale``, 0 for a continuous feature): the training
        noise's; ``None`` without a discrete feature."""
        if not self.discrete:
            return None
        assert self.spacing is not None
        return tuple(float(w) for w in self.spacing / self.scale)

    def values(self, x: np.ndarray, keyed: bool = False) -> np.ndarray:
        """The standardised ``x``, in float64; ``keyed``: of ``x`` dequantised
        by each row's keyed draw first (rows that are scored or validate;
        training rows get fresh noise in the training loop instead)."""
        if keyed and self.discrete:
            x = keyed_dequantise(x, self.spacing, self.seed)
        with np.errstate(over="ignore", invalid="ignore"):
            return (x - self.location) / self.scale

    def float32(
        self, x: np.ndarray, first_row: int = 0, keyed: bool = True
    ) -> np.ndarray:
        """The standardised ``x`` in float32 (dequantised by the rows' keyed
        draws unless ``keyed`` is false), or a ValueError if float32 cannot
        hold it (naming rows from ``first_row`` on: ``x`` may be a part of
        the data).

        The model computes in float32: a standardised value beyond
        :data:`FLOAT32_SAFE` (about 1.8e19, whose square is float32's largest
        value, 3.4e38) would overflow inside it and could come out as NaN.
        Standardised values are checked, not ``x``: data in any units work as
        long as their spread is representable. Images' pixels are checked
        first.
        """
        if self.levels is not None:
            check_pixels(x, self.levels, self.owner, first_row)
        z = self.values(x, keyed=keyed)
        bad = ~(np.abs(z) <= FLOAT32_SAFE)
        if bad.any():
            i, j = (int(k) for k in np.argwhere(bad)[0])
            raise ValueError(
                "Input X contains values too large for dtype('float32') once "
                f"standardised: X[{first_row + i}, {j}] = {x[i, j]:.6g} lies "
                f"{abs(z[i, j]):.3g} "
                f"times the feature's scale ({self.scale[j]:.3g}) from its "
                f"location ({self.location[j]:.6g}). {self.owner} "
                f"computes in float32, where values beyond {FLOAT32_SAFE:.2g} "
                "scale units overflow."
            )
        return z.astype(np.float32)
