"""What ``LGFDensity()`` gives a user who sets nothing: old against new defaults.

Fits ``MAFDensity()``, ``LGFDensity()`` with the previous defaults and
``LGFDensity()`` with the current ones (only ``random_state`` set) on:

* two uniforms (gap 1): 10k training rows, 5k fresh test rows (truth -1.386);
* digits (``benchmarks/digits.py``'s protocol): the validation split of its
  training set (20 %, ``random_state=1``), the split the defaults were chosen
  on; the test set is not used here;
* ADBench (``../shared/data/adbench``, ``benchmarks/adbench.py``'s protocol,
  seed 0, its quick sets): the held-out training inliers' log-likelihood per
  feature (no labels: what the defaults were judged by) and, for the record,
  the test ROC-AUC.

Reports every figure with the fit time beside it.

    python benchmarks/defaults.py
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import torch
from joblib import Parallel, delayed
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sklearn_lgf import LGFDensity, MAFDensity
from sklearn_lgf.datasets import make_two_uniforms, two_uniforms_log_density

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import adbench  # noqa: E402
import digits  # noqa: E402

PREVIOUS_LGF_DEFAULTS = {
    "n_layers": 5,
    "hidden_layer_sizes": (100, 100),
    "u_dim": 2,
    "pq_hidden_layer_sizes": (100, 100),
    "st_hidden_layer_sizes": (32, 32),
    "n_elbo_samples": 1,
    "n_iter_no_change": 10,
}
MODELS = {
    "MAFDensity()": lambda seed: MAFDensity(random_state=seed),
    "LGFDensity(), previous defaults": lambda seed: LGFDensity(
        **PREVIOUS_LGF_DEFAULTS, random_state=seed
    ),
    "LGFDensity()": lambda seed: LGFDensity(random_state=seed),
}


def datasets() -> dict[str, tuple]:
    """name -> (train, evaluation rows, labels or None, truth or None)."""
    out = {}
    X = make_two_uniforms(10_000, random_state=0)
    X_test = make_two_uniforms(5_000, random_state=1000)
    out["two uniforms"] = (
        X,
        X_test,
        None,
        float(two_uniforms_log_density(X_test).mean()),
    )
    X_train, _ = digits.load_data()
    X_fit, X_val = train_test_split(X_train, test_size=0.2, random_state=1)
    out["digits (validation split)"] = (X_fit, X_val, None, None)
    for name in adbench.QUICK_DATASETS:
        X_raw, y = adbench.load(adbench.DEFAULT_DATA / f"{name}.npz")
        X_all = adbench.dequantise(X_raw, adbench.grid_spacing(X_raw, "grid"), 0)
        X_tr, X_te, y_te = adbench.split(X_all, y, 0)
        scaler = StandardScaler().fit(X_tr)
        X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
        fit_rows, held_out = train_test_split(X_tr, test_size=0.2, random_state=0)
        out[f"ADBench {name}"] = (fit_rows, held_out, (X_te, y_te), None)
    return out


def run(model: str, data: str, item: tuple) -> dict:
    torch.set_num_threads(1)
    X_fit, X_eval, labelled, truth = item
    estimator = MODELS[model](0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(X_fit)
    fit_time = time.perf_counter() - start
    score = estimator.score(X_eval)
    auc = None
    if labelled is not None:
        X_te, y_te = labelled
        auc = roc_auc_score(y_te, -estimator.score_samples(X_te))
        score /= X_fit.shape[1]
    return {"model": model, "data": data, "score": score, "truth": truth,
            "auc": auc, "fit_time": fit_time, "epochs": estimator.n_iter_}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=HERE / "results" / "defaults.md")
    args = parser.parse_args()
    start = time.perf_counter()
    items = datasets()
    jobs = [(m, d) for d in items for m in MODELS]
    results = Parallel(n_jobs=2)(delayed(run)(m, d, items[d]) for m, d in jobs)
    current = LGFDensity().get_params()
    shown = {k: current[k] for k in PREVIOUS_LGF_DEFAULTS}
    lines = [
        "# Defaults: what `LGFDensity()` gives a user who sets nothing",
        "",
        "Command: `python benchmarks/defaults.py` (see its docstring for the "
        "protocol). Only `random_state=0` is set. Previous LGF defaults: "
        f"{PREVIOUS_LGF_DEFAULTS}; current: {shown}. Figures: mean "
        "log-likelihood of the evaluation rows (two uniforms: fresh test rows; "
        "digits: the validation split; ADBench: held-out training inliers, "
        "per feature, standardised units) and, for ADBench, the test ROC-AUC. "
        "LGF figures are IS estimates with K=100. Two fits at a time on 2 "
        f"shared cores, one thread each; total {time.perf_counter() - start:.0f} s.",
        "",
        "| data | model | log-likelihood | ROC-AUC | epochs | fit time |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        truth = f" (truth {r['truth']:.3f})" if r["truth"] is not None else ""
        auc = "" if r["auc"] is None else f"{r['auc']:.3f}"
        lines.append(
            f"| {r['data']} | {r['model']} | {r['score']:.3f}{truth} | {auc} | "
            f"{r['epochs']} | {r['fit_time']:.0f} s |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)


if __name__ == "__main__":
    main()
