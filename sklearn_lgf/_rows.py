"""One source of rows for the estimators: an array in memory, or a
:class:`numpy.memmap` read a part at a time (data larger than memory).

``fit`` takes ``X`` through :func:`check`, :func:`scan` (the fence, the rows
beyond it, the standardisation statistics and the grids of discrete
features), :func:`check_range` and :func:`training_rows`; ``score_samples``
through :func:`check` and :func:`score`, which hands the scorer one segment
of standardised float32 rows at a time and gathers its results. Arrays and
memmaps differ only in how a part of the rows is read (:func:`parts`) and
how the statistics are summed (:func:`~sklearn_lgf._standardise.statistics`
in memory, :func:`~sklearn_lgf._out_of_core.scan` in two passes over the
file). Every row that is scored or validates passes through
:class:`~sklearn_lgf._standardise.Standardisation`, which dequantises its
discrete features by the row's keyed draw before standardising it.

No tensor maths: rows leave here as float32 tensors of standardised values.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import validate_data

from . import _out_of_core
from ._images import PIXEL_LOCATION, check_pixels
from ._progress import rows_bar
from ._standardise import (
    FLOAT32_SAFE,
    TRAINING_FENCE,
    Standardisation,
    Statistics,
    statistics,
)
from .nn import DensityModel, evaluation
from .nn.data import BlockRows, TrainingRows

__all__ = [
    "FLOAT32_SAFE",
    "Standardisation",
    "Validation",
    "as_tensor",
    "check",
    "check_range",
    "is_memmap",
    "parts",
    "scan",
    "scan_pixels",
    "score",
    "training_rows",
    "validation_rows",
    "warn_extreme",
]
# Scoring hands the scorer segments of whole scoring chunks of about this
# many rows through the model (rows times importance samples for LGF), and
# of at most CHUNK_BYTES of float64 rows; a progress bar advances by segment.
SCORE_SEGMENT_MODEL_ROWS = 2**17

Validation = Callable[[DensityModel], float]
"""The mean validation log-likelihood of a model, in standardised units."""


def is_memmap(X: object) -> bool:
    """Whether ``X`` is fitted and scored out of core: a non-empty 2-D
    :class:`numpy.memmap` of real numbers (anything else goes through
    scikit-learn's validation, and its errors)."""
    return (
        isinstance(X, np.memmap)
        and X.ndim == 2
        and X.size > 0
        and X.dtype.kind in "fiu"
    )


def check(estimator: Any, X: Any, *, reset: bool) -> np.ndarray:
    """``X`` validated for ``estimator`` (``reset``: by ``fit``): a float64
    array, or a memmap whose shape is checked now and whose values are
    checked as its parts are read."""
    if is_memmap(X):
        validate_data(estimator, X, skip_check_array=True, reset=reset)
        return X
    return validate_data(estimator, X, dtype=np.float64, reset=reset)


def parts(X: np.ndarray, n_rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, float64 rows)`` of the checked ``X``, ``n_rows`` at a
    time: views of an array; a memmap's rows read, and checked to be finite."""
    if not is_memmap(X):
        for start in range(0, len(X), n_rows):
            yield start, X[start : start + n_rows]
        return
    reader = _out_of_core.RowReader(X)
    try:
        for start, x in _out_of_core.chunks(reader, n_rows * 8 * X.shape[1]):
            _out_of_core.check_finite(x, start)
            yield start, x
    finally:
        reader.close()


def scan(
    X: np.ndarray,
    seed: int,
    grids: bool = False,
    levels: int | None = None,
    owner: str = "",
    scaling: str = "feature",
) -> Statistics:
    """The fence, the rows beyond it and the standardisation statistics of
    the checked training rows ``X`` (``grids``: and the grid spacings of the
    rows within the fence), scaled as ``scaling`` says (see
    :func:`~sklearn_lgf._standardise.statistics`); ``seed`` draws a large
    memmap's sample for the fence (see :func:`~sklearn_lgf._out_of_core.scan`).
    Images (``levels`` set) get :func:`scan_pixels` instead; ``owner`` names
    the estimator in its messages."""
    if levels is not None:
        return scan_pixels(X, levels, owner)
    if is_memmap(X):
        return _out_of_core.scan(X, seed, grids, scaling)
    return statistics(X, grids, scaling)


def scan_pixels(X: np.ndarray, levels: int, owner: str) -> Statistics:
    """The :class:`~sklearn_lgf._standardise.Statistics` of images whose
    pixels, checked here, are the integers ``0 .. levels - 1``: every pixel
    on a grid of spacing 1, shifted by
    :data:`~sklearn_lgf._images.PIXEL_LOCATION` and not scaled, no row left
    out (see :mod:`sklearn_lgf._images`)."""
    n_features = X.shape[1]
    minimum = np.full(n_features, np.inf)
    maximum = np.full(n_features, -np.inf)
    step = _out_of_core.chunk_rows(X, _out_of_core.CHUNK_BYTES)
    for start, x in parts(X, step):
        check_pixels(x, levels, owner, first_row=start)
        minimum = np.minimum(minimum, x.min(axis=0))
        maximum = np.maximum(maximum, x.max(axis=0))
    shift = np.full(n_features, PIXEL_LOCATION)
    return Statistics(
        n_rows=len(X),
        median=shift,
        spread=np.zeros(n_features),
        extreme=np.empty(0, dtype=np.int64),
        minimum=minimum,
        maximum=maximum,
        location=shift.copy(),
        scale=np.ones(n_features),
        constant=np.zeros(n_features, dtype=bool),
        spacing=np.ones(n_features),
    )


def check_range(
    standardisation: Standardisation, X: np.ndarray, found: Statistics
) -> None:
    """:meth:`Standardisation.float32`'s check of every training row of
    ``X``, whose features range as ``found`` says: only when an extreme fails
    is ``X`` read again, to name its first value that float32 cannot hold."""
    reach = np.maximum(
        np.abs(standardisation.values(found.minimum)),
        np.abs(standardisation.values(found.maximum)),
    )
    if (reach <= FLOAT32_SAFE).all():
        return
    for start, x in parts(X, _out_of_core.chunk_rows(X, _out_of_core.CHUNK_BYTES)):
        standardisation.float32(x, first_row=start, keyed=False)


def warn_extreme(owner: str, X: np.ndarray, found: Statistics, stacklevel: int) -> None:
    """The warning that the rows ``found.extreme`` of ``X`` lie beyond the
    fence and are left out of training, if there are any.

    One row far out (say at 1e6 among values of order 1) would dominate the
    loss and its gradients and wreck the fit of all the other rows; even
    clipped to the fence it pulls the fit measurably. The model is trained
    without such rows and evaluates every density exactly, theirs included.
    """
    n_rows = len(found.extreme)
    if not n_rows:
        return
    i = int(found.extreme[0])
    row = np.asarray(X[i], dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        spread = np.where(found.spread > 0, found.spread, np.inf)
        distance = np.abs(row - found.median) / spread
    j = int(np.argmax(distance))
    warnings.warn(
        f"{owner}: {n_rows} training row"
        f"{'s lie' if n_rows > 1 else ' lies'} more than {TRAINING_FENCE:g} "
        "robust standard deviations from the median of a feature, e.g. "
        f"X[{i}, {j}] = {row[j]:.6g}. Such rows would dominate the training "
        "loss, so they are left out of training (their densities are still "
        "evaluated exactly). Remove them if they are errors; transform the "
        "feature (e.g. a logarithm) if it is heavy-tailed.",
        UserWarning,
        stacklevel=stacklevel + 1,
    )


def validation_rows(n_rows: int, early_stopping: bool, fraction: float) -> int:
    """Rows of ``n_rows`` held out for early stopping (at least one, and one
    row left to train on)."""
    if not early_stopping:
        return 0
    val_rows = max(1, int(math.ceil(fraction * n_rows)))
    return n_rows - 1 if val_rows >= n_rows else val_rows


def training_rows(
    X: np.ndarray,
    found: Statistics,
    standardisation: Standardisation,
    n_validation: int,
    seed: int,
    device: torch.device,
) -> tuple[torch.Tensor | TrainingRows, Validation | None]:
    """The training rows of ``X`` (all but ``found.extreme``), and the
    validation score of ``n_validation`` rows held out from them (``None``
    without any). ``seed`` draws the split (and a memmap's block order).

    An array's rows are split by a random permutation and held as tensors; a
    memmap's are read on demand (:class:`~sklearn_lgf._out_of_core.MemmapRows`)
    and its validation rows streamed in file order. The training rows are
    standardised as they are (the training loop adds fresh dequantisation
    noise to each batch); the validation rows are dequantised by their keyed
    draws first, as rows that are scored are, so that a row's validation
    score is its score.
    """
    if is_memmap(X):
        rows = _out_of_core.MemmapRows(
            X, found.extreme, standardisation, n_validation, seed, device
        )
        training: torch.Tensor | TrainingRows = BlockRows(
            rows.read_training,
            rows.n_blocks,
            rows.n_training,
            X.shape[1],
            window_blocks=rows.window_blocks,
            seed=seed,
            device=device,
        )

        def validation(model: DensityModel) -> float:
            parts = rows.validation_parts()
            return evaluation.streamed_validation_mean(model, parts)

    else:
        kept = np.delete(X, found.extreme, axis=0) if len(found.extreme) else X
        order = np.random.RandomState(seed).permutation(len(kept))
        training = torch.as_tensor(
            standardisation.values(kept[order[n_validation:]]),
            dtype=torch.float32,
            device=device,
        )
        held_out = torch.as_tensor(
            standardisation.values(kept[order[:n_validation]], keyed=True),
            dtype=torch.float32,
            device=device,
        )

        def validation(model: DensityModel) -> float:
            return float(evaluation.validation_log_prob(model, held_out).mean())

    return training, validation if n_validation else None


def score(
    X: np.ndarray,
    standardisation: Standardisation,
    estimate: Callable[[torch.Tensor], torch.Tensor],
    layout: tuple[int, int],
    device: torch.device,
    progress: tuple[str, int],
) -> np.ndarray:
    """``estimate`` of the standardised rows of the checked ``X``, as float64.

    The rows are read, checked and standardised a segment at a time: whole
    scoring chunks (``layout``: the rows of a chunk and of one pass through
    the model over it, see :meth:`~sklearn_lgf.nn.DensityModel.scoring_layout`),
    so a row's value does not depend on how the rows are split. Memory holds
    one segment and the result. ``progress``: the label and the ``verbose``
    of the bar that follows the segments.
    """
    chunk, pass_rows = layout
    byte_rows = _out_of_core.chunk_rows(X, _out_of_core.CHUNK_BYTES)
    segment = chunk * max(
        1, min(SCORE_SEGMENT_MODEL_ROWS // pass_rows, byte_rows // chunk)
    )
    result: np.ndarray | None = None
    with rows_bar(*progress, total=len(X)) as bar:
        for start, x in parts(X, segment):
            rows = torch.from_numpy(standardisation.float32(x, first_row=start))
            values = estimate(rows.to(device)).double().cpu().numpy()
            if result is None:
                result = np.empty((len(X), *values.shape[1:]))
            result[start : start + len(values)] = values
            bar.update(len(values))
    assert result is not None  # X has rows
    return result


def as_tensor(
    X: np.ndarray, standardisation: Standardisation, device: torch.device
) -> torch.Tensor:
    """Every row of the checked ``X``, standardised, as one float32 tensor."""
    step = _out_of_core.chunk_rows(X, _out_of_core.CHUNK_BYTES)
    z = [standardisation.float32(x, first_row=start) for start, x in parts(X, step)]
    return torch.from_numpy(np.concatenate(z)).to(device)
