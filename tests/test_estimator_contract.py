"""The contract every estimator configuration keeps, through the public API only.

One set of tests over MAFDensity and LGFDensity, with every base step, with
and without batch normalisation and, for LGF, both ways of indexing: the
models are tiny, so that the whole file runs in seconds on one thread.
"""

from __future__ import annotations

import itertools
import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from sklearn_lgf import LGFDensity, MAFDensity
from sklearn_lgf._steps import BASE_STEPS

# The fits here stop at a few epochs on purpose.
pytestmark = pytest.mark.usefixtures("tiny_budget")

TINY = dict(n_layers=2, hidden_layer_sizes=(8,), max_iter=3, device="cpu")
LGF_TINY = dict(
    u_dim=1,
    pq_hidden_layer_sizes=(8,),
    st_hidden_layer_sizes=(8,),
    n_elbo_samples=1,
    n_importance_samples=4,
    n_validation_samples=2,
)
# Early stopping: a quick learning rate and little patience, so that every
# configuration overshoots its best epoch and stops long before MAX_ITER;
# with tol=0 every epoch after the best counts against the patience.
MAX_ITER = 200
EARLY = dict(max_iter=MAX_ITER, n_iter_no_change=1, tol=0.0, learning_rate_init=2e-2)


def _configurations():
    # Batch norm is a matter of the flow, not of its step: the spline steps
    # are checked without it, to keep the file fast.
    bases = [*itertools.product(("made", "coupling"), (False, True))]
    bases += [("spline", False), ("spline-coupling", False)]
    for base, batch_norm in bases:
        norm = "bn" if batch_norm else "nobn"
        conditioner, univariate = BASE_STEPS[base]
        step = dict(conditioner=conditioner, univariate=univariate)
        yield pytest.param(
            (MAFDensity, dict(**step, batch_norm=batch_norm)),
            id=f"maf-{base}-{norm}",
        )
        for indexing in ("affine", "conditioner"):
            params = dict(**step, batch_norm=batch_norm, indexing=indexing)
            yield pytest.param((LGFDensity, params), id=f"lgf-{base}-{indexing}-{norm}")


def two_blobs(n, seed):
    rng = np.random.RandomState(seed)
    half = n // 2
    return np.vstack(
        [rng.normal(-2, 0.5, (half, 2)), rng.normal(2, 0.5, (n - half, 2))]
    )


X = two_blobs(160, seed=0)
X_TEST = two_blobs(40, seed=1)


def make(config, **params):
    """A fresh, unfitted estimator of ``config`` with the tiny settings."""
    Estimator, config_params = config
    extra = LGF_TINY if Estimator is LGFDensity else {}
    settings = {**TINY, **extra, **config_params, "random_state": 0, **params}
    return Estimator(**settings)


def same_fit(a, b):
    """``a`` and ``b`` are bit-identical models with the same history."""
    np.testing.assert_array_equal(a.score_samples(X_TEST), b.score_samples(X_TEST))
    np.testing.assert_array_equal(
        a.sample(50, random_state=0), b.sample(50, random_state=0)
    )
    assert a.n_iter_ == b.n_iter_
    assert a.loss_curve_ == b.loss_curve_
    assert a.validation_scores_ == b.validation_scores_
    assert a.best_validation_score_ == b.best_validation_score_


@pytest.fixture(scope="module", params=list(_configurations()))
def config(request):
    return request.param


@pytest.fixture(scope="module")
def fitted(config):
    """The configuration fitted for 3 epochs; tests must not change it."""
    return make(config).fit(X)


@pytest.fixture(scope="module")
def stopped(config):
    """The configuration fitted until early stopping ended it."""
    return make(config, **EARLY).fit(X)


# -------------------------------------------------------------- persistence


def test_pickle_and_joblib_round_trips_are_bit_identical(fitted, tmp_path):
    expected = fitted.score_samples(X_TEST)
    draws = fitted.sample(50, random_state=0)
    joblib.dump(fitted, tmp_path / "model.joblib")
    for loaded in (
        pickle.loads(pickle.dumps(fitted)),
        joblib.load(tmp_path / "model.joblib"),
    ):
        np.testing.assert_array_equal(loaded.score_samples(X_TEST), expected)
        np.testing.assert_array_equal(loaded.sample(50, random_state=0), draws)
        assert loaded.get_params() == fitted.get_params()
        assert loaded.n_iter_ == fitted.n_iter_
        assert loaded.loss_curve_ == fitted.loss_curve_


def test_a_pickle_from_before_a_parameter_existed_loads_with_its_default(fitted):
    """Parameters added since (``importance_tol``, ``objective``) are absent
    from an older pickle: loading gives them the defaults that keep the old
    behaviour, and the model scores as before."""
    expected = fitted.score_samples(X_TEST)
    state = fitted.__getstate__()
    if isinstance(fitted, LGFDensity):
        del state["importance_tol"], state["objective"]
    older = type(fitted).__new__(type(fitted))
    older.__setstate__(state)
    assert older.get_params() == fitted.get_params()
    np.testing.assert_array_equal(older.score_samples(X_TEST), expected)


