"""DATA files read into a :class:`Table`, and results written as CSV.

DATA is a CSV file (comma-separated, with or without a header row: a first
row with any non-numeric cell is a header) or a ``.npy`` array of shape
``(n_rows, n_columns)``. Every problem is a :class:`CLIError` naming the
file, and the row and column where it applies, rows counted from 1 as in the
file.
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._files import atomic_writer
from ._messages import CLIError

# The models compute in float32: a finite float64 beyond this magnitude
# would become inf there (and NaN log-densities), so it is refused on input.
FLOAT32_MAX = float(np.finfo(np.float32).max)


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


def column_label(j: int, names: list[str] | None) -> str:
    """Column ``j`` (from 0) as messages name it: counted from 1, and by its
    header name as well where it has one."""
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
                f"{path}, row {line}, {column_label(j, names)}: {what} is not a number"
            ) from None
        if not math.isfinite(value):
            raise CLIError(
                f"{path}, row {line}, {column_label(j, names)}: {cell.strip()!r} "
                "is not a finite number"
            )
        if abs(value) > FLOAT32_MAX:
            raise CLIError(
                f"{path}, row {line}, {column_label(j, names)}: "
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


def _format(value: float) -> str:
    # repr: the shortest text that reads back as exactly the same float.
    return repr(float(value))


def csv_text(header: Sequence[str] | None, rows: np.ndarray) -> str:
    """``rows`` (2-D, or 1-D for one column) as CSV text under ``header``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header is not None:
        writer.writerow(header)
    if rows.ndim == 1:
        rows = rows[:, None]
    writer.writerows([[_format(v) for v in row] for row in rows])
    return buffer.getvalue()


def check_writable(path: str) -> None:
    """Fail before any long computation if ``path`` cannot be written."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise CLIError(f"cannot write {path}: is a directory")
    if not folder.is_dir():
        raise CLIError(f"cannot write {path}: no such directory {str(folder)!r}")
    if not os.access(folder, os.W_OK):
        raise CLIError(f"cannot write {path}: permission denied")


def write_text(path: str | None, text: str) -> None:
    """Write ``text`` to standard output when ``path`` is None, else to
    ``path``, atomically: an existing file is replaced only once all is written.
    """
    if path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        with atomic_writer(path, "w", newline="", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        raise CLIError(f"cannot write {path}: {error.strerror or error}") from None
