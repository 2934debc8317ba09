"""MAFDensity against zuko's MAF with the same architecture on digits, over seeds.

Same protocol as ``benchmarks/digits.py`` (its ``load_data`` and
``fit_zuko``): 5 x [256, 256] MADE steps, early stopping on 10 % of the
training rows, test log-likelihood in nats per digit, one torch thread.

    python benchmarks/digits_maf_seeds.py --seeds 0 1 2 3 4
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import digits  # benchmarks/digits.py: data and the zuko training loop
import numpy as np
import torch

from sklearn_lgf import MAFDensity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(__file__).parent / "results" / "digits_maf_seeds.md",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    X_train, X_test = digits.load_data()
    rows, ours, theirs = [], [], []
    start = time.perf_counter()
    for seed in args.seeds:
        maf = MAFDensity(
            n_layers=5, hidden_layer_sizes=(256, 256), max_iter=500,
            random_state=seed, device="cpu",
        )  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            maf.fit(X_train)
        ours.append(maf.score(X_test))
        flow, loc, scale, _ = digits.fit_zuko("MAF", X_train, seed, 500)
        theirs.append(float(np.mean(digits.zuko_score(flow, loc, scale, X_test))))
        rows.append(f"| {seed} | {ours[-1]:.2f} | {theirs[-1]:.2f} |")
        print(rows[-1], flush=True)
    text = "\n".join(
        [
            "# Digits: MAFDensity against zuko's MAF, 5 x [256, 256], over seeds",
            "",
            f"Command: `python benchmarks/digits_maf_seeds.py --seeds "
            f"{' '.join(map(str, args.seeds))}` (protocol of digits.py; one "
            f"thread, shared cores; {time.perf_counter() - start:.0f} s).",
            "",
            "| seed | MAFDensity | zuko MAF |",
            "|---|---|---|",
            *rows,
            f"| mean | {np.mean(ours):.2f} | {np.mean(theirs):.2f} |",
            "",
        ]
    )
    print(text)
    args.output.write_text(text)


if __name__ == "__main__":
    main()
