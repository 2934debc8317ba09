"""Out-of-core fitting: peak memory and speed of a fit on a numpy.memmap.

Run from the repository root::

    python benchmarks/out_of_core.py                       # 1 and 3 GB files
    python benchmarks/out_of_core.py --gigabytes 0.25 0.75 --estimators maf

For each file size it writes a float64 ``.npy`` file of ``--features``
columns (a random linear mix of Gaussian, Laplace and bimodal sources, then
a ``tanh`` warp of half of the columns) under ``--tmpdir``, and fits each
estimator for one epoch (``max_iter=1``, default batch size and early
stopping) on ``np.load(path, mmap_mode="r")``, each fit in a fresh
subprocess with one torch thread. It reports the fit's wall-clock seconds,
rows per second (rows of the file / seconds, the passes over the data
included; after an untimed fit on 500 rows, which sets up what every fit
uses), and the subprocess's peak resident memory: ``VmHWM`` from
``/proc/self/status`` (the high-water mark of its own memory since it
started, file-backed pages of the mapping included), ``ru_maxrss`` (which
also counts the parent's memory when the child was started), and, at the
end of the fit, ``RssAnon`` and ``RssFile``. For
reference the same estimator is fitted in memory on the file's first
``--memory-rows`` rows (loaded as an array first, not timed), with the same
rows-per-second measure, and a subprocess that only imports torch and the
package gives the baseline memory. The files are deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from harness import (
    RESULTS,
    ResultFile,
    command_line,
    cpu_name,
    markdown_table,
    set_threads,
    timestamp,
)

from sklearn_lgf import LGFDensity, MAFDensity

MIB = 2**20
WRITE_ROWS = 1 << 18


def estimator(name: str) -> Any:
    """The benchmark's small architectures, one epoch, one thread, CPU."""
    common = dict(max_iter=1, device="cpu", n_threads=1, random_state=0)
    if name == "maf":
        return MAFDensity(n_layers=2, hidden_layer_sizes=(64, 64), **common)
    return LGFDensity(
        n_layers=2,
        hidden_layer_sizes=(32, 32),
        univariate="affine",
        u_dim=2,
        pq_hidden_layer_sizes=(32,),
        st_hidden_layer_sizes=(32,),
        n_elbo_samples=1,
        n_importance_samples=10,
        **common,
    )


def write_file(path: Path, rows: int, features: int, seed: int = 0) -> None:
    """A float64 ``.npy`` file of ``rows`` rows, written a block at a time.

    Written with plain writes, not through a mapping: the pages of a mapping
    would count as this process's resident memory, and a child process
    inherits its parent's high-water mark in ``ru_maxrss``.
    """
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(features, features)) / np.sqrt(features)
    header = {"descr": "<f8", "fortran_order": False, "shape": (rows, features)}
    out = open(path, "wb")
    np.lib.format.write_array_header_1_0(out, header)
    third = features // 3
    for start in range(0, rows, WRITE_ROWS):
        m = min(WRITE_ROWS, rows - start)
        sources = np.empty((m, features))
        sources[:, :third] = rng.normal(size=(m, third))
        sources[:, third : 2 * third] = rng.laplace(size=(m, third))
        modes = np.where(rng.random((m, features - 2 * third)) < 0.5, -2.0, 2.0)
        sources[:, 2 * third :] = modes + 0.5 * rng.normal(size=modes.shape)
        block = sources @ mixing
        block[:, ::2] = np.tanh(block[:, ::2])
        block.astype("<f8").tofile(out)
    out.close()


def memory_status() -> dict[str, int]:
    """``VmHWM``, ``RssAnon`` and ``RssFile`` of this process, in KiB."""
    found: dict[str, int] = {}
    with open("/proc/self/status") as f:
        for line in f:
            key = line.split(":", 1)[0]
            if key in ("VmHWM", "RssAnon", "RssFile"):
                found[key] = int(line.split()[1])
    return found


