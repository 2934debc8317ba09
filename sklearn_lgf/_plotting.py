"""Heat maps of fitted 2-D densities (matplotlib is imported only when used)."""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._files import atomic_writer

__all__ = ["grid_density", "plot_densities", "require_matplotlib"]

Bounds = tuple[tuple[float, float], tuple[float, float]]

# An importance-sampling estimate is re-drawn with REFINE_FACTOR times the
# draws where it is both visible (above VISIBLE_SHARE of the colour scale's
# top) and uncertain (a standard error above UNCERTAIN_NATS): there a rare
# large weight can light up a cell of the gap between two modes.
REFINE_FACTOR = 10
VISIBLE_SHARE = 0.05
UNCERTAIN_NATS = 0.1


def require_matplotlib() -> Any:
    """The matplotlib module, or an ImportError that says how to install it."""
    try:
        import matplotlib
        from matplotlib.backends import backend_agg  # noqa: F401
    except ImportError:
        raise ImportError(
            "plotting needs matplotlib, which is not installed: pip install matplotlib"
        ) from None
    return matplotlib


def _default_bounds(X: np.ndarray) -> Bounds:
    low, high = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * np.maximum(high - low, 1e-6)
    return (
        (float(low[0] - pad[0]), float(high[0] + pad[0])),
        (float(low[1] - pad[1]), float(high[1] + pad[1])),
    )


def _log_density(model: Any, grid: np.ndarray, std: bool) -> Any:
    with warnings.catch_warnings():
        # A model fitted on a DataFrame warns about a bare array.
        warnings.filterwarnings("ignore", message=".*feature names.*")
        if std:
            return model.score_samples(grid, return_std=True)
        return model.score_samples(grid)


def grid_density(model: Any, grid: np.ndarray) -> np.ndarray:
    """The density ``exp(score_samples)`` of a fitted model at each grid point.

    A model that estimates its density by importance sampling (it has
    ``n_importance_samples``, e.g. ``LGFDensity``) is scored twice: points
    whose first estimate is visible (above ``VISIBLE_SHARE`` of the 99.5th
    percentile of the estimates) and uncertain (standard error above
    ``UNCERTAIN_NATS`` nats) are estimated again with ``REFINE_FACTOR``
    times the draws. Where the posterior ``q(u | x)`` misses, as in the gap
    between two modes, the estimate is usually too low and now and then, when
    a draw catches a rare large weight, far too high: a bright isolated cell
    that the model's density does not have. More draws shrink that error;
    drawing them only where it shows keeps the plot cheap. ``model`` itself
    is not changed (a shallow copy draws more).
    """
    draws = getattr(model, "n_importance_samples", None)
    if draws is None:
        return np.exp(_log_density(model, grid, std=False))
    log_density, std = _log_density(model, grid, std=True)
    density = np.exp(log_density)
    finite = density[np.isfinite(density)]
    top = float(np.percentile(finite, 99.5)) if finite.size else 0.0
    redo = (density > VISIBLE_SHARE * top) & (std > UNCERTAIN_NATS)
    if redo.any():
        more = copy.copy(model)
        more.n_importance_samples = REFINE_FACTOR * int(draws)
        density[redo] = np.exp(_log_density(more, grid[redo], std=False))
    return density


def plot_densities(
    models: Mapping[str, Any],
    X_samples: ArrayLike,
    path: str | os.PathLike[str],
    bounds: Bounds | Sequence[Sequence[float]] | None = None,
    resolution: int = 200,
    *,
    max_points: int = 2000,
) -> None:
    """Write a PNG with the density of each fitted 2-D model side by side.

    Each panel is a heat map of ``exp(model.score_samples(grid))`` on a
    ``resolution x resolution`` grid (one colour scale shared by all panels,
    so they compare directly), with up to ``max_points`` of ``X_samples``
    overlaid as small dots. An ``LGFDensity`` is scored with more draws
    where its estimate is visible and uncertain (:func:`grid_density`).

    Parameters
    ----------
    models : mapping of str to fitted density estimator
        Panel title -> estimator with ``score_samples`` fitted on 2 features.
    X_samples : array-like of shape (n_samples, 2)
        Samples of the target, drawn on top of every panel.
    path : str or os.PathLike
        Where to write the PNG (atomically: replaced only once complete).
    bounds : ((xmin, xmax), (ymin, ymax)), default=None
        Plotted region; ``None`` takes the range of ``X_samples`` padded by
        10% on each side.
    resolution : int, default=200
        Grid points along each axis. Scoring cost grows with its square
        (``LGFDensity`` scores each point ``n_importance_samples`` times, and
        ten times as often where its estimate is uncertain).
    max_points : int, default=2000
        Most samples overlaid (the first ones).

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    ValueError
        If there is no model, a model or ``X_samples`` is not 2-D, or
        ``resolution`` is below 2.
    """
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not models:
        raise ValueError("plot_densities needs at least one model")
    X = np.asarray(X_samples, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2 or len(X) == 0:
        raise ValueError(f"X_samples must have shape (n_samples, 2), got {X.shape}")
    for name, model in models.items():
        if getattr(model, "n_features_in_", 2) != 2:
            raise ValueError(f"model {name!r} is not a 2-D density")
    if int(resolution) < 2:
        raise ValueError(f"resolution must be at least 2, got {resolution}")
    resolution = int(resolution)
    (x_low, x_high), (y_low, y_high) = _default_bounds(X) if bounds is None else bounds
    xs = np.linspace(x_low, x_high, resolution)
    ys = np.linspace(y_low, y_high, resolution)
    grid = np.column_stack([g.ravel() for g in np.meshgrid(xs, ys)])

    densities = {
        name: grid_density(model, grid).reshape(resolution, resolution)
        for name, model in models.items()
    }
    finite = np.concatenate([d[np.isfinite(d)] for d in densities.values()])
    top = float(np.percentile(finite, 99.5)) if finite.size else 1.0
    top = top if top > 0 else 1.0

    n = len(models)
    figure = Figure(figsize=(4.6 * n + 0.8, 4.4), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, n, squeeze=False)[0]
    shown = X[:max_points]
    image = None
    for ax, (name, density) in zip(axes, densities.items(), strict=True):
        image = ax.imshow(
            density,
            origin="lower",
            extent=(x_low, x_high, y_low, y_high),
            aspect="auto",
            cmap="viridis",
            vmin=0.0,
            vmax=top,
            interpolation="nearest",
        )
        ax.scatter(shown[:, 0], shown[:, 1], s=1.5, c="white", alpha=0.5, lw=0)
        ax.set_xlim(x_low, x_high)
        ax.set_ylim(y_low, y_high)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("$x_1$")
    axes[0].set_ylabel("$x_2$")
    figure.colorbar(image, ax=list(axes), label="density", shrink=0.9)
    with atomic_writer(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=110)