def test_a_pickle_from_before_dequantisation_loads_as_it_was_fitted(fitted):
    """An older pickle has neither ``dequantise`` nor ``grid_spacing_``: it
    loads without grids and with ``dequantise=None`` (a refit does what its
    fit did), and scores as before."""
    expected = fitted.score_samples(X_TEST)
    state = fitted.__getstate__()
    del state["dequantise"], state["grid_spacing_"]
    older = type(fitted).__new__(type(fitted))
    older.__setstate__(state)
    assert older.get_params()["dequantise"] is None
    np.testing.assert_array_equal(older.grid_spacing_, np.zeros(2))
    np.testing.assert_array_equal(older.score_samples(X_TEST), expected)


# ---------------------------------------------------------- reproducibility


def test_clone_with_the_same_random_state_gives_a_bit_identical_fit(fitted):
    same_fit(clone(fitted).fit(X), fitted)
    # A refit without warm_start starts afresh: nothing carries over.
    refitted = clone(fitted).fit(X_TEST[:30]).fit(X)
    same_fit(refitted, fitted)
    other = clone(fitted).set_params(random_state=1).fit(X)
    assert other.loss_curve_ != fitted.loss_curve_
    assert not np.array_equal(other.score_samples(X_TEST), fitted.score_samples(X_TEST))


# ------------------------------------------------------------------ scoring


def test_a_rows_score_does_not_depend_on_the_other_rows(fitted):
    rows = X_TEST[:20]
    together = fitted.score_samples(rows)
    alone = np.array([fitted.score_samples(rows[i : i + 1])[0] for i in range(5)])
    np.testing.assert_array_equal(alone, together[:5])
    np.testing.assert_array_equal(fitted.score_samples(rows[::-1]), together[::-1])
    # Among many rows, far out ones too, and at another position.
    others = 3.0 * np.random.RandomState(2).normal(size=(9000, 2))
    others[::100] *= 1e3
    mixed = fitted.score_samples(np.vstack([others, rows, others[:777]]))
    np.testing.assert_array_equal(mixed[9000:9020], together)


def test_scoring_is_deterministic_and_leaves_no_state(fitted):
    """Evaluation uses fixed statistics (batch norm's calibrated ones, not
    those of the batch): scoring or sampling other rows changes nothing."""
    first = fitted.score_samples(X_TEST)
    assert first.dtype == np.float64 and first.shape == (len(X_TEST),)
    assert np.isfinite(first).all()
    fitted.score_samples(50.0 * X_TEST + 100.0)
    fitted.score_samples(X_TEST[:1])
    fitted.sample(200, random_state=3)
    np.testing.assert_array_equal(fitted.score_samples(X_TEST), first)
    assert fitted.score(X_TEST) == fitted.score(X_TEST)


def test_score_is_the_mean_of_score_samples(fitted):
    score = fitted.score(X_TEST)
    assert isinstance(score, float)
    assert score == pytest.approx(np.mean(fitted.score_samples(X_TEST)), rel=1e-12)
    assert fitted.score(X_TEST, y=np.zeros(len(X_TEST))) == score


# ----------------------------------------------------------------- sampling


def test_samples_have_the_data_shape_and_are_reproducible(fitted):
    draws = fitted.sample(300, random_state=0)
    assert draws.shape == (300, 2) and draws.dtype == np.float64
    assert np.isfinite(draws).all()
    np.testing.assert_array_equal(draws, fitted.sample(300, random_state=0))
    assert not np.array_equal(draws, fitted.sample(300, random_state=1))
    np.testing.assert_array_equal(
        fitted.sample(10, random_state=np.random.RandomState(4)),
        fitted.sample(10, random_state=np.random.RandomState(4)),
    )
    assert fitted.sample().shape == (1, 2)
    for bad in (0, -1, 2.5, "3"):
        with pytest.raises(ValueError, match="n_samples"):
            fitted.sample(bad)


# ---------------------------------------------------------------- training


def test_early_stopping_stops_and_keeps_the_best_validation_score(stopped):
    assert stopped.n_iter_ < MAX_ITER
    assert len(stopped.loss_curve_) == len(stopped.validation_scores_)
    assert len(stopped.loss_curve_) == stopped.n_iter_
    assert stopped.best_validation_score_ == max(stopped.validation_scores_)
    best_epoch = int(np.argmax(stopped.validation_scores_)) + 1
    assert best_epoch <= stopped.n_iter_ - stopped.n_iter_no_change


def test_early_stopping_returns_the_model_of_the_best_epoch(config, stopped):
    """Training for exactly the best epoch's count (same seed) gives the same
    model, bit for bit: the epochs after the best leave no trace."""
    best_epoch = int(np.argmax(stopped.validation_scores_)) + 1
    exact = clone(stopped).set_params(max_iter=best_epoch).fit(X)
    np.testing.assert_array_equal(
        stopped.score_samples(X_TEST), exact.score_samples(X_TEST)
    )


