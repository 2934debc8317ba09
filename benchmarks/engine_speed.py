"""LGF engine speed against an earlier version of the package, in one run.

Run from the repository root, with the earlier version checked out beside::

    git worktree add --detach /tmp/baseline 2976d9a
    python benchmarks/engine_speed.py --baseline /tmp/baseline

For each of the speed benchmark's two configurations (d=43: 5 MADE steps of
[512, 512], u of 10, p/q and s/t nets [128, 128]; d=2: 5 MADE steps of
[50]*4, u of 1, p/q [50]*4, s/t [10, 10]) it measures, with this tree's
package and with the baseline's:

- ``fit`` throughput of ``LGFDensity(base="made")`` with 1 and with 4 ELBO
  draws per row and of ``MAFDensity`` with the same base (``fit`` on 20,000
  rows, no early stopping, one epoch at d=43 and two at d=2), in data rows/s;
- importance-sampling scoring, ``score_samples`` with K = 100, in
  row-samples/s.

Every measurement runs in a fresh interpreter that imports one tree's
package, one torch thread; the two trees alternate, and each figure is the
best of ``--repeats`` runs (the median next to it), so that load from other
processes hits both alike. The report gives the ratios this/baseline and,
per tree, LGF/MAF.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import (  # noqa: E402
    ResultFile,
    command_line,
    cpu_name,
    make_parser,
    markdown_table,
    timestamp,
)

CONFIGS = {
    "d=43": {
        "d": 43,
        "hidden": (512, 512),
        "u_dim": 10,
        "pq": (128, 128),
        "st": (128, 128),
        "epochs": 1,
        "score_rows": 400,
    },
    "d=2": {
        "d": 2,
        "hidden": (50, 50, 50, 50),
        "u_dim": 1,
        "pq": (50, 50, 50, 50),
        "st": (10, 10),
        "epochs": 2,
        "score_rows": 4000,
    },
}
N_TRAIN = 20_000
K = 100
TASKS = ("MAF fit", "LGF fit, 1 draw", "LGF fit, 4 draws", "LGF score, K=100")


def worker(tree: str, config: str, task: str) -> None:
    """In a fresh interpreter: one timed call with ``tree``'s package, as JSON."""
    sys.path.insert(0, tree)
    import warnings

    import numpy as np
    import torch

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # the short fits' ConvergenceWarning
    from sklearn.base import clone

    from sklearn_lgf import LGFDensity, MAFDensity

    assert Path(sys.modules["sklearn_lgf"].__file__).is_relative_to(tree)
    cfg = CONFIGS[config]
    rng = np.random.RandomState(0)
    mixing = rng.randn(cfg["d"], cfg["d"]) / np.sqrt(cfg["d"])
    X = np.tanh(rng.randn(N_TRAIN, cfg["d"]) @ mixing) + 0.1 * rng.randn(
        N_TRAIN, cfg["d"]
    )
    common = {
        "n_layers": 5,
        "hidden_layer_sizes": cfg["hidden"],
        # The deprecated name: the baseline tree predates conditioner/univariate.
        "base": "made",
        "batch_size": 1000,
        "early_stopping": False,
        "tol": 0.0,
        "n_iter_no_change": 10**9,
        "random_state": 0,
        "n_threads": 1,
    }
    lgf = {
        "u_dim": cfg["u_dim"],
        "pq_hidden_layer_sizes": cfg["pq"],
        "st_hidden_layer_sizes": cfg["st"],
        "n_importance_samples": K,
    }
    if task == "MAF fit":
        estimator = MAFDensity(max_iter=cfg["epochs"], **common)
    elif task.startswith("LGF fit"):
        draws = int(task.split(", ")[1].split()[0])
        estimator = LGFDensity(
            max_iter=cfg["epochs"], n_elbo_samples=draws, **common, **lgf
        )
    else:
        estimator = LGFDensity(max_iter=1, **common, **lgf).fit(X[:2000])
        rows = X[: cfg["score_rows"]]
        estimator.score_samples(rows[:10])  # warm-up
        start = time.perf_counter()
        estimator.score_samples(rows)
        seconds = time.perf_counter() - start
        print(json.dumps({"rate": len(rows) * K / seconds}))
        return
    clone(estimator).set_params(max_iter=1).fit(X[:2000])  # warm-up
    start = time.perf_counter()
    estimator.fit(X)
    seconds = time.perf_counter() - start
    print(json.dumps({"rate": N_TRAIN * cfg["epochs"] / seconds}))


def measure(tree: Path, config: str, task: str) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, __file__, "--worker", str(tree), config, task],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{tree} {config} {task} failed:\n{out.stderr}")
    return float(json.loads(out.stdout.strip().splitlines()[-1])["rate"])


def fmt(rates: list[float]) -> str:
    best, median = max(rates), statistics.median(rates)
    unit = (lambda r: f"{r / 1e3:.1f}k") if best >= 1e3 else (lambda r: f"{r:.0f}")
    return f"{unit(best)} ({unit(median)})"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(*sys.argv[2:5])
        return
    parser = make_parser(__doc__, HERE / "results" / "engine_speed.md")
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS))
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    args = parser.parse_args()
    this = HERE.parent
    trees = {"this": this, "baseline": args.baseline.resolve()}
    baseline_commit = subprocess.run(
        ["git", "-C", str(trees["baseline"]), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    this_commit = subprocess.run(
        ["git", "-C", str(this), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    report = ResultFile(args.output, command_line(__file__))
    rates: dict[tuple[str, str, str], list[float]] = {}
    rows: list[list[str]] = []

    def render() -> str:
        return "\n".join(
            [
                "# LGF engine speed against an earlier version",
                "",
                f"- date: {timestamp()}; CPU: {cpu_name()}, one torch thread",
                f"- this tree: {this_commit} (with any uncommitted changes); "
                f"baseline: {baseline_commit}",
                f"- command: `{report.command}`",
                f"- every figure: best of {args.repeats} fresh interpreters "
                "(median), the two trees alternating; fits in data rows/s "
                "(20,000 rows, batch 1000, no early stopping), scoring in "
                "row-samples/s (`score_samples`, K = 100)",
                "",
                markdown_table(
                    [
                        "config",
                        "measure",
                        "this",
                        "baseline",
                        "this/baseline",
                        "LGF/MAF this",
                        "LGF/MAF baseline",
                    ],
                    rows,
                ),
                "",
            ]
        )

    for config in args.configs:
        for task in args.tasks:
            for tree in trees:
                rates[tree, config, task] = []
            for _ in range(args.repeats):
                for tree, path in trees.items():
                    print(f"{config} {task} {tree}", flush=True)
                    rates[tree, config, task].append(measure(path, config, task))
            best = {t: max(rates[t, config, task]) for t in trees}
            lgf_maf = ["", ""]
            if task.startswith("LGF fit") and "MAF fit" in args.tasks:
                lgf_maf = [
                    f"{best[t] / max(rates[t, config, 'MAF fit']):.2f}" for t in trees
                ]
            rows.append(
                [
                    config,
                    task,
                    fmt(rates["this", config, task]),
                    fmt(rates["baseline", config, task]),
                    f"{best['this'] / best['baseline']:.2f}",
                    *lgf_maf,
                ]
            )
            report.update(render())
    report.finish(render())


if __name__ == "__main__":
    main()
