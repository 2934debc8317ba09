"""Bit-for-bit equality of a refactor: record every estimator configuration's
results on one commit, check them on another.

    python benchmarks/release_equality.py record DIR   # on the commit before
    python benchmarks/release_equality.py check DIR    # on the commit after

Every configuration that ``tests/test_estimator_contract.py`` covers
(estimator x step x batch norm x, for LGF, indexing and objective), fitted
on an array and on a memmap, with early stopping so that the validation
curve and the restore of the best weights take part, then a warm refit of
the array fit. Recorded: the scores (with and without standard errors, and
adaptively with ``importance_tol``), the ELBOs, samples, the loss and
validation curves and the model file each fit writes. ``check`` refits,
compares every array exactly, and loads the model files that ``record``
wrote to check that they score as they did.

The step is named through the ``base`` parameter, which the names that
replace it keep accepting (with a ``FutureWarning``) for one release.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from sklearn_lgf import LGFDensity, MAFDensity
from sklearn_lgf.model_io import load_model, save_model

TINY = dict(
    n_layers=2,
    hidden_layer_sizes=(8,),
    max_iter=12,
    n_iter_no_change=2,
    tol=0.0,
    learning_rate_init=2e-2,
    device="cpu",
    n_threads=1,
    random_state=0,
)
LGF_TINY = dict(
    u_dim=1,
    pq_hidden_layer_sizes=(8,),
    st_hidden_layer_sizes=(8,),
    n_elbo_samples=2,
    n_importance_samples=6,
    n_validation_samples=2,
)
BASES = ("made", "coupling", "spline", "spline-coupling")


def configurations():
    """(name, estimator class, parameters) of every configuration."""
    for base, batch_norm in itertools.product(BASES, (False, True)):
        norm = "bn" if batch_norm else "nobn"
        yield (
            f"maf-{base}-{norm}",
            MAFDensity,
            {**TINY, "base": base, "batch_norm": batch_norm},
        )
        for indexing, objective in itertools.product(
            ("affine", "conditioner"), ("elbo", "iwae")
        ):
            yield (
                f"lgf-{base}-{indexing}-{objective}-{norm}",
                LGFDensity,
                {
                    **TINY,
                    **LGF_TINY,
                    "base": base,
                    "batch_norm": batch_norm,
                    "indexing": indexing,
                    "objective": objective,
                },
            )


def data():
    rng = np.random.RandomState(0)
    centres = np.array([[-2.0, 0.0, 1.0], [2.0, 1.0, -1.0]])
    X = np.vstack([rng.normal(c, 0.5, (80, 3)) for c in centres])
    X_test = np.vstack([rng.normal(c, 0.7, (20, 3)) for c in centres])
    return X[rng.permutation(len(X))], X_test


def results(estimator, X_test, prefix):
    """Every array this fitted estimator gives, keyed by ``prefix``."""
    out = {
        "score_samples": estimator.score_samples(X_test),
        "sample": estimator.sample(30, random_state=1),
        "loss_curve": np.asarray(estimator.loss_curve_, dtype=np.float64),
        "validation_scores": np.asarray(estimator.validation_scores_, dtype=np.float64),
        "n_iter": np.asarray(estimator.n_iter_),
        "location": np.asarray(estimator.location_),
        "scale": np.asarray(estimator.scale_),
    }
    log_p, std = estimator.score_samples(X_test, return_std=True)
    out["score_samples_with_std"] = np.stack([log_p, std])
    if isinstance(estimator, LGFDensity):
        out["elbo"] = estimator.elbo(X_test)
        tol = estimator.importance_tol
        estimator.set_params(importance_tol=0.5)
        out["adaptive"] = np.stack(estimator.score_samples(X_test, return_std=True))
        estimator.set_params(importance_tol=tol)
    return {f"{prefix}/{key}": value for key, value in out.items()}


def run(directory: Path, record: bool) -> int:
    X, X_test = data()
    found: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "X.npy"
        np.save(path, X)
        X_memmap = np.load(path, mmap_mode="r")
        for name, Estimator, params in configurations():
            for source, rows in (("array", X), ("memmap", X_memmap)):
                estimator = Estimator(**params).fit(rows)
                found.update(results(estimator, X_test, f"{name}/{source}"))
                model_file = directory / f"{name}-{source}.model"
                if record:
                    save_model(estimator, model_file)
                else:
                    loaded = load_model(model_file)
                    found.update(results(loaded, X_test, f"{name}/{source}/loaded"))
                if source == "array":
                    estimator.set_params(warm_start=True, max_iter=3)
                    estimator.fit(X)
                    found.update(results(estimator, X_test, f"{name}/warm"))
            print(name, file=sys.stderr)
    expected_file = directory / "expected.npz"
    if record:
        np.savez_compressed(expected_file, **found)
        print(f"recorded {len(found)} arrays in {expected_file}")
        return 0
    expected = dict(np.load(expected_file))
    failures = []
    for key, value in found.items():
        reference_key = key.replace("/loaded", "")
        reference = expected.get(reference_key)
        if reference is None:
            failures.append(f"{key}: not recorded")
        elif reference.shape != value.shape or not np.array_equal(
            reference, value, equal_nan=True
        ):
            failures.append(f"{key}: differs")
    missing = sorted(set(expected) - set(found))
    failures += [f"{key}: recorded, not produced" for key in missing]
    checked = len(found) - len(failures)
    print(f"{checked} of {len(found)} arrays bit-identical; {len(missing)} missing")
    for failure in failures:
        print("  " + failure)
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("record", "check"))
    parser.add_argument("directory", type=Path)
    args = parser.parse_args()
    args.directory.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # convergence, the deprecated ``base``
    return run(args.directory, args.mode == "record")


if __name__ == "__main__":
    sys.exit(main())
