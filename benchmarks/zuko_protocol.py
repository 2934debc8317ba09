"""Issue 25's protocol: our MAF and NSF against zuko's, paired by seed, on digits.

Run from the repository root (needs the ``benchmark`` extra: zuko 1.6.0)::

    python benchmarks/zuko_protocol.py [--seeds 0 1 2 3 4]

Digits as in ``benchmarks/digits.py`` (``harness.data.load_digits_split``:
1,257 training and 540 test rows, dequantised, in [0, 1)). Both sides have
five steps of MADE networks with two hidden layers of 256 units:

* ours, each at its defaults otherwise, with its own early stopping:
  ``MAFDensity(n_layers=5, hidden_layer_sizes=(256, 256))`` and the same
  with ``univariate="spline"`` (NSF), fitted on all the training rows;
* zuko's ``MAF`` and ``NSF`` (``transforms=5, hidden_features=[256, 256]``,
  zuko's own defaults otherwise) on the data as they are, in the issue's
  loop: validation = the last 10 % of the training rows, Adam 1e-3, batches
  of 128, early stopping with patience 20 on the validation mean, best
  weights restored.

Each model is tested once on the test rows (mean log-likelihood, nats per
digit). With ``--design-splits R ...`` the test rows are never read: for each
``R`` the training rows are split 80/20 (``train_test_split``,
``random_state=R``), both sides fit on the 80 % as above and are scored on
the 20 %; the paired difference is then reported per split, which shows
how much of it belongs to the one test set. Reported: every seed, the
mean of ours minus zuko's with its standard error over the seeds (paired),
epochs and seconds. One torch thread.
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).parent))
from harness import RESULTS, ResultFile, Timer, command_line, set_threads  # noqa: E402
from harness.data import load_digits_split  # noqa: E402
from harness.peers import ISSUE_BATCH, ISSUE_PATIENCE, train_zuko_issue_loop  # noqa: E402

from sklearn_lgf import MAFDensity  # noqa: E402


def zuko_test(flow: Any, X: np.ndarray) -> float:
    with torch.no_grad():
        return float(flow().log_prob(torch.as_tensor(X, dtype=torch.float32)).mean())


def ours(kind: str, seed: int) -> MAFDensity:
    univariate = "affine" if kind == "MAF" else "spline"
    return MAFDensity(
        n_layers=5,
        hidden_layer_sizes=(256, 256),
        univariate=univariate,
        random_state=seed,
        n_threads=1,
    )


def render(command: str, rows: list[dict[str, Any]]) -> str:
    lines = [
        "# Digits: our MAF and NSF against zuko's, issue 25's protocol",
        "",
        f"- command: `{command.strip()}`",
        "- 5 steps x [256, 256] on both sides; ours at their defaults with their "
        "own early stopping, zuko 1.6 in the issue's loop (last 10 % of the "
        f"training rows validate, Adam 1e-3, batch {ISSUE_BATCH}, "
        f"patience {ISSUE_PATIENCE}, "
        "best weights); held-out log-likelihood in nats per digit (split `test`: "
        "the test rows; `design R`: 20 % of the training rows); one thread",
        "",
        "| flow | split | seed | ours | zuko | ours - zuko | epochs ours / zuko | "
        "seconds ours / zuko |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['kind']} | {r['split']} | {r['seed']} | {r['ours']:.2f} | "
            f"{r['zuko']:.2f} | {r['ours'] - r['zuko']:+.2f} | {r['epochs_ours']} / "
            f"{r['epochs_zuko']} | {r['s_ours']:.0f} / {r['s_zuko']:.0f} |"
        )
    lines.append("")
    for kind, split in dict.fromkeys((r["kind"], r["split"]) for r in rows):
        mine = [r for r in rows if r["kind"] == kind and r["split"] == split]
        if len(mine) > 1:
            diff = np.array([r["ours"] - r["zuko"] for r in mine])
            se = diff.std(ddof=1) / math.sqrt(len(diff))
            lines.append(
                f"- {kind}, {split}: ours {np.mean([r['ours'] for r in mine]):.2f}, "
                f"zuko {np.mean([r['zuko'] for r in mine]):.2f}; ours - zuko "
                f"{diff.mean():+.2f} +- {se:.2f} (s.e., {len(diff)} seeds)"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--kinds", nargs="+", default=["MAF", "NSF"])
    parser.add_argument("--design-splits", type=int, nargs="+", default=None)
    parser.add_argument("--output", type=Path, default=RESULTS / "zuko_protocol.md")
    args = parser.parse_args()
    set_threads(1)
    report = ResultFile(args.output, command_line(__file__, sys.argv[1:]))
    X_digits, X_test_digits = load_digits_split()
    splits: list[tuple[str, np.ndarray, np.ndarray]] = [
        ("test", X_digits, X_test_digits)
    ]
    if args.design_splits is not None:
        splits = [
            (f"design {r}", *train_test_split(X_digits, test_size=0.2, random_state=r))
            for r in args.design_splits
        ]
    rows: list[dict[str, Any]] = []
    for kind, seed, (split, X_train, X_test) in product(args.kinds, args.seeds, splits):
        clock = Timer()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = ours(kind, seed).fit(X_train)
        s_ours = clock.seconds
        clock = Timer()
        flow, epochs = train_zuko_issue_loop(kind, X_train, seed)
        s_zuko = clock.seconds
        rows.append(
            {
                "kind": kind,
                "split": split,
                "seed": seed,
                "ours": model.score(X_test),
                "zuko": zuko_test(flow, X_test),
                "epochs_ours": model.n_iter_,
                "epochs_zuko": epochs,
                "s_ours": s_ours,
                "s_zuko": s_zuko,
            }
        )
        report.clock.log(str(rows[-1]))
        report.update(render(report.command, rows))
    report.finish(render(report.command, rows))


if __name__ == "__main__":
    main()
