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
import csv
import io
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

PROG = "sklearn-lgf"

# Defaults of ``demo``, sized for a few minutes on 2 CPU cores.
DEMO_MAX_ITER = 100
DEMO_RESOLUTION = 100
DEMO_THREADS = 1
# ELBO draws of u per row and step for the demo's LGF (the paper's code: 10).
DEMO_ELBO_SAMPLES = 4

# The models compute in float32: a finite float64 beyond this magnitude
# would become inf there (and NaN log-densities), so it is refused on input.
FLOAT32_MAX = float(np.finfo(np.float32).max)

__all__ = ["main"]


class CLIError(Exception):
    """A problem to report in one line, with the exit status to return."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------------------
# reading data
# ---------------------------------------------------------------------------


@dataclass
class Table:
    """Rows read from a DATA file, with the header's column names if any."""

    values: np.ndarray
    names: list[str] | None
    path: str
    lines: list[int] | None = None  # the file's line of each row (CSV)

    def row(self, i: int) -> int:
        """The row number of ``values[i]`` in the file, counted from 1."""
        return (i + 1) if self.lines is None else self.lines[i]


def _column(j: int, names: list[str] | None) -> str:
    if names is not None and j < len(names) and names[j]:
        return f"column {names[j]!r} ({j + 1})"
    return f"column {j + 1}"


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def read_table(path: str) -> Table:
    """Read a CSV or ``.npy`` file of finite numbers, or raise a CLIError."""
    if path.lower().endswith(".npy"):
        return _read_npy(path)
    return _read_csv(path)


def _open_error(path: str, error: OSError) -> CLIError:
    if isinstance(error, FileNotFoundError):
        return CLIError(f"{path}: no such file")
    if isinstance(error, IsADirectoryError):
        return CLIError(f"{path}: is a directory, not a file")
    return CLIError(f"{path}: cannot read: {error.strerror or error}")


def _read_csv(path: str) -> Table:
    names: list[str] | None = None
    width: int | None = None
    width_row = 0
    rows: list[list[float]] = []
    lines: list[int] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            try:
                for cells in reader:
                    line = reader.line_num
                    if not cells or (len(cells) == 1 and not cells[0].strip()):
                        continue  # blank line
                    if width is None:
                        width, width_row = len(cells), line
                        if not all(_is_number(cell) for cell in cells):
                            names = [cell.strip() for cell in cells]
                            continue
                    if len(cells) != width:
                        raise CLIError(
                            f"{path}, row {line}: {len(cells)} columns, expected "
                            f"{width} as in row {width_row}"
                        )
                    rows.append(_parse_row(path, line, cells, names))
                    lines.append(line)
            except csv.Error as error:
                raise CLIError(f"{path}, row {reader.line_num}: {error}") from None
    except OSError as error:
        raise _open_error(path, error) from None
    except UnicodeDecodeError:
        raise CLIError(f"{path}: not a UTF-8 text (CSV) file") from None
    if width is None:
        raise CLIError(f"{path}: empty file, no data rows")
    if not rows:
        raise CLIError(f"{path}: a header row but no data rows")
    return Table(np.array(rows, dtype=np.float64), names, path, lines)


def _parse_row(
    path: str, line: int, cells: list[str], names: list[str] | None
) -> list[float]:
    row = []
    for j, cell in enumerate(cells):
        try:
            value = float(cell)
        except ValueError:
            what = "empty cell" if not cell.strip() else f"{cell.strip()!r}"
            raise CLIError(
                f"{path}, row {line}, {_column(j, names)}: {what} is not a number"
            ) from None
        if not math.isfinite(value):
            raise CLIError(
                f"{path}, row {line}, {_column(j, names)}: {cell.strip()!r} is not "
                "a finite number"
            )
        if abs(value) > FLOAT32_MAX:
            raise CLIError(
                f"{path}, row {line}, {_column(j, names)}: "
                f"{_beyond_float32(repr(cell.strip()))}"
            )
        row.append(value)
    return row


