"""tanh written through the sigmoid, which is several times faster on the CPU.

``torch.tanh`` on the CPU build we ship against is not vectorised: on a
4000 x 50 float32 tensor (one p/q layer of an LGF step with 4 ELBO draws) it
took 0.91 ms against 0.16 ms for ``2 * sigmoid(2 x) - 1``, and forward plus
backward 13.0 ms against 1.6 ms; tanh was 31 % of an LGF-MAF training step.
The identity ``tanh(x) = 2 sigmoid(2 x) - 1`` is exact; in float32 the two
differ by at most 2e-7 (3e-16 in float64). On CUDA ``torch.tanh`` is used.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def tanh(x: Tensor) -> Tensor:
    """``tanh(x)``, through the sigmoid on the CPU."""
    if x.device.type == "cpu":
        return torch.sigmoid(x * 2.0) * 2.0 - 1.0
    return torch.tanh(x)


class Tanh(nn.Module):
    """Module form of :func:`tanh`, a drop-in for :class:`torch.nn.Tanh`."""

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        return tanh(x)
