"""Grid search on a dask.distributed cluster against one process and loky workers.

Runs the same ``GridSearchCV`` of ``LGFDensity`` over an architecture grid
four ways, interleaved, ``--repeats`` times:

* ``n_jobs=1``: every fit in this process (torch threads: ``--threads``);
* ``loky, n_jobs=N``: joblib's default backend, N worker processes (joblib
  gives each ``cpu_count() // N`` torch threads);
* ``dask, N workers``: ``with joblib.parallel_backend("dask")`` and
  ``n_jobs=-1`` on a ``distributed.LocalCluster`` of N worker processes with
  one thread each and dask's default worker environment (its nanny sets
  ``OMP_NUM_THREADS=1``, ``MKL_NUM_THREADS=1`` and
  ``MALLOC_TRIM_THRESHOLD_=65536``);
* the same with ``MALLOC_TRIM_THRESHOLD_`` left unset (dask configuration
  ``distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_: None``).

Each dask run starts a fresh cluster, whose start is not counted in its wall
time. The report gives the wall time of each search, the speed-up over
``n_jobs=1``, the best parameters, whether the CV scores are bit-identical
to ``n_jobs=1``'s, and what the dask workers ran with. Needs the ``dask``
extra (``pip install -e ".[dask]"``)::

    python benchmarks/grid_dask.py    # 15 min on 2 cores that other jobs kept busy
    python benchmarks/grid_dask.py --max-iter 1 --repeats 1 --output /tmp/grid_dask.md
"""

from __future__ import annotations

import functools
import os
import platform
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dask
import distributed
import joblib
import numpy as np
import sklearn
import torch
from harness import (
    REPO,
    RESULTS,
    ResultFile,
    add_max_iter,
    add_threads,
    command_line,
    cpu_name,
    make_parser,
    markdown_table,
    set_threads,
    timestamp,
)
from sklearn.model_selection import GridSearchCV

from sklearn_lgf import LGFDensity
from sklearn_lgf.datasets import make_two_uniforms

GRID = {"n_layers": [2, 4], "u_dim": [1, 2]}
CV = 3
N_ROWS = 2000

Timed = tuple[GridSearchCV, float]


def shown_path(path: Path) -> str:
    """``path`` as the report's command gives it: relative to the repository
    root, where the command is run from, when it lies inside it."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def search(max_iter: int, n_jobs: int) -> GridSearchCV:
    """The grid search that every mode runs: ``LGFDensity()``'s defaults but
    for the grid's parameters and a fixed epoch budget."""
    return GridSearchCV(
        LGFDensity(max_iter=max_iter, random_state=0), GRID, cv=CV, n_jobs=n_jobs
    )


def fit_timed(max_iter: int, n_jobs: int, X: np.ndarray) -> tuple[GridSearchCV, float]:
    """:func:`search` fitted on ``X`` and its wall-clock seconds, the tiny
    budget's ConvergenceWarning silenced (a fixed ``max_iter`` is the
    protocol)."""
    fitted = search(max_iter, n_jobs)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted.fit(X)
    return fitted, time.perf_counter() - start


def split_scores(fitted: GridSearchCV) -> np.ndarray:
    """Every candidate's score on every fold, candidates by row."""
    return np.column_stack(
        [fitted.cv_results_[f"split{i}_test_score"] for i in range(CV)]
    )


def environment(name: str) -> str | None:
    """The variable ``name`` of this process's environment, or ``None``.

    A function of this module rather than ``os.environ.get``, which would
    travel to the workers bound to a copy of the caller's ``os.environ``.
    """
    return os.environ.get(name)