def test_warm_start_continues_and_never_loses_on_validation(config):
    est = make(config, warm_start=True, learning_rate_init=1e-2).fit(X)
    epochs = est.n_iter_
    curve, scores = list(est.loss_curve_), list(est.validation_scores_)
    start_score = est.best_validation_score_
    est.fit(X)
    assert est.n_iter_ == epochs + 3
    assert len(est.loss_curve_) == len(est.validation_scores_) == est.n_iter_
    assert est.loss_curve_[:epochs] == curve
    assert est.validation_scores_[:epochs] == scores
    # It went on from the trained weights, not from a new initialisation.
    assert est.loss_curve_[epochs] < curve[0]
    # The returned weights are the best of the refit's epochs and its start.
    assert est.best_validation_score_ >= max(est.validation_scores_[epochs:])
    if not config[1]["batch_norm"]:
        # The start is the first fit's best epoch, on the same validation
        # rows (same random_state): its score is start_score exactly. (With
        # batch norm the start is scored with the calibrated statistics and
        # its recorded epoch with the running ones, so they differ.)
        assert est.best_validation_score_ >= start_score
    # Switching warm_start off starts afresh.
    fresh = make(config, learning_rate_init=1e-2).fit(X)
    same_fit(est.set_params(warm_start=False).fit(X), fresh)


def test_converged_says_whether_the_stopping_criterion_was_met(config, fitted, stopped):
    assert stopped.n_iter_ < MAX_ITER and stopped.converged_ is True
    assert fitted.n_iter_ == fitted.max_iter and fitted.converged_ is False
    # Without early stopping the training loss decides, just as well.
    by_loss = make(
        config, early_stopping=False, tol=10.0, n_iter_no_change=2, max_iter=50
    ).fit(X)
    assert by_loss.n_iter_ < 50 and by_loss.converged_ is True
    # Reaching max_iter is what the ConvergenceWarning says.
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        short = make(config, max_iter=2).fit(X)
    assert short.converged_ is False


# --------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "value, match", [(np.nan, "NaN"), (np.inf, "infinity"), (-np.inf, "infinity")]
)
def test_non_finite_input_is_named(config, fitted, value, match):
    bad = X_TEST.copy()
    bad[3, 1] = value
    with pytest.raises(ValueError, match=match):
        make(config).fit(np.vstack([X, bad]))
    with pytest.raises(ValueError, match=match):
        fitted.score_samples(bad)
    with pytest.raises(ValueError, match=match):
        fitted.score(bad)


def test_bad_shapes_are_named(config, fitted):
    with pytest.raises(ValueError, match="3 features.*expecting 2 features"):
        fitted.score_samples(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="2D array"):
        fitted.score_samples(X_TEST[0])
    with pytest.raises(ValueError, match="n_samples=1"):
        make(config).fit(X[:1])
    with pytest.raises(NotFittedError):
        make(config).score_samples(X_TEST)
    with pytest.raises(NotFittedError):
        make(config).sample(5)


COMMON_BAD_PARAMS = [
    ("n_layers", 0),
    ("hidden_layer_sizes", (0,)),
    ("hidden_layer_sizes", ()),
    ("conditioner", "made"),
    ("univariate", "glow"),
    ("base", "glow"),
    ("batch_norm", "yes"),
    ("max_iter", 0),
    ("batch_size", 0),
    ("learning_rate", "fast"),
    ("learning_rate_init", 0.0),
    ("alpha", -1.0),
    ("early_stopping", "sometimes"),
    ("validation_fraction", 1.0),
    ("n_iter_no_change", 0),
    ("tol", -1.0),
    ("device", "nonsense"),
    ("n_threads", 0),
    ("random_state", "seed"),
    ("dequantise", "yes"),
    ("dequantise", [1.0]),  # X has two features
    ("dequantise", [[1.0, 1.0]]),
    ("dequantise", [1.0, -1.0]),
    ("dequantise", [np.nan, 0.0]),
    ("dequantise", [0.0, np.inf]),
    ("dequantise", ["a", "b"]),
]
LGF_BAD_PARAMS = [
    ("u_dim", 0),
    ("pq_hidden_layer_sizes", ()),
    ("st_hidden_layer_sizes", (0,)),
    ("indexing", "sideways"),
    ("n_elbo_samples", 0),
    ("objective", "elbow"),
    ("n_importance_samples", 0),
    ("n_validation_samples", 0),
]


def test_bad_parameters_are_named(config):
    bad_params = COMMON_BAD_PARAMS
    if config[0] is LGFDensity:
        bad_params = bad_params + LGF_BAD_PARAMS
    for name, value in bad_params:
        with pytest.raises(ValueError, match=name):
            make(config, **{name: value}).fit(X)
