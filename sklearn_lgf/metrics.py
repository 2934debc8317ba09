"""Evaluation numbers derived from the estimators' scores.

:func:`bits_per_dimension` turns a log-density in nats per example (what
``score_samples`` and ``score`` return) into the bits per dimension that
image density models are compared by.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["bits_per_dimension"]


def bits_per_dimension(
    log_density: ArrayLike, n_dims: int, *, bin_width: float = 1.0
) -> float | NDArray[np.float64]:
    r"""Convert a log-density in nats per example to bits per dimension.

    Bits per dimension is the number of bits a code built from the model
    would spend, on average, on each pixel of a discrete image: lower is
    better, and a model that puts the same probability on every image of
    ``n_levels`` levels per pixel scores exactly ``log2(n_levels)`` (8 for
    8-bit images). It is the figure image density models are published with
    (e.g. Fashion-MNIST and CIFAR-10 in the LGF paper).

    Parameters
    ----------
    log_density : float or array-like of float
        Natural log-density of each example, or their mean: the output of
        ``score_samples`` or ``score``, in the units the model was fitted in.
    n_dims : int
        Number of dimensions of one example: the number of pixel values
        ``C * H * W`` (the number of columns of ``X``).
    bin_width : float, default=1.0
        Width of one intensity level in the units of the data, i.e. by how
        much the data move when a pixel goes one level up. Keep 1 for pixel
        values ``0, 1, ..., n_levels - 1`` dequantised by noise uniform on
        ``[0, 1)``, the convention of this package's estimators. Use
        ``1 / n_levels`` for data scaled as ``(x + u) / n_levels`` into
        ``[0, 1)``, and ``1 / (n_levels - 1)`` for data scaled as
        ``x / (n_levels - 1)``. A score that includes the Jacobian of a
        pre-transform (such as RealNVP's logit) is a density of the data
        before it: use the bin width of those data.

    Returns
    -------
    bpd : float or ndarray of float64
        Bits per dimension, a float for a scalar ``log_density``, an array
        of its shape otherwise.

    Raises
    ------
    TypeError
        If ``n_dims`` is not an integer or ``bin_width`` not a real number.
    ValueError
        If ``n_dims`` or ``bin_width`` is not positive, or ``bin_width`` is
        not finite.

    Notes
    -----
    Let :math:`p_X` be the density of the :math:`d`-dimensional data in
    their units, in which one level spans a width :math:`w`. In level units
    :math:`v = x / w` each discrete image owns a cell of volume 1, and by the
    change of variables

    .. math::

        \log p_V(v) = \log p_X(x) + d \log w .

    With uniform dequantisation, :math:`E_u[\log p_V(k + u)]` is a lower
    bound on the log-probability of the discrete image :math:`k`, so the
    bits per dimension

    .. math::

        \mathrm{bpd} = -\frac{\log p_V(v)}{d \ln 2}
                     = -\frac{\log p_X(x) + d \ln w}{d \ln 2}
                     = -\frac{\log p_X(x)}{d \ln 2} - \log_2 w

    bound the model's code length from above. For :math:`w = 1` this is
    :math:`-\log p_X(x) / (d \ln 2)`; for data scaled into :math:`[0, 1)`
    by :math:`1/256` it adds :math:`\log_2 256 = 8` bits.

    Examples
    --------
    The uniform density on 8-bit images of 784 pixels: in pixel units its
    log-density is :math:`-784 \ln 256`; on :math:`[0, 1)^{784}` it is 0.

    >>> import numpy as np
    >>> from sklearn_lgf.metrics import bits_per_dimension
    >>> bits_per_dimension(-784 * np.log(256), 784)
    8.0
    >>> bits_per_dimension(0.0, 784, bin_width=1 / 256)
    8.0

    With a fitted estimator on rows of pixel values ``X``:
    ``bits_per_dimension(estimator.score(X), X.shape[1])``.
    """
    if isinstance(n_dims, bool) or not isinstance(n_dims, numbers.Integral):
        raise TypeError(f"n_dims must be a positive integer, got {n_dims!r}.")
    if n_dims < 1:
        raise ValueError(f"n_dims must be a positive integer, got {n_dims!r}.")
    if isinstance(bin_width, bool) or not isinstance(bin_width, numbers.Real):
        raise TypeError(f"bin_width must be a positive real number, got {bin_width!r}.")
    if not (math.isfinite(bin_width) and bin_width > 0):
        raise ValueError(
            f"bin_width must be a positive finite number, got {bin_width!r}."
        )
    values = np.asarray(log_density, dtype=np.float64)
    # The last form of the Notes: log2 of a power of two (1/256) is exact.
    bpd = -values / (n_dims * math.log(2.0)) - math.log2(bin_width)
    return float(bpd) if bpd.ndim == 0 else bpd
