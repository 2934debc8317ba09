"""The monotonic rational-quadratic spline transform (Neural Spline Flows).

Durkan, Bekasov, Murray and Papamakarios (2019) replace the affine map of a
MAF or coupling step by a monotonic rational-quadratic (RQ) spline on
``[-B, B]`` with ``K`` bins and identity tails outside. Each feature's map is
then far more flexible than a shift and scale, yet stays analytically
invertible (one quadratic root) with a closed-form derivative.

Defaults follow the authors' density-estimation scripts (``bayesiains/nsf``):
``K = 8`` bins and ``B = 3``, chosen there for standardised data, which is
what the estimators feed the engine; zuko's ``NSF`` uses ``K = 8`` and
``B = 5``. As in the authors' ``nflows`` (its masked-autoregressive and
coupling RQ transforms) the width and height logits are divided by the square
root of the conditioner's hidden width, so the bins start close to uniform;
zuko instead soft-bounds the logits. The interior knot derivatives are not
scaled (again as in ``nflows``), so the map is not the identity at
initialisation: softplus(0) + 1e-3 gives interior slopes near 0.69.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..activations import softplus
from .base import MonotoneTransform

DEFAULT_BINS = 8
DEFAULT_TAIL_BOUND = 3.0


def rational_quadratic_knots(
    widths: Tensor,
    heights: Tensor,
    derivatives: Tensor,
    tail_bound: float,
    min_bin_width: float = 1e-3,
    min_bin_height: float = 1e-3,
    min_derivative: float = 1e-3,
) -> tuple[Tensor, Tensor, Tensor]:
    """Knot positions and derivatives from the unnormalised parameters.

    Returns ``(knot_x, knot_y, knot_derivative)``, each of shape
    ``(..., K + 1)``. The end knots are exactly ``-B`` and ``B`` and their
    derivatives exactly 1, so the spline joins the identity tails with a
    continuous value and slope (a continuous density across ``+-B``).
    """
    n_bins = widths.shape[-1]
    if heights.shape[-1] != n_bins or derivatives.shape[-1] != n_bins - 1:
        raise ValueError(
            "Expected K widths, K heights and K - 1 derivatives; got "
            f"{widths.shape[-1]}, {heights.shape[-1]} and {derivatives.shape[-1]}."
        )
    if min_bin_width * n_bins >= 1 or min_bin_height * n_bins >= 1:
        raise ValueError("The minimum bin size times the number of bins must be < 1.")
    knot_x = _knot_positions(widths, min_bin_width, tail_bound)
    knot_y = _knot_positions(heights, min_bin_height, tail_bound)
    # softplus rather than exp: the slope grows only linearly with the logit,
    # so one large network output cannot make the density explode.
    interior = min_derivative + softplus(derivatives)
    one = interior.new_ones(interior.shape[:-1] + (1,))
    knot_derivative = torch.cat([one, interior, one], dim=-1)
    return knot_x, knot_y, knot_derivative


def _softmax(logits: Tensor) -> Tensor:
    """Softmax over the last dimension, written out: torch's kernel loops
    over rows, which is slow for the few bins of a row (the shift is
    detached: the softmax does not depend on it)."""
    shifted = logits - logits.amax(dim=-1, keepdim=True).detach()
    weights = shifted.exp()
    return weights / weights.sum(dim=-1, keepdim=True)


def _knot_positions(logits: Tensor, min_size: float, bound: float) -> Tensor:
    """Cumulative bin edges on ``[-bound, bound]``, each bin at least
    ``2 * bound * min_size`` wide so that no slope ``s_k`` degenerates."""
    n_bins = logits.shape[-1]
    sizes = min_size + (1 - min_size * n_bins) * _softmax(logits)
    edges = F.pad(torch.cumsum(sizes, dim=-1), (1, 0))
    edges = bound * (2 * edges - 1)
    # The cumulative sum need not end at exactly 1 in floating point; pinning
    # both ends makes the spline meet the tails exactly and keeps the bin
    # search consistent with the inside/outside test.
    edges = torch.cat(
        [
            edges.new_full(edges.shape[:-1] + (1,), -bound),
            edges[..., 1:-1],
            edges.new_full(edges.shape[:-1] + (1,), bound),
        ],
        dim=-1,
    )
    return edges


def _gather_bin(values: Tensor, index: Tensor) -> tuple[Tensor, Tensor]:
    """The values at the left and right knots of each element's bin."""
    left = values.gather(-1, index[..., None]).squeeze(-1)
    right = values.gather(-1, index[..., None] + 1).squeeze(-1)
    return left, right


