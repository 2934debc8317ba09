"""How to train an LGF: ELBO draws and the path gradient, on two uniforms.

Fits the Figure 1 LGF-MAF (``sklearn_lgf.presets``) with 1, 4 and 10 draws
of ``u`` per row and step, with and without the path (sticking-the-landing)
gradient, next to the Figure 1 MAF, for several seeds, all on the same data
per seed: 10k train / 1k validation / 5k test points of two uniforms (gap 1),
Adam 1e-3 constant, batch 1000, ``--max-iter`` epochs, weights of the best
validation epoch. Reports the test log-likelihood (LGF: IS with K=100), the
ELBO-to-IS gap and the fit time of each run, then the mean over seeds.

    python benchmarks/lgf_training.py --seeds 0 1 2 --max-iter 100

Runs two fits at a time, one torch thread each.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from joblib import Parallel, delayed

from sklearn_lgf import LGFDensity
from sklearn_lgf.datasets import make_two_uniforms
from sklearn_lgf.presets import paper_pair

TRUTH = float(np.log(0.25))
VARIANTS = {
    "MAF": None,
    "LGF, 1 draw": (1, False),
    "LGF, 4 draws": (4, False),
    "LGF, 1 draw, path gradient": (1, True),
    "LGF, 4 draws, path gradient": (4, True),
    "LGF, 10 draws, path gradient": (10, True),
}


def run(variant: str, seed: int, max_iter: int) -> dict:
    torch.set_num_threads(1)
    X = make_two_uniforms(11_000, random_state=seed)
    X_test = make_two_uniforms(5_000, random_state=seed + 1000)
    models = paper_pair(
        "figure1",
        max_iter=max_iter,
        batch_size=1000,
        validation_fraction=1 / 11,
        n_iter_no_change=max_iter,
        random_state=seed,
        device="cpu",
    )
    setting = VARIANTS[variant]
    if setting is None:
        estimator = models["MAF"]
    else:
        draws, path = setting
        estimator = models["LGF-MAF"].set_params(
            n_elbo_samples=draws, n_importance_samples=100
        )
        estimator._path_gradient = path  # benchmark-only switch, see _lgf.py
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(X)
    fit_time = time.perf_counter() - start
    gap = None
    if isinstance(estimator, LGFDensity):
        gap = estimator.collapse_diagnostics(X_test[:1000]).elbo_gap
    return {
        "variant": variant,
        "seed": seed,
        "test": estimator.score(X_test),
        "gap": gap,
        "fit_time": fit_time,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-iter", type=int, default=100)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(__file__).parent / "results" / "lgf_training.md",
    )
    args = parser.parse_args()
    start = time.perf_counter()
    jobs = [(v, s) for s in args.seeds for v in args.variants]
    results = Parallel(n_jobs=2)(delayed(run)(v, s, args.max_iter) for v, s in jobs)
    lines = [
        "# Training an LGF: ELBO draws and the path gradient (two uniforms)",
        "",
        f"Command: `python benchmarks/lgf_training.py --seeds "
        f"{' '.join(map(str, args.seeds))} --max-iter {args.max_iter}"
        + (
            ""
            if args.variants == list(VARIANTS)
            else " --variants " + " ".join(f'"{v}"' for v in args.variants)
        )
        + "`. "
        "Figure 1 sizes (sklearn_lgf.presets), 10k/1k/5k points of two uniforms "
        f"(gap 1; truth {TRUTH:.3f}), Adam 1e-3 constant, batch 1000, "
        f"{args.max_iter} epochs, best validation epoch kept; LGF test figures "
        "are IS estimates with K=100; 'ELBO gap' is IS - ELBO on 1,000 test "
        "rows with 64 draws. Two fits at a time on 2 shared cores, one thread "
        f"each; total {time.perf_counter() - start:.0f} s.",
        "",
        "| variant | seed | test log-likelihood | gap to truth | ELBO gap | fit time |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        gap = "" if r["gap"] is None else f"{r['gap']:.3f}"
        lines.append(
            f"| {r['variant']} | {r['seed']} | {r['test']:.4f} | "
            f"{TRUTH - r['test']:.4f} | {gap} | {r['fit_time']:.0f} s |"
        )
    lines += ["", "Mean over seeds:", ""]
    lines += ["| variant | test log-likelihood | fit time |", "|---|---|---|"]
    for variant in args.variants:
        rows = [r for r in results if r["variant"] == variant]
        lines.append(
            f"| {variant} | {np.mean([r['test'] for r in rows]):.4f} | "
            f"{np.mean([r['fit_time'] for r in rows]):.0f} s |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)


if __name__ == "__main__":
    main()
