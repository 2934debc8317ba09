"""The density grids of the plots: importance-sampling estimates without spikes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sklearn_lgf._plotting import REFINE_FACTOR, UNCERTAIN_NATS, grid_density
from sklearn_lgf.datasets import make_two_uniforms
from sklearn_lgf.presets import paper_pair, paper_training


class _SpikyEstimate:
    """An importance-sampling model in miniature: with the default draws,
    every third point's estimate is uncertain and, at point 0, far too high;
    with ten times the draws every estimate is the truth, log(0.2)."""

    def __init__(self) -> None:
        self.n_importance_samples = 100

    def score_samples(self, X, return_std=False):
        n = len(X)
        truth = np.full(n, np.log(0.2))
        if self.n_importance_samples == REFINE_FACTOR * 100:
            assert not return_std
            return truth
        uncertain = X[:, 0] % 3 == 0
        log_density = np.where(X[:, 0] == 0, np.log(5.0), truth - 0.01 * uncertain)
        std = np.where(uncertain, 2 * UNCERTAIN_NATS, 0.5 * UNCERTAIN_NATS)
        return (log_density, std) if return_std else log_density


def test_uncertain_visible_points_are_estimated_again_with_more_draws():
    model = _SpikyEstimate()
    # Enough points that the one spike does not set the colour scale's top.
    X = np.column_stack([np.arange(600.0), np.zeros(600)])
    density = grid_density(model, X)
    uncertain = X[:, 0] % 3 == 0
    np.testing.assert_allclose(density[uncertain], 0.2)
    np.testing.assert_allclose(density[~uncertain], 0.2)
    assert model.n_importance_samples == 100


def test_exact_densities_are_scored_once():
    class Exact:
        def score_samples(self, X):
            return -np.sum(X**2, axis=1)

    X = np.array([[0.0, 0.0], [1.0, 2.0]])
    np.testing.assert_allclose(grid_density(Exact(), X), np.exp([0.0, -5.0]))


@pytest.fixture(scope="module")
def two_uniforms_lgf():
    """The demo's LGF-MAF, trained briefly on the paper's two uniforms."""
    lgf = paper_pair(
        "figure1",
        **paper_training(),
        max_iter=80,
        n_iter_no_change=80,
        n_elbo_samples=4,
        random_state=0,
    )["LGF-MAF"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return lgf.fit(make_two_uniforms(5000, random_state=0))


def test_gap_of_the_two_uniforms_stays_dark(two_uniforms_lgf):
    # The demo's plotting grid over the rectangles [-2, -1] x [-1, 1] and
    # [0, 1] x [-1, 1] (density 1/4). Cells of the gap within 0.05 of a
    # rectangle are left out: there the model itself blurs the edge. With
    # the model's 100 draws everywhere, 2 % of the gap's cells light up.
    xs = np.linspace(-2.3, 1.3, 100)
    ys = np.linspace(-1.2, 1.2, 80)
    grid = np.column_stack([g.ravel() for g in np.meshgrid(xs, ys)])
    gap = (grid[:, 0] > -0.95) & (grid[:, 0] < -0.05) & (np.abs(grid[:, 1]) < 1)
    density = grid_density(two_uniforms_lgf, grid)
    assert np.mean(density[gap] > 0.05) < 0.005
    support = (np.abs(grid[:, 1]) < 0.9) & (
        ((grid[:, 0] > -1.9) & (grid[:, 0] < -1.1))
        | ((grid[:, 0] > 0.1) & (grid[:, 0] < 0.9))
    )
    assert np.median(density[support]) > 0.15
