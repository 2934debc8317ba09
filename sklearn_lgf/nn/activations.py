"""Activations written for the CPU: tanh through the sigmoid, and
elementwise maps that round every element alike.

``torch.tanh`` on the CPU build we ship against is not vectorised, while the
sigmoid is, and tanh was a large share of an LGF's training step; the
identity ``tanh(x) = 2 sigmoid(2 x) - 1`` is exact, and in float32 the two
differ by at most 2e-7 (3e-16 in float64). On CUDA ``torch.tanh`` is used.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# torch's vectorised CPU kernels for the sigmoid, softplus and (in float64)
# logaddexp finish a tensor's last partial block of this many float32
# elements with scalar code that rounds differently, so the rows at the end
# of a scoring chunk got other last bits than the same rows elsewhere in it
# (exp, log1p, relu and abs round every element alike). Aligned buffers and
# the formulas below keep every element on one code path when scoring.
WHOLE_VECTORS = 64


def tanh(x: Tensor) -> Tensor:
    """``tanh(x)``, through the sigmoid on the CPU (in whole vectors when
    scoring, see :data:`WHOLE_VECTORS`)."""
    if x.device.type != "cpu":
        return torch.tanh(x)
    if torch.is_grad_enabled():
        return torch.sigmoid(x * 2.0) * 2.0 - 1.0
    buffer, head = whole_vectors(x.numel(), x)
    torch.mul(x.reshape(-1), 2.0, out=head)
    torch.sigmoid_(buffer)
    return head.view(x.shape).mul_(2.0).sub_(1.0)


class Tanh(nn.Module):
    """Module form of :func:`tanh`, a drop-in for :class:`torch.nn.Tanh`."""

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        return tanh(x)


def softplus(x: Tensor) -> Tensor:
    """``log(1 + exp(x))``; without autograd, as ``relu(x) + log1p(exp(-|x|))``,
    which rounds every element alike (see :data:`WHOLE_VECTORS`)."""
    if torch.is_grad_enabled():
        return F.softplus(x)
    return torch.relu(x) + torch.log1p(torch.exp(-x.abs()))


def logaddexp(a: Tensor, b: Tensor) -> Tensor:
    """``log(exp(a) + exp(b))`` elementwise, as ``max + log1p(exp(min - max))``,
    which rounds every element alike (see :data:`WHOLE_VECTORS`), so that a
    row's estimate does not move with its position among the rows."""
    high, low = torch.maximum(a, b), torch.minimum(a, b)
    sum_ = high + torch.log1p(torch.exp(low - high))
    return torch.where(low == -math.inf, high, sum_)


def whole_vectors(size: int, like: Tensor) -> tuple[Tensor, Tensor]:
    """``(buffer, head)``: a flat buffer of whole vectors (see
    :data:`WHOLE_VECTORS`) and its first ``size`` elements, uninitialised
    (the rest is zero). An elementwise map applied in place to the buffer
    treats every element of the head alike."""
    buffer = like.new_empty(-(-size // WHOLE_VECTORS) * WHOLE_VECTORS)
    buffer[size:].zero_()
    return buffer, buffer[:size]
