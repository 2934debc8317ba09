"""MAF versus LGF-MAF on the paper's 2-D targets (Figures 1 and 4 of the paper).

For each target: fresh 10k train / 1k validation / 5k test points, the MAF
and the LGF-MAF of one of the paper's pairings (``sklearn_lgf.presets``),
trained with Adam (lr 1e-3, batch 1000, constant: the paper's; or
``--learning-rate cosine``, ``--batch-size``) for ``--max-iter`` epochs,
keeping the weights of the best validation epoch. Writes a markdown table
(test log-likelihood with K stated, distance to the truth where known,
share of model samples inside the two-uniforms gap, epochs, training time),
the collapse diagnostics of every LGF, and a PNG of the learned densities.

    # Figure 1 exactly, both geometries (about 30 min on 2 cores)
    python benchmarks/two_d.py --pair figure1 --targets two_uniforms --gaps 1 2
    # Figure 4's pairing on the other targets
    python benchmarks/two_d.py --pair figure4 \
        --targets eight_gaussians checkerboard two_spirals rings

Models are fitted in parallel worker processes (one torch thread each).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np
from harness import (
    RESULTS,
    ResultFile,
    Timer,
    add_max_iter,
    add_n_jobs,
    add_training_schedule,
    command_line,
    count_parameters,
    in_workers,
    make_parser,
    markdown_table,
    schedule_arguments,
    set_threads,
    timed_fit,
)

from sklearn_lgf import LGFDensity
from sklearn_lgf.datasets import (
    TARGETS,
    TRUE_LOG_DENSITIES,
    make_two_uniforms,
    two_uniforms_log_density,
)
from sklearn_lgf.presets import PAIR_OBJECTIVE, PAIRS, paper_pair

N_TRAIN, N_VALID, N_TEST = 10_000, 1_000, 5_000
K_TEST = 1000
N_GAP_SAMPLES = 20_000
# The paper's Figure 1 MAF had batch norm (its 80,080 parameters);
# --maf-batch-norm adds it as a third model beside the pair's plain MAF.
MAF_BN = "MAF+BN"
MAFS = ("MAF", MAF_BN)
OBJECTIVES = {"elbo": "ELBO", "iwae": "IWAE bound"}


def target_data(target: str, gap: float | None, n: int, seed: int) -> np.ndarray:
    if target == "two_uniforms":
        return make_two_uniforms(n, gap=gap or 1.0, random_state=seed)
    return TARGETS[target](n, random_state=seed)


def true_log_density(
    target: str, gap: float | None, X: np.ndarray
) -> np.ndarray | None:
    if target == "two_uniforms":
        return two_uniforms_log_density(X, gap=gap or 1.0)
    if target in TRUE_LOG_DENSITIES:
        return TRUE_LOG_DENSITIES[target](X)
    return None


def label(target: str, gap: float | None) -> str:
    return target if gap is None else f"{target} (gap {gap:g})"


def fit_one(
    target: str, gap: float | None, name: str, pair: str, args: argparse.Namespace
) -> dict[str, Any]:
    """Fit one model of the pair on one target; its figures (in a worker process)."""
    X = target_data(target, gap, N_TRAIN + N_VALID, args.seed)
    X_test = target_data(target, gap, N_TEST, args.seed + 1000)
    model = "MAF" if name == MAF_BN else name
    estimator = paper_pair(
        pair,
        objective=args.objective,
        max_iter=args.max_iter,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        learning_rate_init=1e-3,
        validation_fraction=N_VALID / (N_TRAIN + N_VALID),
        n_iter_no_change=args.n_iter_no_change or args.max_iter,
        random_state=args.seed,
        device="cpu",
    )[model]
    if name == MAF_BN:
        estimator.set_params(batch_norm=True)
    if isinstance(estimator, LGFDensity):
        estimator.set_params(n_importance_samples=K_TEST)
    estimator, fit_time = timed_fit(estimator, X)
    clock = Timer()
    test_ll = estimator.score(X_test)
    score_time = clock.seconds
    truth = true_log_density(target, gap, X_test)
    samples = estimator.sample(N_GAP_SAMPLES, random_state=args.seed)
    in_gap = None
    if target == "two_uniforms":
        in_gap = float(np.mean((samples[:, 0] > -1.0) & (samples[:, 0] < gap - 1.0)))
    diagnostics = None
    if isinstance(estimator, LGFDensity):
        diagnostics = estimator.collapse_diagnostics(
            X_test[:1000], random_state=args.seed
        )
    return {
        "target": label(target, gap),
        "model": name,
        "settings": describe(estimator),
        "parameters": count_parameters(estimator.model_),
        "test_ll": test_ll,
        "k": K_TEST if isinstance(estimator, LGFDensity) else None,
        "truth": None if truth is None else float(np.mean(truth)),
        "in_gap": in_gap,
        "epochs": estimator.n_iter_,
        "best_epoch": int(np.argmax(estimator.validation_scores_)) + 1,
        "fit_time": fit_time,
        "score_time": score_time,
        "diagnostics": diagnostics,
        "estimator": estimator,
        "X_test": X_test,
    }


def describe(estimator: Any) -> str:
    """The model's architecture in the paper's terms."""
    made = "x".join(str(h) for h in estimator.hidden_layer_sizes)
    if not isinstance(estimator, LGFDensity):
        norm = ", batch norm between steps" if estimator.batch_norm is True else ""
        return f"{estimator.n_layers} x MADE {made}{norm}"
    pq = "x".join(str(h) for h in estimator.pq_hidden_layer_sizes)
    st = "x".join(str(h) for h in estimator.st_hidden_layer_sizes)
    return (
        f"{estimator.n_layers} x MADE {made}, p/q {pq}, s/t {st}, "
        f"u_dim {estimator.u_dim}, {estimator.n_elbo_samples} draws, "
        f"{OBJECTIVES[estimator.objective]}"
    )


TABLE_HEADER = [
    "target",
    "model",
    "settings",
    "parameters",
    "test log-likelihood",
    "true",
    "gap to truth",
    "samples in the gap",
    "epochs (best)",
    "training time",
]


def table(results: list[dict[str, Any]]) -> str:
    """One row per fitted model."""
    rows = []
    for r in results:
        k = f" (IS, K={r['k']})" if r["k"] else " (exact)"
        truth = "" if r["truth"] is None else f"{r['truth']:.3f}"
        gap = "" if r["truth"] is None else f"{r['truth'] - r['test_ll']:.3f}"
        in_gap = "" if r["in_gap"] is None else f"{100 * r['in_gap']:.2f} %"
        rows.append(
            [r["target"], r["model"], r["settings"], f"{r['parameters']:,}",
             f"{r['test_ll']:.3f}{k}", truth, gap, in_gap,
             f"{r['epochs']} ({r['best_epoch']})", f"{r['fit_time']:.0f} s"]
        )  # fmt: skip
    return markdown_table(TABLE_HEADER, rows)


def diagnostics_text(results: list[dict[str, Any]]) -> str:
    """The collapse diagnostics of every LGF, one section each."""
    parts = []
    for r in results:
        if r["diagnostics"] is not None:
            parts += [
                f"### {r['target']}, {r['model']}",
                "",
                "Over u ~ q for 1,000 test rows and 64 draws each; spreads are "
                "standard deviations, in the standardised units the model "
                "works in. Near-zero spreads and ELBO = IS mean the model "
                "ignores u (collapse onto its base flow).",
                "",
                r["diagnostics"].table(),
                "",
            ]
    return "\n".join(parts)


def figure(results: list[dict[str, Any]], path: Path, resolution: int) -> None:
    """Test samples and both models' densities, one row per target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = list(dict.fromkeys(r["target"] for r in results))
    columns = 1 + len({r["model"] for r in results})
    fig, axes = plt.subplots(
        len(targets), columns, figsize=(3 * columns, 3 * len(targets)), squeeze=False
    )
    for row, target in enumerate(targets):
        runs = {r["model"]: r for r in results if r["target"] == target}
        X = next(iter(runs.values()))["X_test"]
        low, high = X.min(0), X.max(0)
        pad = 0.1 * (high - low)
        xs = np.linspace(low[0] - pad[0], high[0] + pad[0], resolution)
        ys = np.linspace(low[1] - pad[1], high[1] + pad[1], resolution)
        grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
        axes[row, 0].scatter(X[:2000, 0], X[:2000, 1], s=1, c="k")
        axes[row, 0].set_title(f"{target}: samples", fontsize=9)
        names = [name for name in (*MAFS, "LGF-MAF") if name in runs]
        for col, name in enumerate(names, start=1):
            estimator = runs[name]["estimator"]
            if isinstance(estimator, LGFDensity):
                estimator.set_params(n_importance_samples=100)
            density = np.exp(estimator.score_samples(grid)).reshape(
                resolution, resolution
            )
            ax = axes[row, col]
            ax.imshow(density, origin="lower", extent=(xs[0], xs[-1], ys[0], ys[-1]),
                      cmap="viridis", aspect="auto")  # fmt: skip
            ax.set_title(f"{name}: {runs[name]['test_ll']:.3f} nats", fontsize=9)
        for ax in axes[row]:
            ax.set_xlim(xs[0], xs[-1])
            ax.set_ylim(ys[0], ys[-1])
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def render(
    results: list[dict[str, Any]], report: ResultFile, args: argparse.Namespace
) -> str:
    """The report of the fits done so far."""
    return (
        f"# MAF versus LGF-MAF on 2-D targets ({args.pair})\n\n"
        f"Command: `{report.command}`. {N_TRAIN} train / {N_VALID} validation / "
        f"{N_TEST} test points drawn afresh; Adam lr 1e-3 {args.learning_rate}, "
        f"batch {args.batch_size}, "
        f"{args.max_iter} epochs at most, weights of the best validation epoch "
        f"kept; LGF test figures are importance-sampling estimates with "
        f"K={K_TEST}; 'samples in the gap' is the share of {N_GAP_SAMPLES:,} "
        "model samples whose x1 falls strictly inside the empty band (0 for the "
        f"truth). One torch thread per model, {args.n_jobs} at a time on "
        f"{os.cpu_count()} shared cores; total wall time "
        f"{report.clock.seconds:.0f} s.\n\n"
        + table(results)
        + "\n\n## Collapse diagnostics\n\n"
        + diagnostics_text(results)
    )


