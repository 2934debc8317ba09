"""Tests for :class:`sklearn_lgf._outlier.DensityOutlierDetector`."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LinearRegression
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neighbors import KernelDensity
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state, get_tags
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    parametrize_with_checks,
)
from sklearn.utils.validation import check_is_fitted

from sklearn_lgf import LGFDensity
from sklearn_lgf._outlier import DensityOutlierDetector, conformal_threshold

# The default threshold (on held-out rows) and the training-row one.
ESTIMATORS = [
    DensityOutlierDetector(GaussianMixture(random_state=0)),
    DensityOutlierDetector(KernelDensity()),
    DensityOutlierDetector(GaussianMixture(random_state=0), calibration_fraction=None),
    DensityOutlierDetector(KernelDensity(), calibration_fraction=None),
]

# These checks count the training rows that predict flags and expect exactly
# contamination * n_samples of them. A threshold set on held-out rows flags
# fewer training rows on purpose (the density was fitted on most of them);
# the training-row threshold passes them. Strict: they must fail, for this
# reason only (test_held_out_threshold_flags_fewer_training_rows).
TRAINING_SHARE_CHECKS = {
    name: "the threshold is set on held-out rows, not on the training rows"
    for name in (
        "check_outliers_fit_predict",
        "check_outliers_train",
        "check_outliers_train(readonly_memmap=True)",
    )
}


def _expected_failed_checks(estimator):
    if estimator.calibration_fraction is None:
        return {}
    return TRAINING_SHARE_CHECKS


@parametrize_with_checks(
    ESTIMATORS, expected_failed_checks=_expected_failed_checks, xfail_strict=True
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_param_validation_and_column_names(estimator):
    name = type(estimator).__name__
    check_param_validation(name, clone(estimator))
    pytest.importorskip("pandas")
    check_dataframe_column_names_consistency(name, clone(estimator))


@pytest.fixture
def blobs() -> np.ndarray:
    rng = np.random.RandomState(0)
    return np.vstack(
        [rng.normal(-2.0, 0.5, size=(150, 2)), rng.normal(2.0, 0.5, size=(150, 2))]
    )


def test_training_row_threshold_flags_contamination_fraction(blobs):
    detector = DensityOutlierDetector(
        GaussianMixture(2, random_state=0), calibration_fraction=None
    )
    labels = detector.fit_predict(blobs)
    assert labels.shape == (300,)
    assert np.sum(labels == -1) == 30
    assert np.sum(labels == 1) == 270
    assert detector.n_samples_threshold_ == 300


def test_held_out_threshold_flags_fewer_training_rows(blobs):
    """Why three of scikit-learn's checks fail with the default: the
    training rows are flagged less often than contamination, while the
    held-out rows are flagged as the rule says (k - 1 of them)."""
    detector = DensityOutlierDetector(KernelDensity(bandwidth=0.2), random_state=0)
    labels = detector.fit_predict(blobs)
    assert detector.n_samples_threshold_ == 60  # ceil(0.2 * 300)
    # The rows the kernel density was fitted on are its tree's data.
    fit_rows = {tuple(row) for row in np.asarray(detector.estimator_.tree_.data)}
    is_fitted = np.array([tuple(row) in fit_rows for row in blobs])
    assert is_fitted.sum() == 240
    held_out, fitted = np.flatnonzero(~is_fitted), np.flatnonzero(is_fitted)
    k = int(0.1 * 61)
    assert np.sum(labels[held_out] == -1) == k - 1
    assert np.sum(labels[fitted] == -1) < 0.1 * len(fitted) / 2


def test_decision_function_predict_and_far_point(blobs):
    detector = DensityOutlierDetector(GaussianMixture(2, random_state=0)).fit(blobs)
    X_test = np.vstack([blobs[:20], [[50.0, -50.0]]])
    scores = detector.score_samples(X_test)
    assert scores.dtype == np.float64
    np.testing.assert_allclose(
        detector.decision_function(X_test), scores - detector.offset_
    )
    np.testing.assert_allclose(scores, detector.estimator_.score_samples(X_test))
    labels = detector.predict(X_test)
    assert np.issubdtype(labels.dtype, np.integer)
    assert set(np.unique(labels)) <= {-1, 1}
    assert labels[-1] == -1
    np.testing.assert_array_equal(
        labels, np.where(detector.decision_function(X_test) < 0, -1, 1)
    )


@pytest.mark.parametrize("contamination", [0, 0.0, 0.6, -0.1])
def test_invalid_contamination(blobs, contamination):
    detector = DensityOutlierDetector(
        GaussianMixture(random_state=0), contamination=contamination
    )
    with pytest.raises(InvalidParameterError, match="contamination"):
        detector.fit(blobs)


def test_estimator_without_score_samples(blobs):
    with pytest.raises(InvalidParameterError, match="estimator"):
        DensityOutlierDetector(LinearRegression()).fit(blobs)


def test_nan_input_raises(blobs):
    X = blobs.copy()
    X[3, 1] = np.nan
    detector = DensityOutlierDetector(GaussianMixture(random_state=0))
    with pytest.raises(ValueError, match="NaN"):
        detector.fit(X)
    detector.fit(blobs)
    with pytest.raises(ValueError, match="NaN"):
        detector.predict(X)


def test_user_estimator_is_cloned_not_modified(blobs):
    gm = GaussianMixture(n_components=2, random_state=0)
    params = gm.get_params()
    detector = DensityOutlierDetector(gm).fit(blobs)
    assert detector.estimator is gm
    assert detector.estimator_ is not gm
    assert gm.get_params() == params
    with pytest.raises(NotFittedError):
        check_is_fitted(gm)
    check_is_fitted(detector.estimator_)


class _DuckGaussian:
    """Density model with only the duck-typed API (no BaseEstimator, no tags)."""

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self

    def fit(self, X, y=None):
        self.mean_ = X.mean(axis=0)
        return self

    def score_samples(self, X):
        return -0.5 * ((X - self.mean_) ** 2).sum(axis=1)


def test_duck_typed_estimator(blobs):
    detector = DensityOutlierDetector(_DuckGaussian())
    assert get_tags(detector).estimator_type == "outlier_detector"
    detector.fit(blobs)
    np.testing.assert_array_equal(detector.predict([[0.0, 0.0], [9.0, 9.0]]), [1, -1])


class _FitXOnly(_DuckGaussian):
    """A duck-typed model whose ``fit`` takes no ``y`` at all."""

    def fit(self, X):
        return super().fit(X)


def test_fit_without_y_parameter(blobs):
    detector = DensityOutlierDetector(_FitXOnly(), random_state=0).fit(blobs)
    np.testing.assert_array_equal(detector.predict([[0.0, 0.0], [9.0, 9.0]]), [1, -1])


def test_frozen_estimator_keeps_its_fit_and_gets_a_threshold(blobs):
    seen, new = blobs[::2], blobs[1::2]
    density = GaussianMixture(2, random_state=0).fit(seen)
    means = density.means_.copy()
    detector = DensityOutlierDetector(
        FrozenEstimator(density),
        calibration_fraction=0.5,
        random_state=0,
    ).fit(new)
    np.testing.assert_array_equal(density.means_, means)
    held_out = np.sort(check_random_state(0).permutation(len(new))[: len(new) // 2])
    expected = conformal_threshold(
        density.score_samples(new[held_out]), detector.contamination
    )[0]
    assert detector.offset_ == expected
    np.testing.assert_array_equal(
        detector.score_samples(blobs), density.score_samples(blobs)
    )


def test_random_state_seeds_the_default_estimator():
    first = DensityOutlierDetector(random_state=0)._make_estimator()
    assert isinstance(first, LGFDensity)
    assert isinstance(first.random_state, int)
    assert first.univariate == "affine"
    again = DensityOutlierDetector(random_state=0)._make_estimator()
    assert again.random_state == first.random_state
    other = DensityOutlierDetector(random_state=1)._make_estimator()
    assert other.random_state != first.random_state
    assert DensityOutlierDetector()._make_estimator().random_state is None
    given = DensityOutlierDetector(LGFDensity(random_state=5), random_state=0)
    assert given._make_estimator().random_state == 5


def test_not_fitted():
    with pytest.raises(NotFittedError):
        DensityOutlierDetector(KernelDensity()).predict([[0.0, 0.0]])


def test_in_pipeline(blobs):
    X = blobs * [1.0, 100.0] + [0.0, 1000.0]
    pipe = make_pipeline(
        StandardScaler(),
        DensityOutlierDetector(
            GaussianMixture(2, random_state=0), calibration_fraction=None
        ),
    )
    labels = pipe.fit_predict(X)
    assert np.sum(labels == -1) == 30
    pipe.fit(X)
    detector = pipe[-1]
    Xt = pipe[0].transform(X)
    np.testing.assert_allclose(pipe.score_samples(X), detector.score_samples(Xt))
    np.testing.assert_allclose(
        pipe.decision_function(X), detector.score_samples(Xt) - detector.offset_
    )
    np.testing.assert_array_equal(pipe.predict(X), labels)
    assert pipe.predict([[0.0, 1e6]])[0] == -1


def test_grid_search_roc_auc():
    rng = np.random.RandomState(0)
    inliers = np.vstack(
        [rng.normal(-3.0, 0.5, size=(100, 2)), rng.normal(3.0, 0.5, size=(100, 2))]
    )
    anomalies = rng.uniform(-8.0, 8.0, size=(40, 2))
    anomalies = anomalies[np.abs(np.abs(anomalies) - 3.0).max(axis=1) > 2.0][:20]
    X = np.vstack([inliers, anomalies])
    is_anomaly = np.r_[np.zeros(len(inliers), int), np.ones(len(anomalies), int)]
    # decision_function is higher for MORE normal samples, so the roc_auc
    # scorer (which ranks samples by decision_function) needs the inliers as
    # the positive class.  This is the same number as the AUC of the anomaly
    # score -decision_function for the labels y = 1 for anomalies.
    is_inlier = 1 - is_anomaly
    pipe = Pipeline(
        [
            ("scaler", StandardScaler()),
            ("detector", DensityOutlierDetector(GaussianMixture(random_state=0))),
        ]
    )
    search = GridSearchCV(
        pipe,
        {"detector__estimator__n_components": [1, 2, 3]},
        scoring="roc_auc",
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    ).fit(X, is_inlier)
    assert search.best_params_["detector__estimator__n_components"] > 1
    assert search.best_score_ > 0.9
    decision = search.best_estimator_.decision_function(X)
    assert roc_auc_score(is_anomaly, -decision) == pytest.approx(
        roc_auc_score(is_inlier, decision)
    )
    assert roc_auc_score(is_anomaly, -decision) > 0.9


def test_dataframe_feature_names(blobs):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(blobs, columns=["a", "b"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        detector = DensityOutlierDetector(GaussianMixture(2, random_state=0)).fit(df)
        scores = detector.score_samples(df)
        detector.predict(df)
    np.testing.assert_array_equal(detector.feature_names_in_, ["a", "b"])
    assert detector.n_features_in_ == 2
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        np.testing.assert_allclose(scores, detector.score_samples(blobs))
    with pytest.raises(ValueError, match="feature names"):
        detector.predict(df[["b", "a"]])


# --- the threshold ---------------------------------------------------------


@pytest.mark.parametrize("contamination", [0.05, 0.1])
def test_held_out_threshold_flags_contamination_of_new_rows(contamination):
    """A kernel density with a narrow bandwidth scores its own training rows
    far higher than new rows: a threshold on the training scores flags more
    than twice ``contamination`` of new normal rows, the held-out one about
    ``contamination``. The guarantee is an average over draws of the
    training data, so each repetition draws its own."""
    X_new = np.random.RandomState(100).normal(size=(5000, 3))

    def flagged(seed, **params):
        X_train = np.random.RandomState(seed).normal(size=(1000, 3))
        detector = DensityOutlierDetector(
            KernelDensity(bandwidth=0.2), contamination=contamination, **params
        )
        return np.mean(detector.fit(X_train).predict(X_new) == -1)

    assert flagged(0, calibration_fraction=None) > 2 * contamination
    held_out = [flagged(seed, random_state=seed) for seed in range(10)]
    # m = 200 held-out rows: the expected rate lies in [(k-1)/201, k/201],
    # within 0.005 below contamination; one repetition's rate varies by
    # about 0.02, the mean of ten by 0.006.
    assert abs(np.mean(held_out) - contamination) < 0.015


@pytest.mark.parametrize("m", [19, 20, 99, 200])
@pytest.mark.parametrize("contamination", [0.05, 0.1, 0.29])
def test_conformal_threshold_guarantee(m, contamination):
    """The rule's probability of flagging a new row, averaged over draws of
    the held-out scores, lies in [(k-1)/(m+1), k/(m+1)]. With uniform scores
    on [0, 1] that probability is the threshold itself."""
    k = int(np.floor(contamination * (m + 1) + 1e-9))
    scores = np.random.RandomState(m).uniform(size=(20_000, m))
    thresholds = np.array([conformal_threshold(s, contamination)[0] for s in scores])
    # The midpoint of the (k-1)-th and k-th of m uniforms has mean
    # (k - 1/2) / (m + 1) and a standard deviation under 0.05 / sqrt(20000).
    assert thresholds.mean() == pytest.approx((k - 0.5) / (m + 1), abs=1.5e-3)
    assert (k - 1) / (m + 1) <= thresholds.mean() <= k / (m + 1)


def test_conformal_threshold_by_hand():
    scores = np.array([5.0, 1.0, 3.0, 2.0, 4.0, 9.0, 8.0, 7.0, 6.0])
    # m = 9: k = floor(0.2 * 10) = 2, halfway between 1 and 2.
    assert conformal_threshold(scores, 0.2) == (1.5, 4)
    # k = floor(0.3 * 10) = 3, halfway between 2 and 3.
    assert conformal_threshold(scores, 0.3) == (2.5, 3)
    # k = 1: the gap below the lowest mirrors the one above it.
    assert conformal_threshold(scores, 0.1) == (0.5, 9)
    # Too few rows (k = 0): the same threshold, and 19 rows were needed.
    assert conformal_threshold(scores, 0.05) == (0.5, 19)
    # 0.29 * 100 is 28.999999999999996 in floating point; k must be 29.
    assert conformal_threshold(np.arange(99.0), 0.29)[0] == 27.5
    # A row of density 0 below s_k: s_k itself, not -inf.
    assert conformal_threshold(np.r_[-np.inf, scores], 0.2)[0] == 1.0
    assert conformal_threshold(np.array([3.0]), 0.5) == (3.0, 1)


def test_set_threshold_on_given_rows(blobs):
    rng = np.random.RandomState(1)
    X_val = np.vstack(
        [rng.normal(-2.0, 0.5, size=(100, 2)), rng.normal(2.0, 0.5, size=(99, 2))]
    )
    detector = DensityOutlierDetector(
        GaussianMixture(2, random_state=0), calibration_fraction=None
    ).fit(blobs)
    scores = detector.score_samples(blobs)
    returned = detector.set_params(contamination=0.05).set_threshold(X_val)
    assert returned is detector
    assert detector.n_samples_threshold_ == 199
    assert (
        detector.offset_ == conformal_threshold(detector.score_samples(X_val), 0.05)[0]
    )
    # k = floor(0.05 * 200) = 10: the 9 lowest validation rows are flagged.
    assert np.sum(detector.predict(X_val) == -1) == 9
    # The density is not refitted.
    np.testing.assert_array_equal(detector.score_samples(blobs), scores)


def test_set_threshold_errors(blobs):
    detector = DensityOutlierDetector(GaussianMixture(random_state=0))
    with pytest.raises(NotFittedError):
        detector.set_threshold(blobs)
    detector.fit(blobs)
    with pytest.raises(ValueError, match="features"):
        detector.set_threshold(blobs[:, :1])
    X = blobs.copy()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        detector.set_threshold(X)
    with pytest.raises(InvalidParameterError, match="contamination"):
        detector.set_params(contamination=0.7).set_threshold(blobs)
    detector.set_params(contamination=0.05)
    with pytest.warns(UserWarning, match="too few for contamination=0.05: at least 19"):
        detector.set_threshold(blobs[:10])
    # Just below the lowest of the ten scores: one in about eleven new rows.
    assert detector.offset_ < detector.score_samples(blobs[:10]).min()
    assert detector.n_samples_threshold_ == 10


@pytest.mark.parametrize("fraction", [0, 0.0, 1, 1.5, -0.1, "0.2"])
def test_invalid_calibration_fraction(blobs, fraction):
    detector = DensityOutlierDetector(
        GaussianMixture(random_state=0), calibration_fraction=fraction
    )
    with pytest.raises(InvalidParameterError, match="calibration_fraction"):
        detector.fit(blobs)


def test_calibration_fraction_leaving_no_row_to_fit():
    detector = DensityOutlierDetector(KernelDensity())
    with pytest.raises(ValueError, match="n_samples=1 holds out every row"):
        detector.fit([[0.0]])
    detector.set_params(calibration_fraction=0.6)
    with pytest.raises(ValueError, match="n_samples=2 holds out every row"):
        detector.fit([[0.0], [1.0]])
    with pytest.warns(UserWarning, match="too few"):
        detector.fit([[0.0], [1.0], [2.0]])


def test_split_is_seeded(blobs):
    def offset(random_state):
        detector = DensityOutlierDetector(
            KernelDensity(bandwidth=0.3), random_state=random_state
        )
        return detector.fit(blobs).offset_

    assert offset(0) == offset(0)
    assert offset(np.random.RandomState(3)) == offset(3)
    assert offset(0) != offset(1)


def test_get_params_and_clone():
    detector = DensityOutlierDetector(
        KernelDensity(bandwidth=0.5),
        contamination=0.05,
        calibration_fraction=0.3,
        random_state=7,
    )
    params = detector.get_params()
    assert params["contamination"] == 0.05
    assert params["calibration_fraction"] == 0.3
    assert params["random_state"] == 7
    assert params["estimator__bandwidth"] == 0.5
    copy = clone(detector)
    assert copy.get_params()["calibration_fraction"] == 0.3
    assert copy.get_params()["random_state"] == 7
    copy.set_params(calibration_fraction=None, estimator__bandwidth=0.2)
    assert copy.calibration_fraction is None
    assert copy.estimator.bandwidth == 0.2
    assert detector.calibration_fraction == 0.3
    assert detector.estimator.bandwidth == 0.5
    assert DensityOutlierDetector().get_params()["calibration_fraction"] == 0.2


# ---------------------------------------------------------- score_method
def _tiny_lgf() -> LGFDensity:
    return LGFDensity(
        n_layers=1,
        hidden_layer_sizes=(8,),
        univariate="affine",
        pq_hidden_layer_sizes=(8,),
        st_hidden_layer_sizes=(8,),
        n_importance_samples=8,
        max_iter=3,
        random_state=0,
    )


def test_an_lgf_ranks_by_its_elbo_by_default(blobs, tiny_budget):
    detector = DensityOutlierDetector(_tiny_lgf(), random_state=0).fit(blobs)
    lgf = detector.estimator_
    np.testing.assert_array_equal(detector.score_samples(blobs), lgf.elbo(blobs))
    exact = detector.set_params(score_method="score_samples")
    np.testing.assert_array_equal(exact.score_samples(blobs), lgf.score_samples(blobs))


def test_an_exact_density_ranks_by_its_log_density(blobs):
    detector = DensityOutlierDetector(GaussianMixture(2, random_state=0)).fit(blobs)
    np.testing.assert_array_equal(
        detector.score_samples(blobs), detector.estimator_.score_samples(blobs)
    )
    with pytest.raises(ValueError, match="GaussianMixture has no elbo method"):
        detector.set_params(score_method="elbo").score_samples(blobs)
