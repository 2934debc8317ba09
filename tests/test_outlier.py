"""Tests for :class:`sklearn_lgf._outlier.DensityOutlierDetector`."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neighbors import KernelDensity
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    parametrize_with_checks,
)
from sklearn.utils.validation import check_is_fitted

from sklearn_lgf._outlier import DensityOutlierDetector

ESTIMATORS = [
    DensityOutlierDetector(GaussianMixture(random_state=0)),
    DensityOutlierDetector(KernelDensity()),
]


@parametrize_with_checks(ESTIMATORS)
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


def test_fit_predict_flags_contamination_fraction(blobs):
    detector = DensityOutlierDetector(GaussianMixture(2, random_state=0))
    labels = detector.fit_predict(blobs)
    assert labels.shape == (300,)
    assert np.sum(labels == -1) == 30
    assert np.sum(labels == 1) == 270


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


def test_not_fitted():
    with pytest.raises(NotFittedError):
        DensityOutlierDetector(KernelDensity()).predict([[0.0, 0.0]])


def test_in_pipeline(blobs):
    X = blobs * [1.0, 100.0] + [0.0, 1000.0]
    pipe = make_pipeline(
        StandardScaler(), DensityOutlierDetector(GaussianMixture(2, random_state=0))
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
