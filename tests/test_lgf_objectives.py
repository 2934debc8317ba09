"""LGF training and its checks beyond the plain ELBO: the path
(sticking-the-landing) gradient, per-row validation draws, and the collapse
diagnostics."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from sklearn_lgf import LGFDensity
from sklearn_lgf.nn import (
    IndexedAffine,
    LGFLayer,
    MonteCarlo,
    build_lgf,
    collapse_diagnostics,
)


def small_lgf(seed: int = 0, features: int = 2, layers: int = 2):
    torch.manual_seed(seed)
    return build_lgf(
        features,
        layers,
        (8, 8),
        u_dim=1,
        pq_hidden_layer_sizes=(8,),
        st_hidden_layer_sizes=(8,),
    ).double()


def independent_draws(model, x, n_draws, seed, max_row_samples=None):
    """The validation estimate with ``n_draws`` draws per row from ``seed``."""
    model.monte_carlo = MonteCarlo(validation_samples=n_draws, seed=seed - 1)
    return model.validation_log_prob(x, max_row_samples=max_row_samples)


def flat_gradient(model, loss):
    grads = torch.autograd.grad(loss, list(model.parameters()), allow_unused=True)
    return torch.cat(
        [
            (g if g is not None else torch.zeros_like(p)).reshape(-1)
            for g, p in zip(grads, model.parameters(), strict=True)
        ]
    )


def test_path_gradient_keeps_the_value():
    model = small_lgf()
    x = torch.randn(64, 2, dtype=torch.float64)
    noise = torch.randn(64, model.n_indexed, 1, dtype=torch.float64)
    torch.testing.assert_close(
        model.log_weights(x, noise, path_gradient=True), model.log_weights(x, noise)
    )


def test_path_gradient_is_unbiased_and_differs_per_draw():
    """The dropped score term has zero mean: averaged over many draws both
    gradients agree (a z-test over independent batches), while single-draw
    gradients differ, so the option really changes the estimator."""
    model = small_lgf(seed=1)
    x = torch.randn(4, 2, dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    differences = []
    for _ in range(25):
        rows = x.repeat(1000, 1)
        noise = torch.randn(
            rows.shape[0], model.n_indexed, 1, generator=generator, dtype=torch.float64
        )
        plain = flat_gradient(model, -model.log_weights(rows, noise).mean())
        path = flat_gradient(
            model, -model.log_weights(rows, noise, path_gradient=True).mean()
        )
        differences.append(path - plain)
    d = torch.stack(differences)
    mean, standard_error = d.mean(0), d.std(0) / math.sqrt(len(d))
    informative = standard_error > 1e-12
    assert informative.sum() > 10
    z = mean[informative].abs() / standard_error[informative]
    assert z.max() < 5.0, z.max()
    assert d.abs().max() > 1e-3  # the estimators are not the same per draw


def collapse(model):
    """s = 1, t = 0 and p = q = N(0, I) whatever their inputs: u is invisible."""
    with torch.no_grad():
        for layer in model.layers:
            if isinstance(layer, LGFLayer):
                assert isinstance(layer.bijection, IndexedAffine)
                layer.bijection.scale_shift[-1].weight.zero_()
                layer.bijection.scale_shift[-1].bias.zero_()
                for net in (layer.prior.net, layer.posterior.net):
                    net[-1].weight.zero_()
                    net[-1].bias.zero_()
    return model


@pytest.mark.parametrize("budget", [3, 16, 10_000])
def test_independent_draws_are_deterministic_and_exact_when_u_is_unused(budget):
    model = small_lgf(seed=3)
    x = torch.randn(40, 2, dtype=torch.float64)
    first = independent_draws(model, x, 7, seed=11, max_row_samples=budget)
    again = independent_draws(model, x, 7, seed=11, max_row_samples=budget)
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    other_seed = independent_draws(model, x, 7, seed=12)
    assert not torch.equal(first, other_seed)
    # Every weight of a collapsed model is the base flow's log-density, so
    # the estimate is exact whatever the draws and the slicing.
    collapse(model)
    exact = model.log_prob(x, torch.zeros(1, model.n_indexed, 1, dtype=x.dtype))
    estimate = independent_draws(model, x, 7, seed=11, max_row_samples=budget)
    torch.testing.assert_close(estimate, exact, rtol=0, atol=1e-10)


def test_independent_draws_give_a_steadier_mean_than_a_shared_bank():
    """The reason validation and scoring use them: one shared bank moves every
    row's estimate together, so the mean over a set keeps the error of K
    draws; draws independent across rows (the validation's, and the scores'
    draws keyed by each row's values) average it away over the rows."""
    model = small_lgf(seed=4)
    with torch.no_grad():  # a posterior far from the truth: noisy estimates
        for layer in model.layers:
            if isinstance(layer, LGFLayer):
                layer.posterior.net[-1].bias.add_(1.5)
    x = torch.randn(500, 2, dtype=torch.float64)
    shared, independent, keyed = [], [], []
    for seed in range(20):
        bank = torch.randn(
            5,
            model.n_indexed,
            1,
            generator=torch.Generator().manual_seed(seed),
            dtype=torch.float64,
        )
        with torch.no_grad():
            shared.append(float(model.log_prob(x, bank).mean()))
        independent.append(float(independent_draws(model, x, 5, seed=seed).mean()))
        model.monte_carlo = MonteCarlo(seed=seed)
        with torch.no_grad():
            keyed.append(float(model.log_prob(x, n_importance_samples=5).mean()))
    assert torch.tensor(independent).std() < 0.5 * torch.tensor(shared).std()
    assert torch.tensor(keyed).std() < 0.5 * torch.tensor(shared).std()


def test_collapse_diagnostics_see_a_collapsed_model():
    """u invisible: every spread is zero and the ELBO equals the
    importance-sampling estimate."""
    model = collapse(small_lgf(seed=5))
    x = torch.randn(100, 2, dtype=torch.float64)
    report = collapse_diagnostics(model, x, 8, torch.Generator().manual_seed(0))
    assert len(report.layers) == model.n_indexed
    for layer in report.layers:
        assert layer.shift_spread == pytest.approx(0.0, abs=1e-12)
        assert layer.log_scale_spread == pytest.approx(0.0, abs=1e-12)
        assert layer.posterior_mean_spread == pytest.approx(0.0, abs=1e-12)
        assert layer.posterior_std == pytest.approx(1.0)
    assert report.elbo_gap == pytest.approx(0.0, abs=1e-10)
    assert "| 1 |" in report.table()


def test_collapse_diagnostics_see_a_model_that_uses_u():
    model = small_lgf(seed=6)
    x = torch.randn(100, 2, dtype=torch.float64)
    report = collapse_diagnostics(model, x, 8, torch.Generator().manual_seed(0))
    assert all(layer.shift_spread > 1e-3 for layer in report.layers)
    assert all(layer.posterior_mean_spread > 1e-3 for layer in report.layers)
    assert report.elbo_gap > 0


def test_estimator_reports_collapse_diagnostics(tiny_budget):
    import numpy as np

    from sklearn_lgf import LGFDensity

    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(-3, 0.5, (150, 2)), rng.normal(3, 0.5, (150, 2))])
    lgf = LGFDensity(
        n_layers=2, hidden_layer_sizes=(8,), max_iter=2, random_state=0
    ).fit(X)
    report = lgf.collapse_diagnostics(X[:50], n_draws=8)
    again = lgf.collapse_diagnostics(X[:50], n_draws=8)
    assert len(report.layers) == 2
    assert report.n_draws == 8
    assert report == again  # seeded by random_state=0
    assert report.elbo <= report.importance
    with pytest.raises(ValueError, match="n_draws"):
        lgf.collapse_diagnostics(X, n_draws=0)
    with pytest.raises(ValueError, match="features"):
        lgf.collapse_diagnostics(X[:, :1])


