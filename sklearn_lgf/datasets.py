"""Data for density estimators: 2-D targets with true densities, and images.

The generators follow scikit-learn's ``make_*`` conventions and reproduce the
synthetic 2-D targets used for the toy experiments of *Localised Generative
Flows* / *Relaxing Bijectivity Constraints with Continuously Indexed
Normalising Flows* (Cornish, Caterini, Deligiannidis and Doucet, ICML 2020).
The reference implementation of those targets is ``get_2d_data`` in
``cif/datasets/two_d.py`` of the authors' code (github.com/jrmcornish/cif),
which itself extends the toy data of FFJORD (Grathwohl et al., 2019) and
i-ResNet (Behrmann et al., 2019):

- :func:`make_two_uniforms` (reference name ``2uniforms``), true log-density
  :func:`two_uniforms_log_density`;
- :func:`make_eight_gaussians` (``8gaussians``), true log-density
  :func:`eight_gaussians_log_density`;
- :func:`make_checkerboard` (``checkerboard``), true log-density
  :func:`checkerboard_log_density`;
- :func:`make_two_spirals` (``2spirals``), no closed-form density;
- :func:`make_rings` (``rings``), no closed-form density.

Differences from the reference code, none of which changes the distribution
of a single sample: every generator returns exactly ``n_samples`` rows
(the reference code silently drops the remainder of ``n_samples // 2`` for the
spirals), draws all randomness from ``random_state`` instead of the global
numpy state, shuffles the rows, and returns float64.

:data:`TARGETS` maps short names to the generators, :data:`TRUE_LOG_DENSITIES`
maps the names of the targets with a closed-form density to their true
log-density, and :func:`make_target` picks a target by name.

Image data sets are read from IDX files (the format of MNIST and
Fashion-MNIST) that the user already has; nothing is downloaded:

- :func:`load_idx` reads an images file and optionally its labels into a
  :class:`~sklearn.utils.Bunch` with ``data`` (one flattened image a row, the
  layout the estimators take), ``images``, ``target``, ``image_shape`` and
  ``n_levels``;
- :func:`load_fashion_mnist` and :func:`load_mnist` find the standard file
  names in a directory;
- :func:`read_idx` and :func:`write_idx` read and write any IDX array.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.utils import check_array, check_random_state, check_scalar
from sklearn.utils import shuffle as _shuffle_rows

from ._idx import read_idx, write_idx
from ._image_files import load_fashion_mnist, load_idx, load_mnist

__all__ = [
    "TARGETS",
    "TRUE_LOG_DENSITIES",
    "checkerboard_log_density",
    "eight_gaussians_log_density",
    "load_fashion_mnist",
    "load_idx",
    "load_mnist",
    "make_checkerboard",
    "make_eight_gaussians",
    "make_rings",
    "make_target",
    "make_two_spirals",
    "make_two_uniforms",
    "read_idx",
    "two_uniforms_log_density",
    "write_idx",
]

RandomStateLike = int | np.random.RandomState | None

# Support of the first coordinate of ``two_uniforms`` (the second one is
# uniform on [-1, 1]): [-2, -1] and [gap - 1, gap]. The LGF paper's Figure 1
# states gap 1 ([0, 1]), the default here; the CIF code's ``2uniforms`` uses
# gap 2 ([1, 2]). The density is 1/4 on the support whatever the gap.
_TWO_UNIFORMS_LEFT: tuple[float, float] = (-2.0, -1.0)
_TWO_UNIFORMS_DEFAULT_GAP = 1.0


def _two_uniforms_x1_intervals(gap: float) -> tuple[tuple[float, float], ...]:
    if isinstance(gap, bool | np.bool_):
        raise TypeError(f"gap must be a real number, got {gap!r}.")
    check_scalar(gap, "gap", numbers.Real, min_val=0.0, include_boundaries="neither")
    if not np.isfinite(gap):
        raise ValueError(f"gap must be finite, got {gap!r}.")
    return (_TWO_UNIFORMS_LEFT, (float(gap) - 1.0, float(gap)))


_TWO_UNIFORMS_X2_INTERVAL: tuple[float, float] = (-1.0, 1.0)

# ``8gaussians`` of FFJORD/CIF: unit-circle centres scaled by 4, unit-variance
# noise scaled by 0.5, then everything divided by 1.414.
_EIGHT_GAUSSIANS_RADIUS: float = 4.0 / 1.414
_EIGHT_GAUSSIANS_NOISE: float = 0.5 / 1.414

# ``checkerboard``: the samples are drawn on [-2, 2)^2 and multiplied by 2.
_CHECKERBOARD_SCALE: float = 2.0

# ``rings``: radii of the four concentric circles (0.25, 0.5, 0.75, 1) * 3.
_RINGS_RADII: tuple[float, ...] = (3.0, 2.25, 1.5, 0.75)


# ---------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------


def _check_n_samples(n_samples: int) -> int:
    if isinstance(n_samples, bool | np.bool_):
        raise TypeError(f"n_samples must be an int, got {n_samples!r}.")
    check_scalar(n_samples, "n_samples", numbers.Integral, min_val=1)
    return int(n_samples)


def _check_noise(noise: float) -> float:
    if isinstance(noise, bool | np.bool_):
        raise TypeError(f"noise must be a real number, got {noise!r}.")
    check_scalar(noise, "noise", numbers.Real, min_val=0.0)
    if not np.isfinite(noise):
        raise ValueError(f"noise must be finite, got {noise!r}.")
    return float(noise)


def _check_points(X: ArrayLike) -> NDArray[np.float64]:
    X = check_array(X, dtype=np.float64, input_name="X")
    if X.shape[1] != 2:
        raise ValueError(
            f"X must have 2 columns (points in the plane), got {X.shape[1]}."
        )
    return X


# ---------------------------------------------------------------------------
# generators
# ---------------------------------------------------------------------------


def make_two_uniforms(
    n_samples: int = 1000,
    *,
    gap: float = _TWO_UNIFORMS_DEFAULT_GAP,
    random_state: RandomStateLike = None,
) -> NDArray[np.float64]:
    """Sample the "two uniforms" target: two disjoint rectangles.

    ``x1`` is uniform on ``[-2, -1] U [gap - 1, gap]`` (each interval with
    probability 1/2) and ``x2`` is independently uniform on ``[-1, 1]``, so
    the density is 1/4 on the two 1x2 rectangles and 0 elsewhere.  The gap
    between the two components makes this target impossible to fit exactly
    with a single bijection of a Gaussian, which is what it is designed to
    show.

    Only ``X`` is returned: a density target has no labels (the mixture
    component of each sample is not an observation).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points to draw; a positive integer.
    gap : float, default=1.0
        Width of the empty band between the rectangles along ``x1``. The LGF
        paper's Figure 1 states 1 (the right rectangle on ``[0, 1]``); its
        authors' code uses 2 (on ``[1, 2]``).
    random_state : int, RandomState instance or None, default=None
        Seed or ``RandomState`` instance; pass an int for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), dtype float64
        The samples.

    See Also
    --------
    two_uniforms_log_density : the true log-density of this target.

    Examples
    --------
    >>> from sklearn_lgf.datasets import make_two_uniforms
    >>> X = make_two_uniforms(1000, random_state=0)
    >>> X.shape, X.dtype
    ((1000, 2), dtype('float64'))
    >>> left = (X[:, 0] >= -2) & (X[:, 0] <= -1)
    >>> bool((left | ((X[:, 0] >= 0) & (X[:, 0] <= 1))).all())
    True
    """
    n_samples = _check_n_samples(n_samples)
    intervals = _two_uniforms_x1_intervals(gap)
    rng = check_random_state(random_state)
    starts = np.array([lo for lo, _ in intervals])
    widths = np.array([hi - lo for lo, hi in intervals])
    component = rng.randint(len(starts), size=n_samples)
    x1 = starts[component] + widths[component] * rng.uniform(size=n_samples)
    lo, hi = _TWO_UNIFORMS_X2_INTERVAL
    x2 = rng.uniform(lo, hi, size=n_samples)
    return np.column_stack([x1, x2]).astype(np.float64, copy=False)


def make_eight_gaussians(
    n_samples: int = 1000,
    *,
    noise: float = _EIGHT_GAUSSIANS_NOISE,
    random_state: RandomStateLike = None,
) -> NDArray[np.float64]:
    """Sample the "8 gaussians" target: a ring of eight isotropic Gaussians.

    This is the ``8gaussians`` target of FFJORD and of the CIF code: an
    equally weighted mixture of eight Gaussians with standard deviation
    ``noise`` whose centres are evenly spaced on a circle of radius
    ``4 / 1.414 ~= 2.829`` at the angles ``k * pi / 4`` (i.e. the points
    ``(+-1, 0), (0, +-1), (+-1/sqrt(2), +-1/sqrt(2))`` scaled by 4 and divided
    by 1.414).  The default ``noise = 0.5 / 1.414 ~= 0.354`` is the reference
    value (unit noise scaled by 0.5, then divided by 1.414).

    Only ``X`` is returned: a density target has no labels (the mixture
    component of each sample is not an observation).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points to draw; a positive integer.
    noise : float, default=0.5 / 1.414
        Standard deviation of each Gaussian component; ``noise >= 0``
        (``noise=0`` puts every sample exactly on a centre).
    random_state : int, RandomState instance or None, default=None
        Seed or ``RandomState`` instance; pass an int for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), dtype float64
        The samples.

    See Also
    --------
    eight_gaussians_log_density : the true log-density of this target.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lgf.datasets import make_eight_gaussians
    >>> X = make_eight_gaussians(8, noise=0.0, random_state=0)
    >>> X.shape
    (8, 2)
    >>> np.round(np.hypot(X[:, 0], X[:, 1]), 3)
    array([2.829, 2.829, 2.829, 2.829, 2.829, 2.829, 2.829, 2.829])
    """
    n_samples = _check_n_samples(n_samples)
    noise = _check_noise(noise)
    rng = check_random_state(random_state)
    centres = _eight_gaussians_centres()
    component = rng.randint(len(centres), size=n_samples)
    X = centres[component] + noise * rng.standard_normal(size=(n_samples, 2))
    return X.astype(np.float64, copy=False)


def make_checkerboard(
    n_samples: int = 1000, *, random_state: RandomStateLike = None
) -> NDArray[np.float64]:
    """Sample the "checkerboard" target: uniform on 8 squares of a 4x4 board.

    This is the ``checkerboard`` target of FFJORD and of the CIF code:
    ``x1 ~ U[-2, 2)``, ``x2 ~ U([-2, -1) U [0, 1)) + (floor(x1) mod 2)`` and the
    result is multiplied by 2.  The support is the union of the 8 "black"
    squares of side 2 of the board ``[-4, 4]^2`` (the squares whose cell indices
    ``floor(x1 / 2) + floor(x2 / 2)`` are even), total area 32, and the density
    is uniform on it: ``1/32``.

    Only ``X`` is returned: a density target has no labels.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points to draw; a positive integer.
    random_state : int, RandomState instance or None, default=None
        Seed or ``RandomState`` instance; pass an int for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), dtype float64
        The samples, all inside ``[-4, 4]^2``.

    See Also
    --------
    checkerboard_log_density : the true log-density of this target.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lgf.datasets import make_checkerboard
    >>> X = make_checkerboard(500, random_state=0)
    >>> X.shape
    (500, 2)
    >>> bool((np.abs(X) <= 4).all())
    True
    """
    n_samples = _check_n_samples(n_samples)
    rng = check_random_state(random_state)
    x1 = rng.uniform(size=n_samples) * 4.0 - 2.0
    x2 = rng.uniform(size=n_samples) - rng.randint(0, 2, size=n_samples) * 2.0
    x2 = x2 + np.floor(x1) % 2
    X = np.column_stack([x1, x2]) * _CHECKERBOARD_SCALE
    return X.astype(np.float64, copy=False)


def make_two_spirals(
    n_samples: int = 1000,
    *,
    noise: float = 0.1,
    random_state: RandomStateLike = None,
) -> NDArray[np.float64]:
    """Sample the "two spirals" target: two interleaved Archimedean spirals.

    This is the ``2spirals`` target of FFJORD and of the CIF code.  An angle
    ``t = sqrt(u) * 3 pi`` with ``u ~ U[0, 1)`` gives the point
    ``(-t cos t, t sin t)``, which is jittered by ``U[0, 0.5)^2``; half the
    points (``n_samples // 2`` of them) are reflected through the origin to
    form the second spiral, everything is divided by 3, and isotropic Gaussian
    noise of standard deviation ``noise`` is added.  Unlike the reference code,
    the two spirals are drawn independently (instead of one being the exact
    mirror image of the other) so that odd ``n_samples`` work and the rows
    are i.i.d. up to the fixed split between spirals; the rows are shuffled.

    Only ``X`` is returned: a density target has no labels (the spiral each
    sample comes from is not an observation).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points to draw; a positive integer.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise; ``noise >= 0``.
    random_state : int, RandomState instance or None, default=None
        Seed or ``RandomState`` instance; pass an int for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), dtype float64
        The samples.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lgf.datasets import make_two_spirals
    >>> X = make_two_spirals(1001, random_state=0)
    >>> X.shape
    (1001, 2)
    >>> bool((np.hypot(X[:, 0], X[:, 1]) < 5).all())
    True
    """
    n_samples = _check_n_samples(n_samples)
    noise = _check_noise(noise)
    rng = check_random_state(random_state)
    t = np.sqrt(rng.uniform(size=n_samples)) * 3.0 * np.pi
    X = np.column_stack([-np.cos(t) * t, np.sin(t) * t])
    X += rng.uniform(size=(n_samples, 2)) * 0.5
    X[n_samples - n_samples // 2 :] *= -1.0
    X /= 3.0
    X += noise * rng.standard_normal(size=(n_samples, 2))
    X = _shuffle_rows(X, random_state=rng)
    return np.asarray(X, dtype=np.float64)


def make_rings(
    n_samples: int = 1000,
    *,
    noise: float = 0.08,
    random_state: RandomStateLike = None,
) -> NDArray[np.float64]:
    """Sample the "rings" target: four noisy concentric circles.

    This is the ``rings`` target of FFJORD and of the CIF code: four circles
    of radii 3, 2.25, 1.5 and 0.75 centred at the origin.  The outer three
    circles get ``n_samples // 4`` points each and the inner one the rest;
    on each circle the points sit at evenly spaced angles
    ``2 pi k / m, k = 0..m-1``, and isotropic Gaussian noise of standard
    deviation ``noise`` is added.  The rows are shuffled.

    Only ``X`` is returned: a density target has no labels (the ring each
    sample comes from is not an observation).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points to draw; a positive integer.
    noise : float, default=0.08
        Standard deviation of the Gaussian noise; ``noise >= 0``
        (``noise=0`` leaves every point exactly on its circle).
    random_state : int, RandomState instance or None, default=None
        Seed or ``RandomState`` instance; pass an int for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), dtype float64
        The samples.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lgf.datasets import make_rings
    >>> X = make_rings(8, noise=0.0, random_state=0)
    >>> sorted(np.round(np.hypot(X[:, 0], X[:, 1]), 2).tolist())
    [0.75, 0.75, 1.5, 1.5, 2.25, 2.25, 3.0, 3.0]
    """
    n_samples = _check_n_samples(n_samples)
    noise = _check_noise(noise)
    rng = check_random_state(random_state)
    per_ring = n_samples // 4
    counts = [per_ring] * (len(_RINGS_RADII) - 1)
    counts.append(n_samples - sum(counts))
    parts = []
    for radius, count in zip(_RINGS_RADII, counts, strict=True):
        angle = np.linspace(0.0, 2.0 * np.pi, count, endpoint=False)
        parts.append(radius * np.column_stack([np.cos(angle), np.sin(angle)]))
    X = _shuffle_rows(np.concatenate(parts), random_state=rng)
    X = X + noise * rng.standard_normal(size=(n_samples, 2))
    return np.asarray(X, dtype=np.float64)


# ---------------------------------------------------------------------------
# closed-form log-densities
# ---------------------------------------------------------------------------


def _eight_gaussians_centres() -> NDArray[np.float64]:
    angle = np.arange(8) * (np.pi / 4.0)
    unit = np.column_stack([np.cos(angle), np.sin(angle)])
    return _EIGHT_GAUSSIANS_RADIUS * unit


def two_uniforms_log_density(
    X: ArrayLike, *, gap: float = _TWO_UNIFORMS_DEFAULT_GAP
) -> NDArray[np.float64]:
    """True log-density of :func:`make_two_uniforms`.

    The density is ``1/4`` on ``([-2, -1] U [gap - 1, gap]) x [-1, 1]``
    (boundaries included) and 0 elsewhere.

    Parameters
    ----------
    X : array-like of shape (n_points, 2)
        Finite points at which to evaluate the log-density.
    gap : float, default=1.0
        The gap the samples were drawn with (see :func:`make_two_uniforms`).

    Returns
    -------
    log_density : ndarray of shape (n_points,), dtype float64
        ``log(1/4) ~= -1.386`` on the support and ``-inf`` outside it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lgf.datasets import two_uniforms_log_density
    >>> np.round(two_uniforms_log_density([[0.5, 0.0], [-0.5, 0.0]]), 3)
    array([-1.386,   -inf])
    """
    X = _check_points(X)
    intervals = _two_uniforms_x1_intervals(gap)
    x1, x2 = X[:, 0], X[:, 1]
    in_x1 = np.zeros(X.shape[0], dtype=bool)
    total_width = 0.0
    for lo, hi in intervals:
        in_x1 |= (x1 >= lo) & (x1 <= hi)
        total_width += hi - lo
    lo2, hi2 = _TWO_UNIFORMS_X2_INTERVAL
    inside = in_x1 & (x2 >= lo2) & (x2 <= hi2)
    log_p = -np.log(total_width * (hi2 - lo2))
    return np.where(inside, log_p, -np.inf).astype(np.float64, copy=False)


def checkerboard_log_density(X: ArrayLike) -> NDArray[np.float64]:
    """True log-density of :func:`make_checkerboard`.

    The density is ``1/32`` on the 8 closed squares
    ``[2i, 2i + 2] x [2j, 2j + 2]``, ``i, j in {-2, -1, 0, 1}`` with ``i + j``
    even, and 0 elsewhere.

    Parameters
    ----------
    X : array-like of shape (n_points, 2)
        Finite points at which to evaluate the log-density.

    Returns
    -------
    log_density : ndarray of shape (n_points,), dtype float64
        ``log(1/32) ~= -3.466`` on the support and ``-inf`` outside it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lgf.datasets import checkerboard_log_density
    >>> np.round(checkerboard_log_density([[1.0, 1.0], [1.0, -1.0]]), 3)
    array([-3.466,   -inf])
    """
    U = _check_points(X) / _CHECKERBOARD_SCALE
    # A point on a cell edge belongs to both neighbouring cells: floor(u) and
    # ceil(u) - 1 differ only there, so trying both makes the squares closed.
    candidates = (np.floor(U), np.ceil(U) - 1.0)
    inside = np.zeros(U.shape[0], dtype=bool)
    for i in candidates:
        for j in candidates:
            a, b = i[:, 0], j[:, 1]
            ok = (a >= -2) & (a <= 1) & (b >= -2) & (b <= 1)
            inside |= ok & ((a + b) % 2 == 0)
    log_p = -np.log(8 * _CHECKERBOARD_SCALE**2)
    return np.where(inside, log_p, -np.inf).astype(np.float64, copy=False)


def eight_gaussians_log_density(
    X: ArrayLike, *, noise: float = _EIGHT_GAUSSIANS_NOISE
) -> NDArray[np.float64]:
    """True log-density of :func:`make_eight_gaussians`.

    ``log p(x) = log( (1/8) sum_k N(x; c_k, noise^2 I) )`` with the eight
    centres ``c_k`` described in :func:`make_eight_gaussians`, computed with a
    numerically stable log-sum-exp.

    Parameters
    ----------
    X : array-like of shape (n_points, 2)
        Finite points at which to evaluate the log-density.
    noise : float, default=0.5 / 1.414
        Standard deviation of each component; must be ``> 0`` here (the
        ``noise=0`` target has no density).

    Returns
    -------
    log_density : ndarray of shape (n_points,), dtype float64
        The log-density at each point.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lgf.datasets import eight_gaussians_log_density
    >>> centre = [[4 / 1.414, 0.0]]
    >>> np.round(eight_gaussians_log_density(centre, noise=0.1), 3)
    array([0.688])
    """
    X = _check_points(X)
    noise = _check_noise(noise)
    if noise == 0.0:
        raise ValueError("noise must be > 0 for the density to exist, got 0.")
    centres = _eight_gaussians_centres()
    sq_dist = ((X[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1)
    log_kernel = -0.5 * sq_dist / noise**2
    peak = log_kernel.max(axis=1)
    log_mix = peak + np.log(np.exp(log_kernel - peak[:, None]).mean(axis=1))
    return (log_mix - np.log(2.0 * np.pi * noise**2)).astype(np.float64, copy=False)


# ---------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------

TARGETS: dict[str, Callable[..., NDArray[np.float64]]] = {
    "two_uniforms": make_two_uniforms,
    "eight_gaussians": make_eight_gaussians,
    "checkerboard": make_checkerboard,
    "two_spirals": make_two_spirals,
    "rings": make_rings,
}
"""Generators by short name; each is called as ``f(n_samples, random_state=...)``."""

TRUE_LOG_DENSITIES: dict[str, Callable[..., NDArray[np.float64]]] = {
    "two_uniforms": two_uniforms_log_density,
    "eight_gaussians": eight_gaussians_log_density,
    "checkerboard": checkerboard_log_density,
}
"""True log-densities (``f(X) -> (n_points,)``) of the targets with a closed
form, evaluated at the generators' default parameters."""