def rational_quadratic_spline(
    x: Tensor,
    widths: Tensor,
    heights: Tensor,
    derivatives: Tensor,
    tail_bound: float,
    inverse: bool = False,
    min_bin_width: float = 1e-3,
    min_bin_height: float = 1e-3,
    min_derivative: float = 1e-3,
) -> tuple[Tensor, Tensor]:
    """Elementwise monotonic RQ spline on ``[-B, B]``, identity outside.

    Parameters
    ----------
    x : Tensor
        Inputs of shape ``(...)``; the spline's domain if ``inverse`` is
        false, its codomain otherwise.
    widths, heights : Tensor
        Unnormalised bin widths and heights, shape ``(..., K)``; a softmax
        with a floor of ``min_bin_width`` (``min_bin_height``) turns them into
        fractions of ``2B``.
    derivatives : Tensor
        Unnormalised derivatives at the ``K - 1`` interior knots, shape
        ``(..., K - 1)``; ``min_derivative + softplus`` makes them positive.
        The derivatives at ``+-B`` are 1, matching the identity tails.
    tail_bound : float
        ``B``.
    inverse : bool
        Evaluate the inverse map instead.

    Returns
    -------
    output, log_abs_derivative : Tensor
        The map's value and ``log |d output / d x|``, both shape ``(...)``.
        For ``inverse=True`` this is the inverse map's log-derivative, i.e.
        minus the forward log-derivative at the returned point.
    """
    batch_shape = torch.broadcast_shapes(
        x.shape, widths.shape[:-1], heights.shape[:-1], derivatives.shape[:-1]
    )
    x = x.expand(batch_shape)
    knot_x, knot_y, knot_d = rational_quadratic_knots(
        widths.expand(batch_shape + widths.shape[-1:]),
        heights.expand(batch_shape + heights.shape[-1:]),
        derivatives.expand(batch_shape + derivatives.shape[-1:]),
        tail_bound,
        min_bin_width,
        min_bin_height,
        min_derivative,
    )

    inside = (x >= -tail_bound) & (x <= tail_bound)
    # Outside the box the spline branch is discarded by ``where``, but its
    # backward pass still runs there: a finite stand-in keeps inf/NaN out of
    # the gradients (0 * inf would be NaN).
    x_in = torch.where(inside, x, torch.zeros_like(x))

    # Bin k holds [knot_k, knot_{k+1}); an input on an interior knot starts
    # the next bin (theta = 0) and +B ends the last one (theta = 1).
    search = knot_y if inverse else knot_x
    index = (x_in[..., None] >= search[..., 1:-1]).sum(-1)
    x_left, x_right = _gather_bin(knot_x, index)
    y_left, y_right = _gather_bin(knot_y, index)
    d_left, d_right = _gather_bin(knot_d, index)
    bin_width = x_right - x_left
    bin_height = y_right - y_left
    slope = bin_height / bin_width

    if inverse:
        offset = x_in - y_left
        curvature = d_left + d_right - 2 * slope
        a = bin_height * (slope - d_left) + offset * curvature
        b = bin_height * d_left - offset * curvature
        c = -slope * offset
        # The root in [0, 1], written 2c / (-b - sqrt(b^2 - 4ac)) rather than
        # (-b + sqrt(b^2 - 4ac)) / 2a: the textbook form cancels, and divides
        # by ~0, when a is small (nearly linear bins). Here c <= 0 and the
        # denominator stays negative (b = h d_k > 0 where c = 0). The
        # discriminant is positive in exact arithmetic; the clamp only absorbs
        # rounding, and the final clamp keeps theta in its bin.
        discriminant = (b.square() - 4 * a * c).clamp_min(0)
        theta = (2 * c / (-b - discriminant.sqrt())).clamp(0, 1)
        output = x_left + theta * bin_width
    else:
        theta = (x_in - x_left) / bin_width

    one_minus = 1 - theta
    theta_one_minus = theta * one_minus
    # s + (d_k + d_{k+1} - 2 s) theta (1 - theta), regrouped as a sum of
    # positive terms so that it cannot cancel to zero or below.
    denominator = (
        slope * (theta.square() + one_minus.square())
        + (d_left + d_right) * theta_one_minus
    )
    if not inverse:
        numerator = bin_height * (slope * theta.square() + d_left * theta_one_minus)
        output = y_left + numerator / denominator
    derivative_numerator = (
        d_right * theta.square()
        + 2 * slope * theta_one_minus
        + d_left * one_minus.square()
    )
    log_derivative = (
        2 * slope.log() + derivative_numerator.log() - 2 * denominator.log()
    )
    if inverse:
        log_derivative = -log_derivative

    output = torch.where(inside, output, x)
    log_derivative = torch.where(
        inside, log_derivative, torch.zeros_like(log_derivative)
    )
    return output, log_derivative