def test_the_standard_error_matches_the_spread_over_draws():
    """Where the weights have a finite variance (a posterior wider than the
    true one), the delta-method error of one bank predicts how much the
    estimate moves from bank to bank; its first column is log_prob itself."""
    model = small_lgf(seed=5)
    with torch.no_grad():
        for layer in model.layers:
            if isinstance(layer, LGFLayer):
                bias = layer.posterior.net[-1].bias
                bias[bias.shape[0] // 2 :] += 1.0  # the log-std half
        x = model.sample(8, torch.Generator().manual_seed(0))
        estimates, errors = [], []
        for seed in range(150):
            bank = torch.randn(
                400,
                model.n_indexed,
                1,
                generator=torch.Generator().manual_seed(seed),
                dtype=torch.float64,
            )
            both = model.log_prob_and_std(x, bank, max_row_samples=300)
            same = model.log_prob(x, bank, max_row_samples=300)
            assert torch.equal(both[:, 0], same)
            estimates.append(both[:, 0])
            errors.append(both[:, 1])
    ratio = torch.stack(errors).mean(0) / torch.stack(estimates).std(0)
    assert 0.8 < float(ratio.median()) < 1.25, ratio
    # Optimistic, never wildly off, for these heavier-tailed rows.
    assert (ratio > 0.4).all() and (ratio < 1.5).all(), ratio


def test_the_standard_error_is_zero_where_the_estimate_is_exact():
    model = collapse(small_lgf(seed=6))
    x = torch.randn(5, 2, dtype=torch.float64)
    noise = torch.randn(30, model.n_indexed, 1, dtype=torch.float64)
    with torch.no_grad():
        error = model.log_prob_and_std(x, noise)[:, 1]
    torch.testing.assert_close(error, torch.zeros(5, dtype=x.dtype), atol=1e-6, rtol=0)


@pytest.mark.parametrize("path_gradient", [False, True])
def test_iwae_loss_is_the_importance_weighted_bound(path_gradient):
    """Minus the batch mean of ``logsumexp_k log w_k - log K`` over each
    row's draws (laid out draw by draw), below the ELBO loss on the same
    draws (Jensen), and the ELBO loss itself for one draw."""
    model = small_lgf(seed=2)
    x = torch.randn(32, 2, dtype=torch.float64)
    draws = 5

    def loss(objective, k):
        model.monte_carlo = MonteCarlo(
            training_draws=k, training_objective=objective, path_gradient=path_gradient
        )
        return model.training_loss(x, torch.Generator().manual_seed(7))

    noise = torch.randn(
        32 * draws,
        model.n_indexed,
        1,
        generator=torch.Generator().manual_seed(7),
        dtype=torch.float64,
    )
    log_w = model.log_weights(x, noise, draws=draws, row_major=False).view(draws, 32)
    expected = -(log_w.logsumexp(0) - math.log(draws)).mean()
    torch.testing.assert_close(loss("iwae", draws), expected)
    torch.testing.assert_close(loss("elbo", draws), -log_w.mean())
    assert loss("iwae", draws) < loss("elbo", draws)
    torch.testing.assert_close(loss("iwae", 1), loss("elbo", 1))


def test_the_estimator_takes_the_path_gradient_with_the_elbo_only():
    X = torch.randn(60, 2, generator=torch.Generator().manual_seed(0)).numpy()
    chosen = {}
    for objective in ("elbo", "iwae"):
        estimator = LGFDensity(
            n_layers=1, hidden_layer_sizes=(4,), objective=objective, max_iter=1
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            chosen[objective] = estimator.fit(X).model_.monte_carlo
    assert chosen["elbo"].path_gradient and chosen["elbo"].training_objective == "elbo"
    assert not chosen["iwae"].path_gradient
    assert chosen["iwae"].training_objective == "iwae"