class DaskMode:
    """A search on a fresh ``LocalCluster`` of one-thread worker processes.

    Each run starts its own cluster, under the dask configuration ``config``,
    and closes it after the search; the start is timed apart from the
    search. The nanny writes the environment it gives its workers
    (``OMP_NUM_THREADS=1`` and more) into this process's ``os.environ``; it
    is put back, so that loky's workers get joblib's own thread limits
    rather than dask's.

    Parameters
    ----------
    n_workers : int
        Worker processes of the cluster.
    config : dict
        Dask configuration in force while the cluster starts.
    """

    def __init__(self, n_workers: int, config: dict[str, Any]) -> None:
        self.n_workers = n_workers
        self.config = config
        self.start_seconds: list[float] = []
        self.workers: dict[str, Any] = {}

    def __call__(self, run: Callable[[], Timed]) -> Timed:
        """``run()`` with joblib's dask backend on a fresh cluster."""
        saved = dict(os.environ)
        start = time.perf_counter()
        with dask.config.set(self.config):
            cluster = distributed.LocalCluster(
                n_workers=self.n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
        os.environ.clear()
        os.environ.update(saved)
        try:
            with distributed.Client(cluster) as client:
                self.start_seconds.append(time.perf_counter() - start)
                self.workers = {
                    "torch threads": sorted(client.run(torch.get_num_threads).values()),
                    "MALLOC_TRIM_THRESHOLD_": sorted(
                        client.run(environment, "MALLOC_TRIM_THRESHOLD_").values(),
                        key=str,
                    ),
                }
                with joblib.parallel_backend("dask"):
                    return run()
        finally:
            cluster.close()


def main() -> None:
    parser = make_parser(__doc__, RESULTS / "grid_dask.md")
    add_max_iter(parser, 10)
    add_threads(parser, 1)
    parser.add_argument(
        "--n-workers",
        type=int,
        default=2,
        help="dask workers and loky n_jobs (default: %(default)s)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="runs of each mode, interleaved (default: %(default)s)",
    )
    args = parser.parse_args()
    threads = set_threads(args.threads)
    command = command_line(
        __file__,
        [
            "--max-iter",
            str(args.max_iter),
            "--threads",
            str(args.threads),
            "--n-workers",
            str(args.n_workers),
            "--repeats",
            str(args.repeats),
            "--output",
            shown_path(args.output),
        ],
    )
    report = ResultFile(args.output, command)
    X = make_two_uniforms(N_ROWS, random_state=0)
    load_before = os.getloadavg()

    n = args.n_workers
    clusters = {
        f"dask, {n} workers": DaskMode(n, {}),
        f"dask, {n} workers, MALLOC_TRIM_THRESHOLD_ unset": DaskMode(
            n, {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
        ),
    }
    modes: dict[str, Callable[[], Timed]] = {
        "n_jobs=1": functools.partial(fit_timed, args.max_iter, 1, X),
        f"loky, n_jobs={n}": functools.partial(fit_timed, args.max_iter, n, X),
    }
    for name, cluster in clusters.items():
        modes[name] = functools.partial(
            cluster, functools.partial(fit_timed, args.max_iter, -1, X)
        )

    header = describe(args, command, threads)
    rows: list[list[object]] = []
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    reference: np.ndarray | None = None
    for repeat in range(args.repeats):
        for mode, run in modes.items():
            fitted, seconds = run()
            times[mode].append(seconds)
            scores = split_scores(fitted)
            if reference is None:
                reference = scores
            rows.append(
                [
                    mode,
                    repeat + 1,
                    f"{seconds:.1f}",
                    fitted.best_params_,
                    f"{fitted.best_score_:.4f}",
                    compare(scores, reference),
                ]
            )
            print(rows[-1], flush=True)
            report.update(render(header, clusters, load_before, rows, times))
    report.finish(render(header, clusters, load_before, rows, times, os.getloadavg()))


def compare(scores: np.ndarray, reference: np.ndarray) -> str:
    """Whether ``scores`` are bit-identical to ``reference``, for the report."""
    if np.array_equal(scores, reference):
        return "yes"
    return f"**no** (max diff {np.max(np.abs(scores - reference)):.2e})"


def describe(args: Any, command: str, threads: int) -> list[str]:
    """The report's header lines that do not change during the run."""
    n_fits = len(GRID["n_layers"]) * len(GRID["u_dim"]) * CV
    return [
        f"- date: {timestamp()}",
        f"- torch {torch.__version__}, scikit-learn {sklearn.__version__}, "
        f"joblib {joblib.__version__}, distributed {distributed.__version__}, "
        f"Python {platform.python_version()}",
        f"- CPU: {cpu_name()}, {os.cpu_count()} logical cores shared with other jobs",
        f"- torch threads in this process (the `n_jobs=1` search): {threads}",
        f"- `GridSearchCV(LGFDensity(max_iter={args.max_iter}, random_state=0), "
        f"{GRID}, cv={CV})` on `make_two_uniforms({N_ROWS}, random_state=0)`: "
        f"{n_fits} fits and as many scorings, then the refit of the best "
        "candidate in this process",
        f"- dask: a fresh `LocalCluster(n_workers={args.n_workers}, "
        "threads_per_worker=1, processes=True)` for each run, its start not "
        "counted in the wall time",
        f"- command: `{command}`",
    ]


def render(
    header: list[str],
    clusters: dict[str, DaskMode],
    load_before: tuple[float, float, float],
    rows: list[list[object]],
    times: dict[str, list[float]],
    load_after: tuple[float, float, float] | None = None,
) -> str:
    """The report as it stands."""
    serial = min(times["n_jobs=1"], default=float("nan"))
    summary = [
        [mode, f"{min(t):.1f}", f"{serial / min(t):.2f}"]
        for mode, t in times.items()
        if t
    ]
    workers = [
        [
            name,
            cluster.workers.get("torch threads"),
            cluster.workers.get("MALLOC_TRIM_THRESHOLD_"),
            ", ".join(f"{t:.1f}" for t in cluster.start_seconds),
        ]
        for name, cluster in clusters.items()
        if cluster.start_seconds
    ]
    load = f"- 1-minute load average: {load_before[0]:.2f} at the start"
    if load_after is not None:
        load += f", {load_after[0]:.2f} at the end"
    columns = ["mode", "repeat", "wall s", "best_params_", "best_score_"]
    return "\n".join(
        [
            "# Grid search: one process, loky workers, a dask cluster",
            "",
            *header,
            load,
            "",
            "Best of the repeats, in seconds, and the speed-up over `n_jobs=1`:",
            "",
            markdown_table(["mode", "wall s (best)", "speed-up"], summary),
            "",
            "Every run (CV scores, all candidates and folds, compared with the "
            "first `n_jobs=1` run's):",
            "",
            markdown_table([*columns, "CV scores bit-identical"], rows),
            "",
            "The dask workers, as `client.run` read them, and the clusters' "
            "start times in seconds:",
            "",
            markdown_table(
                ["mode", "torch threads", "MALLOC_TRIM_THRESHOLD_", "start s"],
                workers,
            ),
            "",
        ]
    )


if __name__ == "__main__":
    main()
