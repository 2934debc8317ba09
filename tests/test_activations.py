"""The CPU tanh through the sigmoid is tanh: values and gradients."""

from __future__ import annotations

import torch

from sklearn_lgf.nn.activations import Tanh, tanh


def test_tanh_matches_torch_in_both_precisions():
    x = torch.linspace(-30, 30, 200_001)
    assert (tanh(x) - torch.tanh(x)).abs().max() <= 3e-7
    assert tanh(x).abs().max() <= 1.0
    x64 = x.double()
    assert (tanh(x64) - torch.tanh(x64)).abs().max() <= 1e-15


def test_tanh_gradient_is_exact_in_float64():
    x = torch.randn(50, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(tanh, (x,))
    (grad,) = torch.autograd.grad(tanh(x).sum(), x)
    torch.testing.assert_close(grad, 1 - torch.tanh(x.detach()) ** 2)


def test_module_is_a_drop_in_for_nn_tanh():
    x = torch.randn(7, 3)
    torch.testing.assert_close(Tanh()(x), torch.nn.Tanh()(x), atol=3e-7, rtol=0)
    assert list(Tanh().state_dict()) == []