def _beyond_float32(shown: str) -> str:
    return (
        f"{shown} is beyond the float32 range the models compute in "
        f"(largest magnitude {FLOAT32_MAX:.4g})"
    )


def _npy_shortfall(path: str) -> str | None:
    """Why a ``.npy`` file holds less data than its header announces, or None.

    Checked before :func:`numpy.load`, which would first allocate what a
    damaged header claims (terabytes, for a few bytes of file).
    """
    from numpy.lib import format as npy_format

    readers = {
        (1, 0): npy_format.read_array_header_1_0,
        (2, 0): npy_format.read_array_header_2_0,
    }
    with open(path, "rb") as handle:
        try:
            read_header = readers.get(npy_format.read_magic(handle))
            if read_header is None:
                return None  # another version: numpy.load checks it
            shape, _, dtype = read_header(handle)
        except ValueError:
            return None  # not a .npy header: numpy.load says why
        if dtype.hasobject:
            return None
        expected = math.prod(shape) * dtype.itemsize
        available = os.fstat(handle.fileno()).st_size - handle.tell()
    if expected <= available:
        return None
    return (
        f"truncated .npy file: its header announces shape {shape} of {dtype} "
        f"({expected} bytes of data), but {available} bytes follow"
    )


def _read_npy(path: str) -> Table:
    try:
        shortfall = _npy_shortfall(path)
        if shortfall is not None:
            raise CLIError(f"{path}: {shortfall}")
        array = np.load(path, allow_pickle=False)
    except OSError as error:
        raise _open_error(path, error) from None
    except CLIError:
        raise
    except Exception as error:  # ValueError, EOFError, BadZipFile, MemoryError
        text = " ".join(str(error).split())
        reason = text or type(error).__name__
        raise CLIError(f"{path}: not a numeric .npy array ({reason})") from None
    if not isinstance(array, np.ndarray):
        array.close()
        raise CLIError(f"{path}: not a .npy array (an .npz archive?)")
    if array.dtype.kind not in "iuf":  # ints, unsigned ints, floats
        raise CLIError(f"{path}: expected a numeric array, got dtype {array.dtype}")
    if array.ndim != 2:
        raise CLIError(
            f"{path}: expected a 2-D array (rows x columns), got shape {array.shape}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise CLIError(f"{path}: empty array of shape {array.shape}")
    values = array.astype(np.float64)
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        i, j = (int(k) for k in bad[0])
        raise CLIError(
            f"{path}, row {i + 1}, column {j + 1}: {values[i, j]} is not a finite "
            "number"
        )
    huge = np.argwhere(np.abs(values) > FLOAT32_MAX)
    if len(huge):
        i, j = (int(k) for k in huge[0])
        raise CLIError(
            f"{path}, row {i + 1}, column {j + 1}: {_beyond_float32(str(values[i, j]))}"
        )
    return Table(values, None, path)


# ---------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------


def _format(value: float) -> str:
    return repr(float(value))


def _csv_text(header: Sequence[str] | None, rows: np.ndarray) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header is not None:
        writer.writerow(header)
    if rows.ndim == 1:
        rows = rows[:, None]
    writer.writerows([[_format(v) for v in row] for row in rows])
    return buffer.getvalue()


def _check_writable(path: str) -> None:
    """Fail before any long computation if ``path`` cannot be written."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise CLIError(f"cannot write {path}: is a directory")
    if not folder.is_dir():
        raise CLIError(f"cannot write {path}: no such directory {str(folder)!r}")
    if not os.access(folder, os.W_OK):
        raise CLIError(f"cannot write {path}: permission denied")


def _write_text(path: str | None, text: str) -> None:
    from ._files import atomic_writer

    if path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        with atomic_writer(path, "w", newline="", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        raise CLIError(f"cannot write {path}: {error.strerror or error}") from None


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


@contextlib.contextmanager
def _reported_warnings() -> Iterator[None]:
    """Show warnings raised inside as one ``sklearn-lgf: warning:`` line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", message=".*does not have valid feature names")
        yield
    seen = set()
    for item in caught:
        text = " ".join(str(item.message).split())
        if text not in seen:
            seen.add(text)
            _warn(text)


# ---------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------


def _load(path: str, device: str | None) -> Any:
    from .model_io import load_model

    try:
        return load_model(path, device=device)
    except FileNotFoundError:
        raise CLIError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CLIError(f"{path}: is a directory, not a model file") from None
    except OSError as error:
        raise CLIError(f"{path}: cannot read: {error.strerror or error}") from None
    except ValueError as error:
        raise CLIError(str(error)) from None


def _check_columns(table: Table, model: Any, model_path: str) -> None:
    expected = int(model.n_features_in_)
    width = table.values.shape[1]
    if width != expected:
        raise CLIError(
            f"{table.path}: {width} column{'s' * (width != 1)}, but the model "
            f"{model_path} was fitted on {expected} feature{'s' * (expected != 1)}"
        )
    model_names = getattr(model, "feature_names_in_", None)
    if table.names is not None and model_names is not None:
        for j, (got, want) in enumerate(zip(table.names, model_names, strict=True)):
            if got != want:
                raise CLIError(
                    f"{table.path}, row 1, {_column(j, table.names)}: the model "
                    f"{model_path} expects column {str(want)!r} there"
                )


def _check_scale(table: Table, model: Any, model_path: str) -> None:
    """Refuse values the model's float32 arithmetic cannot take.

    The models standardise each feature with the training data's location
    and scale, then square the result: beyond ``sqrt(FLOAT32_MAX)`` scale
    units (about 1.8e19) that overflows.
    """
    location = getattr(model, "location_", None)
    scale = getattr(model, "scale_", None)
    if location is None or scale is None:
        return  # the check of the results after scoring still applies
    limit = math.sqrt(FLOAT32_MAX)
    with np.errstate(over="ignore"):
        units = np.abs((table.values - location) / scale)
    bad = np.argwhere(units > limit)
    if len(bad):
        i, j = (int(k) for k in bad[0])
        raise CLIError(
            f"{table.path}, row {table.row(i)}, {_column(j, table.names)}: "
            f"{float(table.values[i, j])!r} is {units[i, j]:.3g} times the "
            f"feature's spread away from the data {model_path} was fitted on; "
            f"the model computes in float32, which overflows beyond {limit:.2g} "
            "times"
        )


def _n_parameters(model: Any) -> int:
    return int(sum(p.numel() for p in model.model_.parameters()))


# The estimator parameter behind each ``fit`` option: used to build the
# estimator and to put its messages in the words of the command line.
FIT_OPTION_PARAMETERS = {
    "n_layers": "n_layers",
    "hidden_layer_sizes": "hidden_layer_sizes",
    "u_dim": "u_dim",
    "n_importance_samples": "n_importance_samples",
    "max_iter": "max_iter",
    "batch_size": "batch_size",
    "learning_rate": "learning_rate_init",
    "random_state": "random_state",
    "device": "device",
    "threads": "n_threads",
}


def _flag(option: str) -> str:
    return "--" + option.replace("_", "-")


def _in_cli_words(text: str, options: dict[str, str] | None) -> str:
    """``text`` with each estimator parameter named as its command-line flag.

    ``learning_rate_init=0.1`` becomes ``--learning-rate 0.1`` and a bare
    ``max_iter`` becomes ``--max-iter``, for the ``options`` (option name to
    parameter name) of the command that was run.
    """
    import re

    if not options:
        return text
    flags = {parameter: _flag(option) for option, parameter in options.items()}
    names = "|".join(re.escape(p) for p in sorted(flags, key=len, reverse=True))

    def replace(match: re.Match[str]) -> str:
        return flags[match.group(1)] + (" " if match.group(2) else "")

    return re.sub(rf"(?<![\w-])({names})(?:(=)|(?![\w-]))", replace, text)


def _fit_reporting_warnings(
    estimator: Any,
    X: np.ndarray,
    options: dict[str, str] | None = None,
    expected: str | None = None,
) -> float:
    """Fit, reporting warnings in one line each; returns the seconds taken.

    Messages name parameters by their command-line flags (``options``: see
    :data:`FIT_OPTION_PARAMETERS`); warnings whose message matches the
    regular expression ``expected`` are the caller's design and not shown.
    Warnings raised before a ``KeyboardInterrupt`` are still shown, and the
    interrupt goes through.
    """
    from .nn.training import TrainingDiverged

    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.filterwarnings(
                "ignore", message=".*does not have valid feature names"
            )
            if expected is not None:
                warnings.filterwarnings("ignore", message=expected)
            try:
                estimator.fit(X)
            finally:
                seen = set()
                for item in caught:
                    text = _in_cli_words(" ".join(str(item.message).split()), options)
                    if text not in seen:
                        seen.add(text)
                        _warn(text)
    except TrainingDiverged as error:
        raise CLIError(
            f"training failed: {_in_cli_words(str(error), options)}", status=1
        ) from None
    except ValueError as error:  # parameter checks, too few rows, ...
        first = str(error).strip().splitlines()
        message = _in_cli_words(first[0] if first else str(error), options)
        raise CLIError(f"cannot fit: {message}") from None
    return time.perf_counter() - start


def _save_fitted(estimator: Any, table: Table, path: str) -> None:
    """Save a model fitted on ``table`` (with its column names) to ``path``."""
    from .model_io import save_model

    if table.names is not None and len(set(table.names)) == len(table.names):
        if all(table.names):
            # What fitting on a DataFrame with these columns would record.
            estimator.feature_names_in_ = np.asarray(table.names, dtype=object)
    # Display and threads are choices of this run, not part of the model.
    estimator.set_params(verbose=0, n_threads="auto")
    try:
        save_model(estimator, path)
    except OSError as error:
        raise CLIError(f"cannot write {path}: {error.strerror or error}") from None


def _save_interrupted(estimator: Any, table: Table, path: str) -> int:
    """After Ctrl-C during a fit: save the best model so far if there is one."""
    epochs = int(getattr(estimator, "n_iter_", 0))
    if not epochs or not hasattr(estimator, "model_"):
        print(
            f"{PROG}: interrupted before the first epoch ended; nothing saved",
            file=sys.stderr,
        )
        return 130
    best = getattr(estimator, "best_validation_score_", None)
    scores = list(getattr(estimator, "validation_scores_", []))
    if best is not None and scores:
        detail = (
            f"the weights of epoch {int(np.argmax(scores)) + 1}, validation "
            f"log-likelihood {best:.4f}"
        )
    else:
        detail = f"the weights after epoch {epochs}"
    _save_fitted(estimator, table, path)
    print(
        f"{PROG}: interrupted after {epochs} epoch{'s' * (epochs != 1)}: saved the "
        f"best model so far ({detail}) to {path}",
        file=sys.stderr,
    )
    return 130


# ---------------------------------------------------------------------------
# subcommands
# ---------------------------------------------------------------------------


def _cmd_fit(args: argparse.Namespace) -> int:
    from . import LGFDensity, MAFDensity

    if args.model == "maf":
        for option in ("u_dim", "n_importance_samples"):
            if getattr(args, option) is not None:
                raise CLIError(f"{_flag(option)} only applies to --model lgf")
    table = read_table(args.data)
    if len(table.values) < 2:
        raise CLIError(f"{args.data}: one data row; fitting needs at least 2")
    _check_writable(args.output)
    params: dict[str, Any] = {"verbose": 0 if args.quiet else 1}
    for option, name in FIT_OPTION_PARAMETERS.items():
        value = getattr(args, option, None)
        if value is not None:
            params[name] = value
    estimator: Any = (LGFDensity if args.model == "lgf" else MAFDensity)(**params)
    X = table.values
    if not args.quiet:
        print(
            f"Fitting {type(estimator).__name__} on {X.shape[0]} rows x "
            f"{X.shape[1]} columns of {args.data}",
            flush=True,
        )
    try:
        seconds = _fit_reporting_warnings(estimator, X, FIT_OPTION_PARAMETERS)
    except KeyboardInterrupt:
        return _save_interrupted(estimator, table, args.output)
    _save_fitted(estimator, table, args.output)
    if not args.quiet:
        print(
            f"Saved {type(estimator).__name__} ({_n_parameters(estimator)} "
            f"parameters, {estimator.n_iter_} epochs, {seconds:.1f} s) to "
            f"{args.output}",
            flush=True,
        )
    return 0


def _for_this_run(model: Any, args: argparse.Namespace) -> Any:
    """The loaded ``model`` with this command's progress and threads: a bar
    on standard error for long calls unless ``--quiet``, and ``--threads``
    as the estimator's own thread policy (which otherwise decides inside)."""
    model.set_params(verbose=0 if getattr(args, "quiet", False) else 1)
    if args.threads is not None:
        model.set_params(n_threads=args.threads)
    return model


def _cmd_score(args: argparse.Namespace) -> int:
    model = _for_this_run(_load(args.model_file, args.device), args)
    if args.n_importance_samples is not None:
        if "n_importance_samples" not in model.get_params():
            raise CLIError(
                f"--n-importance-samples only applies to LGF models; "
                f"{args.model_file} holds a {type(model).__name__}, whose "
                "log-density is exact"
            )
        model.set_params(n_importance_samples=args.n_importance_samples)
    table = read_table(args.data)
    _check_columns(table, model, args.model_file)
    _check_scale(table, model, args.model_file)
    if args.output is not None:
        _check_writable(args.output)
    with _reported_warnings():
        try:
            log_density = model.score_samples(table.values)
        except ValueError as error:  # e.g. an unavailable device
            raise CLIError(f"cannot score with {args.model_file}: {error}") from None
        # Raised inside, so that the overflow warnings behind it are dropped.
        bad = np.flatnonzero(~np.isfinite(log_density))
        if len(bad):
            raise CLIError(
                f"{table.path}, row {table.row(int(bad[0]))}: the log-density "
                f"under {args.model_file} is {log_density[bad[0]]}, not a finite "
                f"number ({len(bad)} row{'s' * (len(bad) != 1)} in all): extreme "
                "values, or a model with non-finite weights"
            )
    header = None if args.output is None else ["log_density"]
    _write_text(args.output, _csv_text(header, log_density))
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    model = _for_this_run(_load(args.model_file, args.device), args)
    if args.output is not None:
        _check_writable(args.output)
    with _reported_warnings():
        try:
            X = model.sample(args.n_samples, random_state=args.random_state)
        except ValueError as error:
            raise CLIError(f"cannot sample from {args.model_file}: {error}") from None
        bad = int(np.sum(~np.isfinite(X).all(axis=1)))
        if bad:
            raise CLIError(
                f"cannot sample from {args.model_file}: {bad} of the "
                f"{len(X)} rows drawn are not finite numbers (its weights are "
                "not finite or extreme: a diverged fit?)"
            )
    header = None
    if args.output is not None:
        names = getattr(model, "feature_names_in_", None)
        header = (
            [str(n) for n in names]
            if names is not None
            else [f"x{j}" for j in range(X.shape[1])]
        )
    _write_text(args.output, _csv_text(header, X))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    import torch

    from . import LGFDensity
    from ._plotting import plot_densities, require_matplotlib
    from .datasets import TRUE_LOG_DENSITIES, make_target
    from .presets import FIGURE_1, paper_pair

    try:
        require_matplotlib()
        can_plot = True
    except ImportError:
        # The numbers are the demo's point; the figure is a bonus that must
        # not make the main command fail on an install without the extra.
        can_plot = False
    if can_plot:
        _check_writable(args.output)
    seed = args.random_state
    X_train = make_target(args.target, args.n_train, random_state=seed)
    X_test = make_target(args.target, args.n_test, random_state=(seed + 1) % 2**32)
    verbose = 0 if args.quiet else 1
    # The paper's Figure 1 pair, trained as in the paper (Adam 1e-3, batches
    # of 1000) for the demo's budget, keeping each model's best epoch.
    models = paper_pair(
        FIGURE_1,
        max_iter=args.max_iter,
        batch_size=1000,
        n_iter_no_change=args.max_iter,
        device="cpu",
        random_state=seed,
        verbose=verbose,
        n_elbo_samples=DEMO_ELBO_SAMPLES,
    )
    descriptions = {
        "MAF": "MAF, 10 layers of MADE 4x50",
        "LGF-MAF": "LGF-MAF, 5 layers of MADE 2x10, u_dim=1",
    }
    print(
        f"Target {args.target!r}: {args.n_train} training points (10% of them "
        f"held out to keep each model's best epoch), {args.n_test} test points; "
        f"{args.max_iter} epochs each, random_state={seed}, "
        f"{torch.get_num_threads()} torch thread(s)",
        flush=True,
    )
    results = []
    for name, estimator in models.items():
        print(f"Fitting {descriptions[name]} ...", flush=True)
        # Both models run the demo's whole budget and keep their best
        # validation epoch: reaching max_iter is the plan, not a warning.
        seconds = _fit_reporting_warnings(
            estimator, X_train, {"max_iter": "max_iter"}, expected=".*reached max_iter"
        )
        start = time.perf_counter()
        test = estimator.score(X_test)
        score_seconds = time.perf_counter() - start
        results.append((name, estimator, seconds, test, score_seconds))

    print()
    print(
        f"{'model':<9} {'parameters':>10} {'epochs':>6} {'fit time':>9} "
        f"{'test log-likelihood':>20}"
    )
    for name, estimator, seconds, test, score_seconds in results:
        note = ""
        if isinstance(estimator, LGFDensity):
            note = (
                f"  (importance sampling, K={estimator.n_importance_samples}; "
                f"{score_seconds:.1f} s)"
            )
        print(
            f"{name:<9} {_n_parameters(estimator):>10} {estimator.n_iter_:>6} "
            f"{seconds:>7.1f} s {test:>20.4f}{note}"
        )
    if args.target in TRUE_LOG_DENSITIES:
        true = float(np.mean(TRUE_LOG_DENSITIES[args.target](X_test)))
        print(f"{'true':<9} {'':>10} {'':>6} {'':>9} {true:>20.4f}")

    titles = {
        f"{descriptions[name]}\ntest log-likelihood {test:.3f}": estimator
        for name, estimator, _, test, _ in results
    }
    if not can_plot:
        print(
            f"\nNo figure written: {args.output} needs matplotlib "
            "(pip install 'sklearn-lgf[plot]').",
            flush=True,
        )
        return 0
    start = time.perf_counter()
    plot_densities(titles, X_test, args.output, resolution=args.resolution)
    print(
        f"\nWrote {args.output} ({args.resolution}x{args.resolution} grid, "
        f"{time.perf_counter() - start:.1f} s)",
        flush=True,
    )
    return 0


# ---------------------------------------------------------------------------
# argument parsing
# ---------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def _seed(text: str) -> int:
    value = _int(text)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer in [0, 2**32)")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def _sizes(text: str) -> tuple[int, ...]:
    parts = [part.strip() for part in text.split(",")]
    try:
        return tuple(_positive_int(part) for part in parts)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of positive integers (e.g. 64,64)"
        ) from None


