"""LGF: the estimate against numerical integration, the bound, the reduction
to the base flow, the density and memory-bounded scoring. The contract shared
with MAFDensity (a row's score independent of the others, ...) is in
test_estimator_contract.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from sklearn_lgf import LGFDensity
from sklearn_lgf.nn import (
    Compose,
    Flow,
    LGFLayer,
    MonteCarlo,
    Reverse,
    build_lgf,
    chunks,
    evaluation,
    standard_normal_log_prob,
)

# The p/q and s/t nets these tests were written with (the engine's defaults
# until they became LGFDensity's).
OLD_DEFAULT_NETS = {
    "pq_hidden_layer_sizes": (50, 50, 50, 50),
    "st_hidden_layer_sizes": (10, 10),
}

# The estimators here stop at a few epochs on purpose.
pytestmark = pytest.mark.usefixtures("tiny_budget")


def bimodal(n, d, seed=0):
    rng = np.random.RandomState(seed)
    centres = np.where(rng.rand(n, 1) < 0.5, -2.0, 2.0)
    return centres + 0.4 * rng.randn(n, d)


def log_joint(layer: LGFLayer, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """``log p(x, u)`` of a one-layer LGF, written out from the generative model."""
    z, log_det = layer.bijection(x, u)
    return standard_normal_log_prob(z) + log_det + layer.prior.log_prob(u, z)


def quadrature_log_prob(layer: LGFLayer, x: torch.Tensor) -> torch.Tensor:
    """``log of the integral of p(x, u) du`` on a fine grid, for u of dimension 1."""
    grid = torch.linspace(-12, 12, 24001, dtype=torch.float64)
    out = []
    for row in x:
        values = log_joint(layer, row.expand(len(grid), -1), grid[:, None])
        # Trapezoid rule in log space.
        step = math.log(grid[1] - grid[0])
        ends = torch.logaddexp(values[0], values[-1]) - math.log(2)
        inner = torch.logsumexp(values[1:-1], 0)
        out.append(torch.logaddexp(inner, ends) + step)
    return torch.stack(out)


@pytest.fixture(scope="module", params=[1, 2], ids=["d1", "d2"])
def one_layer(request):
    """A trained one-layer LGF-MAF with u of dimension 1, in float64."""
    d = request.param
    est = LGFDensity(
        n_layers=1,
        hidden_layer_sizes=(16, 16),
        u_dim=1,
        pq_hidden_layer_sizes=(16,),
        st_hidden_layer_sizes=(8,),
        max_iter=30,
        random_state=0,
        device="cpu",
    ).fit(bimodal(500, d))
    model = est.model_.double()
    x = torch.as_tensor(est._standardisation().values(bimodal(4, d, seed=1)))
    return model, x


def test_importance_estimate_converges_to_quadrature_and_elbo_stays_below(one_layer):
    model, x = one_layer
    (layer,) = [m for m in model.layers if isinstance(m, LGFLayer)]
    with torch.no_grad():
        exact = quadrature_log_prob(layer, x)
        gen = torch.Generator().manual_seed(0)
        errors = []
        for k in (1, 10, 100, 10000):
            noise = torch.randn(k, 1, 1, generator=gen, dtype=torch.float64)
            errors.append((model.log_prob(x, noise) - exact).abs().max().item())
        noise = torch.randn(20000, 1, 1, generator=gen, dtype=torch.float64)
        elbo = model.elbo(x, noise)
    assert errors[-1] < 0.01, errors
    assert errors[-1] < errors[0], errors
    # The ELBO is below log p(x) by the KL divergence from q to the posterior,
    # which is clearly positive for an approximate posterior.
    assert (elbo < exact - 1e-4).all(), (elbo, exact)


def test_ignoring_u_gives_the_base_flow_exactly():
    """With s = 1 and t = 0 (the s/t network's last layer set to zero) and
    p = q independent of their inputs, every importance weight equals the
    base flow's density, whatever u is."""
    torch.manual_seed(0)
    model = build_lgf(3, 3, (16, 16), u_dim=2, **OLD_DEFAULT_NETS).double()
    with torch.no_grad():
        for layer in model.layers:
            if isinstance(layer, LGFLayer):
                for p in layer.bijection.base.parameters():
                    p.add_(0.3 * torch.randn_like(p))
                layer.bijection.scale_shift[-1].weight.zero_()
                layer.bijection.scale_shift[-1].bias.zero_()
                for net in (layer.prior.net, layer.posterior.net):
                    net[-1].weight.zero_()
                    net[-1].bias.copy_(torch.tensor([0.3, -0.2, 0.1, -0.4]))
    steps = [
        layer.bijection.base if isinstance(layer, LGFLayer) else layer
        for layer in model.layers
    ]
    assert any(isinstance(step, Reverse) for step in steps)
    base_flow = Flow(Compose(steps), 3)
    x = torch.randn(20, 3, dtype=torch.float64)
    noise = torch.randn(7, model.n_indexed, 2, dtype=torch.float64)
    with torch.no_grad():
        expected = base_flow.log_prob(x)
        weights = model.tiled_log_weights(x, noise)
        torch.testing.assert_close(weights, expected[:, None].expand(-1, 7))
        torch.testing.assert_close(model.log_prob(x, noise), expected)


def test_u_changes_the_bijection():
    """The index is really fed into the bijection: different u, different z."""
    torch.manual_seed(0)
    model = build_lgf(2, 1, (8,), u_dim=1, **OLD_DEFAULT_NETS).double()
    layer = model.layers[0]
    with torch.no_grad():
        for p in layer.bijection.scale_shift.parameters():
            p.add_(torch.randn_like(p))
        x = torch.randn(1, 2, dtype=torch.float64)
        z1 = layer.bijection(x, torch.zeros(1, 1, dtype=torch.float64))[0]
        z2 = layer.bijection(x, torch.ones(1, 1, dtype=torch.float64))[0]
    assert not torch.allclose(z1, z2)


@pytest.mark.parametrize("indexing", ["affine", "conditioner"])
@pytest.mark.parametrize("row_major", [True, False])
def test_shared_work_between_draws_is_exact(indexing, row_major):
    """Running the u-independent work once per row changes neither log w nor
    its gradient (float64)."""
    torch.manual_seed(0)
    model = build_lgf(
        3, 3, (8,), u_dim=2, indexing=indexing, batch_norm=True, **OLD_DEFAULT_NETS
    ).double()
    model.train()
    x = torch.randn(4, 3, dtype=torch.float64)
    draws = 3
    noise = torch.randn(4 * draws, model.n_indexed, 2, dtype=torch.float64)
    rows = x.repeat_interleave(draws, 0) if row_major else x.repeat(draws, 1)

    def one_by_one() -> torch.Tensor:
        """log w with every row repeated, every layer on every copy."""
        z, total, index = rows, rows.new_zeros(rows.shape[0]), 0
        for layer in model.layers:
            if isinstance(layer, LGFLayer):
                z, log_det, prior, posterior = layer(z, noise[:, index], True)
                total = total + log_det + prior - posterior
                index += 1
            else:
                z, log_det = layer(z)
                total = total + log_det
        return total + standard_normal_log_prob(z)

    def gradient(value: torch.Tensor) -> torch.Tensor:
        grads = torch.autograd.grad(value.sum(), list(model.parameters()))
        return torch.cat([g.flatten() for g in grads])

    expected = one_by_one()
    shared = model.log_weights(
        x, noise, path_gradient=True, draws=draws, row_major=row_major
    )
    torch.testing.assert_close(shared, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(
        gradient(shared), gradient(expected), rtol=1e-10, atol=1e-12
    )
    with pytest.raises(ValueError, match="draws each need 12"):
        model.log_weights(x, noise[:-1], draws=draws)


@pytest.mark.parametrize("estimate", ["importance", "elbo"])
def test_slicing_draws_and_rows_is_exact(estimate):
    """However the rows x draws are split to bound memory, the result is the same."""
    torch.manual_seed(0)
    model = build_lgf(2, 2, (8,), u_dim=2, **OLD_DEFAULT_NETS).double()
    method = model.log_prob if estimate == "importance" else model.elbo
    x = torch.randn(5, 2, dtype=torch.float64)
    noise = torch.randn(50, 2, 2, dtype=torch.float64)
    with torch.no_grad():
        whole = method(x, noise, max_row_samples=10**6)
        for budget in (3, 49, 50, 120):
            sliced = method(x, noise, max_row_samples=budget)
            torch.testing.assert_close(sliced, whole, rtol=1e-12, atol=1e-12)
        for rows in (1, 2, 3):
            chunked = chunks.map_fixed_chunks(lambda r: method(r, noise), x, rows)
            torch.testing.assert_close(chunked, whole, rtol=1e-12, atol=1e-12)


def test_memory_is_bounded_by_the_row_sample_budget(monkeypatch):
    """No call into the model ever sees more than the budget of rows x draws."""
    torch.manual_seed(0)
    model = build_lgf(2, 1, (8,), u_dim=1, **OLD_DEFAULT_NETS)
    seen = []
    original = model.log_weights

    def spy(x, noise, *args, **kwargs):
        seen.append(noise.shape[0])  # one row-sample per draw of u
        return original(x, noise, *args, **kwargs)

    monkeypatch.setattr(model, "log_weights", spy)
    monkeypatch.setitem(chunks.ROW_SAMPLE_BUDGET, "cpu", 512)
    for n, k in ((1, 5000), (20, 1000), (5, 3), (700, 1)):
        model.monte_carlo = MonteCarlo(validation_samples=k)
        x = torch.randn(n, 2)
        evaluation.log_prob(model, x, n_importance_samples=k)
        evaluation.elbo(model, x, n_importance_samples=k)
        evaluation.validation_log_prob(model, x)
    assert seen and max(seen) <= 512


def test_cpu_scoring_chunks_shrink_with_the_networks(monkeypatch):
    """Wide networks get smaller CPU scoring chunks, within the budgets."""
    cpu = torch.device("cpu")
    small = build_lgf(2, 2, (8,), u_dim=1, pq_hidden_layer_sizes=(8,))
    wide = build_lgf(43, 5, (512, 512), univariate="affine", u_dim=10)
    budget = chunks.ROW_SAMPLE_BUDGET["cpu"]
    assert small.row_sample_budget(cpu) == budget
    chunk = wide.row_sample_budget(cpu)
    assert chunks.MIN_CPU_ROW_SAMPLES <= chunk < budget
    units = sum(m.out_features for m in wide.modules() if isinstance(m, nn.Linear))
    units //= wide.n_indexed
    assert chunk * units <= chunks.CPU_ACTIVATION_BUDGET < 2 * chunk * units
    assert wide.scoring_layout(cpu, 100)[0] == chunk // 100
    monkeypatch.setitem(chunks.ROW_SAMPLE_BUDGET, "cpu", 512)
    assert wide.row_sample_budget(cpu) == 512


@pytest.fixture(scope="module")
def fitted_lgf():
    X = bimodal(1000, 2)
    est = LGFDensity(
        n_layers=3,
        hidden_layer_sizes=(32, 32),
        u_dim=1,
        pq_hidden_layer_sizes=(32,),
        st_hidden_layer_sizes=(8,),
        n_importance_samples=50,
        max_iter=30,
        random_state=0,
        device="cpu",
    ).fit(X)
    return est, X


def test_estimated_density_integrates_to_one(fitted_lgf):
    est, X = fitted_lgf
    resolution = 120
    low, high = X.min(0) - 3 * X.std(0), X.max(0) + 3 * X.std(0)
    axes = [np.linspace(lo, hi, resolution) for lo, hi in zip(low, high, strict=True)]
    mesh = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 2)
    density = np.exp(est.score_samples(mesh)).reshape(resolution, resolution)
    total = np.trapezoid(np.trapezoid(density, axes[1], axis=1), axes[0])
    assert total == pytest.approx(1.0, abs=0.03)


def test_elbo_is_below_the_estimate_and_both_learn(fitted_lgf):
    est, X = fitted_lgf
    elbo, estimate = est.elbo(X[:200]), est.score_samples(X[:200])
    assert elbo.dtype == np.float64 and elbo.shape == (200,)
    assert (elbo <= estimate + 1e-6).all()
    assert est.loss_curve_[-1] < est.loss_curve_[0] - 0.3


def test_the_number_of_importance_samples_is_used(fitted_lgf):
    """K is read at scoring time; with K = 1 the estimate is a one-draw ELBO."""
    est, X = fitted_lgf
    rows = X[:50]
    try:
        est.set_params(n_importance_samples=1)
        np.testing.assert_array_equal(est.score_samples(rows), est.elbo(rows))
        est.set_params(n_importance_samples=20)
        assert (est.score_samples(rows) > est.elbo(rows)).all()
    finally:
        est.set_params(n_importance_samples=50)


def test_sampling_follows_the_generative_process(fitted_lgf):
    est, X = fitted_lgf
    draws = est.sample(3000, random_state=0)
    assert draws.shape == (3000, 2) and draws.dtype == np.float64
    np.testing.assert_array_equal(draws, est.sample(3000, random_state=0))
    # Two modes at -2 and 2 along each axis: the sample's spread and balance match.
    np.testing.assert_allclose(draws.mean(0), X.mean(0), atol=0.25)
    np.testing.assert_allclose(draws.std(0), X.std(0), rtol=0.1)
    assert abs(np.mean(draws[:, 0] > 0) - np.mean(X[:, 0] > 0)) < 0.05


@pytest.mark.parametrize(
    "params",
    [
        {"conditioner": "coupling"},
        {"indexing": "conditioner"},
        {"conditioner": "coupling", "indexing": "conditioner"},
        {"batch_norm": True},
        {"n_elbo_samples": 3},
        {"n_elbo_samples": 3, "objective": "iwae"},
    ],
)
def test_variants_fit_and_score(params):
    X = bimodal(200, 3)
    est = LGFDensity(
        n_layers=2,
        hidden_layer_sizes=(16,),
        pq_hidden_layer_sizes=(8,),
        n_importance_samples=8,
        max_iter=3,
        random_state=0,
        **params,
    ).fit(X)
    scores = est.score_samples(X)
    assert np.isfinite(scores).all()
    assert (est.elbo(X) <= scores + 1e-6).all()
    assert est.loss_curve_[-1] < est.loss_curve_[0]


def test_score_samples_with_its_standard_error(fitted_lgf):
    est, X = fitted_lgf
    rows = X[:300]
    values, std = est.score_samples(rows, return_std=True)
    np.testing.assert_array_equal(values, est.score_samples(rows))
    assert std.shape == (300,) and std.dtype == np.float64 and (std >= 0).all()
    # Four times the draws: about half the error (1 / sqrt(K)).
    k = est.n_importance_samples
    try:
        _, std_more = est.set_params(n_importance_samples=4 * k).score_samples(
            rows, return_std=True
        )
    finally:
        est.set_params(n_importance_samples=k)
    assert 0.35 < np.median(std_more / std) < 0.7
