"""MAFDensity against zuko's MAF with the same architecture on digits, over seeds.

Same protocol as ``benchmarks/digits.py`` (``harness.data.load_digits_split``
and ``harness.peers.fit_zuko``): 5 x [256, 256] MADE steps, early stopping on
10 % of the training rows, test log-likelihood in nats per digit, one torch
thread.

    python benchmarks/digits_maf_seeds.py --seeds 0 1 2 3 4
"""

from __future__ import annotations

import numpy as np
from harness import (
    RESULTS,
    ResultFile,
    add_max_iter,
    add_seeds,
    command_line,
    make_parser,
    markdown_table,
    set_threads,
    timed_fit,
)
from harness.data import load_digits_split
from harness.peers import fit_zuko, zuko_score

from sklearn_lgf import MAFDensity


def render(rows: list[tuple[int, float, float]], report: ResultFile) -> str:
    """The report of the seeds done so far: one row each, then the means."""
    table = [[seed, f"{ours:.2f}", f"{theirs:.2f}"] for seed, ours, theirs in rows]
    if rows:
        means = np.mean([row[1:] for row in rows], axis=0)
        table.append(["mean", f"{means[0]:.2f}", f"{means[1]:.2f}"])
    return "\n".join(
        [
            "# Digits: MAFDensity against zuko's MAF, 5 x [256, 256], over seeds",
            "",
            f"Command: `{report.command}` (protocol of digits.py; one "
            f"thread, shared cores; {report.clock.seconds:.0f} s).",
            "",
            markdown_table(["seed", "MAFDensity", "zuko MAF"], table),
            "",
        ]
    )


def main() -> None:
    parser = make_parser(__doc__, RESULTS / "digits_maf_seeds.md")
    add_seeds(parser, [0, 1, 2, 3, 4])
    add_max_iter(parser, 500)
    args = parser.parse_args()
    set_threads(1)
    # The seeds and the budget in full, so the command reruns this run even if
    # the defaults change.
    command = ["--seeds", *map(str, args.seeds), "--max-iter", str(args.max_iter)]
    report = ResultFile(args.output, command_line(__file__, command))
    X_train, X_test = load_digits_split()
    rows: list[tuple[int, float, float]] = []
    for seed in args.seeds:
        maf = MAFDensity(
            n_layers=5, hidden_layer_sizes=(256, 256), max_iter=args.max_iter,
            random_state=seed, device="cpu",
        )  # fmt: skip
        maf, _ = timed_fit(maf, X_train)
        ours = maf.score(X_test)
        flow, loc, scale, _ = fit_zuko("MAF", X_train, seed, args.max_iter)
        theirs = float(np.mean(zuko_score(flow, loc, scale, X_test)))
        rows.append((seed, ours, theirs))
        report.clock.log(f"seed {seed}: MAFDensity {ours:.2f}, zuko MAF {theirs:.2f}")
        report.update(render(rows, report))
    report.finish(render(rows, report))


if __name__ == "__main__":
    main()