def main() -> None:
    parser = make_parser(
        __doc__,
        None,
        "markdown report, rewritten as results arrive, and a PNG beside it "
        "(default: results/two_d_<pair>.md)",
    )
    parser.add_argument("--pair", choices=PAIRS, default="figure1")
    parser.add_argument(
        "--targets", nargs="+", default=["two_uniforms"], choices=list(TARGETS)
    )
    parser.add_argument(
        "--gaps",
        nargs="+",
        type=float,
        default=[1.0],
        help="gaps of the two-uniforms target (1: the paper's figure, 2: its code)",
    )
    parser.add_argument(
        "--maf-batch-norm",
        action="store_true",
        help="also fit the pair's MAF with batch norm between its steps, as "
        "the paper's Figure 1 baseline had",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        choices=["LGF-MAF", *MAFS],
        default=None,
        help="the models to fit (default: LGF-MAF and MAF, and MAF+BN with "
        "--maf-batch-norm); e.g. a baseline alone on further seeds",
    )
    add_max_iter(parser, 300)
    parser.add_argument(
        "--n-iter-no-change",
        type=int,
        default=None,
        help="early-stopping patience (default: max-iter, i.e. run every epoch "
        "and keep the best validation epoch's weights)",
    )
    parser.add_argument(
        "--objective",
        choices=list(OBJECTIVES),
        default=PAIR_OBJECTIVE,
        help="the LGF-MAF's training objective (default: the presets')",
    )
    parser.add_argument("--seed", type=int, default=0)
    add_training_schedule(parser)
    add_n_jobs(parser, os.cpu_count() or 1)
    parser.add_argument("--resolution", type=int, default=120)
    args = parser.parse_args()
    set_threads(1)  # the figure's scoring runs here, beside nothing else

    cases = [
        (t, g)
        for t in args.targets
        for g in (args.gaps if t == "two_uniforms" else [None])
    ]
    # The LGFs first: they take longest, so the MAFs fill the gaps after.
    default_models = ["LGF-MAF", "MAF"] + ([MAF_BN] if args.maf_batch_norm else [])
    models = args.models or default_models
    jobs = [(t, g, m, args.pair, args) for t, g in cases for m in models]
    # The settings in full, so the command reruns this run even if the
    # defaults change.
    command = ["--pair", args.pair, "--targets", *args.targets]
    if "two_uniforms" in args.targets:
        command += ["--gaps", *(f"{g:g}" for g in args.gaps)]
    if args.maf_batch_norm:
        command.append("--maf-batch-norm")
    if models != default_models:
        command += ["--models", *models]
    command += ["--objective", args.objective]
    command += ["--max-iter", str(args.max_iter), "--seed", str(args.seed)]
    command += schedule_arguments(args)
    if args.n_iter_no_change:
        command += ["--n-iter-no-change", str(args.n_iter_no_change)]
    output = args.output or RESULTS / f"two_d_{args.pair}.md"
    report = ResultFile(output, command_line(__file__, command))
    order = {label(t, g): i for i, (t, g) in enumerate(cases)}
    results: list[dict[str, Any]] = []
    for result in in_workers(fit_one, jobs, args.n_jobs):
        results.append(result)
        results.sort(
            key=lambda r: (order[r["target"]], [*MAFS, "LGF-MAF"].index(r["model"]))
        )
        report.clock.log(f"{result['target']}, {result['model']}: done")
        report.update(render(results, report, args))
    report.finish(render(results, report, args))
    figure(results, output.with_suffix(".png"), args.resolution)
    print(f"wrote {output.with_suffix('.png')}")


if __name__ == "__main__":
    main()
