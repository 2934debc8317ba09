"""scikit-learn's estimator checks, with no expected failures."""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    parametrize_with_checks,
)

from sklearn_lgf import LGFDensity, MAFDensity

# The checks fit with max_iter=2: their ConvergenceWarning is expected.
pytestmark = pytest.mark.usefixtures("tiny_budget")

# Tiny budgets: the checks fit about 35 times on toy data.
TINY = dict(max_iter=2, random_state=0, device="cpu")
ESTIMATORS = [
    MAFDensity(n_layers=2, hidden_layer_sizes=(8,), **TINY),
    MAFDensity(
        n_layers=2,
        hidden_layer_sizes=(8,),
        conditioner="coupling",
        batch_norm=True,
        **TINY,
    ),
    LGFDensity(
        n_layers=2,
        hidden_layer_sizes=(8,),
        univariate="affine",
        pq_hidden_layer_sizes=(8,),
        st_hidden_layer_sizes=(4,),
        n_importance_samples=4,
        **TINY,
    ),
    MAFDensity(
        n_layers=2, hidden_layer_sizes=(8,), univariate="spline", n_bins=4, **TINY
    ),
    LGFDensity(
        n_layers=2,
        hidden_layer_sizes=(8,),
        conditioner="coupling",
        univariate="spline",
        n_bins=4,
        pq_hidden_layer_sizes=(8,),
        st_hidden_layer_sizes=(4,),
        n_importance_samples=4,
        **TINY,
    ),
    LGFDensity(
        n_layers=2,
        hidden_layer_sizes=(8,),
        conditioner="coupling",
        univariate="affine",
        indexing="conditioner",
        pq_hidden_layer_sizes=(8,),
        n_importance_samples=4,
        **TINY,
    ),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_param_validation(estimator):
    check_param_validation(type(estimator).__name__, estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_dataframe_column_names_consistency(estimator):
    check_dataframe_column_names_consistency(type(estimator).__name__, estimator)
