"""Fitting an estimator for ``fit`` and ``demo``, and saving what was fitted."""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from ._messages import (
    INTERRUPTED,
    PROG,
    TRAINING_FAILED,
    CLIError,
    in_cli_words,
    recorded_warnings,
    report_warnings,
)
from ._tables import Table

# The estimator parameter behind each ``fit`` option: used to build the
# estimator and to put its messages in the words of the command line. Each
# flag is its parameter's name, but for ``--threads``, which every command has.
FIT_OPTION_PARAMETERS = {
    "n_layers": "n_layers",
    "hidden_layer_sizes": "hidden_layer_sizes",
    "conditioner": "conditioner",
    "univariate": "univariate",
    "n_bins": "n_bins",
    "u_dim": "u_dim",
    "image_shape": "image_shape",
    "n_levels": "n_levels",
    "n_importance_samples": "n_importance_samples",
    "max_iter": "max_iter",
    "batch_size": "batch_size",
    "learning_rate_init": "learning_rate_init",
    "learning_rate": "learning_rate",
    "random_state": "random_state",
    "device": "device",
    "threads": "n_threads",
}


def n_parameters(model: Any) -> int:
    """Trainable numbers of a fitted estimator's network."""
    return int(sum(p.numel() for p in model.model_.parameters()))


def fit_reporting_warnings(
    estimator: Any,
    X: np.ndarray,
    options: dict[str, str] | None = None,
    expected: str | None = None,
) -> float:
    """Fit, reporting warnings in one line each; returns the seconds taken.

    Messages name parameters by their command-line flags (``options``: see
    :data:`FIT_OPTION_PARAMETERS`); warnings whose message matches the
    regular expression ``expected`` are the caller's design and not shown.
    Warnings raised before a ``KeyboardInterrupt`` are still shown, and the
    interrupt goes through.
    """
    from ..nn.training import TrainingDiverged

    start = time.perf_counter()
    try:
        with recorded_warnings(expected) as caught:
            try:
                estimator.fit(X)
            finally:
                report_warnings(caught, options)
    except TrainingDiverged as error:
        raise CLIError(
            f"training failed: {in_cli_words(str(error), options)}",
            status=TRAINING_FAILED,
        ) from None
    except ValueError as error:  # parameter checks, too few rows, ...
        first = str(error).strip().splitlines()
        message = in_cli_words(first[0] if first else str(error), options)
        raise CLIError(f"cannot fit: {message}") from None
    return time.perf_counter() - start


def save_fitted(estimator: Any, table: Table, path: str) -> None:
    """Save a model fitted on ``table`` (with its column names) to ``path``."""
    from ..model_io import save_model

    if table.names is not None and len(set(table.names)) == len(table.names):
        if all(table.names):
            # What fitting on a DataFrame with these columns would record.
            estimator.feature_names_in_ = np.asarray(table.names, dtype=object)
    # Display and threads are choices of this run, not part of the model.
    estimator.set_params(verbose=0, n_threads="auto")
    try:
        save_model(estimator, path)
    except OSError as error:
        raise CLIError(f"cannot write {path}: {error.strerror or error}") from None


def save_interrupted(estimator: Any, table: Table, path: str) -> int:
    """After Ctrl-C during a fit: save the best model so far if there is one."""
    epochs = int(getattr(estimator, "n_iter_", 0))
    if not epochs or not hasattr(estimator, "model_"):
        print(
            f"{PROG}: interrupted before the first epoch ended; nothing saved",
            file=sys.stderr,
        )
        return INTERRUPTED
    best = getattr(estimator, "best_validation_score_", None)
    scores = list(getattr(estimator, "validation_scores_", []))
    if best is not None and scores:
        detail = (
            f"the weights of epoch {int(np.argmax(scores)) + 1}, validation "
            f"log-likelihood {best:.4f}"
        )
    else:
        detail = f"the weights after epoch {epochs}"
    save_fitted(estimator, table, path)
    print(
        f"{PROG}: interrupted after {epochs} epoch{'s' * (epochs != 1)}: saved the "
        f"best model so far ({detail}) to {path}",
        file=sys.stderr,
    )
    return INTERRUPTED
