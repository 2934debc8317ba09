"""What the benchmark scripts share, so that each script is its experiment only.

The scripts in ``benchmarks/`` each used to carry their own timing, thread
pinning, markdown tables, report writing and worker-process plumbing; this
package holds one copy of each:

- :data:`REPO`, :data:`RESULTS`: where the code under test and the reports are;
- :func:`set_threads`, :func:`in_workers`: one torch thread per process, and
  fits in worker processes;
- :class:`Timer`, :func:`timed_fit`: wall-clock timing and progress lines;
- :func:`markdown_table`, :func:`command_line`, :class:`ResultFile`: reports
  that carry the command that reproduces them and that are rewritten as
  results arrive;
- :func:`make_parser` and the ``add_*`` functions: the options that several
  scripts have, spelt and documented once;
- :func:`timestamp`, :func:`cpu_name`, :func:`zuko_version`,
  :func:`count_parameters`: what the report headers state.

:mod:`harness.data` holds the data of the protocols that several scripts
follow, :mod:`harness.peers` the zuko flows trained as ``MAFDensity`` trains.

Importing this package puts the working tree that holds it first on
``sys.path``: the scripts measure the ``sklearn_lgf`` next to them, whichever
copy is installed (an editable install may point at another checkout). The
scripts import it before ``sklearn_lgf``; ruff's import sorting keeps it so,
as this package is third-party to it and ``sklearn_lgf`` first-party.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch
from joblib import Parallel, delayed

BENCHMARKS = Path(__file__).resolve().parent.parent
REPO = BENCHMARKS.parent
RESULTS = BENCHMARKS / "results"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

__all__ = [
    "REPO",
    "RESULTS",
    "ResultFile",
    "Timer",
    "add_max_iter",
    "add_n_jobs",
    "add_quick",
    "add_seeds",
    "add_threads",
    "command_line",
    "count_parameters",
    "cpu_name",
    "in_workers",
    "make_parser",
    "markdown_table",
    "set_threads",
    "timed_fit",
    "timestamp",
    "zuko_version",
]

T = TypeVar("T")
Fitted = TypeVar("Fitted")


# --------------------------------------------------------------- processes
def set_threads(n_threads: int | None) -> int:
    """Set torch's intra-op thread count for this process; return the count in force.

    On the small machines that other jobs share, torch's OpenMP threads spin
    against the other processes' threads and single steps can take 100x
    longer, so the scripts run one thread per process by default. ``None``
    keeps torch's own default (for a machine the run has to itself). The
    count is returned because the reports state it.
    """
    if n_threads:
        torch.set_num_threads(n_threads)
    return torch.get_num_threads()


def _single_threaded(function: Callable[..., T], *args: Any) -> T:
    set_threads(1)
    return function(*args)


def in_workers(
    function: Callable[..., T], jobs: Iterable[Sequence[Any]], n_jobs: int
) -> Iterator[T]:
    """``function(*job)`` for every job, ``n_jobs`` at a time in worker processes.

    Each call runs with one torch thread, so that ``n_jobs`` workers use
    ``n_jobs`` cores and the fits' timings do not depend on how many run
    beside them. Results come back in the order of ``jobs``, each as soon as
    it and the ones before it are done, so that the caller can rewrite its
    report after every result. ``n_jobs=1`` runs in this process.
    """
    return Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_single_threaded)(function, *job) for job in jobs
    )


# ------------------------------------------------------------------ timing
class Timer:
    """Wall-clock seconds since it was made.

    ``time.perf_counter`` rather than ``time.time``: it is monotonic, so a
    clock adjustment during a long run cannot distort a duration.
    """

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        """Seconds since the timer was made."""
        return time.perf_counter() - self.start

    def log(self, message: str) -> None:
        """Print a progress line stamped with the seconds so far.

        Flushed, because the output of a long run usually goes to a file that
        someone watches while the run goes on.
        """
        print(f"[{self.seconds:7.1f}s] {message}", flush=True)


def timed_fit(estimator: Fitted, X: Any) -> tuple[Fitted, float]:
    """Fit ``estimator`` on ``X`` with warnings silenced; return it and the seconds.

    The protocols fix ``max_iter``, so a ``ConvergenceWarning`` is the
    expected outcome rather than a failure, and hundreds of them would bury
    the progress lines.
    """
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(X)  # type: ignore[attr-defined]
    return estimator, time.perf_counter() - start


# ----------------------------------------------------------------- reports
def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A markdown table, every column left-aligned, cells as ``str`` gives them."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def command_line(script: str, args: Sequence[str] | None = None) -> str:
    """The command that reruns ``script`` with ``args``, as the reports state it.

    Written as run from the repository root (``python benchmarks/<script>``)
    wherever it was started from, so that the command in a result file works
    as it stands; each argument is shell-quoted. ``args=None`` takes this
    process's own arguments; scripts that spell out their defaults pass the
    full list, so that the command still reproduces the run if a default
    changes later.
    """
    words = sys.argv[1:] if args is None else args
    return " ".join(
        ["python", f"benchmarks/{Path(script).name}", *map(shlex.quote, words)]
    )


class ResultFile:
    """The markdown report of one run, rewritten whole as results arrive.

    A full benchmark runs for tens of minutes on shared cores: when it is
    killed, or a late contender crashes, the results that had finished are
    still on disk, marked partial, next to the command that produced them.
    Each write replaces the file in one step, so that an interruption during a
    write leaves the previous version rather than half a table.

    Parameters
    ----------
    path : Path
        Where the report goes; missing folders are made.
    command : str
        The command that reproduces the run (see :func:`command_line`), for
        the script to put in its report.
    """

    def __init__(self, path: Path, command: str) -> None:
        self.path = path
        self.command = command
        self.clock = Timer()

    def update(self, text: str) -> None:
        """Write the report as it stands so far, marked partial."""
        note = (
            f"> Partial report, written {self.clock.seconds:.0f} s into the run: "
            "the run was still going or stopped before its end.\n\n"
        )
        self._write(note + text)

    def finish(self, text: str) -> None:
        """Write the complete report, and print it and where it went."""
        self._write(text)
        print(text)
        print(f"written to {self.path}", flush=True)

    def _write(self, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(text)
        os.replace(temporary, self.path)


def timestamp() -> str:
    """The local date and time to the second, for report headers."""
    return datetime.datetime.now().isoformat(timespec="seconds")


def cpu_name() -> str:
    """The CPU's model name, for report headers.

    Read from ``/proc/cpuinfo`` because ``platform.processor()`` says only
    ``x86_64`` on Linux, which does not tell one machine's timings from
    another's.
    """
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def zuko_version() -> str | None:
    """zuko's version, or ``None``: it is a benchmark-only dependency."""
    try:
        import zuko
    except ImportError:
        return None
    return str(zuko.__version__)


