"""Feature scaling: one scale for features in one unit, one per feature
otherwise (``scaling``), and what a fit and a model file keep of it."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from sklearn_lgf import LGFDensity, MAFDensity
from sklearn_lgf._standardise import pooled, shares_units, statistics
from sklearn_lgf.model_io import load_model, save_model

# The fits stop at a few epochs on purpose.
pytestmark = pytest.mark.usefixtures("tiny_budget")

SMALL = dict(n_layers=2, hidden_layer_sizes=(16, 16), device="cpu", random_state=0)


def pixels(n: int = 400, seed: int = 0) -> np.ndarray:
    """Images-like rows: columns on one 0 .. 16 scale, some nearly blank."""
    X = load_digits().data[:n].copy()
    rng = np.random.RandomState(seed)
    return X + rng.rand(*X.shape)


def mixed_units(n: int = 400, seed: int = 0) -> np.ndarray:
    rng = np.random.RandomState(seed)
    return rng.normal(size=(n, 2)) * [1.0, 1000.0]


@pytest.mark.parametrize(
    ("X", "shared"),
    [
        (pixels(), True),
        (mixed_units(), False),
        # Four columns on one [0, 1) scale, drawn apart: the typical one
        # spans the common range.
        (
            np.c_[
                np.random.RandomState(0).rand(300, 3),
                np.random.RandomState(1).rand(300),
            ],
            True,
        ),
        # Half of them in a unit a hundred times smaller: not shared.
        (np.random.RandomState(0).rand(300, 4) * [1.0, 1.0, 0.01, 0.01], False),
    ],
    ids=["pixels", "mixed-units", "one-unit", "half-small"],
)
def test_shared_units_are_told_from_different_units(X, shared):
    assert shares_units(X.min(axis=0), X.max(axis=0)) is shared


def test_a_wild_row_neither_decides_nor_joins_the_shared_unit():
    X = pixels()
    X[7] = 1e6  # far out in every feature: it would stretch every range
    found = statistics(X, scaling="auto")
    assert found.extreme.tolist() == [7]
    assert np.ptp(found.scale) == 0
    clean = statistics(np.delete(X, 7, axis=0), scaling="auto")
    np.testing.assert_allclose(found.scale, clean.scale, rtol=1e-12)


def test_the_pooled_scale_is_that_of_all_values_together():
    X = pixels()
    found = statistics(X)
    assert len(found.extreme) == 0 and not found.constant.any()
    both = pooled(found)
    np.testing.assert_allclose(both.location, X.mean(), rtol=1e-12)
    np.testing.assert_allclose(both.scale, X.std(), rtol=1e-12)


def test_constant_features_keep_their_value_and_unit_scale():
    X = np.c_[pixels()[:, :5], np.full(400, 3.0)]
    both = pooled(statistics(X))
    assert both.location[5] == 3.0 and both.scale[5] == 1.0
    assert np.ptp(both.scale[:5]) == 0 and np.ptp(both.location[:5]) == 0


@pytest.mark.parametrize("Estimator", [MAFDensity, LGFDensity])
def test_auto_scaling_follows_the_units(Estimator):
    shared = Estimator(**SMALL, scaling="auto").fit(pixels()[:, :8])
    assert np.ptp(shared.scale_) == 0 and np.ptp(shared.location_) == 0
    X = mixed_units()
    auto = Estimator(**SMALL, scaling="auto").fit(X)
    per_feature = Estimator(**SMALL, scaling="feature").fit(X)
    np.testing.assert_array_equal(auto.scale_, per_feature.scale_)
    np.testing.assert_array_equal(auto.score_samples(X), per_feature.score_samples(X))
    forced = Estimator(**SMALL, scaling="shared").fit(X)
    assert np.ptp(forced.scale_) == 0


def test_the_defaults_scale_pixels_as_measured():
    # MAFDensity shares one scale over pixels; LGFDensity keeps one per
    # feature (see its docstring).
    X = pixels()[:, :8]
    assert np.ptp(MAFDensity(**SMALL).fit(X).scale_) == 0
    assert np.ptp(LGFDensity(**SMALL).fit(X).scale_) > 0


def test_strokes_in_nearly_blank_pixels_are_not_extreme_among_pixels():
    # Per feature, a rare stroke in a pixel that is almost always 0 lies
    # dozens of that pixel's standard deviations out and its row is left
    # out of training; in the pixels' shared unit it is an ordinary value.
    X = load_digits().data
    per_feature = statistics(X, scaling="feature")
    shared = statistics(X, scaling="auto")
    assert len(per_feature.extreme) > 0
    assert len(shared.extreme) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.filterwarnings("ignore", "Features .* are constant")
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        MAFDensity(**SMALL, max_iter=1).fit(X)


def test_a_memmap_is_scaled_and_fenced_as_the_array(tmp_path):
    X = load_digits().data  # strokes in nearly blank pixels: see above
    path = tmp_path / "rows.dat"
    mapped = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    mapped[:] = X
    mapped.flush()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from_file = MAFDensity(**SMALL, max_iter=1).fit(
            np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)
        )
        in_memory = MAFDensity(**SMALL, max_iter=1).fit(X)
    np.testing.assert_allclose(from_file.scale_, in_memory.scale_, rtol=1e-12)
    np.testing.assert_allclose(from_file.location_, in_memory.location_, rtol=1e-12)
    assert np.ptp(from_file.scale_[from_file.scale_ != 1.0]) == 0
    assert from_file.n_samples_fit_ == in_memory.n_samples_fit_ == len(X)


def test_shared_scaling_keeps_a_normalised_density_in_the_data_units():
    # Features in one unit but of different spreads: the one scale leaves
    # the narrow one narrow, and the density still integrates to one in the
    # units of X.
    rng = np.random.RandomState(0)
    X = np.c_[rng.normal(0.0, 1.0, 2000), rng.normal(1.0, 0.3, 2000)]
    est = MAFDensity(**SMALL, scaling="shared", max_iter=20).fit(X)
    grid = np.linspace(-8.0, 8.0, 401)
    xx, yy = np.meshgrid(grid, grid)
    density = np.exp(est.score_samples(np.c_[xx.ravel(), yy.ravel()]))
    cell = (grid[1] - grid[0]) ** 2
    assert density.sum() * cell == pytest.approx(1.0, abs=0.01)


def test_a_warm_start_keeps_the_first_fits_scaling():
    est = MAFDensity(**SMALL, warm_start=True).fit(pixels()[:, :8])
    scale = est.scale_.copy()
    est.set_params(scaling="feature").fit(pixels(seed=1)[:, :8])
    np.testing.assert_array_equal(est.scale_, scale)


def test_a_pickle_from_before_scaling_loads_as_it_was_fitted():
    X = mixed_units()
    fitted = MAFDensity(**SMALL).fit(X)
    state = fitted.__getstate__()
    del state["scaling"]
    older = MAFDensity.__new__(MAFDensity)
    older.__setstate__(state)
    assert older.get_params()["scaling"] == "feature"
    np.testing.assert_array_equal(older.score_samples(X), fitted.score_samples(X))


def test_a_file_from_before_scaling_loads_as_it_was_fitted(tmp_path):
    X = pixels()[:, :8]
    old = MAFDensity(**SMALL, scaling="feature").fit(X)
    path = tmp_path / "old.pt"
    save_model(old, path)
    payload = torch.load(path, weights_only=True)
    del payload["params"]["scaling"]
    torch.save(payload, path)
    loaded = load_model(path)
    assert loaded.get_params()["scaling"] == "feature"
    np.testing.assert_array_equal(loaded.scale_, old.scale_)
    np.testing.assert_array_equal(loaded.score_samples(X), old.score_samples(X))


def test_an_unknown_scaling_is_refused():
    with pytest.raises(ValueError, match="scaling"):
        MAFDensity(scaling="per-feature").fit(mixed_units())
