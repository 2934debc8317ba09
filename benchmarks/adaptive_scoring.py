"""LGFDensity scoring with a per-row precision target against all K draws.

For each data set an ``LGFDensity`` is fitted once, then its test rows are
scored with ``importance_tol=None`` (every row uses all ``K`` draws) and with
several tolerances, in the same process, alternating, best of ``--repeats``
(CPU time of the one torch thread). Reported per setting: rows per second and
its ratio to all ``K`` draws, the mean score and its change, the largest
change of a row, and the mean standard error.

    python benchmarks/adaptive_scoring.py
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from harness import (
    RESULTS,
    ResultFile,
    command_line,
    make_parser,
    markdown_table,
    set_threads,
    timed_fit,
)
from harness.data import load_digits_split
from sklearn.exceptions import ConvergenceWarning

from sklearn_lgf import LGFDensity
from sklearn_lgf.datasets import make_two_uniforms

TOLERANCES = (None, 0.01, 0.03, 0.1)


def data_sets(max_iter: int) -> dict[str, tuple[LGFDensity, np.ndarray, np.ndarray]]:
    """Name -> (estimator to fit, training rows, test rows)."""
    uniforms = make_two_uniforms(15_000, random_state=0)
    X_digits, X_digits_test = load_digits_split()
    common = {"max_iter": max_iter, "random_state": 0, "device": "cpu"}
    return {
        "two uniforms (d=2)": (
            LGFDensity(n_layers=5, **common),
            uniforms[:10_000],
            uniforms[10_000:],
        ),
        "digits (d=64)": (LGFDensity(**common), X_digits, X_digits_test),
    }


def timed_scores(
    estimator: LGFDensity, X: np.ndarray, tolerance: float | None
) -> tuple[float, np.ndarray, np.ndarray]:
    estimator.set_params(importance_tol=tolerance)
    start = time.process_time()
    scores, std = estimator.score_samples(X, return_std=True)
    return time.process_time() - start, scores, std


def main() -> None:
    parser = make_parser(__doc__, RESULTS / "adaptive_scoring.md")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-iter", type=int, default=60)
    args = parser.parse_args()
    set_threads(1)
    command = ["--repeats", str(args.repeats), "--max-iter", str(args.max_iter)]
    report = ResultFile(args.output, command_line(__file__, command))
    rows: list[list[object]] = []

    def render() -> str:
        return "\n".join(
            [
                "# LGFDensity scoring with `importance_tol` against all K draws",
                "",
                f"Command: `{report.command}`. Each model is fitted once "
                f"(`max_iter={args.max_iter}`, otherwise the settings shown), "
                "then its test rows are scored with every setting, alternating, "
                f"best CPU time of {args.repeats}; one torch thread. K = 100 "
                "(the default). Scores in nats per row (units of the data); "
                "'largest change': the largest difference of a row's score from "
                f"its score with all K draws. Total {report.clock.seconds:.0f} s.",
                "",
                markdown_table(
                    [
                        "data",
                        "importance_tol",
                        "rows/s",
                        "speed-up",
                        "mean score",
                        "change of the mean",
                        "largest change",
                        "mean standard error",
                    ],
                    rows,
                ),
                "",
            ]
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, (estimator, X_train, X_test) in data_sets(args.max_iter).items():
            estimator, seconds = timed_fit(estimator, X_train)
            report.clock.log(f"{name}: fitted in {seconds:.0f} s")
            best: dict[float | None, float] = {}
            results: dict[float | None, tuple[np.ndarray, np.ndarray]] = {}
            for _ in range(args.repeats):
                for tolerance in TOLERANCES:
                    elapsed, scores, std = timed_scores(estimator, X_test, tolerance)
                    best[tolerance] = min(best.get(tolerance, np.inf), elapsed)
                    results[tolerance] = (scores, std)
            full = results[None][0]
            for tolerance in TOLERANCES:
                scores, std = results[tolerance]
                rate = len(X_test) / best[tolerance]
                rows.append(
                    [
                        name,
                        "None (all K)" if tolerance is None else f"{tolerance:g}",
                        f"{rate:,.0f}",
                        f"{best[None] / best[tolerance]:.2f}x",
                        f"{scores.mean():.4f}",
                        f"{scores.mean() - full.mean():+.4f}",
                        f"{np.abs(scores - full).max():.4f}",
                        f"{std.mean():.4f}",
                    ]
                )
            report.update(render())
    report.finish(render())


if __name__ == "__main__":
    main()
