"""Importance sampling that stops drawing per row once precise enough
(``importance_tol`` of the scoring calls, ``LGFDensity(importance_tol=...)``):
the documented rule, checked against the fixed-``K`` estimates it is made of."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sklearn_lgf import LGFDensity
from sklearn_lgf.nn import build_lgf, evaluation
from sklearn_lgf.nn.evaluation import ADAPTIVE_BLOCKS, MIN_ADAPTIVE_BLOCKS

K = 60
BLOCK = math.ceil(K / ADAPTIVE_BLOCKS)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    lgf = build_lgf(
        2, 2, (8, 8), u_dim=2, pq_hidden_layer_sizes=(8,), st_hidden_layer_sizes=(8,)
    )
    with torch.no_grad():  # a posterior far from exact, so that errors vary
        for p in lgf.parameters():
            p.add_(0.5 * torch.randn_like(p))
    return lgf.double().eval()


def rows(n: int, seed: int = 1) -> torch.Tensor:
    return (
        2.0 * torch.randn(n, 2, generator=torch.Generator().manual_seed(seed)).double()
    )


def adaptive(model, x, tolerance):
    return evaluation.log_prob_and_std(
        model, x, n_importance_samples=K, importance_tol=tolerance
    )


def prefix_estimates(model, x):
    """Estimate and error of every row from its first ``m`` blocks of draws,
    ``m = 1..ADAPTIVE_BLOCKS``: two ``(n, blocks)`` arrays."""
    draws = model.importance_draws(x, 0, K)
    with torch.no_grad():
        parts = [
            model.log_prob_and_std(x, draws[:, : m * BLOCK])
            for m in range(1, ADAPTIVE_BLOCKS + 1)
        ]
    return torch.stack([p[:, 0] for p in parts], 1), torch.stack(
        [p[:, 1] for p in parts], 1
    )


def test_a_zero_tolerance_uses_every_draw(model):
    x = rows(50)
    fixed = evaluation.log_prob_and_std(model, x, n_importance_samples=K)
    torch.testing.assert_close(adaptive(model, x, 0.0), fixed, rtol=1e-12, atol=1e-12)


def test_an_infinite_tolerance_stops_every_row_after_the_minimum(model):
    x = rows(50)
    estimate, std = prefix_estimates(model, x)
    got = adaptive(model, x, math.inf)
    torch.testing.assert_close(got[:, 0], estimate[:, MIN_ADAPTIVE_BLOCKS - 1])
    torch.testing.assert_close(got[:, 1], std[:, MIN_ADAPTIVE_BLOCKS - 1])


def test_each_row_stops_at_the_first_block_within_the_tolerance(model):
    x = rows(300)
    estimate, std = prefix_estimates(model, x)
    tolerance = float(std[:, -1].median())
    within = std <= tolerance
    within[:, : MIN_ADAPTIVE_BLOCKS - 1] = False
    within[:, -1] = True  # the whole bank when no block is precise enough
    stop = within.int().argmax(1)
    # Rows whose error sits on the tolerance (to rounding) could go either way.
    clear = ((std - tolerance).abs() > 1e-9 * tolerance).all(1)
    assert clear.sum() > 250
    assert 0 < (stop < ADAPTIVE_BLOCKS - 1).sum() < len(x)  # both kinds occur
    got = adaptive(model, x, tolerance)
    index = torch.arange(len(x))
    torch.testing.assert_close(got[clear, 0], estimate[index, stop][clear])
    torch.testing.assert_close(got[clear, 1], std[index, stop][clear])
    assert (got[clear, 1][stop[clear] < ADAPTIVE_BLOCKS - 1] <= tolerance).all()


def test_a_rows_adaptive_estimate_does_not_depend_on_the_other_rows(model):
    x = rows(40)
    tolerance = float(adaptive(model, x, None)[:, 1].median())
    whole = adaptive(model, x, tolerance)
    alone = torch.cat([adaptive(model, x[i : i + 1], tolerance) for i in range(40)])
    assert torch.equal(whole, alone)
    assert torch.equal(adaptive(model, x.flip(0), tolerance), whole.flip(0))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimator_importance_tol():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(-2, 0.5, (150, 2)), rng.normal(2, 0.5, (150, 2))])
    est = LGFDensity(
        n_layers=2,
        hidden_layer_sizes=(8,),
        u_dim=2,
        pq_hidden_layer_sizes=(8,),
        st_hidden_layer_sizes=(8,),
        n_importance_samples=K,
        max_iter=3,
        device="cpu",
        random_state=0,
    ).fit(X)
    full, full_std = est.score_samples(X, return_std=True)
    tolerance = float(np.median(full_std))
    est.set_params(importance_tol=tolerance)
    quick, quick_std = est.score_samples(X, return_std=True)
    np.testing.assert_array_equal(est.score_samples(X), quick)
    assert est.score(X) == pytest.approx(quick.mean())
    stopped = quick_std <= tolerance
    assert 0 < stopped.sum() < len(X)
    # Rows that ran through the whole bank got the fixed-K estimate.
    np.testing.assert_allclose(quick[~stopped], full[~stopped], rtol=1e-6)
    est.set_params(importance_tol=0.0)
    np.testing.assert_allclose(est.score_samples(X), full, rtol=1e-6)
    with pytest.raises(ValueError, match="importance_tol"):
        est.set_params(importance_tol=-1.0).score_samples(X)


def test_scoring_takes_every_draw_unless_given_a_tolerance(model):
    x = rows(20)
    every = evaluation.log_prob_and_std(model, x, n_importance_samples=K)
    draws = model.importance_draws(x, 0, K)
    with torch.no_grad():
        torch.testing.assert_close(every, model.log_prob_and_std(x, draws))
