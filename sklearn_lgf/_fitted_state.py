"""What ``fit`` leaves on an estimator, as plain data and tensors, and back.

:mod:`sklearn_lgf.model_io` stores exactly what :func:`get_fitted_state`
gives and restores it with :func:`set_fitted_state`, which checks every value;
no other module lists the fitted attributes of a file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

if TYPE_CHECKING:
    from ._base import BaseFlowDensity


def get_fitted_state(
    estimator: BaseFlowDensity,
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The fitted attributes of ``estimator`` as plain data, and its model's
    weights (on the CPU)."""
    check_is_fitted(estimator, "model_")
    fitted: dict[str, Any] = {
        "location_": torch.tensor(np.asarray(estimator.location_, dtype=np.float64)),
        "scale_": torch.tensor(np.asarray(estimator.scale_, dtype=np.float64)),
        "grid_spacing_": torch.tensor(
            np.asarray(estimator.grid_spacing_, dtype=np.float64)
        ),
        "n_features_in_": int(estimator.n_features_in_),
        "n_iter_": int(estimator.n_iter_),
        "loss_curve_": [float(v) for v in estimator.loss_curve_],
        "validation_scores_": [float(v) for v in estimator.validation_scores_],
        "best_validation_score_": _optional_float(estimator.best_validation_score_),
        "converged_": bool(getattr(estimator, "converged_", False)),
        "noise_seed": int(estimator._noise_seed),
    }
    if hasattr(estimator, "n_samples_fit_"):
        fitted["n_samples_fit_"] = int(estimator.n_samples_fit_)
    if hasattr(estimator, "feature_names_in_"):
        fitted["feature_names_in_"] = [str(n) for n in estimator.feature_names_in_]
    weights = {
        name: tensor.detach().cpu()
        for name, tensor in estimator.model_.state_dict().items()
    }
    return fitted, weights


def set_fitted_state(
    estimator: BaseFlowDensity,
    fitted: dict[str, Any],
    weights: dict[str, torch.Tensor],
) -> None:
    """Restore on ``estimator`` what :func:`get_fitted_state` gave, checking
    every value; a ValueError names the first bad one.

    The model is rebuilt from the estimator's parameters (validated here as
    ``fit`` validates them), gets ``weights`` (keys and shapes must match
    exactly) and the training settings of :meth:`BaseFlowDensity._monte_carlo`,
    and is left in evaluation mode on the CPU; the global torch random state
    is unchanged. ``converged_`` is ``None`` for files that predate it;
    ``grid_spacing_`` is all 0 (no discrete feature, as they were fitted)
    for files that predate it.
    """
    estimator._validate_params()
    estimator._check_params()
    n_features = _expect_int(fitted, "n_features_in_")
    attributes: dict[str, Any] = {
        "n_features_in_": n_features,
        "location_": _expect_vector(fitted, "location_", n_features),
        "scale_": _expect_vector(fitted, "scale_", n_features),
        "grid_spacing_": _expect_spacing(fitted, n_features),
    }
    names = fitted.get("feature_names_in_")
    if names is not None:
        if not isinstance(names, list) or len(names) != n_features:
            raise ValueError("bad feature_names_in_")
        if not all(isinstance(n, str) for n in names):
            raise ValueError("bad feature_names_in_")
        attributes["feature_names_in_"] = np.asarray(names, dtype=object)
    attributes.update(
        best_validation_score_=_expect_optional(
            fitted, "best_validation_score_", float
        ),
        converged_=_expect_optional(fitted, "converged_", bool),
        n_iter_=_expect_int(fitted, "n_iter_"),
        loss_curve_=_expect_floats(fitted, "loss_curve_"),
        validation_scores_=_expect_floats(fitted, "validation_scores_"),
        _noise_seed=_expect_int(fitted, "noise_seed"),
    )
    # The size rule of "auto" networks reads the rows fitted on, before the
    # model is built; files written before the rule lack them.
    estimator.__dict__.pop("n_samples_fit_", None)
    if "n_samples_fit_" in fitted:
        estimator.n_samples_fit_ = _expect_int(fitted, "n_samples_fit_")
    with torch.random.fork_rng(devices=[]):
        model = estimator._build_model(n_features)
    model.load_state_dict(weights, strict=True)
    model.eval()
    estimator.__dict__.pop("_device", None)  # the new model is on the CPU
    estimator.model_ = model
    for name, value in attributes.items():
        setattr(estimator, name, value)
    model.monte_carlo = estimator._monte_carlo()


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _expect_optional(fitted: dict[str, Any], key: str, kind: type) -> Any:
    value = fitted.get(key)
    if value is not None and not isinstance(value, kind):
        raise ValueError(f"bad {key}")
    return value


def _expect_int(fitted: dict[str, Any], key: str) -> int:
    value = fitted.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"bad {key}")
    return value


def _expect_vector(fitted: dict[str, Any], key: str, n_features: int) -> np.ndarray:
    value = fitted.get(key)
    if (
        not isinstance(value, torch.Tensor)
        or value.dtype != torch.float64
        or tuple(value.shape) != (n_features,)
    ):
        raise ValueError(f"bad {key}")
    return np.array(value.numpy(), dtype=np.float64)


def _expect_spacing(fitted: dict[str, Any], n_features: int) -> np.ndarray:
    if "grid_spacing_" not in fitted:
        return np.zeros(n_features)
    spacing = _expect_vector(fitted, "grid_spacing_", n_features)
    if not (np.isfinite(spacing) & (spacing >= 0)).all():
        raise ValueError("bad grid_spacing_")
    return spacing


def _expect_floats(fitted: dict[str, Any], key: str) -> list[float]:
    value = fitted.get(key)
    if not isinstance(value, list) or not all(isinstance(v, float) for v in value):
        raise ValueError(f"bad {key}")
    return list(value)
