"""Discrete columns: grid detection, keyed dequantisation noise, and the
binary-column case that a continuous flow cannot fit without them."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_lgf import DensityOutlierDetector, LGFDensity, MAFDensity, _rows
from sklearn_lgf._dequantise import (
    MAX_CELLS,
    column_grid,
    dequantise,
    find_grids,
    keyed_uniform,
    log_cell_volume,
    mix32,
    round_to_grid,
    row_keys,
)
from sklearn_lgf.exceptions import TrainingDiverged, TrainingDivergedWarning
from sklearn_lgf.nn import keyed_noise
from sklearn_lgf.nn.data import DequantisedRows, TensorRows


# ------------------------------------------------------------ detection
def test_integer_columns_get_unit_spacing_and_their_minimum_as_offset():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(1, 11, 300), rng.integers(-5, 100, 300)]).astype(
        float
    )
    spacing, offset = find_grids(X)
    np.testing.assert_array_equal(spacing, [1.0, 1.0])
    np.testing.assert_array_equal(offset, X.min(axis=0))


def test_binary_columns_get_the_gap_between_their_values():
    rng = np.random.default_rng(1)
    rare = np.zeros(500)
    rare[7] = 13.0  # one row of 500 at the other level, as in cardio
    X = np.column_stack([rng.integers(0, 2, 500), rare, 3.0 + 0.5 * rare]).astype(float)
    spacing, _ = find_grids(X)
    np.testing.assert_array_equal(spacing, [1.0, 13.0, 6.5])


def test_the_spacing_is_the_common_divisor_of_the_gaps_not_the_smallest_gap():
    rng = np.random.default_rng(2)
    X = np.column_stack(
        [rng.choice([0.0, 2.0, 5.0], 400), rng.choice([0.0, 0.3, 1.0, 1.7], 400)]
    )
    spacing, _ = find_grids(X)
    np.testing.assert_allclose(spacing, [1.0, 0.1], rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_grids_survive_a_standard_scaler(dtype):
    # StandardScaler shifts and scales a grid: the spacing divides by the
    # column's standard deviation, whatever float rounding that leaves (also
    # for data that went through float32).
    rng = np.random.default_rng(3)
    raw = np.column_stack(
        [
            rng.integers(0, 2, 1000),
            rng.integers(0, 7, 1000),
            np.round(rng.normal(500.0, 100.0, 1000), 1),  # 0.1 resolution
            rng.poisson(3.0, 1000),
        ]
    ).astype(float)
    raw = raw.astype(dtype).astype(np.float64)
    true_spacing = np.array([1.0, 1.0, 0.1, 1.0])
    scaled = StandardScaler().fit_transform(raw)
    spacing, offset = find_grids(scaled)
    np.testing.assert_allclose(spacing, true_spacing / raw.std(axis=0), rtol=1e-5)
    np.testing.assert_array_equal(offset, scaled.min(axis=0))


def test_a_measurement_rounded_to_a_resolution_is_discrete_whatever_its_values():
    # Thousands of distinct values recorded at 0.1: dequantising them by 0.1
    # is the right model of the rounding and moves them by less than it.
    rng = np.random.default_rng(4)
    column = np.round(rng.normal(0.0, 300.0, 20_000), 1)
    assert len(np.unique(column)) > 5000
    spacing, _ = find_grids(column[:, None])
    np.testing.assert_allclose(spacing, [0.1], rtol=1e-9)


@pytest.mark.parametrize("n_rows", [2, 3, 5, 10, 50, 1000, 100_000])
def test_continuous_columns_are_never_detected(n_rows):
    rng = np.random.default_rng(n_rows)
    X = np.column_stack(
        [
            rng.normal(size=n_rows),
            rng.standard_cauchy(n_rows),
            1e6 + rng.normal(size=n_rows),  # large offset: float32 slack capped
            rng.exponential(size=n_rows) * 1e-8,
            rng.uniform(-1.0, 1.0, n_rows),
        ]
    )
    for Z in (X, StandardScaler().fit_transform(X)):
        spacing, _ = find_grids(Z)
        np.testing.assert_array_equal(spacing, np.zeros(5))


def test_few_distinct_values_without_ties_are_not_enough_evidence():
    # Two to four values lie on some grid by chance; without a repeated value
    # they are not evidence of a discrete column.
    for values in ([0.0, 1.0], [0.0, 1.0, 2.0], [0.0, 1.0, 2.0, 3.0]):
        assert column_grid(np.array(values), n_rows=len(values))[0] == 0.0
        assert column_grid(np.array(values), n_rows=len(values) + 1)[0] == 1.0
    assert column_grid(np.arange(5.0), n_rows=5)[0] == 1.0


def test_constant_columns_are_left_alone():
    X = np.column_stack(
        [np.full(100, 3.0), np.r_[np.full(50, 0.3), np.full(50, 0.1 * 3)]]
    )
    assert X[0, 1] != X[-1, 1]  # two values that differ by one rounding step
    spacing, offset = find_grids(X)
    np.testing.assert_array_equal(spacing, [0.0, 0.0])
    np.testing.assert_array_equal(offset, [3.0, min(0.3, 0.1 * 3)])


def test_a_grid_finer_than_max_cells_counts_as_continuous():
    values = np.arange(0, MAX_CELLS + 2, dtype=np.float64)[[0, 1, 2, 3, -1]]
    assert column_grid(values, n_rows=10)[0] == 0.0
    assert column_grid(values[:-1], n_rows=10)[0] == 1.0


def test_find_grids_refuses_non_finite_or_one_dimensional_input():
    with pytest.raises(ValueError, match="finite"):
        find_grids(np.array([[0.0], [np.nan]]))
    with pytest.raises(ValueError, match="2-D"):
        find_grids(np.zeros(3))


# ---------------------------------------------------------------- noise
def _mixed(n_rows: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows with a binary, an integer, a 0.25-grid and a continuous column,
    and their spacings."""
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [
            rng.integers(0, 2, n_rows),
            rng.integers(0, 10, n_rows),
            0.25 * rng.integers(-8, 8, n_rows) + 1.0,
            rng.normal(size=n_rows),
        ]
    ).astype(float)
    return X, np.array([1.0, 1.0, 0.25, 0.0])