def _batch_size(text: str) -> int | str:
    return "auto" if text == "auto" else _positive_int(text)


def _target(text: str) -> str:
    from .datasets import TARGETS

    if text not in TARGETS:
        raise argparse.ArgumentTypeError(
            f"unknown target {text!r} (choose from {', '.join(TARGETS)})"
        )
    return text


def _add_quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")


def _add_threads(parser: argparse.ArgumentParser, default: int | None) -> None:
    shown = "torch's choice" if default is None else str(default)
    parser.add_argument(
        "--threads",
        type=_positive_int,
        default=default,
        metavar="N",
        help=f"torch CPU threads (default: {shown}). These networks are small: "
        "one thread is often as fast, and much faster when other processes "
        "share the CPUs",
    )


_MODEL_HELP = "a model file written by sklearn-lgf fit"


def _estimator_default(name: str) -> str:
    """The default of parameter ``name`` of the estimators, as typed on the
    command line (one value, or one for each model when they differ)."""
    import inspect

    from . import LGFDensity, MAFDensity

    shown = {}
    for model, cls in [("lgf", LGFDensity), ("maf", MAFDensity)]:
        parameter = inspect.signature(cls).parameters.get(name)
        if parameter is not None:
            value = parameter.default
            if isinstance(value, tuple):
                shown[model] = ",".join(str(v) for v in value)
            else:
                shown[model] = str(value)
    if len(set(shown.values())) == 1:
        return next(iter(shown.values()))
    return ", ".join(f"{value} for {model}" for model, value in shown.items())


