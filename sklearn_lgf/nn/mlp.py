"""Plain multilayer perceptrons used as conditioners and by the p/q networks."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .activations import Tanh, whole_vectors


def mlp(
    in_features: int,
    hidden_layer_sizes: Sequence[int],
    out_features: int,
    activation: type[nn.Module] = nn.ReLU,
) -> nn.Sequential:
    """Fully connected network with torch's default initialisation.

    With ``activation=Tanh`` it is a :class:`TanhMLP`, whose CPU forward pass
    is the same function in fewer passes over the hidden units.
    """
    layers: list[nn.Module] = []
    width = in_features
    with warnings.catch_warnings():
        # A coupling step on one feature has nothing to condition on or to
        # transform; torch warns about initialising the empty weights.
        warnings.filterwarnings("ignore", "Initializing zero-element tensors")
        for hidden in hidden_layer_sizes:
            layers += [nn.Linear(width, hidden), activation()]
            width = hidden
        last = nn.Linear(width, out_features)
    layers.append(last)
    return TanhMLP(*layers) if activation is Tanh else nn.Sequential(*layers)


class TanhMLP(nn.Sequential):
    """``Linear, Tanh, Linear, Tanh, ..., Linear`` (as :func:`mlp` builds it).

    On the CPU the hidden units are carried as ``s = sigmoid(2 a)`` instead of
    ``tanh(a) = 2 s - 1``: the factor 2 goes into the matrix products'
    ``alpha`` and ``beta``, the ``- 1`` into the next layer's bias
    (``W (2 s - 1) + b = 2 W s + (b - W 1)``). Each hidden layer then costs
    one elementwise pass (the sigmoid) instead of four (multiply, sigmoid,
    multiply, subtract); those passes, not the matrix products, dominated an
    LGF's importance-sampling scores. The function is the same (exactly in
    real arithmetic; in float64 to rounding). Parameters and their names are
    those of the plain :class:`~torch.nn.Sequential`.
    """

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        if x.device.type != "cpu" or x.dim() != 2:
            return super().forward(x)
        return _folded(x, self)


def _folded(x: Tensor, net: nn.Sequential) -> Tensor:
    """The tanh MLP ``net`` on ``x``, the hidden units carried as sigmoids."""
    linears = [m for m in net if isinstance(m, nn.Linear)]
    h = x
    for depth, linear in enumerate(linears):
        weight, bias = linear.weight, linear.bias
        if depth > 0:  # the input is s = sigmoid(2 a) with tanh(a) = 2 s - 1
            bias = bias - weight.sum(1)
        last = depth == len(linears) - 1
        beta = 1.0 if last else 2.0  # into the next sigmoid(2 a)
        alpha = beta * (1.0 if depth == 0 else 2.0)
        if last or torch.is_grad_enabled():
            h = torch.addmm(bias, h, weight.t(), beta=beta, alpha=alpha)
            if not last:
                h = torch.sigmoid(h)
            continue
        # Scoring: every row's units rounded alike, wherever the row sits.
        buffer, head = whole_vectors(h.shape[0] * weight.shape[0], h)
        out = head.view(h.shape[0], weight.shape[0])
        torch.addmm(bias, h, weight.t(), beta=beta, alpha=alpha, out=out)
        torch.sigmoid_(buffer)
        h = out
    return h
