"""The tanh MLPs' sigmoid-carried forward pass is the plain network's function."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sklearn_lgf.nn.activations import Tanh
from sklearn_lgf.nn.mlp import TanhMLP, mlp


def plain(net: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """``net`` with ``torch.tanh`` between its linear layers."""
    for module in net:
        x = torch.tanh(x) if isinstance(module, Tanh) else module(x)
    return x


def flat_gradient(net: nn.Module, value: torch.Tensor) -> torch.Tensor:
    grads = torch.autograd.grad(value.square().sum(), list(net.parameters()))
    return torch.cat([g.flatten() for g in grads])


@pytest.mark.parametrize("hidden", [(), (7,), (5, 6, 4)])
def test_tanh_mlp_is_the_plain_network_with_its_gradient(hidden):
    torch.manual_seed(0)
    net = mlp(3, hidden, 4, activation=Tanh).double()
    assert isinstance(net, TanhMLP)
    x = 3 * torch.randn(11, 3, dtype=torch.float64)
    folded, expected = net(x), plain(net, x)
    torch.testing.assert_close(folded, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(
        flat_gradient(net, folded), flat_gradient(net, expected), rtol=1e-10, atol=1e-12
    )


def test_other_activations_stay_plain_sequentials():
    net = mlp(3, (4,), 2)
    assert type(net) is nn.Sequential
    assert list(net.state_dict()) == list(mlp(3, (4,), 2, activation=Tanh).state_dict())
