"""scikit-learn's estimator checks: none expected to fail on tabular data; on
images, only those that fit data of another number of features."""

from __future__ import annotations

from functools import partial

import pytest
from sklearn.utils import estimator_checks
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


# ------------------------------------------------------------------ images
# An image estimator takes rows of C * H * W pixels, so a check that fits
# data of another number of features must fail, with the message that names
# the mismatch. The checks use 2, 3, 4, 5 and 10 features: each image shape
# below expects to fail exactly the checks whose data have another width,
# and every one of those passes at its own width (the suite at 2 and 3
# features, test_image_checks_pass_at_their_own_width for the rest).
def _image_estimators(shape):
    return [
        MAFDensity(image_shape=shape, hidden_layer_sizes=(4,), **TINY),
        LGFDensity(
            image_shape=shape,
            hidden_layer_sizes=(4,),
            pq_hidden_layer_sizes=(4,),
            st_hidden_layer_sizes=(2,),
            n_importance_samples=4,
            **TINY,
        ),
    ]


ARRAY_API_CHECK = "check_array_api_input"
CHECK_WIDTHS = {
    "check_n_features_in_after_fitting": 4,
    "check_positive_only_tag_during_fit": 4,
    "check_estimators_dtypes": 5,
    "check_dtype_object": 10,
    ARRAY_API_CHECK: 10,
    **{
        name: 2
        for name in (
            "check_estimators_overwrite_params",
            "check_estimators_fit_returns_self",
            "check_readonly_memmap_input",
            "check_fit_idempotent",
            "check_fit_check_is_fitted",
            "check_n_features_in",
        )
    },
    **{
        name: 3
        for name in (
            "check_fit_score_takes_y",
            "check_dont_overwrite_parameters",
            "check_pipeline_consistency",
            "check_estimators_nan_inf",
            "check_estimators_pickle",
            "check_f_contiguous_array_estimator",
            "check_methods_sample_order_invariance",
            "check_methods_subset_invariance",
            "check_dict_unchanged",
            "check_fit2d_predict1d",
        )
    },
}
WIDTH_SHAPES = {2: (1, 1, 2), 3: (1, 1, 3), 4: (1, 2, 2), 5: (1, 1, 5), 10: (1, 2, 5)}


def _other_widths(estimator):
    shape = estimator.image_shape
    n_pixels = shape[0] * shape[1] * shape[2]
    return {
        name: f"fits data of {width} features; image_shape={shape} takes {n_pixels}"
        for name, width in CHECK_WIDTHS.items()
        if width != n_pixels
    }


@parametrize_with_checks(
    _image_estimators((1, 1, 3)) + _image_estimators((1, 1, 2)),
    expected_failed_checks=_other_widths,
    xfail_strict=True,
)
def test_sklearn_compatible_on_images(estimator, check):
    check(estimator)


@pytest.mark.parametrize("width", [4, 5, 10])
def test_image_checks_pass_at_their_own_width(width):
    checks = {
        name: getattr(estimator_checks, name.split("(")[0])
        for name, w in CHECK_WIDTHS.items()
        if w == width
    }
    if ARRAY_API_CHECK in checks:
        checks[ARRAY_API_CHECK] = partial(
            estimator_checks.check_array_api_input,
            array_namespace="numpy",
            expect_only_array_outputs=False,
        )
    for estimator in _image_estimators(WIDTH_SHAPES[width]):
        for check in checks.values():
            check(type(estimator).__name__, estimator)


@pytest.mark.parametrize("estimator", _image_estimators((1, 1, 3)), ids=repr)
def test_param_validation_on_images(estimator):
    check_param_validation(type(estimator).__name__, estimator)