def count_parameters(module: torch.nn.Module) -> int:
    """Trainable and frozen parameters of a torch module, as the reports count them.

    The paper and zuko compare models by this count; for a fitted estimator
    pass its ``model_``.
    """
    return sum(p.numel() for p in module.parameters())


# ----------------------------------------------------------------- options
def make_parser(
    doc: str | None, output: Path | None, output_help: str | None = None
) -> argparse.ArgumentParser:
    """A parser described by the first line of ``doc``, with ``--output``.

    Every script writes one markdown report, so every one has ``--output``;
    ``output_help`` says what the default is where it is not a fixed path.
    """
    parser = argparse.ArgumentParser(
        description=doc.strip().splitlines()[0] if doc else None
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=output,
        help=output_help
        or "markdown report, rewritten as results arrive (default: %(default)s)",
    )
    return parser


def add_quick(parser: argparse.ArgumentParser) -> None:
    """``--quick``: a smoke run of smaller sizes, marked as such in the report."""
    parser.add_argument(
        "--quick", action="store_true", help="smoke run, not the benchmark"
    )


def add_seeds(
    parser: argparse.ArgumentParser,
    default: list[int] | None,
    help_text: str = "random seeds, one run each (default: %(default)s)",
) -> None:
    """``--seeds``: the seeds that a script runs its protocol with."""
    parser.add_argument("--seeds", type=int, nargs="+", default=default, help=help_text)


def add_max_iter(
    parser: argparse.ArgumentParser,
    default: int | None,
    help_text: str = "training epochs at most (default: %(default)s)",
) -> None:
    """``--max-iter``: the flows' epoch budget, also what a smoke run cuts."""
    parser.add_argument("--max-iter", type=int, default=default, help=help_text)


def add_training_schedule(parser: argparse.ArgumentParser) -> None:
    """``--learning-rate`` and ``--batch-size``: how every model of a paper
    pair trains (Adam at 1e-3; the paper's constant rate and batch of 1000
    by default)."""
    parser.add_argument(
        "--learning-rate",
        choices=["constant", "cosine"],
        default="constant",
        help="learning-rate schedule of every model (default: the paper's "
        "constant rate)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=1000,
        help="minibatch size of every model (default: the paper's 1000)",
    )


def schedule_arguments(args: argparse.Namespace) -> list[str]:
    """The command-line words of :func:`add_training_schedule`'s options."""
    return [
        "--learning-rate",
        args.learning_rate,
        "--batch-size",
        str(args.batch_size),
    ]


def add_n_jobs(parser: argparse.ArgumentParser, default: int) -> None:
    """``--n-jobs``: worker processes for :func:`in_workers`."""
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=default,
        help="fits run at a time, in worker processes of one torch thread each "
        "(default: %(default)s)",
    )


def add_threads(parser: argparse.ArgumentParser, default: int | None) -> None:
    """``--threads``: torch's intra-op threads for the script's own process."""
    shown = "torch's own" if default is None else "%(default)s"
    parser.add_argument(
        "--threads",
        type=int,
        default=default,
        help=f"torch intra-op threads (default: {shown})",
    )
