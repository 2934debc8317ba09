"""Working inside scikit-learn: grid search, pipelines, cross-validation in
parallel workers, DataFrames, anomaly detection with our estimators."""

from __future__ import annotations

import os

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from thread_recording import ThreadRecordingMAF, blobs

from sklearn_lgf import DensityOutlierDetector, LGFDensity, MAFDensity

# The fits stop at a few epochs on purpose.
pytestmark = pytest.mark.usefixtures("tiny_budget")

TINY = dict(hidden_layer_sizes=(16,), max_iter=4, random_state=0)


def worker_thread_limit(n_jobs):
    """The threads joblib grants each of ``n_jobs`` worker processes: the
    caller's OMP_NUM_THREADS if set, else ``cpu_count() // n_jobs``, at
    least 1 (whatever the main process's own torch setting, which conftest
    pins to one thread)."""
    if "OMP_NUM_THREADS" in os.environ:
        return int(os.environ["OMP_NUM_THREADS"].split(",")[0])
    return max(1, joblib.cpu_count() // n_jobs)


def test_grid_search_gives_the_same_best_parameters_with_one_or_two_jobs():
    X = blobs()
    grid = {"n_layers": [1, 2], "u_dim": [1, 2]}
    estimator = LGFDensity(**TINY, pq_hidden_layer_sizes=(8,), n_importance_samples=8)
    serial = GridSearchCV(estimator, grid, cv=3, n_jobs=1).fit(X)
    parallel = GridSearchCV(estimator, grid, cv=3, n_jobs=2).fit(X)
    assert serial.best_params_ == parallel.best_params_
    np.testing.assert_allclose(
        serial.cv_results_["mean_test_score"], parallel.cv_results_["mean_test_score"]
    )
    # The default scorer is the mean log-likelihood of the held-out fold.
    assert np.isfinite(serial.best_score_)


def test_grid_search_over_architecture_picks_a_larger_model_on_structured_data():
    X = blobs(400)
    search = GridSearchCV(
        MAFDensity(max_iter=15, random_state=0),
        [
            {"hidden_layer_sizes": [(2,)], "n_layers": [1]},
            {"hidden_layer_sizes": [(32, 32)], "n_layers": [3]},
        ],
        cv=3,
    ).fit(X)
    assert search.best_params_ == {"hidden_layer_sizes": (32, 32), "n_layers": 3}


def test_parallel_workers_limit_torch_threads():
    """Each of joblib's n_jobs worker processes gets cpu_count() // n_jobs
    threads (at least 1), so that the workers together do not oversubscribe
    the cores; "auto" takes exactly what its worker was granted, on any
    number of cores."""
    X = blobs()
    result = cross_validate(
        ThreadRecordingMAF(**TINY), X, cv=2, n_jobs=2, return_estimator=True
    )
    granted = [est.granted_threads_ for est in result["estimator"]]
    used = [est.torch_threads_ for est in result["estimator"]]
    assert max(granted) <= worker_thread_limit(2), granted
    assert used == granted, (used, granted)


@pytest.mark.parametrize("Estimator", [MAFDensity, LGFDensity])
def test_pipeline_forwards_scoring(Estimator):
    X = 100.0 + 50.0 * blobs()
    pipe = make_pipeline(StandardScaler(), Estimator(n_layers=2, **TINY)).fit(X)
    scores = pipe.score_samples(X)
    assert scores.shape == (len(X),) and np.isfinite(scores).all()
    assert isinstance(pipe.score(X), float)
    # sample is not forwarded by Pipeline: sample from the last step and
    # map back with the scaler.
    draws = pipe[:-1].inverse_transform(pipe[-1].sample(5, random_state=0))
    assert draws.shape == (5, 2)


@pytest.mark.parametrize("Estimator", [MAFDensity, LGFDensity])
def test_dataframes_keep_feature_names(Estimator):
    X = pd.DataFrame(blobs(), columns=["height", "weight"])
    est = Estimator(n_layers=1, **TINY).fit(X)
    assert list(est.feature_names_in_) == ["height", "weight"]
    # An array without names is accepted with scikit-learn's usual warning.
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        from_array = est.score_samples(X.to_numpy())
    np.testing.assert_array_equal(est.score_samples(X), from_array)
    with pytest.raises(ValueError, match="feature names"):
        est.score_samples(X[["weight", "height"]])
    draws = est.sample(3, random_state=0)
    assert isinstance(draws, np.ndarray) and draws.shape == (3, 2)
    frame = pd.DataFrame(draws, columns=est.feature_names_in_)
    assert list(frame.columns) == ["height", "weight"]


@pytest.mark.parametrize(
    "density",
    [
        MAFDensity(n_layers=2, hidden_layer_sizes=(32,), max_iter=40, random_state=0),
        LGFDensity(
            n_layers=2,
            hidden_layer_sizes=(32,),
            pq_hidden_layer_sizes=(16,),
            n_importance_samples=16,
            max_iter=40,
            random_state=0,
        ),  # fmt: skip
    ],
    ids=["maf", "lgf"],
)
def test_anomaly_detection_in_a_pipeline_with_our_estimators(density):
    rng = np.random.RandomState(1)
    X_train = blobs(400)
    X_test = np.vstack([blobs(200, seed=2), rng.uniform(-8, 8, (40, 2))])
    y_test = np.r_[np.zeros(200), np.ones(40)]
    y_test[200:][np.abs(X_test[200:]).max(1) < 3] = 0  # uniform points among the blobs
    # Threshold on the training rows, so that exactly 5 % of them are flagged.
    detector = DensityOutlierDetector(
        clone(density), contamination=0.05, calibration_fraction=None
    )
    pipe = make_pipeline(StandardScaler(), detector)
    predictions = pipe.fit(X_train).predict(X_train)
    assert np.sum(predictions == -1) == 20
    auc = roc_auc_score(y_test, -pipe.decision_function(X_test))
    assert auc > 0.9
