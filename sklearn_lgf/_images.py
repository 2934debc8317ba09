"""Images as the estimators take them: rows of pixels and a shape.

An image arrives as scikit-learn gets it, one row of ``C * H * W`` pixels
flattened in C order (channel, row, column: ``load_digits().data`` and
PyTorch's layout), with ``image_shape=(C, H, W)`` saying how to fold it
back. Its pixels are the integers ``0 .. n_levels - 1``.

The image models dequantise every pixel by a uniform draw over its cell,
``[v - 1/2, v + 1/2)``, as a discrete tabular feature of spacing 1 is
(:mod:`sklearn_lgf._dequantise`: fresh noise at every training step, a draw
keyed by the row when scoring). Images are not standardised per feature:
their "standardisation" only shifts every pixel by half a level, so that
the model sees ``v + u`` in ``[0, n_levels)``, where RealNVP's logit
pre-transform expects it, and every score is a density in the pixels'
units (the shift has Jacobian 1).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

PIXEL_LOCATION = -0.5
"""The shift of every pixel (``location_``): ``v - (-1/2)`` puts a pixel's
centred cell ``[v - 1/2, v + 1/2)`` at ``[v, v + 1)``."""

PAPER_SCALES = 2
"""The paper's multi-scale layout has two scales (ten couplings)."""


def check_image_shape(shape: object) -> tuple[int, int, int]:
    """``shape`` as ``(C, H, W)`` of positive ints, or a ValueError naming it."""
    try:
        values = tuple(shape)  # type: ignore[call-overload]
    except TypeError:
        values = ()
    if len(values) != 3 or not all(
        isinstance(v, Integral) and not isinstance(v, bool) and v > 0 for v in values
    ):
        raise ValueError(
            "image_shape must be (channels, height, width), three positive ints "
            f"such as (1, 28, 28); got {shape!r}"
        )
    return (int(values[0]), int(values[1]), int(values[2]))


def largest_scales(shape: tuple[int, int, int], at_most: int = PAPER_SCALES) -> int:
    """The most scales, up to ``at_most``, that a ``(C, H, W)`` image allows:
    each scale after the first halves the height and width."""
    scales = 1
    while scales < at_most and all(side % 2**scales == 0 for side in shape[1:]):
        scales += 1
    return scales


def check_scales(shape: tuple[int, int, int], n_scales: int) -> None:
    """A ValueError unless ``n_scales`` scales fit images of ``shape``."""
    step = 2 ** (n_scales - 1)
    if shape[1] % step or shape[2] % step:
        raise ValueError(
            f"n_layers={n_scales} scales halve the height and width "
            f"{n_scales - 1} times, so they must be divisible by {step}; "
            f"image_shape={shape} allows at most n_layers="
            f"{largest_scales(shape, at_most=n_scales)}"
        )


def check_n_pixels(shape: tuple[int, int, int], n_features: int, owner: str) -> None:
    """A ValueError unless rows of ``n_features`` hold images of ``shape``."""
    n_pixels = shape[0] * shape[1] * shape[2]
    if n_features != n_pixels:
        raise ValueError(
            f"X has n_features={n_features}, but {owner} with image_shape={shape} "
            f"takes rows of {n_pixels} pixels (C * H * W, flattened in C order)"
        )


def check_pixels(x: np.ndarray, n_levels: int, owner: str, first_row: int = 0) -> None:
    """A ValueError naming the first value of the rows ``x`` (rows
    ``first_row`` on of the data) that is not a pixel value ``0 .. n_levels
    - 1``."""
    with np.errstate(invalid="ignore"):
        bad = ~((x >= 0) & (x <= n_levels - 1) & (x == np.floor(x)))
    if not bad.any():
        return
    i, j = (int(k) for k in np.argwhere(bad)[0])
    # scikit-learn's words for negative input (check_non_negative) first.
    negative = "Negative values in data: " if x[i, j] < 0 else ""
    raise ValueError(
        f"{negative}X[{first_row + i}, {j}] = {x[i, j]:g} is not a pixel value: with "
        f"image_shape set, {owner} takes the integers 0 .. {n_levels - 1} "
        f"(n_levels={n_levels}). Set n_levels to the number of intensity "
        "levels of your images (e.g. 17 for load_digits), and scale or round "
        "continuous pixels onto those integers."
    )
