"""The CPU activations: tanh through the sigmoid is tanh (values and
gradients), and logaddexp rounds every element alike."""

from __future__ import annotations

import math

import torch

from sklearn_lgf.nn.activations import Tanh, logaddexp, tanh

GENERATOR = torch.Generator().manual_seed(0)


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


def test_logaddexp_matches_torch_and_rounds_every_element_alike():
    a = torch.randn(1003, dtype=torch.float64) * 20
    b = torch.randn(1003, dtype=torch.float64) * 20
    torch.testing.assert_close(logaddexp(a, b), torch.logaddexp(a, b))
    inf = torch.tensor([-math.inf, -math.inf, 1.0])
    assert logaddexp(inf, torch.tensor([-math.inf, 2.0, -math.inf])).tolist() == [
        -math.inf,
        2.0,
        1.0,
    ]
    # The same element gives the same bits wherever it sits in the tensor
    # (torch.logaddexp fails this on these float64 rows: the kernel's scalar
    # tail rounds some elements differently).
    u = 0.01 + 0.98 * torch.rand(1003, dtype=torch.float64, generator=GENERATOR)
    alone = logaddexp(u, u / 2)
    for extra in range(1, 70):
        longer = torch.cat([u, torch.rand(extra, dtype=u.dtype, generator=GENERATOR)])
        assert torch.equal(logaddexp(longer, longer / 2)[:1003], alone)
