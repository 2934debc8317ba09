"""Saving and loading fitted flow density estimators without pickle.

:func:`save_model` writes a fitted :class:`~sklearn_lgf.MAFDensity` or
:class:`~sklearn_lgf.LGFDensity` with :func:`torch.save` as one plain
dictionary holding only strings, numbers, booleans, ``None``, lists, dicts and
tensors. :func:`load_model` reads it back with
``torch.load(..., weights_only=True)``, whose restricted unpickler refuses
anything else, so loading a file never runs code from it (unlike
:mod:`pickle` or :mod:`joblib`, which must only be used on trusted files).

The file holds, under the keys below:

``"format"``
    The marker ``"sklearn-lgf-model"``.
``"format_version"``
    ``2``; files of a newer version are refused with a clear message. Files
    of version 1 hold the same keys; their affine steps load in the form
    they were trained in (``sklearn_lgf._legacy``).
``"sklearn_lgf_version"``
    The version of the package that wrote the file (informational).
``"class"``
    ``"MAFDensity"`` or ``"LGFDensity"``.
``"params"``
    ``get_params()`` made JSON-like: tuples become lists (and tuples again on
    load), a ``random_state`` that is not an int or ``None`` is stored as
    ``None``, and ``device`` is stored as a string. A file written before
    the ``dequantise`` parameter existed loads with ``dequantise=None``,
    and one written before ``scaling`` existed with ``scaling="feature"``:
    what its model did.
``"fitted"``
    ``location_``, ``scale_`` and ``grid_spacing_`` (float64 tensors; files
    written before ``grid_spacing_`` existed load with zeros: no discrete
    feature, as they were fitted), ``n_features_in_``,
    ``feature_names_in_`` (a list of str, only when the estimator has it),
    ``n_iter_``, ``loss_curve_``, ``validation_scores_``,
    ``best_validation_score_``, ``converged_`` (absent from files written
    before it existed, which load with ``converged_ = None``) and
    ``noise_seed`` (the seed of the fixed importance-sampling draws of
    ``LGFDensity``; stored for both classes).
``"state_dict"``
    ``model_.state_dict()`` with every tensor on the CPU.

What the two last keys hold is the estimator's business: they are handed
out and taken back by :mod:`sklearn_lgf._fitted_state` (which checks every
value), so this module never lists fitted attributes.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from numbers import Integral, Real
from typing import IO, Any

import numpy as np
import torch

from ._base import BaseFlowDensity
from ._files import PathLike, atomic_writer
from ._fitted_state import get_fitted_state, set_fitted_state
from ._legacy import restore_forms
from ._lgf import LGFDensity
from ._maf import MAFDensity
from ._steps import translate_base

__all__ = ["FORMAT_MARKER", "FORMAT_VERSION", "load_model", "save_model"]

FORMAT_MARKER = "sklearn-lgf-model"
"""Value of the ``"format"`` key of every model file."""

FORMAT_VERSION = 2
"""Version of the file layout written by :func:`save_model`."""

# The only classes a file may name; looked up here, never imported by name.
_CLASSES: dict[str, type[BaseFlowDensity]] = {
    "MAFDensity": MAFDensity,
    "LGFDensity": LGFDensity,
}

# torch.save writes zip archives; anything else (a bare pickle, a CSV, ...)
# is refused before it reaches even the restricted unpickler.
_ZIP_MAGIC = b"PK\x03\x04"


class _NotAModelFile(Exception):
    """Internal: the payload is not what :func:`save_model` writes."""


# ---------------------------------------------------------------------------
# parameters <-> JSON-like values
# ---------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """``value`` as str/int/float/bool/None or (nested) lists of those."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return float(value)
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, tuple | list | np.ndarray):
        return [_plain(item) for item in value]
    raise TypeError(f"cannot store a parameter value of type {type(value).__name__}")


def _params_to_plain(estimator: BaseFlowDensity) -> dict[str, Any]:
    params = estimator.get_params(deep=False)
    plain: dict[str, Any] = {}
    for name, value in params.items():
        if name == "random_state" and not (
            value is None
            or (isinstance(value, Integral) and not isinstance(value, bool))
        ):
            value = None
        plain[name] = _plain(value)
    return plain


def _params_from_plain(cls: type[BaseFlowDensity], params: Any) -> dict[str, Any]:
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise _NotAModelFile("'params' is not a dict of parameters")
    unknown = set(params) - set(cls().get_params(deep=False))
    if unknown:
        raise _NotAModelFile(
            f"unknown parameters for {cls.__name__}: {sorted(unknown)}"
        )
    plain = {
        name: tuple(value) if isinstance(value, list) else value
        for name, value in params.items()
    }
    # A model saved before the parameter existed did not dequantise.
    plain.setdefault("dequantise", None)
    # ... and scaled every feature by its own standard deviation.
    plain.setdefault("scaling", "feature")
    # Files written before 0.2.0 name the step by the deprecated ``base``.
    return translate_base(plain)