def spline_logit_scale(hidden_layer_sizes: Sequence[int]) -> float:
    """``1 / sqrt(last hidden width)``, as ``nflows`` scales the bin logits.

    Shrinking the logits the conditioner starts with makes the first bins
    nearly uniform, so none begins close to its minimum size (where the
    slope, and the gradient through it, is extreme). It also slows the
    effective learning rate of the bin logits by the same factor; we keep it
    for parity with the authors' code and results.
    """
    return 1 / math.sqrt(hidden_layer_sizes[-1]) if hidden_layer_sizes else 1.0


class RationalQuadraticSpline(MonotoneTransform):
    """A monotonic RQ spline on ``[-tail_bound, tail_bound]`` with ``n_bins``
    bins, the identity outside (see :func:`rational_quadratic_spline`).

    Its ``3 K - 1`` parameters per element are ``K`` width logits, ``K``
    height logits (both multiplied by ``logit_scale``, see
    :func:`spline_logit_scale`) and ``K - 1`` interior derivative logits.
    """

    packing = "feature"

    def __init__(
        self,
        n_bins: int = DEFAULT_BINS,
        tail_bound: float = DEFAULT_TAIL_BOUND,
        logit_scale: float = 1.0,
    ) -> None:
        super().__init__()
        if n_bins < 1:
            raise ValueError(f"n_bins must be at least 1, got {n_bins}.")
        self.n_bins = n_bins
        self.tail_bound = tail_bound
        self.logit_scale = logit_scale
        self.params_per_feature = 3 * n_bins - 1

    def _spline(
        self, x: Tensor, params: Tensor, inverse: bool
    ) -> tuple[Tensor, Tensor]:
        k = self.n_bins
        return rational_quadratic_spline(
            x,
            params[..., :k] * self.logit_scale,
            params[..., k : 2 * k] * self.logit_scale,
            params[..., 2 * k :],
            self.tail_bound,
            inverse=inverse,
        )

    def forward(self, x: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        # An autoregressive conditioner hands every element's parameters over
        # laid out by parameter; the knots are reduced over each element's
        # bins, in a copy that holds them side by side.
        return self._spline(x, params.contiguous(), inverse=False)

    def inverse(self, y: Tensor, params: Tensor) -> Tensor:
        return self._spline(y, params, inverse=True)[0]

    def extra_repr(self) -> str:
        return (
            f"n_bins={self.n_bins}, tail_bound={self.tail_bound}, "
            f"logit_scale={self.logit_scale:.4g}"
        )
