"""The IDX file format of MNIST and Fashion-MNIST: reading and writing arrays.

An IDX file is a header followed by the array's elements in C order:

- a four-byte magic number: two zero bytes, a byte naming the element type
  (``0x08`` unsigned byte, ``0x09`` signed byte, ``0x0B`` 16-bit, ``0x0C``
  32-bit integer, ``0x0D`` 32-bit, ``0x0E`` 64-bit float) and a byte giving
  the number of dimensions;
- one big-endian unsigned 32-bit size per dimension;
- the elements, big-endian.

Files are often distributed gzipped; gzip is recognised by its two magic
bytes, whatever the file is called. Only the first rows are read (and, for a
gzipped file, decompressed) when fewer are asked for, so a subset of a large
file costs what the subset costs.
"""

from __future__ import annotations

import gzip
import math
import numbers
import os
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._files import atomic_writer

__all__ = ["read_idx", "write_idx"]

PathLike = str | os.PathLike[str]

_GZIP_MAGIC = b"\x1f\x8b"

# Type byte of the magic number -> big-endian numpy type, and back.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES: dict[np.dtype, int] = {
    dtype.newbyteorder("="): code for code, dtype in _IDX_DTYPES.items()
}
_MAX_DIMENSION = 2**32 - 1  # sizes are unsigned 32-bit integers


def _check_max_samples(max_samples: int | None) -> int | None:
    if max_samples is None:
        return None
    if isinstance(max_samples, bool) or not isinstance(max_samples, numbers.Integral):
        raise TypeError(
            f"max_samples must be a positive integer or None, got {max_samples!r}."
        )
    if max_samples < 1:
        raise ValueError(
            f"max_samples must be a positive integer or None, got {max_samples!r}."
        )
    return int(max_samples)


@contextmanager
def _open_idx(path: Path) -> Iterator[IO[bytes]]:
    """Open ``path`` for reading, decompressing it if it starts as gzip does."""
    try:
        raw = open(path, "rb")  # noqa: SIM115 (closed below, after gzip's wrapper)
    except FileNotFoundError:
        raise FileNotFoundError(f"IDX file {str(path)!r} does not exist.") from None
    with raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if not compressed:
            yield raw
            return
        with gzip.GzipFile(fileobj=raw, mode="rb") as decompressed:
            yield decompressed


def _read_exactly(stream: IO[bytes], n_bytes: int) -> bytearray:
    """Read up to ``n_bytes``; fewer only at the end of the stream."""
    buffer = bytearray(n_bytes)
    view = memoryview(buffer)
    filled = 0
    while filled < n_bytes:
        # readinto fills the buffer in place: no second copy of a large file.
        got = stream.readinto(view[filled:])  # type: ignore[attr-defined]
        if not got:
            break
        filled += got
    del view
    if filled < n_bytes:
        del buffer[filled:]
    return buffer


def _read_header(stream: IO[bytes], name: str) -> tuple[np.dtype, tuple[int, ...]]:
    magic = stream.read(4)
    if len(magic) < 4:
        raise ValueError(
            f"IDX file {name!r} is truncated: it ends within the 4-byte magic number."
        )
    if magic[:2] != b"\x00\x00" or magic[2] not in _IDX_DTYPES or magic[3] == 0:
        raise ValueError(
            f"{name!r} is not an IDX file: bad magic number 0x{magic.hex()} (expected "
            "two zero bytes, a type byte among "
            + ", ".join(f"0x{code:02X}" for code in _IDX_DTYPES)
            + " and a number of dimensions of at least 1)."
        )
    n_dims = magic[3]
    sizes = stream.read(4 * n_dims)
    if len(sizes) < 4 * n_dims:
        raise ValueError(
            f"IDX file {name!r} is truncated: it ends within the sizes of its "
            f"{n_dims} dimensions."
        )
    return _IDX_DTYPES[magic[2]], struct.unpack(f">{n_dims}I", sizes)


def _read_idx(path: PathLike, max_samples: int | None) -> tuple[NDArray, int]:
    """Read ``path`` as :func:`read_idx` does; also return the file's row count."""
    max_samples = _check_max_samples(max_samples)
    path = Path(path)
    name = str(path)
    with _open_idx(path) as stream:
        try:
            dtype, file_shape = _read_header(stream, name)
            n_rows = file_shape[0]
            if max_samples is not None:
                n_rows = min(n_rows, max_samples)
            shape = (n_rows, *file_shape[1:])
            n_bytes = math.prod(shape) * dtype.itemsize
            buffer = _read_exactly(stream, n_bytes)
            if len(buffer) < n_bytes:
                raise ValueError(
                    f"IDX file {name!r} is truncated: its header announces "
                    f"{n_bytes} bytes of data for shape {shape}, the file holds "
                    f"{len(buffer)}."
                )
            if n_rows == file_shape[0] and stream.read(1):
                raise ValueError(
                    f"IDX file {name!r} is longer than its header says: data "
                    f"continues after the {n_bytes} bytes of shape {shape}."
                )
        except (EOFError, gzip.BadGzipFile, zlib.error) as error:
            raise ValueError(
                f"IDX file {name!r} is a damaged or truncated gzip file: {error}"
            ) from error
    array = np.frombuffer(buffer, dtype=dtype).reshape(shape)
    # Native byte order: a no-op view for bytes, one conversion otherwise.
    return array.astype(dtype.newbyteorder("="), copy=False), file_shape[0]


