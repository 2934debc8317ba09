"""The ``sklearn-lgf`` command-line tool (also ``python -m sklearn_lgf``).

Subcommands::

    sklearn-lgf demo   [--target NAME] [--output PNG] [--n-train N] ...
    sklearn-lgf fit    DATA --model {lgf,maf} [options] -o MODEL
    sklearn-lgf score  MODEL DATA [--n-importance-samples K] [-o OUT.csv]
    sklearn-lgf sample MODEL -n N [--random-state S] [-o OUT.csv]

DATA is a CSV file (comma-separated, with or without a header row: a first
row with any non-numeric cell is a header) or a ``.npy`` array of shape
``(n_rows, n_columns)``. MODEL files are written and read with
:mod:`sklearn_lgf.model_io`, which never runs code from a file.

Bad input gives one line ``sklearn-lgf: error: ...`` on stderr naming the
file, and the row and column where it applies (rows numbered from 1 as in
the file), and exit status 2; outputs are written only once everything has
succeeded, and atomically.

Examples
--------
>>> from sklearn_lgf.cli import main
>>> main(["--version"])  # doctest: +ELLIPSIS
sklearn-lgf ...
0
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable

from .._threads import torch_threads
from ._messages import BROKEN_PIPE, INTERRUPTED, PROG, CLIError, exit_status
from ._parser import build_parser

__all__ = ["build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the ``sklearn-lgf`` command; returns the exit status.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments, without the program name; ``None`` reads ``sys.argv``.

    Returns
    -------
    status : int
        0 on success, 2 for bad input or usage, 1 when training fails.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_status(exit_.code)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        # Restored afterwards, for callers of main in a longer-lived process.
        with torch_threads(args.threads):
            return handler(args)
    except CLIError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        # stdout was closed early (e.g. piped into head): no traceback.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            target = sys.stdout.fileno()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, target)
            os.close(devnull)
        return BROKEN_PIPE
