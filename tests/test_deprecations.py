"""``base`` is deprecated for ``conditioner`` and ``univariate`` (0.2.0, removed
in 0.3.0): it keeps building the same model, with a FutureWarning that says
what to write, and never changes the estimator's parameters."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import check_estimator

from sklearn_lgf import LGFDensity, MAFDensity
from sklearn_lgf._steps import BASE_STEPS
from sklearn_lgf.model_io import load_model, save_model

pytestmark = pytest.mark.usefixtures("tiny_budget")

TINY = dict(
    n_layers=2,
    hidden_layer_sizes=(8,),
    max_iter=2,
    n_bins=4,
    device="cpu",
    n_threads=1,
    random_state=0,
)
LGF_TINY = dict(
    u_dim=1,
    pq_hidden_layer_sizes=(8,),
    st_hidden_layer_sizes=(8,),
    n_elbo_samples=2,
    n_importance_samples=4,
    n_validation_samples=2,
)
ESTIMATORS = {MAFDensity: TINY, LGFDensity: {**TINY, **LGF_TINY}}
X = np.random.RandomState(0).normal(size=(60, 3))


def make(cls, **params):
    return cls(**{**ESTIMATORS[cls], **params})


def weights(estimator):
    return {k: v.clone() for k, v in estimator.model_.state_dict().items()}


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_defaults_are_todays_models(cls):
    estimator = cls()
    expected = "affine" if cls is MAFDensity else "spline"
    assert estimator._step(warn=False) == ("autoregressive", expected)
    assert estimator.get_params()["base"] == "deprecated"


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("base", BASE_STEPS)
def test_base_builds_the_same_model_with_a_future_warning(cls, base):
    conditioner, univariate = BASE_STEPS[base]
    old = make(cls, base=base)
    message = (
        rf"{cls.__name__}'s parameter base was deprecated in 0\.2\.0 and will be "
        rf"removed in 0\.3\.0; base='{base}' is conditioner='{conditioner}' with "
        rf"univariate='{univariate}': write {cls.__name__}\(conditioner="
        rf"'{conditioner}', univariate='{univariate}'\) instead"
    )
    with pytest.warns(FutureWarning, match=message) as record:
        old.fit(X)
    # Attributed to the caller's line, where the parameter is written.
    (future,) = [w for w in record if w.category is FutureWarning]
    assert future.filename == __file__
    new = make(cls, conditioner=conditioner, univariate=univariate)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        new.fit(X)
    old_weights, new_weights = weights(old), weights(new)
    assert old_weights.keys() == new_weights.keys()
    for key in old_weights:
        assert torch.equal(old_weights[key], new_weights[key]), key
    np.testing.assert_array_equal(old.score_samples(X), new.score_samples(X))
    # The estimator's parameters are never rewritten.
    assert old.get_params()["base"] == base
    assert old.get_params()["conditioner"] == cls().conditioner
    assert old.get_params()["univariate"] == cls().univariate


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_base_wins_over_the_defaults_only(cls):
    # base="coupling" with the other estimator defaults: coupling, affine.
    estimator = make(cls, base="coupling")
    with pytest.warns(FutureWarning):
        estimator.fit(X)
    reference = make(cls, conditioner="coupling", univariate="affine").fit(X)
    np.testing.assert_array_equal(
        estimator.score_samples(X), reference.score_samples(X)
    )
    # Both named, agreeing: the same model, still the warning.
    agreeing = make(cls, base="spline", univariate="spline")
    with pytest.warns(FutureWarning, match="base='spline'"):
        agreeing.fit(X)


@pytest.mark.parametrize(
    "cls, base, name, value",
    [
        (MAFDensity, "made", "conditioner", "coupling"),
        (LGFDensity, "spline", "conditioner", "coupling"),
        (MAFDensity, "made", "univariate", "spline"),
        (LGFDensity, "spline-coupling", "univariate", "affine"),
    ],
)
def test_base_contradicting_a_new_parameter_is_an_error(cls, base, name, value):
    estimator = make(cls, base=base, **{name: value})
    implied = BASE_STEPS[base][0 if name == "conditioner" else 1]
    message = (
        rf"base='{base}' \(deprecated\) means {name}='{implied}', but "
        rf"{name}='{value}' was given: set conditioner and univariate only, "
        "and leave base out"
    )
    with pytest.raises(ValueError, match=message):
        estimator.fit(X)
    assert not hasattr(estimator, "model_")


def test_a_new_parameter_at_its_default_does_not_count_as_set():
    # LGFDensity's default univariate is "spline": base="made" still means
    # the affine step, as it did before the rename.
    with pytest.warns(FutureWarning):
        old = make(LGFDensity, base="made", univariate="spline").fit(X)
    new = make(LGFDensity, univariate="affine").fit(X)
    np.testing.assert_array_equal(old.score_samples(X), new.score_samples(X))


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_clone_and_get_params_round_trip(cls):
    for params in (
        {"base": "spline-coupling"},
        {"conditioner": "coupling", "univariate": "spline"},
    ):
        estimator = make(cls, **params)
        copy = clone(estimator)
        assert copy.get_params() == estimator.get_params()
        assert cls(**estimator.get_params()).get_params() == estimator.get_params()
        copy.set_params(base="deprecated", conditioner="autoregressive")
        assert copy.get_params()["base"] == "deprecated"
        assert estimator.get_params()["base"] == params.get("base", "deprecated")


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_new_names_are_validated(cls):
    from sklearn.utils._param_validation import InvalidParameterError

    for params in ({"conditioner": "made"}, {"univariate": "glow"}, {"base": "x"}):
        with pytest.raises(InvalidParameterError):
            make(cls, **params).fit(X)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_files_naming_base_load_as_the_new_names_without_a_warning(cls, tmp_path):
    with pytest.warns(FutureWarning):
        old = make(cls, base="spline-coupling").fit(X)
    path = tmp_path / "model.pt"
    save_model(old, path)  # as a file written before 0.2.0 records it
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        loaded = load_model(path)
    params = loaded.get_params()
    assert params["base"] == "deprecated"
    assert (params["conditioner"], params["univariate"]) == ("coupling", "spline")
    np.testing.assert_array_equal(loaded.score_samples(X), old.score_samples(X))


def test_check_estimator_with_base_set():
    # scikit-learn's checks on an estimator that still names its step by base
    # (they clone and refit it many times; the warning is expected).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "MAFDensity's parameter base", FutureWarning)
        check_estimator(make(MAFDensity, base="coupling", max_iter=1))
