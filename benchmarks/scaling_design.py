"""Issue 25 design probe: how should the estimators scale the features?

Run from the repository root::

    python benchmarks/scaling_design.py [--seeds 0 1 2]

``MAFDensity()`` at its defaults, fitted with the package's standardisation
replaced (a probe of the internals: ``sklearn_lgf._rows.statistics`` is
swapped for one run, nothing is changed in the package) by:

* ``per-feature`` -- today's: each feature's own mean and standard
  deviation (of the rows within the extreme-row fence);
* ``one global scale`` -- one location and one scale for every feature
  (the means of the per-feature ones): the data's own units, shifted;
* ``global scale, own location`` -- each feature's own mean, one scale;
* ``floor c x median`` -- per-feature, but no scale below ``c`` times the
  median scale of the non-constant features;
* ``shrunk halfway`` -- the geometric mean of each feature's scale and the
  scales' geometric mean.

Data, each scored in its own units on held-out rows (validation splits of
training data only; no test set):

* digits, the protocol of ``benchmarks/digits.py`` (its dequantised
  ``[0, 1)`` pixels; the validation split of its training set);
* two features in units a thousand times apart (a 2-D Gaussian mixture,
  second coordinate times 1000), 2,000 training rows, 2,000 held out;
* the ADBench sets through ``StandardScaler`` (design seed 10; the
  detector's held-out likelihood, ``best_validation_score_``, in the
  package's standardised units, so the variants are compared per row of
  the same split only through the ROC-AUC: after a ``StandardScaler`` every
  feature's scale is about 1 and the variants nearly coincide).

One torch thread.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).parent))
from harness import RESULTS, ResultFile, command_line, set_threads  # noqa: E402
from harness.data import (  # noqa: E402
    ADBENCH_DATASETS,
    adbench_split,
    load_adbench,
    load_digits_split,
)

import sklearn_lgf._rows as rows  # noqa: E402
from sklearn_lgf import DensityOutlierDetector, MAFDensity  # noqa: E402
from sklearn_lgf._standardise import Statistics, statistics  # noqa: E402

Scaling = Callable[..., Statistics]


def global_scale(X: np.ndarray, grids: bool = False) -> Statistics:
    found = statistics(X, grids)
    return dataclasses.replace(
        found,
        location=np.full_like(found.location, float(np.mean(found.location))),
        scale=np.full_like(found.scale, float(np.mean(found.scale))),
    )


def median_floor(share: float) -> Scaling:
    def scaling(X: np.ndarray, grids: bool = False) -> Statistics:
        found = statistics(X, grids)
        live = ~found.constant
        floor = share * float(np.median(found.scale[live])) if live.any() else 0.0
        scale = np.where(live, np.maximum(found.scale, floor), found.scale)
        return dataclasses.replace(found, scale=scale)

    return scaling


def shrunk(power: float) -> Scaling:
    """Each scale moved towards the geometric mean of the scales:
    ``scale_j ** power * mean ** (1 - power)`` (``power`` 1: per-feature)."""

    def scaling(X: np.ndarray, grids: bool = False) -> Statistics:
        found = statistics(X, grids)
        live = ~found.constant
        if not live.any():
            return found
        mean = float(np.exp(np.mean(np.log(found.scale[live]))))
        scale = np.where(live, found.scale**power * mean ** (1 - power), found.scale)
        return dataclasses.replace(found, scale=scale)

    return scaling


def global_scale_own_location(X: np.ndarray, grids: bool = False) -> Statistics:
    found = statistics(X, grids)
    return dataclasses.replace(
        found, scale=np.full_like(found.scale, float(np.mean(found.scale)))
    )


VARIANTS: dict[str, Scaling] = {
    "per-feature (today)": statistics,
    "one global scale": global_scale,
    "global scale, own location": global_scale_own_location,
    "floor 0.3 x median": median_floor(0.3),
    "floor 1 x median": median_floor(1.0),
    "shrunk halfway (geometric)": shrunk(0.5),
}


def mixed_units(n: int, seed: int) -> np.ndarray:
    rng = np.random.RandomState(seed)
    centres = np.array([[-2.0, 0.0], [2.0, 1.0], [0.0, -2.0]])
    X = centres[rng.randint(3, size=n)] + 0.5 * rng.normal(size=(n, 2))
    return X * [1.0, 1000.0]


def fit_quietly(estimator, X: np.ndarray):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimator.fit(X)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--output", type=Path, default=RESULTS / "scaling_design.md")
    args = parser.parse_args()
    set_threads(1)
    report = ResultFile(args.output, command_line(__file__, sys.argv[1:]))
    header = (
        "# Feature scaling: a design probe for issue 25 (MAFDensity defaults)\n\n"
        f"- command: `{report.command.strip()}`\n"
        "- digits: held-out log-likelihood (nats per row, data units) on the "
        "validation split of `benchmarks/digits.py`'s training set, model seeds "
        f"{args.seeds}; mixed units: the same on 2,000 held-out rows; ADBench: "
        "mean ROC-AUC of the detector on design split 10 (model seed 10)\n\n"
        "| data | " + " | ".join(VARIANTS) + " |\n"
        "|---|" + "---|" * len(VARIANTS) + "\n"
    )
    lines: list[str] = []
    original = rows.statistics
    try:
        X_train, _ = load_digits_split()
        X_fit, X_val = train_test_split(X_train, test_size=0.2, random_state=1)
        X_mixed = mixed_units(4000, 0)
        tasks = {
            "digits": lambda seed: fit_quietly(
                MAFDensity(random_state=seed, n_threads=1), X_fit
            ).score(X_val),
            "mixed units (x1, 1000 x2)": lambda seed: fit_quietly(
                MAFDensity(random_state=seed, n_threads=1), X_mixed[:2000]
            ).score(X_mixed[2000:]),
        }
        for name, task in tasks.items():
            cells = []
            for scaling in VARIANTS.values():
                rows.statistics = scaling
                cells.append(f"{np.mean([task(seed) for seed in args.seeds]):.2f}")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
            report.clock.log(lines[-1])
            report.update(header + "\n".join(lines) + "\n")
        aucs: dict[str, list[float]] = {label: [] for label in VARIANTS}
        for data in ADBENCH_DATASETS:
            X, y = load_adbench(data)
            X_tr, X_te, y_te = adbench_split(X, y, 10)
            for label, scaling in VARIANTS.items():
                rows.statistics = scaling
                detector = fit_quietly(
                    make_pipeline(
                        StandardScaler(),
                        DensityOutlierDetector(
                            MAFDensity(random_state=10, n_threads=1), random_state=10
                        ),
                    ),
                    X_tr,
                )
                aucs[label].append(roc_auc_score(y_te, -detector.score_samples(X_te)))
            report.clock.log(
                f"{data}: " + str({k: round(v[-1], 3) for k, v in aucs.items()})
            )
        lines.append(
            "| ADBench, mean ROC-AUC of 8 sets | "
            + " | ".join(f"{np.mean(v):.3f}" for v in aucs.values())
            + " |"
        )
    finally:
        rows.statistics = original
    report.finish(header + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
