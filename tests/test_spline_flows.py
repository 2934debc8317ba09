"""Spline flows as estimators: NSF (``MAFDensity(univariate="spline")``) and
LGF-NSF (``LGFDensity(univariate="spline")``) are densities and learn."""

from __future__ import annotations

import numpy as np
import pytest

from sklearn_lgf import LGFDensity, MAFDensity
from sklearn_lgf.datasets import make_two_uniforms, two_uniforms_log_density

# The fits stop at a few epochs on purpose.
pytestmark = pytest.mark.usefixtures("tiny_budget")

SETTINGS = dict(n_layers=3, hidden_layer_sizes=(32, 32), random_state=0, device="cpu")
LGF_SETTINGS = dict(
    u_dim=1,
    pq_hidden_layer_sizes=(32,),
    st_hidden_layer_sizes=(8,),
    n_importance_samples=50,
)


def grid_integral(estimator, low, high, resolution=200):
    axes = [np.linspace(lo, hi, resolution) for lo, hi in zip(low, high, strict=True)]
    mesh = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 2)
    density = np.exp(estimator.score_samples(mesh)).reshape(resolution, resolution)
    return np.trapezoid(np.trapezoid(density, axes[1], axis=1), axes[0])


@pytest.fixture(scope="module", params=["autoregressive", "coupling"])
def fitted(request):
    X = make_two_uniforms(2000, random_state=0)
    step = dict(conditioner=request.param, univariate="spline")
    nsf = MAFDensity(**SETTINGS, **step, max_iter=30).fit(X)
    lgf = LGFDensity(**SETTINGS, **LGF_SETTINGS, **step, max_iter=15).fit(X)
    return nsf, lgf, X


def test_spline_densities_integrate_to_one(fitted):
    nsf, lgf, X = fitted
    # The standardised tails reach beyond +-3 scale units: integrate far out.
    low, high = X.min(0) - 4 * X.std(0), X.max(0) + 4 * X.std(0)
    assert grid_integral(nsf, low, high) == pytest.approx(1.0, abs=0.01)
    assert grid_integral(lgf, low, high) == pytest.approx(1.0, abs=0.03)


def test_spline_flows_learn_the_target(fitted):
    nsf, lgf, _ = fitted
    X_test = make_two_uniforms(2000, random_state=1)
    truth = float(two_uniforms_log_density(X_test).mean())  # -1.386
    for estimator in (nsf, lgf):
        score = estimator.score(X_test)
        # Far better than after the first epoch (-2.4 to -9.1 nats), and a
        # held-out likelihood cannot beat the truth by more than noise.
        assert -estimator.loss_curve_[0] + 0.5 < score < truth + 0.05
        assert score > truth - 0.45
