"""Importance-sampling scores: each row's own draws against one bank shared by all rows.

Fits an LGF, then scores held-out points, the mean of ``score_samples``, at
each ``K`` of ``--ks`` under each of ``--scoring-seeds`` seeds, in two ways
(``--data``: ``two_uniforms``, the Figure 1 LGF-MAF of
``sklearn_lgf.presets`` trained on the IWAE bound over 10 draws, on 10k
points of gap 1 with 1k of them for validation, scored on 5,000 fresh
points; ``digits``, ``LGFDensity()`` with its defaults on
``benchmarks/digits.py``'s training rows, scored on a fifth of them held
out, as in ``benchmarks/defaults.py``; the training options apply to
``two_uniforms`` only):

- "keyed": the estimator's draws, keyed by each row's values, so that the
  rows' errors are independent;
- "shared bank": one bank of ``K`` draws shared by all rows, the scheme the
  package used before commit 44318e2 (rows' errors move together).

For each ``K`` and scheme it reports the mean over seeds and their spread:
the spread is how far one reported figure may be from another run's.

    python benchmarks/importance_draws.py --max-iter 300 --ks 100 1000
    python benchmarks/importance_draws.py --data digits --ks 10 100 \
        --output benchmarks/results/importance_draws_digits.md
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import torch
from harness import (
    RESULTS,
    ResultFile,
    add_max_iter,
    add_training_schedule,
    command_line,
    make_parser,
    markdown_table,
    schedule_arguments,
    set_threads,
    timed_fit,
)
from harness.data import load_digits_split
from sklearn.model_selection import train_test_split

from sklearn_lgf import LGFDensity
from sklearn_lgf.datasets import TRUE_LOG_DENSITIES, make_target
from sklearn_lgf.nn import evaluation
from sklearn_lgf.nn.chunks import map_fixed_chunks
from sklearn_lgf.presets import paper_pair


def mean_score(
    estimator: LGFDensity, X: np.ndarray, k: int, seed: int, shared: bool
) -> float:
    """The mean estimated log-density of ``X`` with ``K`` draws from ``seed``."""
    model = estimator._fitted_model()
    model.monte_carlo = dataclasses.replace(model.monte_carlo, seed=seed)
    x = estimator._model_input(X)
    with torch.no_grad():
        if shared:
            generator = torch.Generator().manual_seed(seed)
            bank = torch.randn(k, model.n_indexed, model.u_dim, generator=generator)
            rows = model.scoring_layout(x.device, k)[0]
            values = map_fixed_chunks(
                lambda chunk: model.log_prob(chunk, bank.to(chunk)), x, rows
            )
        else:
            values = evaluation.log_prob(model, x, n_importance_samples=k)
    correction = estimator._standardisation().log_det_correction
    return float(values.double().mean()) + correction


def render(rows: list[list[str]], report: ResultFile, header_note: str) -> str:
    header = ["K", "draws", "mean over seeds", "spread (std)", "min", "max", "seeds"]
    return "\n".join(
        [
            "# Importance-sampling scores: keyed draws against a shared bank",
            "",
            f"Command: `{report.command}`. {header_note}",
            "",
            markdown_table(header, rows),
            "",
        ]
    )


def main() -> None:
    parser = make_parser(__doc__, RESULTS / "importance_draws.md")
    add_max_iter(parser, 300)
    add_training_schedule(parser)
    parser.add_argument("--ks", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--scoring-seeds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="data and fit seed")
    parser.add_argument(
        "--data", choices=["two_uniforms", "digits"], default="two_uniforms"
    )
    args = parser.parse_args()
    set_threads(1)
    command = ["--data", args.data]
    command += ["--max-iter", str(args.max_iter), *schedule_arguments(args)]
    command += ["--ks", *map(str, args.ks), "--scoring-seeds", str(args.scoring_seeds)]
    command += ["--seed", str(args.seed)]
    report = ResultFile(args.output, command_line(__file__, command))

    if args.data == "digits":
        X_train, _ = load_digits_split()
        X, X_test = train_test_split(X_train, test_size=0.2, random_state=1)
        estimator = LGFDensity(random_state=args.seed)
        truth = ""
        what = (
            f"`LGFDensity(random_state={args.seed})` (its defaults) on the "
            f"digits protocol's training rows, {len(X_test)} of them held out "
            "and scored (nats per image)"
        )
    else:
        X = make_target("two_uniforms", 11_000, random_state=args.seed)
        X_test = make_target("two_uniforms", 5_000, random_state=args.seed + 1000)
        estimator = paper_pair(
            "figure1",
            max_iter=args.max_iter,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            validation_fraction=1 / 11,
            n_iter_no_change=args.max_iter,
            random_state=args.seed,
            device="cpu",
        )["LGF-MAF"]
        mean_truth = np.mean(TRUE_LOG_DENSITIES["two_uniforms"](X_test))
        truth = f" (true mean log-density {mean_truth:.4f})"
        what = (
            f"The Figure 1 LGF-MAF (IWAE bound, 10 draws) on two uniforms "
            f"(gap 1), seed {args.seed}, Adam 1e-3 {args.learning_rate}, batch "
            f"{args.batch_size}, {args.max_iter} epochs (best validation epoch "
            "kept), scored on 5,000 fresh points"
        )
    estimator, fit_time = timed_fit(estimator, X)
    report.clock.log(f"fitted in {fit_time:.0f} s")
    note = (
        f"{what}{truth}; fitted in {fit_time:.0f} s on one thread. 'keyed': "
        "each row's own draws (the estimator's); 'shared bank': one bank of K "
        "draws for all rows (before commit 44318e2). Seeds 0 to "
        f"{args.scoring_seeds - 1} of the draws; {os.cpu_count()} shared "
        "cores, one thread."
    )
    rows: list[list[str]] = []
    for k in args.ks:
        for name, shared in (("keyed", False), ("shared bank", True)):
            scores = [
                mean_score(estimator, X_test, k, seed, shared)
                for seed in range(args.scoring_seeds)
            ]
            report.clock.log(f"K={k}, {name}: done")
            rows.append(
                [
                    str(k),
                    name,
                    f"{np.mean(scores):.4f}",
                    f"{np.std(scores, ddof=1):.4f}",
                    f"{min(scores):.4f}",
                    f"{max(scores):.4f}",
                    " / ".join(f"{s:.4f}" for s in scores),
                ]
            )
            report.update(render(rows, report, note))
    report.finish(render(rows, report, note))


if __name__ == "__main__":
    main()
