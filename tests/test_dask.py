"""Grid search on a dask.distributed cluster of worker processes: the same
results as in one process, and torch threads that the workers grant."""

from __future__ import annotations

import os
from collections.abc import Iterator

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, cross_validate
from thread_recording import ThreadRecordingMAF, blobs

from sklearn_lgf import LGFDensity, MAFDensity

distributed = pytest.importorskip("distributed")

# The fits stop at a few epochs on purpose.
pytestmark = pytest.mark.usefixtures("tiny_budget")

N_WORKERS = 2
THREADS_PER_WORKER = 1

# What the nanny exports to the worker processes it spawns unless the caller's
# environment has them (dask's ``distributed.nanny.pre-spawn-environ``), and
# what it also writes into this process's own environment while doing so.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

TINY = dict(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
LGF_TINY = dict(
    **TINY,
    pq_hidden_layer_sizes=(8,),
    st_hidden_layer_sizes=(8,),
    n_importance_samples=8,
)


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    """A client of a local cluster of worker processes, with dask's own
    thread settings for them whatever the shell exported.

    The nanny writes its worker environment into this process's
    ``os.environ``; the whole environment is put back afterwards so that the
    tests that follow (joblib's loky workers read ``OMP_NUM_THREADS``) see
    what they would have seen without this module.
    """
    saved = dict(os.environ)
    for name in THREAD_VARIABLES:
        os.environ.pop(name, None)
    try:
        with (
            distributed.LocalCluster(
                n_workers=N_WORKERS,
                threads_per_worker=THREADS_PER_WORKER,
                processes=True,
                dashboard_address=None,
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client
    finally:
        os.environ.clear()
        os.environ.update(saved)


def worker_pids(client: distributed.Client) -> set[int]:
    return set(client.run(os.getpid).values())


def search_on_cluster(search: GridSearchCV, X: np.ndarray) -> GridSearchCV:
    """``search`` fitted by joblib's dask backend on the current client."""
    with joblib.parallel_backend("dask"):
        return search.set_params(n_jobs=-1).fit(X)


@pytest.mark.parametrize(
    "estimator, grid",
    [
        (LGFDensity(**LGF_TINY), {"n_layers": [1, 2], "u_dim": [1, 2]}),
        (MAFDensity(**TINY), {"n_layers": [1, 3]}),
    ],
    ids=["lgf", "maf"],
)
def test_grid_search_on_a_dask_cluster_matches_one_process(client, estimator, grid):
    X = blobs()
    serial = GridSearchCV(estimator, grid, cv=3, n_jobs=1).fit(X)
    with distributed.get_task_stream(client) as tasks:
        on_cluster = search_on_cluster(GridSearchCV(estimator, grid, cv=3), X)
    # Guards against comparing two runs in this process.
    assert tasks.data, "no task ran on the cluster"
    assert on_cluster.best_params_ == serial.best_params_
    for key in ["mean_test_score"] + [f"split{i}_test_score" for i in range(3)]:
        np.testing.assert_array_equal(
            on_cluster.cv_results_[key], serial.cv_results_[key]
        )
    np.testing.assert_array_equal(
        on_cluster.best_estimator_.score_samples(X),
        serial.best_estimator_.score_samples(X),
    )


@pytest.mark.parametrize("n_threads, used", [("auto", 1), (2, 2)])
def test_fits_in_dask_workers_use_the_threads_the_worker_grants(
    client, n_threads, used
):
    """Dask's nanny starts each worker process with OMP_NUM_THREADS=1 (and
    MKL's and OpenBLAS's), so torch there has one thread, which is the
    worker's one task thread; "auto" takes it and no more, an int is used as
    given, and either leaves the worker's setting as it found it."""
    with joblib.parallel_backend("dask"):
        result = cross_validate(
            ThreadRecordingMAF(**TINY, n_threads=n_threads),
            blobs(),
            cv=4,
            n_jobs=-1,
            return_estimator=True,
        )
    fitted = result["estimator"]
    assert {est.pid_ for est in fitted} <= worker_pids(client)
    assert [est.granted_threads_ for est in fitted] == [THREADS_PER_WORKER] * 4
    assert [est.torch_threads_ for est in fitted] == [used] * 4
    assert [est.threads_after_fit_ for est in fitted] == [THREADS_PER_WORKER] * 4