def test_the_noise_stays_within_the_cell_centred_on_each_value():
    X, spacing = _mixed()
    D = dequantise(X, spacing, seed=0)
    assert np.all(np.abs(D - X)[:, :3] <= spacing[:3] / 2)
    np.testing.assert_array_equal(D[:, 3], X[:, 3])  # continuous: untouched
    offset = X.min(axis=0)
    rounded = round_to_grid(D, spacing, offset)
    np.testing.assert_allclose(rounded, X, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(rounded[:, 3], X[:, 3])


def test_without_discrete_columns_the_data_come_back_untouched():
    X = np.random.default_rng(0).normal(size=(50, 3))
    assert dequantise(X, np.zeros(3), seed=0) is X
    assert round_to_grid(X, np.zeros(3), X.min(axis=0)) is X
    assert log_cell_volume(np.zeros(3)) == 0.0


def test_the_noise_is_uniform_on_the_cell_and_independent_across_columns():
    X, spacing = _mixed(n_rows=20_000)
    u = (dequantise(X, spacing, seed=7) - X)[:, :3] / spacing[:3] + 0.5
    for j in range(3):
        assert stats.kstest(u[:, j], "uniform").pvalue > 0.01
        # within each level of the column too: a cell's noise is uniform
        level = X[:, j] == X[0, j]
        assert stats.kstest(u[level, j], "uniform").pvalue > 0.01
    bound = 4.0 / np.sqrt(len(X))
    correlation = np.corrcoef(u, rowvar=False)
    assert np.all(np.abs(correlation[np.triu_indices(3, 1)]) < bound)
    # consecutive rows: no correlation between a row's noise and the next's
    assert abs(np.corrcoef(u[:-1, 0], u[1:, 0])[0, 1]) < bound


def test_the_noise_does_not_depend_on_row_order_batch_or_call():
    X, spacing = _mixed(n_rows=500)
    D = dequantise(X, spacing, seed=3)
    order = np.random.default_rng(0).permutation(len(X))
    np.testing.assert_array_equal(dequantise(X[order], spacing, seed=3), D[order])
    np.testing.assert_array_equal(dequantise(X[:17], spacing, seed=3), D[:17])
    np.testing.assert_array_equal(dequantise(X[250:251], spacing, seed=3), D[250:251])
    np.testing.assert_array_equal(dequantise(X, spacing, seed=3), D)


def test_a_rows_noise_depends_only_on_that_row():
    X, spacing = _mixed(n_rows=200)
    D = dequantise(X, spacing, seed=3)
    changed = X.copy()
    changed[1:, 3] += 1.0  # every other row's continuous value
    changed[1:, :3] = changed[::-1][:-1, :3]  # and their discrete values
    np.testing.assert_array_equal(dequantise(changed, spacing, seed=3)[0], D[0])
    # the row's own values key it: moving its continuous value redraws it
    own = X[:1].copy()
    own[0, 3] += 1e-9
    assert not np.array_equal(dequantise(own, spacing, seed=3)[0, :3], D[0, :3])
    # -0.0 and 0.0 are the same value
    negative_zero, zero = np.array([[-0.0, 1.0, -0.0]]), np.array([[0.0, 1.0, 0.0]])
    np.testing.assert_array_equal(
        dequantise(negative_zero, np.ones(3), seed=0), dequantise(zero, np.ones(3), 0)
    )


def test_seeds_and_draws_give_different_noise():
    X, spacing = _mixed(n_rows=1000)
    noise = [
        dequantise(X, spacing, seed=s, draw=d) - X
        for s, d in [(0, 0), (1, 0), (0, 1), (2**40 + 5, 0)]
    ]
    for i in range(len(noise)):
        for k in range(i):
            a, b = noise[i][:, :3].ravel(), noise[k][:, :3].ravel()
            assert np.mean(a == b) < 0.01
            assert abs(np.corrcoef(a, b)[0, 1]) < 0.1


def test_draws_beyond_the_counter_range_are_refused():
    keys = np.zeros(2, dtype=np.uint32)
    with pytest.raises(ValueError, match="draw"):
        keyed_uniform(keys, 2, draw=2**31)
    with pytest.raises(ValueError, match="draw"):
        keyed_uniform(keys, 2, draw=-1)


def test_the_hash_and_row_keys_are_those_of_the_torch_importance_draws():
    rng = np.random.default_rng(0)
    words = rng.integers(0, 2**32, 1000, dtype=np.uint64)
    np.testing.assert_array_equal(
        mix32(words.astype(np.uint32)).astype(np.int64),
        keyed_noise.mix32(torch.from_numpy(words.astype(np.int64))).numpy(),
    )
    X = rng.normal(size=(64, 5))
    for seed in (0, 123, 2**33 + 1):
        np.testing.assert_array_equal(
            row_keys(X, seed, salt=keyed_noise._ROW_SALT).astype(np.int64),
            keyed_noise.row_keys(torch.from_numpy(X), seed).numpy(),
        )


def test_the_score_bounds_the_log_probability_of_the_cell():
    # E[log p(x + u)] + log h <= log P(cell), for a known density: a normal
    # with standard deviation 2, on the integer grid.
    keys = row_keys(np.array([[3.0]]), seed=0)
    u = keyed_uniform(np.repeat(keys, 4000), 1, draw=np.arange(4000))[:, 0] - 0.5
    for x in (0.0, 3.0, 6.0):
        mean_log_density = stats.norm(0.0, 2.0).logpdf(x + u).mean()
        cell = stats.norm(0.0, 2.0).cdf(x + 0.5) - stats.norm(0.0, 2.0).cdf(x - 0.5)
        bound = mean_log_density + log_cell_volume(np.array([1.0, 0.0]))
        assert bound <= np.log(cell)
        # Jensen's gap is about Var(log p(x + u)) / 2 = (x / 4)**2 / 24 at
        # first order: allow twice that, plus the Monte Carlo error
        assert bound > np.log(cell) - (x / 4.0) ** 2 / 12 - 0.02


# -------------------------------------------------- the binary-column fit
def _cardio_twin() -> np.ndarray:
    """1,000 rows x 21 columns like ADBench cardio: correlated continuous
    measurements beside count columns on grids, a three-level class column
    and binary columns, one of them constant but for a few rows."""
    rng = np.random.default_rng(0)
    n = 1000
    latent = rng.normal(size=(n, 4))
    continuous = latent @ rng.normal(size=(4, 8)) + 0.3 * rng.normal(size=(n, 8))
    continuous[:, :3] = np.exp(0.3 * continuous[:, :3])  # skewed ones
    counts = np.column_stack(
        [rng.poisson(np.exp(1.0 + 0.3 * latent[:, k % 4])) for k in range(7)]
    )
    levels = rng.choice([1, 2, 3], n, p=[0.06, 0.53, 0.41])
    few = rng.choice([0, 1, 2, 3, 5], n, p=[0.76, 0.16, 0.06, 0.015, 0.005])
    binary = (latent[:, 0] > 1.0).astype(float)
    # Binary columns constant but for one row: the rows fall in the
    # validation split of today's LGFDensity(random_state=0), as cardio's
    # one row at the rare level of its column 5 did on the seed-0 split.
    rare = np.zeros((n, 2))
    rare[10, 0] = rare[11, 1] = 1.0
    return np.column_stack(
        [continuous, counts, levels, few, binary, rare, latent[:, 1]]
    ).astype(float)


def test_the_cardio_twin_has_the_columns_of_cardio():
    X = _cardio_twin()
    assert X.shape == (1000, 21)
    spacing, _ = find_grids(StandardScaler().fit_transform(X))
    assert (spacing > 0).sum() == 12  # counts, levels, few-valued, binary
    assert np.flatnonzero(spacing == 0).tolist() == [*range(8), 20]


def test_the_detector_fits_binary_and_few_valued_columns_beside_continuous_ones():
    # Fit as a user would: no dequantisation by hand. A fit that diverges
    # (an error, or a warning that earlier weights were restored) fails.
    X = _cardio_twin()
    detector = make_pipeline(
        StandardScaler(),
        DensityOutlierDetector(LGFDensity(random_state=0, max_iter=3)),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("error", TrainingDivergedWarning)
        detector.fit(X)
    scores = detector.score_samples(X)
    assert np.isfinite(scores).all()


# The networks of LGFDensity() when cardio raised (before the size rule).
NETWORKS_OF_0_2_0 = dict(
    u_dim=4, pq_hidden_layer_sizes=(128, 128), st_hidden_layer_sizes=(128, 128)
)


def test_with_dequantise_none_the_twin_diverges_as_before():
    X = StandardScaler().fit_transform(_cardio_twin())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.raises(TrainingDiverged):
            LGFDensity(
                random_state=0, max_iter=3, dequantise=None, **NETWORKS_OF_0_2_0
            ).fit(X)
        # Today's default networks diverge too, and restore earlier weights.
        with pytest.warns(TrainingDivergedWarning):
            LGFDensity(random_state=0, max_iter=3, dequantise=None).fit(X)


def test_with_dequantise_the_twin_fits_with_the_networks_of_0_2_0():
    X = StandardScaler().fit_transform(_cardio_twin())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("error", TrainingDivergedWarning)
        LGFDensity(random_state=0, max_iter=3, **NETWORKS_OF_0_2_0).fit(X)


# ----------------------------------------------------------- estimators
SMALL_MAF = dict(n_layers=2, hidden_layer_sizes=(16,), device="cpu", n_threads=1)
SMALL_LGF = dict(
    SMALL_MAF,
    univariate="affine",
    u_dim=1,
    pq_hidden_layer_sizes=(8,),
    st_hidden_layer_sizes=(8,),
    n_elbo_samples=1,
    n_importance_samples=6,
    n_validation_samples=2,
)
ESTIMATORS = [
    pytest.param((MAFDensity, SMALL_MAF), id="maf"),
    pytest.param((MAFDensity, dict(SMALL_MAF, batch_norm=True)), id="maf-bn"),
    pytest.param((LGFDensity, SMALL_LGF), id="lgf"),
]


def _fit(config, X, **params):
    Estimator, settings = config
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return Estimator(
            **{**settings, "max_iter": 2, "random_state": 0, **params}
        ).fit(X)


@pytest.mark.parametrize("config", ESTIMATORS)
def test_discrete_columns_are_found_and_their_spacings_kept(config):
    X, spacing = _mixed(n_rows=600)
    est = _fit(config, X)
    np.testing.assert_allclose(est.grid_spacing_, spacing, rtol=1e-12)
    # explicit spacings are taken as given (a copy: the estimator owns it)
    given = np.array([0.0, 1.0, 0.5, 0.0])
    est = _fit(config, X, dequantise=given)
    given[2] = 7.0
    np.testing.assert_array_equal(est.grid_spacing_, [0.0, 1.0, 0.5, 0.0])
    assert np.array_equal(_fit(config, X, dequantise=None).grid_spacing_, np.zeros(4))


@pytest.mark.parametrize("config", ESTIMATORS)
def test_scores_are_deterministic_and_independent_of_batch_and_order(config, tmp_path):
    X, _ = _mixed(n_rows=600)
    est = _fit(config, X)
    X_test, _ = _mixed(n_rows=300, seed=1)
    scores = est.score_samples(X_test)
    assert np.isfinite(scores).all()
    np.testing.assert_array_equal(est.score_samples(X_test), scores)
    order = np.random.default_rng(0).permutation(len(X_test))
    np.testing.assert_array_equal(est.score_samples(X_test[order]), scores[order])
    np.testing.assert_array_equal(est.score_samples(X_test[7:8]), scores[7:8])
    np.testing.assert_array_equal(est.score_samples(X_test[::3]), scores[::3])
    path = tmp_path / "X.npy"
    np.save(path, X_test)
    np.testing.assert_array_equal(
        est.score_samples(np.load(path, mmap_mode="r")), scores
    )
    # The noise is the keyed draw of the data's units: the scores are those
    # of the rows dequantised by hand, scored by a model without grids.
    Z = dequantise(X_test, est.grid_spacing_, est._noise_seed)
    plain = est.set_params(dequantise=None)
    plain.grid_spacing_ = np.zeros(4)
    np.testing.assert_array_equal(plain.score_samples(Z), scores)


def test_the_validation_rows_are_dequantised_by_their_keyed_draws():
    # An exact model's validation score is the mean score of the held-out
    # rows, each dequantised as score_samples dequantises it.
    X, _ = _mixed(n_rows=400)
    est = _fit(ESTIMATORS[0].values[0], X, max_iter=1, early_stopping=True)
    found = _rows.scan(X, 0, grids=True)
    standardisation = est._standardisation()
    n_validation = _rows.validation_rows(len(X), True, est.validation_fraction)
    _, validation = _rows.training_rows(
        X, found, standardisation, n_validation, seed=5, device=torch.device("cpu")
    )
    held_out = X[np.random.RandomState(5).permutation(len(X))[:n_validation]]
    expected = est.score_samples(held_out).mean()
    got = validation(est.model_) + standardisation.log_det_correction
    assert got == pytest.approx(expected, rel=0, abs=1e-4)


@pytest.mark.parametrize("Estimator", [MAFDensity, LGFDensity])
def test_continuous_data_give_bit_identical_fits_with_auto_and_none(Estimator):
    config = (Estimator, SMALL_MAF if Estimator is MAFDensity else SMALL_LGF)
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(size=300), rng.gamma(2.0, size=300), rng.uniform(size=300)]
    auto, off = (
        _fit(config, X, max_iter=3),
        _fit(config, X, max_iter=3, dequantise=None),
    )
    np.testing.assert_array_equal(auto.grid_spacing_, np.zeros(3))
    assert auto.loss_curve_ == off.loss_curve_
    assert auto.validation_scores_ == off.validation_scores_
    np.testing.assert_array_equal(auto.score_samples(X), off.score_samples(X))
    np.testing.assert_array_equal(
        auto.sample(20, random_state=0), off.sample(20, random_state=0)
    )


@pytest.mark.usefixtures("tiny_budget")
def test_a_warm_start_keeps_the_fitted_spacings():
    X, spacing = _mixed(n_rows=400)
    est = _fit(ESTIMATORS[0].values[0], X, warm_start=True)
    est.set_params(dequantise=None).fit(X)
    np.testing.assert_allclose(est.grid_spacing_, spacing, rtol=1e-12)
    assert est.n_iter_ == 4
    with pytest.raises(ValueError, match="dequantise"):
        est.set_params(dequantise=[1.0, 1.0]).fit(X)


def test_a_rare_binary_value_no_longer_makes_the_likelihood_explode():
    # 3 % of the rows at 1 beside a standard normal column: the dequantised
    # density is p(b) * N(x) on the cell of b (width 1). Held-out rows of
    # the rare value score close to that, not thousands of nats off.
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(size=2000), (rng.random(2000) < 0.03).astype(float)]
    test = np.random.default_rng(1)
    X_test = np.c_[test.normal(size=400), np.r_[np.ones(40), np.zeros(360)]]
    truth = stats.norm.logpdf(X_test[:, 0]) + np.log(
        np.where(X_test[:, 1] == 1, 0.03, 0.97)
    )
    settings = dict(SMALL_MAF, hidden_layer_sizes=(32,), random_state=0, max_iter=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MAFDensity(**settings).fit(X)
        old = MAFDensity(**settings, dequantise=None).fit(X)
    np.testing.assert_array_equal(est.grid_spacing_, [0.0, 1.0])
    error = est.score_samples(X_test) - truth
    rare, common = error[:40], error[40:]
    # The cell's edges are sharp, which a flow rounds off: a row drawn near
    # one scores a few nats low.
    assert abs(np.median(rare)) < 1.5 and abs(np.median(common)) < 0.5
    assert rare.min() > -10.0 and rare.max() < 4.0
    # Without dequantisation the point masses pull the fit: the rare rows
    # score far too low.
    assert np.median(old.score_samples(X_test)[:40] - truth[:40]) < -5.0


# ----------------------------------------------------- the training noise
def test_training_batches_get_fresh_noise_and_fixed_passes_the_same_noise():
    x = torch.arange(24, dtype=torch.float32).reshape(12, 2)
    widths = torch.tensor([0.0, 0.5])
    rows = DequantisedRows(TensorRows(x), widths, torch.Generator().manual_seed(0), 7)
    shuffle = torch.Generator().manual_seed(1)
    epochs = [torch.cat(list(rows.epoch_batches(5, shuffle))) for _ in range(2)]
    for batch in epochs:
        assert set(batch[:, 0].tolist()) == set(x[:, 0].tolist())  # untouched
        original = x[(batch[:, 0] / 2).long()]
        offset = batch[:, 1] - original[:, 1]
        assert (offset.abs() <= 0.25).all() and (offset != 0).all()
    assert not torch.equal(
        torch.sort(epochs[0][:, 1])[0], torch.sort(epochs[1][:, 1])[0]
    )
    # the loss of fixed weights and the calibration rows: the same each call
    first, second = torch.cat(list(rows.batches(5))), torch.cat(list(rows.batches(5)))
    assert torch.equal(first, second) and not torch.equal(first, x)
    assert torch.equal(rows.head(4), rows.head(4)) and torch.equal(
        rows.head(4), first[:4]
    )
    with pytest.raises(ValueError, match="widths"):
        DequantisedRows(TensorRows(x), torch.ones(3), torch.Generator(), 0)


def test_the_training_noise_is_uniform_on_each_cell():
    x = torch.zeros(20_000, 1)
    rows = DequantisedRows(TensorRows(x), torch.tensor([2.0]), torch.Generator(), 0)
    batch = torch.cat(list(rows.epoch_batches(4096, torch.Generator())))
    assert stats.kstest(batch[:, 0].numpy() / 2.0 + 0.5, "uniform").pvalue > 0.01
