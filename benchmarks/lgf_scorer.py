"""Which combination of an LGF's importance draws ranks anomalies best?

Run from the repository root::

    python benchmarks/lgf_scorer.py [--seeds 10] [--sets Pima cardio ...]

On ADBench design splits (seeds 10+, never the reported seeds 0-2; the data
README's protocol otherwise), ``make_pipeline(StandardScaler(),
DensityOutlierDetector(LGFDensity(random_state=seed), random_state=seed))``
is fitted once per set and seed; its test rows are then scored from the
same per-row log-weights ``log w_k = log p(x, u_k) - log q(u_k | x)``
(each row's keyed draws, as ``score_samples`` uses) combined in several
ways, and the ROC-AUC of each combination is reported:

* ``IS K``: ``log mean_k w_k`` over the first ``K`` draws (``K = 100`` is
  ``score_samples``), an estimate of ``log p(x)`` from below in
  expectation, whose rare large weights inflate single rows;
* ``ELBO``: ``mean_k log w_k`` over 100 draws, a lower bound;
* ``median of means``: the median over 10 groups of 10 draws of each
  group's ``log mean w``;
* ``IS without the largest``: ``log mean`` of the 99 smallest of 100
  weights.

One torch thread.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).parent))
from harness.data import adbench_split, load_adbench  # noqa: E402

from sklearn_lgf import DensityOutlierDetector, LGFDensity  # noqa: E402

ROWS_PER_PASS = 20
K_MAX = 1000


@torch.no_grad()
def log_weights(estimator: LGFDensity, X: np.ndarray, k: int) -> np.ndarray:
    """``(n, k)`` log-weights of each row's first ``k`` keyed draws."""
    z = estimator._model_input(X)
    model = estimator.model_
    parts = []
    for start in range(0, len(z), ROWS_PER_PASS):
        rows = z[start : start + ROWS_PER_PASS]
        draws = model.importance_draws(rows, 0, k)
        parts.append(model.tiled_log_weights(rows, draws).double().numpy())
    return np.concatenate(parts)


def logmeanexp(a: np.ndarray, axis: int = -1) -> np.ndarray:
    top = a.max(axis=axis, keepdims=True)
    return (top + np.log(np.mean(np.exp(a - top), axis=axis, keepdims=True))).squeeze(
        axis
    )


def combinations(log_w: np.ndarray) -> dict[str, np.ndarray]:
    first = log_w[:, :100]
    ordered = np.sort(first, axis=1)
    return {
        "IS K=10": logmeanexp(log_w[:, :10]),
        "IS K=100 (score_samples)": logmeanexp(first),
        "IS K=1000": logmeanexp(log_w),
        "ELBO (100 draws)": first.mean(axis=1),
        "median of means (10 x 10)": np.median(
            logmeanexp(first.reshape(len(first), 10, 10)), axis=1
        ),
        "IS without the largest of 100": logmeanexp(ordered[:, :-1]),
    }


HEADER = """# LGF detector: combinations of the importance draws (design seeds)

- command: `python {command}`
- pipeline: StandardScaler + DensityOutlierDetector(LGFDensity(random_state=
  seed), random_state=seed) at the defaults, one thread; every column scores
  the same fitted model from the same keyed draws
- log-weight spread: median standard deviation of a row's 100 log-weights,
  normal / anomalous test rows; s: seconds (fit + scoring)

"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[10])
    parser.add_argument(
        "--sets", nargs="+", default=["Pima", "cardio", "thyroid", "satellite"]
    )
    parser.add_argument("--output", default="benchmarks/results/lgf_scorer.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows: list[str] = []
    names: list[str] = []
    out = Path(args.output)
    for name in args.sets:
        X, y = load_adbench(name)
        for seed in args.seeds:
            X_train, X_test, y_test = adbench_split(X, y, seed)
            lgf = LGFDensity(random_state=seed, n_threads=1)
            pipe = make_pipeline(
                StandardScaler(), DensityOutlierDetector(lgf, random_state=seed)
            )
            start = time.perf_counter()
            pipe.fit(X_train)
            fitted = pipe[-1].estimator_
            log_w = log_weights(fitted, pipe[0].transform(X_test), K_MAX)
            check = fitted.score_samples(pipe[0].transform(X_test))
            offset = fitted._standardisation().log_det_correction
            scores = combinations(log_w)
            # score_samples is the K=100 combination, in float32: equal to
            # float32's precision of the value (rows far out reach -1e5).
            mine = scores["IS K=100 (score_samples)"] + offset
            assert np.all(np.abs(mine - check) <= 1e-3 + 1e-6 * np.abs(check))
            names = list(scores)
            aucs = [roc_auc_score(y_test, -s) for s in scores.values()]
            anomalies = y_test == 1
            spread = np.std(log_w[:, :100], axis=1)
            seconds = time.perf_counter() - start
            rows.append(
                f"| {name} | {seed} | "
                + " | ".join(f"{a:.3f}" for a in aucs)
                + f" | {np.median(spread[~anomalies]):.2f} / "
                f"{np.median(spread[anomalies]):.2f} | {seconds:.0f} |"
            )
            print(rows[-1], flush=True)
            header = HEADER.format(command=" ".join(sys.argv))
            columns = " | ".join(names)
            out.write_text(
                header
                + f"| data | seed | {columns} | log-weight spread | s |\n"
                + "|---|---|"
                + "---|" * len(names)
                + "---|---|\n"
                + "\n".join(rows)
                + "\n"
            )


if __name__ == "__main__":
    main()
