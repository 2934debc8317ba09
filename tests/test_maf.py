"""MAFDensity behaviour: the density, reproducibility, training controls.

The contract shared with LGFDensity (pickling, clone reproducibility, early
stopping, warm start, bad input, ...) is in test_estimator_contract.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from sklearn_lgf import LGFDensity, MAFDensity
from sklearn_lgf.nn import BatchNorm, Compose, TrainingConfig, build_flow, train

# Several fits stop at a few epochs on purpose.
pytestmark = pytest.mark.usefixtures("tiny_budget")

SMALL = dict(n_layers=3, hidden_layer_sizes=(32, 32), device="cpu")


def two_blobs(n=600, seed=0):
    rng = np.random.RandomState(seed)
    half = n // 2
    return np.vstack(
        [
            rng.normal([-2, 0], [0.5, 0.3], (half, 2)),
            rng.normal([2, 1], 0.4, (n - half, 2)),
        ]
    )


def grid_integral(estimator, low, high, resolution=300):
    axes = [np.linspace(lo, hi, resolution) for lo, hi in zip(low, high, strict=True)]
    mesh = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 2)
    density = np.exp(estimator.score_samples(mesh)).reshape(resolution, resolution)
    return np.trapezoid(np.trapezoid(density, axes[1], axis=1), axes[0])


@pytest.fixture(scope="module")
def fitted_maf():
    X = two_blobs()
    return MAFDensity(**SMALL, max_iter=40, random_state=0).fit(X), X


def test_density_integrates_to_one(fitted_maf):
    maf, X = fitted_maf
    low, high = X.min(0) - 4 * X.std(0), X.max(0) + 4 * X.std(0)
    assert grid_integral(maf, low, high) == pytest.approx(1.0, abs=0.01)


def test_training_improves_the_fit(fitted_maf):
    maf, X = fitted_maf
    assert maf.loss_curve_[-1] < maf.loss_curve_[0] - 0.5
    assert maf.score(X) > -maf.loss_curve_[0] + 0.5


def test_standardisation_is_corrected_in_the_log_density():
    """Fitting on a * X + b gives the density of X shifted by -d log a."""
    X = two_blobs(300)
    kw = dict(**SMALL, max_iter=5, random_state=3)
    plain = MAFDensity(**kw).fit(X)
    scaled = MAFDensity(**kw).fit(1000.0 * X - 7.0)
    np.testing.assert_allclose(
        scaled.score_samples(1000.0 * X - 7.0),
        plain.score_samples(X) - 2 * np.log(1000.0),
        atol=1e-3,
    )


def test_sample_shape_units_and_reproducibility(fitted_maf):
    maf, X = fitted_maf
    draws = maf.sample(2000, random_state=1)
    assert draws.shape == (2000, 2) and draws.dtype == np.float64
    np.testing.assert_array_equal(draws, maf.sample(2000, random_state=1))
    assert not np.array_equal(draws, maf.sample(2000, random_state=2))
    # In the units of X: the two blobs' means are recovered.
    np.testing.assert_allclose(draws.mean(0), X.mean(0), atol=0.15)
    np.testing.assert_allclose(draws.std(0), X.std(0), rtol=0.1)


@pytest.mark.parametrize(
    "Estimator, extra",
    [(MAFDensity, {}), (MAFDensity, {"batch_norm": True}), (LGFDensity, {})],
)
def test_same_random_state_gives_bit_identical_fits(Estimator, extra):
    X = two_blobs(200)
    make = lambda: Estimator(  # noqa: E731
        n_layers=2, hidden_layer_sizes=(16,), max_iter=3, random_state=5, **extra
    )
    a, b = make().fit(X), make().fit(X)
    c = Estimator(
        n_layers=2, hidden_layer_sizes=(16,), max_iter=3, random_state=6, **extra
    ).fit(X)
    for (name, pa), pb in zip(
        a.model_.state_dict().items(), b.model_.state_dict().values(), strict=True
    ):
        assert torch.equal(pa, pb), name
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))
    assert a.loss_curve_ == b.loss_curve_
    assert not np.array_equal(a.score_samples(X), c.score_samples(X))


@pytest.mark.parametrize("Estimator", [MAFDensity, LGFDensity])
@pytest.mark.parametrize("random_state", [0, None, np.random.RandomState(1)])
def test_global_random_states_are_untouched(Estimator, random_state):
    X = two_blobs(100)
    np.random.seed(123)  # noqa: NPY002 (the global state is what is tested)
    torch.manual_seed(123)
    numpy_state = np.random.get_state()  # noqa: NPY002
    torch_state = torch.get_rng_state()
    est = Estimator(
        n_layers=2, hidden_layer_sizes=(8,), max_iter=2, random_state=random_state
    )
    est.fit(X)
    est.score_samples(X)
    est.sample(10)
    est.sample(10, random_state=0)
    after = np.random.get_state()  # noqa: NPY002
    assert after[0] == numpy_state[0] and np.array_equal(after[1], numpy_state[1])
    assert after[2:] == numpy_state[2:]
    assert torch.equal(torch.get_rng_state(), torch_state)


def test_without_early_stopping_the_training_loss_decides():
    X = two_blobs(200)
    est = MAFDensity(
        n_layers=2, hidden_layer_sizes=(8,), early_stopping=False, max_iter=500,
        tol=10.0, n_iter_no_change=2, random_state=0,
    )  # fmt: skip
    est.fit(X)
    # As in MLPClassifier: the first epoch sets the reference, then stop once
    # more than n_iter_no_change epochs failed to improve on it by tol.
    assert est.n_iter_ == 4
    assert est.validation_scores_ == [] and est.best_validation_score_ is None


def test_max_iter_reached_warns():
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        MAFDensity(n_layers=1, hidden_layer_sizes=(4,), max_iter=2).fit(two_blobs(50))


def test_warm_start_continues_training():
    X = two_blobs(200)
    est = MAFDensity(n_layers=2, hidden_layer_sizes=(16,), max_iter=4,
                     warm_start=True, random_state=0)  # fmt: skip
    est.fit(X)
    first_model = est.model_
    first_curve = list(est.loss_curve_)
    est.fit(X)
    assert est.model_ is first_model
    assert est.n_iter_ == 8 and len(est.loss_curve_) == 8
    assert est.loss_curve_[:4] == first_curve
    assert est.loss_curve_[4] < first_curve[0]


def test_batch_norm_statistics_come_from_the_training_data():
    """After training, each batch norm holds the exact mean and variance of
    what it sees of the training rows; scoring other batches changes nothing."""
    torch.manual_seed(0)
    flow = build_flow(2, 3, (16,), batch_norm=True)
    x_train = torch.as_tensor(two_blobs(300), dtype=torch.float32)
    train(flow, x_train, TrainingConfig(max_iter=3, batch_size=50),
          shuffle_generator=torch.Generator().manual_seed(0),
          noise_generator=torch.Generator().manual_seed(0))  # fmt: skip
    steps = list(flow.transform.bijections)
    norms = [i for i, step in enumerate(steps) if isinstance(step, BatchNorm)]
    assert len(norms) == 2
    with torch.no_grad():
        for i in norms:
            seen = Compose(steps[:i])(x_train)[0]
            torch.testing.assert_close(steps[i].running_mean, seen.mean(0))
            torch.testing.assert_close(
                steps[i].running_var, seen.var(0, unbiased=False)
            )
        before = flow.log_prob(x_train[:5])
        flow.log_prob(x_train + 100.0)
        torch.testing.assert_close(flow.log_prob(x_train[:5]), before, rtol=0, atol=0)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes"),
        ({"hidden_layer_sizes": ()}, "hidden_layer_sizes"),
        (
            {"device": "cuda:0" if not torch.cuda.is_available() else "nonsense"},
            "device",
        ),
        ({"device": "nonsense"}, "device"),
    ],
)
def test_bad_parameters_are_named(params, match):
    with pytest.raises(ValueError, match=match):
        MAFDensity(max_iter=1, **params).fit(two_blobs(20))


def test_verbose_2_prints_one_line_per_epoch(capsys):
    MAFDensity(n_layers=1, hidden_layer_sizes=(4,), max_iter=3, verbose=2,
               random_state=0).fit(two_blobs(60))  # fmt: skip
    lines = [line for line in capsys.readouterr().out.splitlines() if "Epoch" in line]
    assert len(lines) == 3
    assert "training loss" in lines[0] and "validation log-likelihood" in lines[0]


def test_fit_does_not_modify_the_input():
    X = two_blobs(100)
    before = X.copy()
    MAFDensity(n_layers=1, hidden_layer_sizes=(4,), max_iter=2).fit(X)
    np.testing.assert_array_equal(X, before)


def test_an_exact_density_has_no_standard_error(fitted_maf):
    maf, X = fitted_maf
    values, std = maf.score_samples(X[:50], return_std=True)
    np.testing.assert_array_equal(values, maf.score_samples(X[:50]))
    np.testing.assert_array_equal(std, np.zeros(50))
