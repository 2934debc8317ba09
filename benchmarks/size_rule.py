"""Design runs for the size rule of ``LGFDensity``'s "auto" networks.

Run from the repository root::

    python benchmarks/size_rule.py [--seeds 10] [--sets Pima cardio ...]

On ADBench design splits (seeds 10+, never the reported seeds 0-2; the data
README's protocol otherwise), ``make_pipeline(StandardScaler(),
DensityOutlierDetector(LGFDensity(...)))`` with the widths of the prior,
posterior and s/t networks (``pq_hidden_layer_sizes`` and
``st_hidden_layer_sizes``, two layers each) and ``u_dim`` varied, everything
else at the defaults. Reported per fit: the label-free held-out
log-likelihood (``best_validation_score_``, in standardised units), the
ROC-AUC of the test split, parameters and seconds. One torch thread.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).parent))
from harness.data import adbench_split, load_adbench  # noqa: E402

from sklearn_lgf import DensityOutlierDetector, LGFDensity  # noqa: E402


def _networks(width: int, u_dim: int) -> dict:
    return dict(
        pq_hidden_layer_sizes=(width, width),
        st_hidden_layer_sizes=(width, width),
        u_dim=u_dim,
    )


VARIANTS = {
    "pq/st 128, u 4 (0.2.0)": _networks(128, 4),
    "pq/st 64, u 4": _networks(64, 4),
    "pq/st 32, u 4": _networks(32, 4),
    "pq/st 64, u 2": _networks(64, 2),
    "defaults": {},
    "defaults, affine steps": {"univariate": "affine"},
}


HEADER = """# Size rule design runs (ADBench design seeds)

- command: `python {command}`
- pipeline: StandardScaler + DensityOutlierDetector(LGFDensity(variant),
  random_state=seed), one thread; the held-out log-likelihood is the
  early-stopping validation score (label-free, standardised units), the
  ROC-AUC that of the seed's test split

| data | seed | variant | held-out log-lik | ROC-AUC | parameters | epochs | s |
|---|---|---|---|---|---|---|---|
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[10])
    parser.add_argument(
        "--sets", nargs="+", default=["Pima", "cardio", "thyroid", "satellite"]
    )
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--output", default="benchmarks/results/size_rule.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    out = Path(args.output)
    for name in args.sets:
        X, y = load_adbench(name)
        for seed in args.seeds:
            X_train, X_test, y_test = adbench_split(X, y, seed)
            for label in args.variants:
                lgf = LGFDensity(random_state=seed, n_threads=1, **VARIANTS[label])
                pipe = make_pipeline(
                    StandardScaler(), DensityOutlierDetector(lgf, random_state=seed)
                )
                start = time.perf_counter()
                try:
                    pipe.fit(X_train)
                    auc = roc_auc_score(y_test, -pipe.score_samples(X_test))
                    fitted = pipe[-1].estimator_
                    val = fitted.best_validation_score_
                    n_par = sum(p.numel() for p in fitted.model_.parameters())
                    epochs = fitted.n_iter_
                    result = f"{val:.3f} | {auc:.3f} | {n_par} | {epochs}"
                except Exception as error:  # noqa: BLE001 - a failure is a result
                    result = f"failed: {type(error).__name__} | | | "
                seconds = time.perf_counter() - start
                rows.append(f"| {name} | {seed} | {label} | {result} | {seconds:.0f} |")
                print(rows[-1], flush=True)
                out.write_text(
                    HEADER.format(command=" ".join(sys.argv)) + "\n".join(rows) + "\n"
                )


if __name__ == "__main__":
    main()
