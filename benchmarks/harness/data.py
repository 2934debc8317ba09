"""The data of the protocols that more than one script follows.

ADBench (``adbench.py``'s protocol, which ``defaults.py`` reuses) and the
digits protocol (``digits.py``'s, which ``digits_maf_seeds.py`` and
``defaults.py`` reuse) live here rather than in one of the scripts, so that a
script that follows a protocol does not import another script.

The ADBench sets are read from ``../shared/data/adbench``, relative to the
repository (not to the current directory); a worktree elsewhere needs a
``shared`` link next to it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from . import REPO

SHARED_DATA = REPO.parent / "shared" / "data"
ADBENCH_DATA = SHARED_DATA / "adbench"
ADBENCH_DATASETS = [
    "Pima",
    "annthyroid",
    "breastw",
    "cardio",
    "pendigits",
    "satellite",
    "shuttle",
    "thyroid",
]
ADBENCH_QUICK_DATASETS = ["Pima", "breastw", "cardio", "thyroid"]
# shuttle has 49,097 rows; the data README's protocol subsamples it.
ADBENCH_MAX_ROWS = 20_000


# ------------------------------------------------------------------ ADBench
def load_adbench(
    name: str, data_dir: Path = ADBENCH_DATA
) -> tuple[np.ndarray, np.ndarray]:
    """Features (float) and labels (int, 1 = anomaly) of one ADBench set.

    Sets of more than :data:`ADBENCH_MAX_ROWS` rows are subsampled to that
    many with seed 0, as the data README's protocol does.
    """
    path = data_dir / f"{name}.npz"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found. The ADBench sets are read from "
            f"../shared/data/adbench next to the repository ({ADBENCH_DATA}); "
            f"from a worktree elsewhere, link the shared folder to "
            f"{REPO.parent / 'shared'}."
        )
    data = np.load(path)
    X = data["X"].astype(float)
    y = data["y"].astype(int)
    if len(X) > ADBENCH_MAX_ROWS:
        idx = np.random.default_rng(0).choice(len(X), ADBENCH_MAX_ROWS, replace=False)
        X, y = X[idx], y[idx]
    return X, y


def adbench_split(
    X: np.ndarray, y: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """60% of the inliers for training; the rest plus every anomaly for test.

    Returns ``X_train, X_test, y_test``: novelty detection trains on inliers
    only, so the training labels are all 0 and not returned.
    """
    rng = np.random.default_rng(seed)
    inl = np.flatnonzero(y == 0)
    rng.shuffle(inl)
    ntr = int(0.6 * len(inl))
    tr = inl[:ntr]
    te = np.concatenate([inl[ntr:], np.flatnonzero(y == 1)])
    return X[tr], X[te], y[te]


def grid_spacing(X: np.ndarray, mode: str) -> np.ndarray:
    """Per-column dequantisation width (0 = leave the column alone).

    ``mode`` is ``adbench.py``'s ``--dequantise``: ``grid`` (columns whose
    distinct values lie on a regular grid get its spacing), ``integer``
    (integer-valued columns get 1) or ``none``. A continuous density can put
    unbounded mass on values that repeat exactly, which degenerates a flow's
    likelihood on such columns; see ``adbench.py``.
    """
    widths = np.zeros(X.shape[1])
    if mode == "none":
        return widths
    for j in range(X.shape[1]):
        values = np.unique(X[:, j])
        if len(values) < 2:
            continue
        if mode == "integer":
            if np.all(values == np.round(values)):
                widths[j] = 1.0
            continue
        h = np.min(np.diff(values))
        steps = (values - values[0]) / h
        if np.all(np.abs(steps - np.round(steps)) < 1e-6):
            widths[j] = h
    return widths


def dequantise(X: np.ndarray, widths: np.ndarray, seed: int) -> np.ndarray:
    """``X`` plus U(0, width) noise per column, one seeded draw per set and seed.

    The seed is offset from the split's, so that the noise and the split are
    independent draws.
    """
    if not widths.any():
        return X
    rng = np.random.default_rng(10_000 + seed)
    return X + rng.uniform(size=X.shape) * widths


# ------------------------------------------------------------------- digits
def load_digits_split() -> tuple[np.ndarray, np.ndarray]:
    """The digits protocol's train and test sets (1257 and 540 rows, d = 64).

    ``load_digits`` plus U(0, 1) noise (``RandomState(0)``), divided by 17 so
    that every value lies in [0, 1), split by ``train_test_split(test_size=0.3,
    random_state=0)``. The noise turns the integer pixels into a continuous
    variable whose density is finite.
    """
    X = load_digits().data.astype(np.float64)
    rng = np.random.RandomState(0)
    X = (X + rng.uniform(size=X.shape)) / 17.0
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
    return X_train, X_test