def make_target(
    name: str, n_samples: int = 1000, *, random_state: RandomStateLike = None
) -> NDArray[np.float64]:
    """Sample a 2-D target by its short name, with its default parameters.

    Parameters
    ----------
    name : str
        One of the keys of :data:`TARGETS`: ``"two_uniforms"``,
        ``"eight_gaussians"``, ``"checkerboard"``, ``"two_spirals"`` or
        ``"rings"``.
    n_samples : int, default=1000
        Number of points to draw; a positive integer.
    random_state : int, RandomState instance or None, default=None
        Seed or ``RandomState`` instance; pass an int for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), dtype float64
        The samples.

    Raises
    ------
    ValueError
        If ``name`` is not a known target; the message lists the valid names.

    Examples
    --------
    >>> from sklearn_lgf.datasets import make_target
    >>> make_target("checkerboard", 10, random_state=0).shape
    (10, 2)
    >>> make_target("moons")
    Traceback (most recent call last):
        ...
    ValueError: Unknown target name 'moons'; valid names are: ...
    """
    try:
        generator = TARGETS[name]
    except (KeyError, TypeError):
        valid = ", ".join(repr(key) for key in TARGETS)
        raise ValueError(
            f"Unknown target name {name!r}; valid names are: {valid}."
        ) from None
    return generator(n_samples, random_state=random_state)
