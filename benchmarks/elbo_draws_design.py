"""Design runs for ``LGFDensity``'s ELBO draws per row (``n_elbo_samples``).

Run from the repository root::

    python benchmarks/elbo_draws_design.py [--draws 4 2 1] [--parts digits ...]

Each draw of ``u`` costs a pass through the prior, posterior and s/t
networks of every layer: the draws set most of an LGF epoch's time. Fewer
draws give a noisier ELBO gradient but more epochs for the same time. Here
``LGFDensity()`` (spline steps) and the default detector's
``LGFDensity(univariate="affine")`` are fitted with each number of draws,
everything else at the defaults, and compared by held-out log-likelihood
(label-free; validation splits of training data only, no test set):

* ``digits``: the validation split (20 %, ``random_state=1``) of
  ``benchmarks/digits.py``'s training set, model seeds 0 and 1 (spline
  steps only: the affine LGF is not the digits model);
* ``adbench``: the eight ADBench sets on design split 10 (never the
  reported splits 0-2) through the benchmark's
  ``make_pipeline(StandardScaler(), DensityOutlierDetector(...))``: the
  density's ``best_validation_score_`` (nats per row, standardised units,
  the same rows and units for every variant) and the test ROC-AUC;
* ``two_uniforms``: the paper's Figure 1 target (gap 1), 2,000 training
  rows, 2,000 fresh rows held out, model seed 0.

Reported per fit: held-out log-likelihood, epochs and seconds. LGF scores
are importance-sampling estimates (the estimator's default K = 100). One
torch thread.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

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

from sklearn_lgf import DensityOutlierDetector, LGFDensity  # noqa: E402
from sklearn_lgf.datasets import make_two_uniforms  # noqa: E402

FLOWS = {"spline": {}, "affine": {"univariate": "affine"}}


def fit(estimator: Any, X: np.ndarray) -> tuple[Any, float]:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(X)
    return estimator, time.perf_counter() - start


def digits(draws: int) -> list[dict[str, Any]]:
    X_train, _ = load_digits_split()
    X_fit, X_val = train_test_split(X_train, test_size=0.2, random_state=1)
    rows = []
    for seed in (0, 1):
        model, seconds = fit(
            LGFDensity(n_elbo_samples=draws, random_state=seed, n_threads=1), X_fit
        )
        rows.append(
            {"data": f"digits (seed {seed})", "flow": "spline", "draws": draws,
             "held_out": model.score(X_val), "auc": None,
             "epochs": model.n_iter_, "seconds": seconds}
        )  # fmt: skip
    return rows


def adbench(draws: int) -> list[dict[str, Any]]:
    rows = []
    for data in ADBENCH_DATASETS:
        X, y = load_adbench(data)
        X_train, X_test, y_test = adbench_split(X, y, 10)
        for flow, params in FLOWS.items():
            density = LGFDensity(
                n_elbo_samples=draws, random_state=10, n_threads=1, **params
            )
            detector, seconds = fit(
                make_pipeline(
                    StandardScaler(), DensityOutlierDetector(density, random_state=10)
                ),
                X_train,
            )
            fitted = detector[-1].estimator_
            rows.append(
                {"data": data, "flow": flow, "draws": draws,
                 "held_out": fitted.best_validation_score_,
                 "auc": roc_auc_score(y_test, -detector.score_samples(X_test)),
                 "epochs": fitted.n_iter_, "seconds": seconds}
            )  # fmt: skip
    return rows


def two_uniforms(draws: int) -> list[dict[str, Any]]:
    X = make_two_uniforms(4000, random_state=0)
    rows = []
    for flow, params in FLOWS.items():
        model, seconds = fit(
            LGFDensity(n_elbo_samples=draws, random_state=0, n_threads=1, **params),
            X[:2000],
        )
        rows.append(
            {"data": "two uniforms", "flow": flow, "draws": draws,
             "held_out": model.score(X[2000:]), "auc": None,
             "epochs": model.n_iter_, "seconds": seconds}
        )  # fmt: skip
    return rows


PARTS = {"digits": digits, "adbench": adbench, "two_uniforms": two_uniforms}


def render(command: str, rows: list[dict[str, Any]], draws: list[int]) -> str:
    lines = [
        "# LGF ELBO draws per row: a design run (issue 25, point 2)",
        "",
        f"- command: `{command.strip()}`",
        "- held-out log-likelihood (nats per row; ADBench: the detector's "
        "density's `best_validation_score_`, standardised units), then ROC-AUC "
        "(ADBench), epochs and fit seconds; one thread; design splits only",
        "",
        "| data | flow | " + " | ".join(f"{d} draws" for d in draws) + " |",
        "|---|---|" + "---|" * len(draws),
    ]
    keys = list(dict.fromkeys((r["data"], r["flow"]) for r in rows))
    for data, flow in keys:
        cells = []
        for d in draws:
            found = [
                r for r in rows if (r["data"], r["flow"], r["draws"]) == (data, flow, d)
            ]
            if not found:
                cells.append("")
                continue
            r = found[0]
            auc = "" if r["auc"] is None else f", AUC {r['auc']:.3f}"
            cells.append(
                f"{r['held_out']:.3f}{auc} ({r['epochs']} ep, {r['seconds']:.0f} s)"
            )
        lines.append(f"| {data} | {flow} | " + " | ".join(cells) + " |")
    for flow in FLOWS:
        mine = [r for r in rows if r["flow"] == flow]
        if not mine:
            continue
        parts = []
        for d in draws:
            these = [r for r in mine if r["draws"] == d]
            if these:
                parts.append(f"{d} draws: {sum(r['seconds'] for r in these):.0f} s")
        lines.append(f"\n- {flow}: total fit time " + ", ".join(parts))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draws", type=int, nargs="+", default=[4, 2, 1])
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    parser.add_argument("--output", type=Path, default=RESULTS / "elbo_draws_design.md")
    args = parser.parse_args()
    set_threads(1)
    report = ResultFile(args.output, command_line(__file__, sys.argv[1:]))
    rows: list[dict[str, Any]] = []
    for part in args.parts:
        for draws in args.draws:
            rows += PARTS[part](draws)
            report.clock.log(f"{part}, {draws} draws done")
            report.update(render(report.command, rows, args.draws))
    report.finish(render(report.command, rows, args.draws))


if __name__ == "__main__":
    main()