def _required_group(parser: argparse.ArgumentParser) -> Any:
    """A "required arguments" group, listed right after the positional ones."""
    group = parser.add_argument_group("required arguments")
    # argparse lists groups in creation order, after its own "options".
    groups = parser._action_groups
    groups.insert(1, groups.pop())
    return group


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``sklearn-lgf`` command."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Fit, score and sample localised generative flows (LGF) and "
        "masked autoregressive flows (MAF) on tabular data.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo",
        help="fit a MAF and an LGF-MAF on a 2-D target and plot both densities",
        description="Fit a MAF (10 layers of 4x50) and an LGF-MAF (5 layers) on "
        "a 2-D target on the CPU, print their test log-likelihoods, parameter "
        "counts and training times, and plot both learned densities.",
    )
    demo.add_argument(
        "--target",
        type=_target,
        default="two_uniforms",
        metavar="NAME",
        help="two_uniforms, eight_gaussians, checkerboard, two_spirals or "
        "rings (default: %(default)s)",
    )
    demo.add_argument(
        "--output",
        "-o",
        default="lgf_demo.png",
        metavar="PNG",
        help="where to write the plot (default: %(default)s)",
    )
    demo.add_argument(
        "--n-train",
        type=_positive_int,
        default=10000,
        metavar="N",
        help="training points, 10%% of them held out to keep each model's best epoch "
        "(default: %(default)s)",
    )
    demo.add_argument(
        "--n-test",
        type=_positive_int,
        default=5000,
        metavar="N",
        help="test points (default: %(default)s)",
    )
    demo.add_argument(
        "--max-iter",
        type=_positive_int,
        default=DEMO_MAX_ITER,
        metavar="N",
        help="maximum epochs of each model (default: %(default)s)",
    )
    demo.add_argument(
        "--random-state",
        type=_seed,
        default=0,
        metavar="N",
        help="seeds the data and both fits (default: %(default)s)",
    )
    demo.add_argument(
        "--resolution",
        type=_positive_int,
        default=DEMO_RESOLUTION,
        metavar="N",
        help="plot grid points per axis (default: %(default)s)",
    )
    _add_quiet(demo)
    _add_threads(demo, DEMO_THREADS)
    demo.set_defaults(handler=_cmd_demo)

    fit = commands.add_parser(
        "fit",
        help="fit a model to DATA and save it",
        description="Fit an LGF or a MAF to DATA (CSV with or without a header "
        "row, or .npy) and save it to MODEL. Unset options keep the estimator's "
        "defaults, shown below.",
    )
    fit.add_argument("data", metavar="DATA", help="CSV or .npy file")
    required = _required_group(fit)
    required.add_argument(
        "--model",
        choices=["lgf", "maf"],
        required=True,
        help="lgf: LGFDensity, for targets with separate components or holes; "
        "maf: MAFDensity, a plain masked autoregressive flow",
    )
    required.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="MODEL",
        help="the model file to write (replaced only once fitting succeeded)",
    )
    fit.add_argument(
        "--n-layers",
        type=_positive_int,
        metavar="N",
        help=f"flow layers (default: {_estimator_default('n_layers')})",
    )
    fit.add_argument(
        "--hidden-layer-sizes",
        type=_sizes,
        metavar="SIZES",
        help="hidden units of each layer's network, comma-separated, e.g. 64,64 "
        f"(default: {_estimator_default('hidden_layer_sizes')})",
    )
    fit.add_argument(
        "--u-dim",
        type=_positive_int,
        metavar="N",
        help="LGF only: dimension of the index u of each layer "
        f"(default: {_estimator_default('u_dim')})",
    )
    fit.add_argument(
        "--n-importance-samples",
        type=_positive_int,
        metavar="K",
        help="LGF only: importance samples per row when scoring, saved with the "
        "model; score --n-importance-samples overrides it "
        f"(default: {_estimator_default('n_importance_samples')})",
    )
    fit.add_argument(
        "--max-iter",
        type=_positive_int,
        metavar="N",
        help=f"maximum epochs (default: {_estimator_default('max_iter')})",
    )
    fit.add_argument(
        "--batch-size",
        type=_batch_size,
        metavar="N",
        help="rows per training step, or auto: a tenth of the training rows, "
        f"between 32 and 1000 (default: {_estimator_default('batch_size')})",
    )
    fit.add_argument(
        "--learning-rate",
        type=_positive_float,
        metavar="LR",
        help="initial learning rate of Adam "
        f"(default: {_estimator_default('learning_rate_init')})",
    )
    fit.add_argument(
        "--random-state",
        type=_seed,
        metavar="N",
        help="seed, for reproducible fits (default: a fresh seed each run)",
    )
    fit.add_argument(
        "--device",
        metavar="D",
        help="auto (CUDA when available, else the CPU), cpu, cuda, cuda:1, ... "
        f"(default: {_estimator_default('device')})",
    )
    _add_quiet(fit)
    _add_threads(fit, None)
    fit.set_defaults(handler=_cmd_fit)

    score = commands.add_parser(
        "score",
        help="log-density of each row of DATA",
        description="Print the log-density of each row of DATA, one per line, "
        "or write it to a CSV with the header log_density.",
    )
    score.add_argument("model_file", metavar="MODEL", help=_MODEL_HELP)
    score.add_argument("data", metavar="DATA", help="CSV or .npy file")
    score.add_argument(
        "-o",
        "--output",
        metavar="OUT.csv",
        help="write a CSV with the header log_density (default: print to "
        "standard output)",
    )
    score.add_argument(
        "--n-importance-samples",
        type=_positive_int,
        metavar="K",
        help="LGF models only, an error for a MAF (whose log-density is exact): "
        "importance samples per row; scoring costs K passes per row, and a "
        "larger K gives a more accurate estimate (default: the model's own, "
        "set by fit --n-importance-samples)",
    )
    score.add_argument(
        "--device",
        metavar="D",
        help="cpu, cuda, ... (default: the device saved with the model)",
    )
    _add_quiet(score)
    _add_threads(score, None)
    score.set_defaults(handler=_cmd_score)

    sample = commands.add_parser(
        "sample",
        help="draw rows from a model",
        description="Print N rows drawn from MODEL (comma-separated), or write "
        "them to a CSV whose header is the model's feature names or x0,x1,...",
    )
    sample.add_argument("model_file", metavar="MODEL", help=_MODEL_HELP)
    _required_group(sample).add_argument(
        "-n",
        "--n-samples",
        type=_positive_int,
        required=True,
        metavar="N",
        help="number of rows to draw",
    )
    sample.add_argument(
        "--random-state",
        type=_seed,
        metavar="S",
        help="seed, for reproducible draws (default: fresh draws each run)",
    )
    sample.add_argument(
        "-o",
        "--output",
        metavar="OUT.csv",
        help="write a CSV with a header (default: print to standard output, "
        "without a header)",
    )
    sample.add_argument(
        "--device",
        metavar="D",
        help="cpu, cuda, ... (default: the device saved with the model)",
    )
    _add_quiet(sample)
    _add_threads(sample, None)
    sample.set_defaults(handler=_cmd_sample)
    return parser


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
        return _status(exit_.code)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        with _torch_threads(args.threads):
            return handler(args)
    except CLIError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # stdout was closed early (e.g. piped into head): no traceback.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            target = sys.stdout.fileno()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, target)
            os.close(devnull)
        return 141


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Use ``threads`` torch CPU threads inside (restored after, for callers
    of :func:`main` in a longer-lived process)."""
    if threads is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _status(code: Any) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return 2
