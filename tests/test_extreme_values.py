"""Extreme values: robust standardisation, one wild training row, values
float32 cannot hold, data in enormous units."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from sklearn_lgf import DensityOutlierDetector, LGFDensity, MAFDensity
from sklearn_lgf._standardise import extreme_rows, robust_location_scale

# The fits stop at a few epochs on purpose.
pytestmark = pytest.mark.usefixtures("tiny_budget")

SMALL = dict(n_layers=2, hidden_layer_sizes=(32, 32), device="cpu", random_state=0)


def blobs(n, seed):
    rng = np.random.RandomState(seed)
    centres = np.where(rng.rand(n, 1) < 0.5, -2.0, 2.0)
    return centres + 0.5 * rng.randn(n, 2)


def test_robust_location_and_scale():
    rng = np.random.RandomState(0)
    X = np.c_[
        rng.normal(5.0, 2.0, 20000),  # Gaussian
        (rng.rand(20000) < 0.2).astype(float),  # mostly zeros: IQR = 0
        np.full(20000, 7.0),  # constant
    ]
    location, scale, constant = robust_location_scale(X)
    # No extreme rows: a plain standardisation (mean and standard deviation).
    np.testing.assert_allclose(location[:2], X[:, :2].mean(0), rtol=1e-12)
    np.testing.assert_allclose(scale[:2], X[:, :2].std(0), rtol=1e-12)
    assert location[2] == 7.0
    assert scale[2] == 1.0 and constant.tolist() == [False, False, True]
    # One extreme row moves neither: it is left out of the statistics.
    wild = np.vstack([X, [1e12, 1e12, 7.0]])
    wild_location, wild_scale, _ = robust_location_scale(wild)
    np.testing.assert_allclose(wild_location, location, rtol=1e-12)
    np.testing.assert_allclose(wild_scale, scale, rtol=1e-12)


def test_sparse_features_keep_their_tails():
    """A mostly blank pixel with a few bright values (digits) is not
    extreme: no row is left out and the scale is the standard deviation."""
    rng = np.random.RandomState(0)
    pixel = np.where(rng.rand(1300) < 0.97, rng.rand(1300) / 17, rng.rand(1300))
    X = np.c_[pixel, rng.normal(size=1300)]
    assert not extreme_rows(X).any()
    _, scale, _ = robust_location_scale(X)
    np.testing.assert_allclose(scale, X.std(0), rtol=1e-12)


def test_robust_scale_does_not_overflow():
    X = np.random.RandomState(0).normal(size=(100, 2)) * 1e300
    location, scale, _ = robust_location_scale(X)
    assert np.isfinite(scale).all() and (scale > 1e299).all()
    # A spread of 1e308 is still representable: standardised to +-1.
    wide = np.array([[1e308, 0.0], [-1e308, 1.0], [1e308, 2.0], [-1e308, 3.0]])
    location, scale, _ = robust_location_scale(wide)
    expected = np.array([[1, -1.5], [-1, -0.5], [1, 0.5], [-1, 1.5]])
    expected[:, 1] /= np.sqrt(1.25)
    np.testing.assert_allclose((wide - location) / scale, expected)
    # One of 3.4e308 is not.
    spread = np.array([[1.7e308, 0.0], [-1.7e308, 1.0], [1.7e308, 2.0]])
    with pytest.raises(ValueError, match="too large for dtype\\('float64'\\)"):
        robust_location_scale(spread)


@pytest.mark.parametrize("extreme", [1e6, 1e8])
def test_one_extreme_training_row_does_not_wreck_outlier_detection(extreme):
    """The issue's case: one training row at 1e6 took the ROC-AUC of a
    DensityOutlierDetector(MAFDensity) from 1.0 to 0.58."""
    X_train = np.vstack([blobs(800, 0), [[extreme, extreme]]])
    rng = np.random.RandomState(1)
    inliers = blobs(300, 2)
    outliers = rng.uniform(-6, 6, (400, 2))
    outliers = outliers[np.min(np.abs(np.abs(outliers) - 2), axis=1) > 1.5][:40]
    X_test = np.vstack([inliers, outliers])
    y_test = np.r_[np.zeros(len(inliers)), np.ones(len(outliers))]
    # Fitted on every training row, like the clean model it is compared with.
    detector = DensityOutlierDetector(
        MAFDensity(**SMALL, max_iter=40), calibration_fraction=None
    )
    with pytest.warns(UserWarning, match="1 training row lies more than 30 robust"):
        detector.fit(X_train)
    assert roc_auc_score(y_test, -detector.score_samples(X_test)) > 0.97
    # The inliers are fitted about as well as without the wild row.
    clean = MAFDensity(**SMALL, max_iter=40).fit(X_train[:-1])
    assert detector.estimator_.score(inliers) > clean.score(inliers) - 0.05
    # The wild row itself is scored exactly (not at the clipped value): far
    # below every inlier.
    wild = detector.estimator_.score_samples(X_train[-1:])[0]
    assert wild < detector.estimator_.score_samples(inliers).min() - 100


@pytest.mark.parametrize("Estimator", [MAFDensity, LGFDensity])
def test_values_float32_cannot_hold_are_refused(Estimator):
    est = Estimator(**SMALL, max_iter=2).fit(blobs(200, 0))
    for value in (1e40, 1e25, -1e20):
        with pytest.raises(ValueError, match="too large for dtype\\('float32'\\)"):
            est.score_samples([[0.0, 0.0], [value, 0.0]])
    # Far out but within float32's reach: a finite or -inf log-density, never NaN.
    far = est.score_samples([[1e3, 0.0], [0.0, -1e9], [1e18, 1e18]])
    assert not np.isnan(far).any() and (far < -100).all()
    wild = np.vstack([blobs(200, 0), [[1e40, 0.0]]])
    with pytest.raises(ValueError, match="X\\[200, 0\\] = 1e\\+40 lies"):
        Estimator(**SMALL, max_iter=2).fit(wild)


def test_data_in_enormous_units_fit_and_score():
    """Standardised in float64, data in units of 1e300 train as well as in
    units of 1 (no 'try a smaller learning_rate_init')."""
    X = blobs(300, 0)
    plain = MAFDensity(**SMALL, max_iter=5).fit(X)
    huge = MAFDensity(**SMALL, max_iter=5).fit(X * 1e300)
    np.testing.assert_allclose(
        huge.score_samples(X * 1e300),
        plain.score_samples(X) - 2 * np.log(1e300),
        atol=1e-3,
    )
