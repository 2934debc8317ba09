"""Issue 25 design probe: how should the estimators scale the features?

Run from the repository root::

    python benchmarks/scaling_design.py [--seeds 0 1 2]

Each estimator at its defaults but for the scaling, which is one of:

* ``per-feature`` -- ``scaling="feature"``: each feature's own mean and
  standard deviation (of the rows within the extreme-row fence);
* ``shared (pooled)`` -- ``scaling="shared"``: one location and one scale,
  the mean and standard deviation of all values pooled (what
  ``scaling="auto"`` picks on digits);
* ``mean of scales`` -- one location and one scale, the means of the
  per-feature ones;
* ``floor 1 x median`` -- per-feature, but no scale below the median scale
  of the non-constant features;
* ``data units`` -- not scaled at all (location 0, scale 1): what zuko's
  flows see.

The last three are probes of the internals (``sklearn_lgf._rows.statistics``
is swapped for one run, with ``scaling="feature"``; nothing is changed in
the package). Rows:

* digits, the protocol of ``benchmarks/digits.py`` (its dequantised
  ``[0, 1)`` pixels), scored on the validation split of its training set
  (20 %, ``random_state=1``; no test row), for ``MAFDensity()``,
  ``MAFDensity(univariate="spline")`` and ``LGFDensity()`` (the LGF only
  per-feature and shared: a fit takes a minute);
* two features in units a thousand times apart (a 2-D Gaussian mixture,
  second coordinate times 1000), 2,000 training rows, 2,000 held out, for
  ``MAFDensity()``.

And, for ADBench through the benchmark's ``StandardScaler``: on which sets
and splits ``scaling="auto"`` shares, and by how much the shared location
and scale differ there from the per-feature ones (the fits would differ by
no more).

Held-out log-likelihood in nats per row, in the data's units, mean over
the model seeds. One torch thread.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
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
from sklearn_lgf import LGFDensity, MAFDensity  # noqa: E402
from sklearn_lgf._standardise import Statistics, fence, statistics  # noqa: E402

Scaling = Callable[..., Statistics]


def mean_of_scales(X: np.ndarray, grids: bool = False, scaling: str = "") -> Statistics:
    found = statistics(X, grids)
    return dataclasses.replace(
        found,
        location=np.full_like(found.location, float(np.mean(found.location))),
        scale=np.full_like(found.scale, float(np.mean(found.scale))),
    )


def median_floor(X: np.ndarray, grids: bool = False, scaling: str = "") -> Statistics:
    found = statistics(X, grids)
    live = ~found.constant
    floor = float(np.median(found.scale[live])) if live.any() else 0.0
    scale = np.where(live, np.maximum(found.scale, floor), found.scale)
    return dataclasses.replace(found, scale=scale)


def data_units(X: np.ndarray, grids: bool = False, scaling: str = "") -> Statistics:
    found = statistics(X, grids)
    return dataclasses.replace(
        found,
        location=np.zeros_like(found.location),
        scale=np.ones_like(found.scale),
    )


# name: (the estimator's scaling, the statistics swapped in or None)
VARIANTS: dict[str, tuple[str, Scaling | None]] = {
    "per-feature": ("feature", None),
    "shared (pooled)": ("shared", None),
    "mean of scales": ("feature", mean_of_scales),
    "floor 1 x median": ("feature", median_floor),
    "data units": ("feature", data_units),
}
LGF_VARIANTS = ("per-feature", "shared (pooled)")


def mixed_units(n: int, seed: int) -> np.ndarray:
    rng = np.random.RandomState(seed)
    centres = np.array([[-2.0, 0.0], [2.0, 1.0], [0.0, -2.0]])
    X = centres[rng.randint(3, size=n)] + 0.5 * rng.normal(size=(n, 2))
    return X * [1.0, 1000.0]


def held_out(make, X_fit: np.ndarray, X_val: np.ndarray, variant: str, seed: int):
    """The held-out mean log-likelihood and the epochs of one fit."""
    scaling, swapped = VARIANTS[variant]
    original = rows.statistics
    rows.statistics = swapped or original
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = make(seed, scaling).fit(X_fit)
    finally:
        rows.statistics = original
    return model.score(X_val), model.n_iter_


def adbench_sharing(seeds: list[int]) -> list[str]:
    """Where ``scaling="auto"`` shares on the ADBench splits after the
    benchmark's StandardScaler, and how far that is from per-feature."""
    lines = []
    for data in ADBENCH_DATASETS:
        X, y = load_adbench(data)
        shared, gap, moved = [], 0.0, 0
        for seed in seeds:
            X_train, _, _ = adbench_split(X, y, seed)
            Z = StandardScaler().fit_transform(X_train)
            if not fence(Z, "auto")[2]:
                continue
            own, both = statistics(Z, scaling="feature"), statistics(Z, scaling="auto")
            shared.append(seed)
            gap = max(
                gap,
                float(np.max(np.abs(both.scale / own.scale - 1))),
                float(np.max(np.abs(both.location - own.location))),
            )
            moved += len(own.extreme) - len(both.extreme)
        lines.append(
            f"| {data} | {', '.join(map(str, shared)) or 'none'} | "
            + (f"{gap:.1e} | {moved}" if shared else "- | -")
            + " |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--output", type=Path, default=RESULTS / "scaling_design.md")
    args = parser.parse_args()
    set_threads(1)
    report = ResultFile(args.output, command_line(__file__, sys.argv[1:]))
    header = (
        "# Feature scaling: a design probe for issue 25\n\n"
        f"- command: `{report.command.strip()}`\n"
        "- held-out log-likelihood (nats per row, data units), mean over model "
        f"seeds {args.seeds} (epochs run in brackets, mean); digits: the "
        "validation split (20 %) of `benchmarks/digits.py`'s training set; "
        "mixed units: 2,000 held-out rows; one thread\n\n"
        "| data | model | " + " | ".join(VARIANTS) + " |\n"
        "|---|---|" + "---|" * len(VARIANTS) + "\n"
    )
    lines: list[str] = []
    X_train, _ = load_digits_split()
    X_fit, X_val = train_test_split(X_train, test_size=0.2, random_state=1)
    X_mixed = mixed_units(4000, 0)
    tasks = [
        (
            "digits",
            "MAFDensity()",
            X_fit,
            X_val,
            VARIANTS,
            lambda seed, scaling: MAFDensity(
                random_state=seed, n_threads=1, scaling=scaling
            ),
        ),
        (
            "digits",
            'MAFDensity(univariate="spline")',
            X_fit,
            X_val,
            VARIANTS,
            lambda seed, scaling: MAFDensity(
                univariate="spline", random_state=seed, n_threads=1, scaling=scaling
            ),
        ),
        (
            "digits",
            "LGFDensity()",
            X_fit,
            X_val,
            LGF_VARIANTS,
            lambda seed, scaling: LGFDensity(
                random_state=seed, n_threads=1, scaling=scaling
            ),
        ),
        (
            "mixed units (x1, 1000 x2)",
            "MAFDensity()",
            X_mixed[:2000],
            X_mixed[2000:],
            VARIANTS,
            lambda seed, scaling: MAFDensity(
                random_state=seed, n_threads=1, scaling=scaling
            ),
        ),
    ]
    for data, name, X_fit_, X_val_, variants, make in tasks:
        cells = []
        for variant in VARIANTS:
            if variant not in variants:
                cells.append("-")
                continue
            runs = [
                held_out(make, X_fit_, X_val_, variant, seed) for seed in args.seeds
            ]
            cells.append(
                f"{np.mean([r[0] for r in runs]):.2f} "
                f"({np.mean([r[1] for r in runs]):.0f})"
            )
            report.clock.log(f"{data} {name} {variant}: {cells[-1]}")
        lines.append(f"| {data} | {name} | " + " | ".join(cells) + " |")
        report.update(header + "\n".join(lines) + "\n")
    sharing = [
        "",
        "ADBench after the benchmark's `StandardScaler` (splits "
        f'{args.seeds}): the splits on which `scaling="auto"` shares, and the '
        "largest difference there between the shared and the per-feature "
        "statistics (relative for the scale, absolute for the location), and "
        "the training rows the shared fence keeps that the per-feature one "
        "left out (all those splits together)",
        "",
        "| data | splits shared | largest difference | rows kept |",
        "|---|---|---|---|",
        *adbench_sharing(args.seeds),
    ]
    report.finish(header + "\n".join(lines + sharing) + "\n")


if __name__ == "__main__":
    main()
