"""MADE (Germain et al. 2015): the conditioner of autoregressive steps.

Hidden units get *sorted* sequential degrees: the same multiset of degrees as
MADE's sequential assignment, laid out so that the units of each degree form
one contiguous block. The network is unchanged, but sampling can then compute
each hidden unit exactly once (see :meth:`MADE.autoregressive_inverse`), so
inverting a MADE step costs one forward pass in arithmetic instead of ``d``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def hidden_degrees(width: int, features: int, min_degree: int) -> Tensor:
    """Sorted degrees in ``[min_degree, features - 1]``, spread evenly."""
    span = features - min_degree
    return min_degree + torch.arange(width) * span // width


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask."""

    mask: Tensor

    def __init__(self, mask: Tensor, bias: bool = True) -> None:
        # torch's default initialisation over the full fan-in, as in MADE's
        # reference implementations (zuko, nflows, the LGF authors' code):
        # rescaled to each unit's masked fan-in, a narrow MADE's first
        # outputs are huge.
        super().__init__(mask.shape[1], mask.shape[0], bias=bias)
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """Masked autoencoder: ``params_per_feature`` outputs per input feature.

    Output ``j`` of feature ``i`` depends only on features ``< i`` (in the
    given order) and on the optional ``context``, which every unit may see.
    It takes rows ``(batch, features)`` and a context of any shape with
    ``context_features`` entries per row, and returns the parameters as
    ``(batch, features, params_per_feature)``, the layout a
    :class:`~sklearn_lgf.nn.transforms.MonotoneTransform` takes. The output
    layer orders its units by parameter (every feature's first parameter,
    then every feature's second, ...); the result is a view of it.
    """

    def __init__(
        self,
        features: int,
        hidden_layer_sizes: Sequence[int],
        params_per_feature: int = 2,
        context_features: int = 0,
        activation: Callable[[Tensor], Tensor] = F.relu,
    ) -> None:
        super().__init__()
        if not hidden_layer_sizes:
            raise ValueError("MADE needs at least one hidden layer.")
        self.features = features
        self.params_per_feature = params_per_feature
        self.context_features = context_features
        self.activation = activation

        # Degree-0 units see only the context; without context they would be
        # constant, so they are used only where nothing else is possible.
        min_degree = 0 if context_features or features == 1 else 1
        input_degrees = torch.arange(1, features + 1)
        context_degrees = torch.zeros(context_features, dtype=torch.long)
        previous = torch.cat([context_degrees, input_degrees])
        self._degrees: list[Tensor] = []
        layers: list[MaskedLinear] = []
        for width in hidden_layer_sizes:
            degrees = hidden_degrees(width, features, min_degree)
            layers.append(MaskedLinear(degrees[:, None] >= previous[None, :]))
            self._degrees.append(degrees)
            previous = degrees
        output_degrees = input_degrees.repeat(params_per_feature)
        layers.append(MaskedLinear(output_degrees[:, None] > previous[None, :]))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:  # type: ignore[override]
        h = x if context is None else torch.cat([context.flatten(1), x], dim=-1)
        for layer in self.layers[:-1]:
            h = self.activation(layer(h))
        out = self.layers[-1](h)
        return out.view(x.shape[0], self.params_per_feature, self.features).movedim(
            1, -1
        )

    @torch.no_grad()
    def autoregressive_inverse(
        self,
        z: Tensor,
        invert_feature: Callable[[Tensor, Tensor], Tensor],
        context: Tensor | None = None,
    ) -> Tensor:
        """Solve ``x_i = invert_feature(z_i, params_i(x_<i))`` for ``i = 1..d``.

        ``params_i`` has shape ``(batch, params_per_feature)``. Hidden units of
        degree ``k`` depend on ``x_1..x_k`` only, so they are computed once,
        right after ``x_k`` is known, and reused: the whole solve performs the
        arithmetic of a single forward pass.
        """
        d = self.features
        n = z.shape[0]
        x = torch.zeros_like(z)
        hidden = [z.new_zeros(n, len(deg)) for deg in self._degrees]
        # Block boundaries: units of degree k occupy [starts[k], starts[k + 1]).
        bounds = [
            torch.searchsorted(deg, torch.arange(d + 1)).tolist()
            for deg in self._degrees
        ]
        weights = [layer.weight * layer.mask for layer in self.layers]
        biases = [layer.bias for layer in self.layers]
        c = self.context_features
        if context is not None:
            first_from_context = F.linear(
                context.flatten(1), weights[0][:, :c], biases[0]
            )
        else:
            first_from_context = biases[0].expand(n, -1)
        # Output row p * d + i holds parameter p of feature i.
        out_w = weights[-1].view(self.params_per_feature, d, -1)
        out_b = biases[-1].view(self.params_per_feature, d)

        for i in range(d):
            k = i  # hidden units of degree i (0-based feature i has degree i + 1)
            for layer, (h, bound) in enumerate(zip(hidden, bounds, strict=True)):
                start, stop = bound[k], bound[k + 1]
                if start == stop:
                    continue
                if layer == 0:
                    pre = first_from_context[:, start:stop]
                    if k > 0:
                        pre = pre + x[:, :k] @ weights[0][start:stop, c : c + k].T
                else:
                    seen = bounds[layer - 1][k + 1]
                    pre = torch.addmm(
                        biases[layer][start:stop],
                        hidden[layer - 1][:, :seen],
                        weights[layer][start:stop, :seen].T,
                    )
                h[:, start:stop] = self.activation(pre)
            seen = bounds[-1][i + 1]
            if seen:
                params = torch.addmm(
                    out_b[:, i], hidden[-1][:, :seen], out_w[:, i, :seen].T
                )
            else:
                params = out_b[:, i].expand(n, -1)
            x[:, i] = invert_feature(z[:, i], params)
        return x