# ---------------------------------------------------------------------------
# save
# ---------------------------------------------------------------------------


def save_model(estimator: MAFDensity | LGFDensity, path: PathLike) -> None:
    """Save a fitted ``MAFDensity`` or ``LGFDensity`` to ``path``, without pickle.

    The file is written with :func:`torch.save` as a plain dictionary of
    strings, numbers, lists and tensors (see the module docstring for its
    layout), so that :func:`load_model` can read it with
    ``torch.load(..., weights_only=True)`` and never runs code from the file.
    The write is atomic: ``path`` is replaced only once the whole file has
    been written.

    Parameters
    ----------
    estimator : MAFDensity or LGFDensity
        A fitted estimator (subclasses are refused: they could not be
        rebuilt faithfully).
    path : str or os.PathLike
        Destination file; overwritten if it exists. The conventional suffix
        is ``.pt``.

    Raises
    ------
    TypeError
        If ``estimator`` is not a ``MAFDensity`` or ``LGFDensity``.
    sklearn.exceptions.NotFittedError
        If ``estimator`` has not been fitted.

    See Also
    --------
    load_model : Read the file back.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_lgf import MAFDensity
    >>> from sklearn_lgf.model_io import load_model, save_model
    >>> X = load_iris().data
    >>> maf = MAFDensity(n_layers=2, hidden_layer_sizes=(16,), max_iter=2,
    ...                  device="cpu", random_state=0).fit(X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "maf.pt")
    ...     save_model(maf, path)
    ...     loaded = load_model(path)
    >>> bool(np.array_equal(loaded.score_samples(X), maf.score_samples(X)))
    True
    """
    cls = _CLASSES.get(type(estimator).__name__)
    if cls is None or type(estimator) is not cls:
        raise TypeError(
            "save_model saves MAFDensity and LGFDensity estimators, got "
            f"{type(estimator).__name__}"
        )
    fitted, weights = get_fitted_state(estimator)
    payload: dict[str, Any] = {
        "format": FORMAT_MARKER,
        "format_version": FORMAT_VERSION,
        "sklearn_lgf_version": _package_version(),
        "class": cls.__name__,
        "params": _params_to_plain(estimator),
        "fitted": fitted,
        "state_dict": weights,
    }
    with atomic_writer(path, "wb") as handle:
        torch.save(payload, handle)


def _package_version() -> str:
    from . import __version__

    return str(__version__)


# ---------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------


def load_model(path: PathLike, *, device: str | None = None) -> MAFDensity | LGFDensity:
    """Load an estimator written by :func:`save_model`.

    The file is read with ``torch.load(path, map_location="cpu",
    weights_only=True)``: anything but plain data and tensors is refused, so
    a malicious file cannot run code. The estimator is rebuilt from its
    parameters, its network gets the saved weights (the keys and shapes must
    match exactly) and is put in evaluation mode, and the fitted attributes
    are restored with the types ``fit`` gives them; ``score_samples`` and
    ``sample`` then give bit-identical results to the saved estimator on the
    same device. The global torch random state is left unchanged.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save_model`.
    device : str, default=None
        Overrides the saved ``device`` parameter (for instance ``"cpu"`` to
        use on a machine without CUDA a model saved with ``device="cuda"``).
        ``None`` keeps the saved value.

    Returns
    -------
    estimator : MAFDensity or LGFDensity
        The fitted estimator, its model on the CPU until first used.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``path`` is not a model file written by :func:`save_model` (not a
        torch file, a file holding anything but plain data, a wrong marker,
        an unknown class, invalid parameters, weights that do not fit the
        parameters), is truncated or corrupted (its zip archive is incomplete
        or a member's CRC-32 does not match), or was written by a newer
        version of the format. The message is one line naming the file.

    See Also
    --------
    save_model : Write the file.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn_lgf import LGFDensity
    >>> from sklearn_lgf.model_io import load_model, save_model
    >>> X = np.random.RandomState(0).normal(size=(200, 2))
    >>> lgf = LGFDensity(n_layers=1, hidden_layer_sizes=(8,), max_iter=2,
    ...                  n_importance_samples=5, device="cpu",
    ...                  random_state=0).fit(X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "lgf.pt")
    ...     save_model(lgf, path)
    ...     loaded = load_model(path)
    >>> bool(np.array_equal(loaded.score_samples(X), lgf.score_samples(X)))
    True
    """
    shown = os.fspath(path)
    with open(path, "rb") as handle:  # FileNotFoundError names the path
        if handle.read(len(_ZIP_MAGIC)) != _ZIP_MAGIC:
            raise ValueError(
                f"{shown!r} is not an sklearn-lgf model file (not a file written "
                "by torch.save)"
            )
        damage = _archive_damage(handle)
        if damage is not None:
            raise ValueError(
                f"{shown!r} is truncated or corrupted, not a readable sklearn-lgf "
                f"model file ({damage})"
            )
        handle.seek(0)
        try:
            with warnings.catch_warnings():
                # e.g. "Detected pickle protocol 4": moot, the file is refused
                # or accepted all the same.
                warnings.filterwarnings("ignore", category=UserWarning)
                payload = torch.load(handle, map_location="cpu", weights_only=True)
        except Exception as error:  # whatever refused it, the file is not ours
            reason = _refusal_reason(error)
            zip_error = "PytorchStreamReader failed reading zip archive: "
            if reason.startswith(zip_error):
                raise ValueError(
                    f"{shown!r} is truncated or corrupted, not a readable "
                    f"sklearn-lgf model file ({reason[len(zip_error) :]})"
                ) from None
            raise ValueError(
                f"{shown!r} is not an sklearn-lgf model file (it cannot be read "
                f"as plain data and tensors: {reason})"
            ) from None
    try:
        return _rebuild(payload, device)
    except _NotAModelFile as error:
        raise ValueError(
            f"{shown!r} is not an sklearn-lgf model file ({error})"
        ) from None


