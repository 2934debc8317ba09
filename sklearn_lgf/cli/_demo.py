"""The ``demo`` command: the paper's Figure 1 pair fitted on a 2-D target.

The models, their training and the data sizes are the paper's, from
:mod:`sklearn_lgf.presets` (as in ``benchmarks/two_d.py``); only the budget
is the demo's own, sized for a few minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from ..presets import FIGURE_1, paper_pair, paper_training
from ._fitting import fit_reporting_warnings, n_parameters
from ._messages import SUCCESS
from ._tables import check_writable

DEMO_PAIR = FIGURE_1
DEMO_MAX_ITER = 100
DEMO_RESOLUTION = 100
DEMO_THREADS = 1
# Draws of u per row and step for the demo's LGF (the paper's code: 10).
DEMO_ELBO_SAMPLES = 4


def _made(sizes: tuple[int, ...]) -> str:
    """Hidden layer sizes as the paper writes them: ``4x50`` for four of 50."""
    if len(set(sizes)) == 1:
        return f"{len(sizes)}x{sizes[0]}"
    return ",".join(str(size) for size in sizes)


def demo_summary() -> str:
    """The first words of ``demo --help``: which models the demo fits."""
    models = paper_pair(DEMO_PAIR)
    maf, lgf = models["MAF"], models["LGF-MAF"]
    return (
        f"Fit a MAF ({maf.n_layers} layers of {_made(maf.hidden_layer_sizes)}) "
        f"and an LGF-MAF ({lgf.n_layers} layers)"
    )


def _descriptions(models: dict[str, Any]) -> dict[str, str]:
    maf, lgf = models["MAF"], models["LGF-MAF"]
    return {
        "MAF": f"MAF, {maf.n_layers} layers of MADE {_made(maf.hidden_layer_sizes)}",
        "LGF-MAF": f"LGF-MAF, {lgf.n_layers} layers of MADE "
        f"{_made(lgf.hidden_layer_sizes)}, u_dim={lgf.u_dim}",
    }


def demo_command(args: argparse.Namespace) -> int:
    import torch

    from .._plotting import plot_densities, require_matplotlib
    from ..datasets import make_target

    try:
        require_matplotlib()
        can_plot = True
    except ImportError:
        # The numbers are the demo's point; the figure is a bonus that must
        # not make the main command fail on an install without the extra.
        can_plot = False
    if can_plot:
        check_writable(args.output)
    seed = args.random_state
    X_train = make_target(args.target, args.n_train, random_state=seed)
    X_test = make_target(args.target, args.n_test, random_state=(seed + 1) % 2**32)
    verbose = 0 if args.quiet else 1
    # Trained as in the paper for the demo's budget, keeping each model's
    # best epoch.
    models = paper_pair(
        DEMO_PAIR,
        **paper_training(),
        max_iter=args.max_iter,
        n_iter_no_change=args.max_iter,
        device="cpu",
        random_state=seed,
        verbose=verbose,
        n_elbo_samples=DEMO_ELBO_SAMPLES,
    )
    descriptions = _descriptions(models)
    print(
        f"Target {args.target!r}: {args.n_train} training points (10% of them "
        f"held out to keep each model's best epoch), {args.n_test} test points; "
        f"{args.max_iter} epochs each, random_state={seed}, "
        f"{torch.get_num_threads()} torch thread(s)",
        flush=True,
    )
    results = []
    for name, estimator in models.items():
        print(f"Fitting {descriptions[name]} ...", flush=True)
        # Both models run the demo's whole budget and keep their best
        # validation epoch: reaching max_iter is the plan, not a warning.
        seconds = fit_reporting_warnings(
            estimator, X_train, {"max_iter": "max_iter"}, expected=".*reached max_iter"
        )
        start = time.perf_counter()
        test = estimator.score(X_test)
        score_seconds = time.perf_counter() - start
        results.append((name, estimator, seconds, test, score_seconds))

    _print_results(results, args.target, X_test)
    titles = {
        f"{descriptions[name]}\ntest log-likelihood {test:.3f}": estimator
        for name, estimator, _, test, _ in results
    }
    if not can_plot:
        print(
            f"\nNo figure written: {args.output} needs matplotlib "
            "(pip install 'sklearn-lgf[plot]').",
            flush=True,
        )
        return SUCCESS
    start = time.perf_counter()
    plot_densities(titles, X_test, args.output, resolution=args.resolution)
    print(
        f"\nWrote {args.output} ({args.resolution}x{args.resolution} grid, "
        f"{time.perf_counter() - start:.1f} s)",
        flush=True,
    )
    return SUCCESS


def _print_results(
    results: list[tuple[str, Any, float, float, float]],
    target: str,
    X_test: np.ndarray,
) -> None:
    """The table of each model's size, epochs, fit time and test score."""
    from .. import LGFDensity
    from ..datasets import TRUE_LOG_DENSITIES

    print()
    print(
        f"{'model':<9} {'parameters':>10} {'epochs':>6} {'fit time':>9} "
        f"{'test log-likelihood':>20}"
    )
    for name, estimator, seconds, test, score_seconds in results:
        note = ""
        if isinstance(estimator, LGFDensity):
            note = (
                f"  (importance sampling, K={estimator.n_importance_samples}; "
                f"{score_seconds:.1f} s)"
            )
        print(
            f"{name:<9} {n_parameters(estimator):>10} {estimator.n_iter_:>6} "
            f"{seconds:>7.1f} s {test:>20.4f}{note}"
        )
    if target in TRUE_LOG_DENSITIES:
        true = float(np.mean(TRUE_LOG_DENSITIES[target](X_test)))
        print(f"{'true':<9} {'':>10} {'':>6} {'':>9} {true:>20.4f}")
