"""Plain multilayer perceptrons used as conditioners and by the p/q networks."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from torch import nn


def mlp(
    in_features: int,
    hidden_layer_sizes: Sequence[int],
    out_features: int,
    activation: type[nn.Module] = nn.ReLU,
) -> nn.Sequential:
    """Fully connected network with torch's default initialisation."""
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
    return nn.Sequential(*layers)
