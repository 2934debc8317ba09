"""The estimators own torch's CPU threads for the duration of each call and
leave the global setting as they found it, whatever happens inside."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_limits

from sklearn_lgf import LGFDensity, MAFDensity
from sklearn_lgf._threads import AUTO_MIN_WORK, auto_threads, largest_matrix
from sklearn_lgf.nn import build_flow, evaluation

# Neither 1 (what "auto" picks for these tiny models) nor the machine's
# default: a restored value cannot be mistaken for either.
CALLER_THREADS = 3
TINY = dict(n_layers=2, hidden_layer_sizes=(8,), max_iter=2, device="cpu")
LGF_TINY = dict(
    pq_hidden_layer_sizes=(8,), st_hidden_layer_sizes=(8,), n_importance_samples=4
)


def data(n=120, seed=0):
    return np.random.RandomState(seed).normal(size=(n, 2))


@pytest.fixture
def seen_threads(monkeypatch):
    """Torch's thread count at every evaluation of a model an estimator asks
    the engine for (validation during fit, scoring)."""
    seen = []

    def recorder(original):
        def recording(model, x, **arguments):
            seen.append(torch.get_num_threads())
            return original(model, x, **arguments)

        return recording

    for name in ("log_prob", "elbo", "validation_log_prob"):
        monkeypatch.setattr(evaluation, name, recorder(getattr(evaluation, name)))
    return seen


@pytest.fixture
def caller_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(CALLER_THREADS)
    yield CALLER_THREADS
    torch.set_num_threads(before)


def make(Estimator, **params):
    extra = LGF_TINY if issubclass(Estimator, LGFDensity) else {}
    return Estimator(**TINY, **extra, random_state=0, **params)


@pytest.mark.parametrize("Estimator", [MAFDensity, LGFDensity])
def test_every_public_call_restores_the_global_thread_count(
    Estimator, caller_threads, tiny_budget
):
    X = data()
    est = make(Estimator)
    calls = {
        "fit": lambda: est.fit(X),
        "score_samples": lambda: est.score_samples(X),
        "score": lambda: est.score(X),
        "sample": lambda: est.sample(50, random_state=0),
    }
    if Estimator is LGFDensity:
        calls["elbo"] = lambda: est.elbo(X)
    for name, call in calls.items():
        call()
        assert torch.get_num_threads() == caller_threads, name


@pytest.mark.parametrize(
    "n_threads, expected", [("auto", 1), (2, 2), (None, CALLER_THREADS)]
)
@pytest.mark.parametrize("Estimator", [MAFDensity, LGFDensity])
def test_threads_inside_the_calls(
    Estimator, n_threads, expected, caller_threads, tiny_budget, seen_threads
):
    est = make(Estimator, n_threads=n_threads).fit(data())
    est.score_samples(data(seed=1))
    # The start of training, every epoch and the scoring call: all evaluated
    # with the estimator's threads, the caller's setting only outside.
    assert len(seen_threads) == 4
    assert set(seen_threads) == {expected}
    assert torch.get_num_threads() == caller_threads


def test_auto_uses_what_the_caller_allows_on_big_enough_work(
    caller_threads, tiny_budget, monkeypatch, seen_threads
):
    # Every step counts as big: "auto" then takes all the threads it may.
    monkeypatch.setattr("sklearn_lgf._threads.AUTO_MIN_WORK", 0)
    make(MAFDensity).fit(data())
    assert seen_threads and set(seen_threads) == {caller_threads}
    seen_threads.clear()
    # A limit set from outside (threadpoolctl, as scikit-learn uses) is the
    # most "auto" takes: it never oversubscribes what the caller granted.
    with threadpool_limits(limits=1, user_api="openmp"):
        assert torch.get_num_threads() == 1
        make(MAFDensity).fit(data())
    assert seen_threads and set(seen_threads) == {1}
    assert torch.get_num_threads() == caller_threads


def test_threads_are_restored_when_fit_raises(caller_threads, monkeypatch):
    from sklearn_lgf.nn.flow import Flow

    calls = {"n": 0}
    original = Flow.training_loss

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("boom inside training")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Flow, "training_loss", failing)
    with pytest.raises(RuntimeError, match="boom inside training"):
        make(MAFDensity, n_threads=2).fit(data())
    assert torch.get_num_threads() == caller_threads


def test_threads_are_restored_after_bad_input(caller_threads, tiny_budget):
    est = make(MAFDensity, n_threads=2).fit(data())
    with pytest.raises(ValueError, match="too large for dtype"):
        est.score_samples([[1e30, 0.0]])
    assert torch.get_num_threads() == caller_threads


def test_auto_rule():
    torch.manual_seed(0)
    small = build_flow(2, 5, (100, 100))  # the default MAF on 2-D data
    big = build_flow(64, 5, (512, 512))
    assert largest_matrix(small) == 100 * 100
    assert largest_matrix(big) == 512 * 512
    # The default sizes on 2-D data stay on one thread, for training batches
    # and scoring chunks alike; a d=64 model of 512-wide MADEs uses the cores
    # for batches of 1000 rows, not for a batch of 180.
    for rows in (180, 1000, 8192):
        assert auto_threads(small, rows, available=8) == 1
    assert auto_threads(big, 1000, available=8) == 8
    assert auto_threads(big, 180, available=8) == 1
    rows = -(-AUTO_MIN_WORK // largest_matrix(big))
    assert auto_threads(big, rows - 1, available=8) == 1
    assert auto_threads(big, rows, available=8) == 8
    assert auto_threads(big, rows, available=1) == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, "many"])
def test_bad_n_threads_is_named(bad):
    with pytest.raises(InvalidParameterError, match="n_threads"):
        MAFDensity(n_threads=bad).fit(data())