def read_idx(path: PathLike, *, max_samples: int | None = None) -> NDArray:
    """Read an array from an IDX file, gzipped or not.

    Parameters
    ----------
    path : str or path-like
        The file. Gzip compression is detected from the file's first bytes,
        not from its name.
    max_samples : int or None, default=None
        Read only the first ``max_samples`` entries along the first axis (the
        first images or labels), without reading or decompressing the rest of
        the file. ``None`` reads everything; a number larger than the file
        holds reads everything too.

    Returns
    -------
    array : ndarray
        The array with the shape the file's header gives (the first axis cut
        to ``max_samples``), in native byte order, with the file's element
        type: uint8, int8, int16, int32, float32 or float64.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file does not start with an IDX magic number, is shorter than
        its header says, or (when read to the end) is longer, or is a damaged
        gzip stream. Every message names the file.

    See Also
    --------
    write_idx : Write an array as an IDX file.
    load_idx : Read image and label files into a :class:`~sklearn.utils.Bunch`.

    Examples
    --------
    An IDX file of two 2 x 3 images, written byte by byte: the magic number
    (two zero bytes, type byte ``0x08`` for unsigned bytes, 3 dimensions),
    the three sizes as big-endian 32-bit integers, then the pixels.

    >>> import struct, tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from sklearn_lgf.datasets import read_idx
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = Path(tmp.name) / "images-idx3-ubyte"
    >>> pixels = np.arange(12, dtype=np.uint8)
    >>> _ = path.write_bytes(struct.pack(">4B3I", 0, 0, 0x08, 3, 2, 2, 3)
    ...                      + pixels.tobytes())
    >>> read_idx(path)
    array([[[ 0,  1,  2],
            [ 3,  4,  5]],
    <BLANKLINE>
           [[ 6,  7,  8],
            [ 9, 10, 11]]], dtype=uint8)
    >>> read_idx(path, max_samples=1).shape
    (1, 2, 3)
    >>> tmp.cleanup()
    """
    return _read_idx(path, max_samples)[0]


def write_idx(
    path: PathLike, array: ArrayLike, *, compress: bool | None = None
) -> None:
    """Write an array as an IDX file, optionally gzipped.

    The file is written to a temporary name and moved into place, so a failure
    never leaves a half-written file at ``path``.

    Parameters
    ----------
    path : str or path-like
        Where to write.
    array : array-like
        At least one dimension, each of size below 2**32, with an element type
        the format stores: uint8, int8, int16, int32, float32 or float64
        (convert other types first, e.g. ``images.astype(np.uint8)``).
    compress : bool or None, default=None
        Gzip the file. ``None`` compresses when ``path`` ends in ``.gz``.

    Raises
    ------
    ValueError
        If the array has no dimension, a dimension too large for the format,
        or an element type the format does not store.

    See Also
    --------
    read_idx : Read an IDX file.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from sklearn_lgf.datasets import read_idx, write_idx
    >>> tmp = tempfile.TemporaryDirectory()
    >>> labels = np.array([3, 1, 4], dtype=np.uint8)
    >>> write_idx(Path(tmp.name) / "labels-idx1-ubyte.gz", labels)
    >>> read_idx(Path(tmp.name) / "labels-idx1-ubyte.gz")
    array([3, 1, 4], dtype=uint8)
    >>> tmp.cleanup()
    """
    values = np.asarray(array)
    if values.ndim == 0 or values.ndim > 255:
        raise ValueError(
            f"An IDX file holds an array of 1 to 255 dimensions, got {values.ndim}."
        )
    if max(values.shape) > _MAX_DIMENSION:
        raise ValueError(
            f"IDX dimension sizes are 32-bit: shape {values.shape} is too large."
        )
    native = values.dtype.newbyteorder("=")
    if native not in _IDX_CODES:
        allowed = ", ".join(str(dtype.newbyteorder("=")) for dtype in _IDX_CODES)
        raise ValueError(
            f"IDX files store {allowed}; got an array of {values.dtype}: convert it "
            "first."
        )
    code = _IDX_CODES[native]
    header = struct.pack(f">4B{values.ndim}I", 0, 0, code, values.ndim, *values.shape)
    body = np.ascontiguousarray(values, dtype=_IDX_DTYPES[code]).tobytes()
    path = Path(path)
    if compress is None:
        compress = path.name.endswith(".gz")
    with atomic_writer(path, "wb") as handle:
        if compress:
            # The name stored in the gzip header is the final one, not the
            # temporary file's; mtime=0 makes the same array give the same bytes.
            stored_name = path.name.removesuffix(".gz")
            with gzip.GzipFile(
                filename=stored_name, fileobj=handle, mode="wb", mtime=0
            ) as stream:
                stream.write(header)
                stream.write(body)
        else:
            handle.write(header)
            handle.write(body)