def _archive_damage(handle: IO[bytes]) -> str | None:
    """Why the zip archive in ``handle`` is damaged, or ``None`` if it is whole.

    :func:`torch.save` writes an uncompressed zip archive with the CRC-32 of
    each member. Reading every member back finds a file cut short (its zip
    directory, at the end, is missing) or with changed bytes, which
    ``torch.load`` would report as an internal error of its zip reader, or
    not at all.
    """
    handle.seek(0)
    try:
        with zipfile.ZipFile(handle) as archive:
            for info in archive.infolist():
                if info.compress_type != zipfile.ZIP_STORED:
                    return f"member {info.filename!r} is compressed"
                if info.CRC == 0:
                    # torch.save with its compute_crc32 setting off records no
                    # checksum: nothing to compare against.
                    continue
                with archive.open(info) as member:
                    while member.read(1 << 20):
                        pass
    except zipfile.BadZipFile as error:
        text = " ".join(str(error).split())
        if text == "File is not a zip file":
            return "the zip directory at its end is missing, as in a file cut short"
        return text or "bad zip archive"
    except Exception as error:  # struct, EOF, seek and decoding errors
        text = " ".join(str(error).split())
        return f"bad zip archive: {text or type(error).__name__}"
    return None


def _refusal_reason(error: Exception) -> str:
    """The useful part of a ``torch.load`` error (torch's own text advises
    ``weights_only=False``, which must not be done with untrusted files)."""
    text = str(error).replace("WeightsUnpickler error:", "\n")
    boilerplate = ("Weights only load failed", "Please file an issue", "Check the doc")
    lines = [
        # torch's zip reader appends a paragraph about its internals.
        line.split(" This is an internal", 1)[0].strip()
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith(boilerplate)
    ]
    return lines[0] if lines else "empty, truncated or unreadable file"


def _rebuild(payload: Any, device: str | None) -> MAFDensity | LGFDensity:
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_MARKER:
        raise _NotAModelFile(f"no {FORMAT_MARKER!r} marker")
    version = payload.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise _NotAModelFile(f"bad format version {version!r}")
    if version > FORMAT_VERSION:
        raise _NotAModelFile(
            f"format version {version} is newer than the supported version "
            f"{FORMAT_VERSION}; upgrade sklearn-lgf to read it"
        )
    name = payload.get("class")
    cls = _CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise _NotAModelFile(f"unknown estimator class {name!r}")
    params = _params_from_plain(cls, payload.get("params"))
    if device is not None:
        params["device"] = device
    fitted = payload.get("fitted")
    state_dict = payload.get("state_dict")
    if not isinstance(fitted, dict) or not isinstance(state_dict, dict):
        raise _NotAModelFile("missing fitted state")
    try:
        estimator = cls(**params)
        set_fitted_state(estimator, fitted, state_dict)
        restore_forms(estimator.model_, version)
    except _NotAModelFile:
        raise
    except (TypeError, ValueError, RuntimeError, KeyError) as error:
        first = str(error).strip().splitlines()
        raise _NotAModelFile(first[0] if first else type(error).__name__) from None
    return estimator