def child(args: argparse.Namespace) -> None:
    """One fit in this (fresh) process; prints one JSON line."""
    set_threads(1)
    result: dict[str, Any] = {}
    if args.mode != "baseline":
        X = np.load(args.path, mmap_mode="r")
        rows = len(X)
        if args.mode == "memory":
            X = np.array(X[: args.memory_rows])
            rows = len(X)
        est = estimator(args.estimator)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Untimed: the first fit of a process imports and sets up what
            # every fit uses (seconds), which would weigh on short fits most.
            estimator(args.estimator).fit(np.asarray(X[:500]))
            start = time.perf_counter()
            est.fit(X)
        seconds = time.perf_counter() - start
        result = dict(rows=rows, seconds=seconds, rows_per_second=rows / seconds)
    result["ru_maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result.update(memory_status())
    print(json.dumps(result), flush=True)


def run_child(mode: str, path: Path, name: str, memory_rows: int) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        mode,
        "--path",
        str(path),
        "--estimator",
        name,
        "--memory-rows",
        str(memory_rows),
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run(command, capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def render(results: list[dict[str, Any]], report: ResultFile, args: Any) -> str:
    table = markdown_table(
        [
            "estimator",
            "data",
            "rows",
            "file MiB",
            "fit s",
            "rows/s",
            "rows/s vs memory",
            "peak RSS MiB (VmHWM)",
            "ru_maxrss MiB",
            "RssAnon MiB at end",
            "RssFile MiB at end",
        ],
        [
            (
                r["estimator"],
                r["mode"],
                f"{r['rows']:,}",
                f"{r['file_mib']:.0f}" if r["mode"] == "memmap" else "",
                f"{r['seconds']:.1f}",
                f"{r['rows_per_second']:,.0f}",
                f"{r['ratio']:.2f}" if "ratio" in r else "",
                f"{r['VmHWM'] / 1024:.0f}",
                f"{r['ru_maxrss_kib'] / 1024:.0f}",
                f"{r['RssAnon'] / 1024:.0f}",
                f"{r['RssFile'] / 1024:.0f}",
            )
            for r in results
            if r["mode"] != "baseline"
        ],
    )
    baseline = [r for r in results if r["mode"] == "baseline"]
    base = (
        f"A process that imports torch and sklearn_lgf and fits nothing peaks at "
        f"{baseline[0]['VmHWM'] / 1024:.0f} MiB (VmHWM).\n\n"
        if baseline
        else ""
    )
    return (
        f"# Out-of-core fit: peak memory and rows per second\n\n"
        f"Command: `{report.command}`\n\n"
        f"{timestamp()}, {cpu_name()}, one torch thread per fit, each fit in a "
        f"fresh subprocess; {args.features} features, float64 `.npy` files "
        f"read with `np.load(path, mmap_mode='r')`; one epoch (`max_iter=1`, "
        f"default batch size and early stopping). `memory`: the file's first "
        f"{args.memory_rows:,} rows loaded as an array first (not timed). "
        f"rows/s = rows / wall-clock seconds of `fit`, the passes over the data "
        f"included, after an untimed fit on 500 rows in the same process.\n\n"
        f"{base}{table}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, nargs="+", default=[1.0, 3.0])
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--estimators", nargs="+", default=["maf", "lgf"])
    parser.add_argument("--memory-rows", type=int, default=2_000_000)
    parser.add_argument("--tmpdir", type=Path, default=None)
    parser.add_argument(
        "--output", type=Path, default=RESULTS / "out_of_core.md", help="report"
    )
    parser.add_argument("--child", choices=["memmap", "memory", "baseline"])
    parser.add_argument("--path", type=Path)
    parser.add_argument("--estimator", default="maf")
    args = parser.parse_args()
    if args.child:
        args.mode = args.child
        child(args)
        return
    report = ResultFile(args.output, command_line(__file__))
    results: list[dict[str, Any]] = []
    results.append(dict(mode="baseline", **run_child("baseline", Path(), "maf", 0)))
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as folder:
        for gigabytes in args.gigabytes:
            rows = int(gigabytes * 1e9 / (8 * args.features))
            path = Path(folder) / f"X_{gigabytes:g}GB.npy"
            report.clock.log(f"writing {rows:,} rows to {path}")
            write_file(path, rows, args.features)
            file_mib = path.stat().st_size / MIB
            for name in args.estimators:
                if not any(
                    r["mode"] == "memory" and r["estimator"] == name for r in results
                ):
                    memory = run_child("memory", path, name, args.memory_rows)
                    results.append(dict(memory, mode="memory", estimator=name))
                    report.clock.log(f"{name} in memory: {memory}")
                streamed = run_child("memmap", path, name, args.memory_rows)
                reference = next(
                    r
                    for r in results
                    if r["mode"] == "memory" and r["estimator"] == name
                )
                streamed.update(
                    mode="memmap",
                    estimator=name,
                    file_mib=file_mib,
                    ratio=streamed["rows_per_second"] / reference["rows_per_second"],
                )
                results.append(streamed)
                report.clock.log(f"{name} memmap {gigabytes:g} GB: {streamed}")
                report.update(render(results, report, args))
            path.unlink()
    report.finish(render(results, report, args))


if __name__ == "__main__":
    main()
