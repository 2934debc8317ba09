"""The rational-quadratic spline and the steps that use it, in float64
unless a test says otherwise: inverses, log-derivatives against autograd,
behaviour on knots, at and beyond the tail bound, and finite gradients."""

from __future__ import annotations

import math

import pytest
import torch

from sklearn_lgf.nn import make_step, make_univariate
from sklearn_lgf.nn.transforms import (
    rational_quadratic_knots,
    rational_quadratic_spline,
)

B = 3.0
F64 = torch.float64


def _params(
    shape: tuple[int, ...], n_bins: int, scale: float, seed: int, dtype=F64
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return tuple(
        scale * torch.randn(*shape, k, generator=g, dtype=dtype)
        for k in (n_bins, n_bins, n_bins - 1)
    )


def _special_inputs(knot_x: torch.Tensor) -> torch.Tensor:
    """Knots, the bound, its floating-point neighbours and far-away points."""
    dtype = knot_x.dtype
    bound = torch.tensor([-B, B], dtype=dtype)
    inf = torch.tensor(math.inf, dtype=dtype)
    edges = torch.cat([knot_x, bound])
    neighbours = torch.cat([torch.nextafter(edges, inf), torch.nextafter(edges, -inf)])
    far = torch.tensor([-1e6, -B - 1e-9, 0.0, B + 1e-9, 1e6], dtype=dtype)
    return torch.cat([edges, neighbours, far])


@pytest.mark.parametrize("n_bins", [1, 2, 8])
@pytest.mark.parametrize("scale", [0.5, 3.0])
def test_round_trip(n_bins, scale):
    w, h, d = _params((500,), n_bins, scale, seed=n_bins)
    x = torch.linspace(-5, 5, 500, dtype=F64)
    y, _ = rational_quadratic_spline(x, w, h, d, B)
    x_back, _ = rational_quadratic_spline(y, w, h, d, B, inverse=True)
    y_again, _ = rational_quadratic_spline(x_back, w, h, d, B)
    torch.testing.assert_close(y_again, y, rtol=0, atol=1e-10)
    if scale <= 1:
        # With extreme logits the slope can reach ~1e-6, and the inverse is
        # then only as accurate as ulp(y) / slope: compare in x only for
        # moderate ones.
        torch.testing.assert_close(x_back, x, rtol=0, atol=1e-10)
    z = 4 * torch.randn(500, dtype=F64, generator=torch.Generator().manual_seed(1))
    x_from_z, _ = rational_quadratic_spline(z, w, h, d, B, inverse=True)
    z_again, _ = rational_quadratic_spline(x_from_z, w, h, d, B)
    torch.testing.assert_close(z_again, z, rtol=0, atol=1e-10)


@pytest.mark.parametrize("scale", [0.5, 3.0])
def test_log_derivative_matches_autograd(scale):
    w, h, d = _params((400,), 8, scale, seed=2)
    x = torch.linspace(-4, 4, 400, dtype=F64, requires_grad=True)
    y, log_derivative = rational_quadratic_spline(x, w, h, d, B)
    (grad,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(log_derivative, grad.log(), rtol=1e-10, atol=1e-10)

    y_in = y.detach().requires_grad_()
    x_back, inverse_log_derivative = rational_quadratic_spline(
        y_in, w, h, d, B, inverse=True
    )
    (grad,) = torch.autograd.grad(x_back.sum(), y_in)
    # Extreme logits give slopes near 1e-6, where x_back (and so everything
    # evaluated there) is only accurate to ulp(y) / slope.
    tol = 1e-12 if scale <= 1 else 1e-8
    torch.testing.assert_close(inverse_log_derivative, grad.log(), rtol=tol, atol=tol)
    torch.testing.assert_close(
        inverse_log_derivative, -log_derivative.detach(), rtol=tol, atol=tol
    )


def test_knots_bound_and_tails():
    w, h, d = _params((), 8, 1.0, seed=3)
    knot_x, knot_y, knot_d = rational_quadratic_knots(w, h, d, B)
    assert knot_x[0] == -B and knot_x[-1] == B
    assert knot_y[0] == -B and knot_y[-1] == B
    assert knot_d[0] == 1 and knot_d[-1] == 1
    assert (knot_x.diff() > 0).all() and (knot_y.diff() > 0).all()

    # The spline interpolates the knots with the knot derivatives.
    y, log_derivative = rational_quadratic_spline(knot_x, w, h, d, B)
    torch.testing.assert_close(y, knot_y, rtol=0, atol=1e-12)
    torch.testing.assert_close(log_derivative, knot_d.log(), rtol=0, atol=1e-12)
    x_back, inverse_log_derivative = rational_quadratic_spline(
        knot_y, w, h, d, B, inverse=True
    )
    torch.testing.assert_close(x_back, knot_x, rtol=0, atol=1e-12)
    torch.testing.assert_close(
        inverse_log_derivative, -knot_d.log(), rtol=0, atol=1e-12
    )

    x = _special_inputs(knot_x)
    y, log_derivative = rational_quadratic_spline(x, w, h, d, B)
    x_back, inverse_log_derivative = rational_quadratic_spline(
        y, w, h, d, B, inverse=True
    )
    for t in (y, log_derivative, x_back, inverse_log_derivative):
        assert torch.isfinite(t).all()
    torch.testing.assert_close(x_back, x, rtol=0, atol=1e-12)
    torch.testing.assert_close(
        inverse_log_derivative, -log_derivative, rtol=0, atol=1e-12
    )

    outside = x.abs() > B
    assert outside.sum() >= 6
    assert (y[outside] == x[outside]).all()
    assert (log_derivative[outside] == 0).all()
    assert (inverse_log_derivative[outside] == 0).all()
    # Continuity across the bound: value +-B and slope 1 on both sides.
    at_bound = x.abs() == B
    assert (y[at_bound] - x[at_bound]).abs().max() < 1e-14
    assert log_derivative[at_bound].abs().max() < 1e-12


@pytest.mark.parametrize("scale", [0.5, 3.0])
def test_float32_near_bin_edges(scale):
    w, h, d = _params((), 8, scale, seed=4, dtype=torch.float32)
    knot_x, knot_y, _ = rational_quadratic_knots(w, h, d, B)
    x = _special_inputs(knot_x)
    y, log_derivative = rational_quadratic_spline(x, w, h, d, B)
    x_back, _ = rational_quadratic_spline(y, w, h, d, B, inverse=True)
    y_again, _ = rational_quadratic_spline(x_back, w, h, d, B)
    assert torch.isfinite(log_derivative).all()
    torch.testing.assert_close(y_again, y, rtol=0, atol=1e-5)
    if scale <= 1:
        torch.testing.assert_close(x_back, x, rtol=0, atol=1e-5)
    # The inverse near the output-side knots as well.
    z = _special_inputs(knot_y)
    x_from_z, _ = rational_quadratic_spline(z, w, h, d, B, inverse=True)
    z_again, _ = rational_quadratic_spline(x_from_z, w, h, d, B)
    torch.testing.assert_close(z_again, z, rtol=0, atol=1e-5)


@pytest.mark.parametrize("scale", [0.5, 3.0])
def test_monotonic(scale):
    # Parameters of shape (K,) broadcast against any input shape.
    w, h, d = _params((), 8, scale, seed=5)
    x = torch.linspace(-6, 6, 20001, dtype=F64)
    y, log_derivative = rational_quadratic_spline(x, w, h, d, B)
    assert y.shape == log_derivative.shape == x.shape
    assert (y.diff() > 0).all()
    z = torch.linspace(-6, 6, 20001, dtype=F64)
    x_from_z, _ = rational_quadratic_spline(z, w, h, d, B, inverse=True)
    assert (x_from_z.diff() > 0).all()


@pytest.mark.parametrize("inverse", [False, True])
@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_gradients_finite_everywhere(inverse, scale):
    w, h, d = _params((), 8, scale, seed=6)
    knot_x, knot_y, _ = rational_quadratic_knots(w, h, d, B)
    x = _special_inputs(knot_y if inverse else knot_x)
    x = torch.cat([x, torch.linspace(-8, 8, 161, dtype=F64)])
    n = len(x)
    leaves = [t.expand(n, -1).clone().requires_grad_() for t in (w, h, d)]
    x = x.requires_grad_()
    y, log_derivative = rational_quadratic_spline(x, *leaves, B, inverse=inverse)
    (y.sum() + log_derivative.sum()).backward()
    for t in (x, *leaves):
        assert torch.isfinite(t.grad).all()
    outside = x.detach().abs() > B
    assert (x.grad[outside] == 1).all()
    for t in leaves:
        assert (t.grad[outside] == 0).all()


def test_uniform_bins_with_unit_slopes_are_the_identity():
    """Equal bins and unit knot derivatives make every bin linear (a = 0 in
    the inverse's quadratic): the case the stable root formula exists for."""
    w = torch.zeros(8, dtype=F64)
    d = torch.full((7,), math.log(math.expm1(1 - 1e-3)), dtype=F64)
    x = torch.linspace(-5, 5, 1001, dtype=F64)
    for inverse in (False, True):
        y, log_derivative = rational_quadratic_spline(x, w, w, d, B, inverse=inverse)
        torch.testing.assert_close(y, x, rtol=0, atol=1e-14)
        torch.testing.assert_close(
            log_derivative, torch.zeros_like(x), rtol=0, atol=1e-14
        )


def test_shape_errors():
    w, h, d = _params((), 4, 1.0, seed=0)
    x = torch.zeros(3, dtype=F64)
    with pytest.raises(ValueError, match="K - 1 derivatives"):
        rational_quadratic_spline(x, w, h, w, B)
    with pytest.raises(ValueError, match="minimum bin size"):
        rational_quadratic_spline(x, w, h, d, B, min_bin_width=0.25)


# --- The steps -----------------------------------------------------------------

U_DIM = 2


def _randomise(module: torch.nn.Module, scale: float = 0.3) -> torch.nn.Module:
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn_like(p))
    return module


def _spline_step(
    conditioner: str,
    d: int,
    hidden: tuple[int, ...],
    context: int = 0,
    layer: int = 0,
    **spline: float,
) -> torch.nn.Module:
    univariate = make_univariate("spline", hidden, **spline)
    return make_step(
        conditioner, univariate, d, hidden, context_features=context, layer=layer
    )


def _bijection(kind: str, d: int, context: int) -> torch.nn.Module:
    torch.manual_seed(d + 10 * context)
    if kind == "maf":
        module = _spline_step("autoregressive", d, (16, 16), context)
    elif kind == "maf_narrow":
        module = _spline_step(
            "autoregressive", d, (2,), context, n_bins=3, tail_bound=2
        )
    else:
        parity = int(kind[-1])
        module = _spline_step("coupling", d, (16,), context, layer=parity)
    return _randomise(module).double()


KINDS = ["maf", "maf_narrow", "coupling_0", "coupling_1"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("d", [1, 2, 5])
@pytest.mark.parametrize("context", [0, U_DIM])
def test_bijection_inverse_and_log_det(kind, d, context):
    bijection = _bijection(kind, d, context)
    g = torch.Generator().manual_seed(d)
    # Wide enough that some features fall in the identity tails.
    x = 2.5 * torch.randn(6, d, dtype=F64, generator=g)
    u = torch.randn(6, context, dtype=F64, generator=g) if context else None
    z, log_det = bijection(x, u)
    assert z.shape == x.shape and log_det.shape == (6,)
    torch.testing.assert_close(bijection.inverse(z, u), x, rtol=0, atol=1e-10)
    for i in range(6):
        row_u = None if u is None else u[i : i + 1]

        def single(row, row_u=row_u):
            return bijection(row[None], row_u)[0][0]

        jacobian = torch.autograd.functional.jacobian(single, x[i])
        expected = torch.linalg.slogdet(jacobian).logabsdet
        torch.testing.assert_close(log_det[i], expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("context", [0, U_DIM])
def test_autoregressive_jacobian_is_lower_triangular(context):
    d = 5
    bijection = _bijection("maf", d, context)
    x = torch.randn(d, dtype=F64)
    u = torch.randn(1, context, dtype=F64) if context else None
    jacobian = torch.autograd.functional.jacobian(
        lambda v: bijection(v[None], u)[0][0], x
    )
    assert (jacobian.triu(1) == 0).all()
    assert (jacobian.diagonal() > 0).all()
    # The conditioner really is used: some below-diagonal entry is nonzero.
    assert (jacobian.tril(-1) != 0).any()


@pytest.mark.parametrize("parity", [0, 1])
@pytest.mark.parametrize("context", [0, U_DIM])
def test_coupling_keeps_its_parity(parity, context):
    d = 5
    bijection = _bijection(f"coupling_{parity}", d, context)
    x = torch.randn(4, d, dtype=F64)
    u = torch.randn(4, context, dtype=F64) if context else None
    z, _ = bijection(x, u)
    kept = torch.arange(d) % 2 == parity
    assert torch.equal(z[:, kept], x[:, kept])
    assert not torch.equal(z[:, ~kept], x[:, ~kept])
    assert torch.equal(bijection.inverse(z, u)[:, kept], z[:, kept])
    jacobian = torch.autograd.functional.jacobian(
        lambda v: bijection(v[None], None if u is None else u[:1])[0][0], x[0]
    )
    changed_block = jacobian[~kept][:, ~kept]
    assert torch.equal(changed_block, changed_block.diag().diag())


def test_context_changes_the_map():
    bijection = _bijection("maf", 3, U_DIM)
    x = torch.randn(1, 3, dtype=F64).expand(2, -1)
    u = torch.randn(2, U_DIM, dtype=F64)
    z, _ = bijection(x, u)
    assert not torch.allclose(z[0], z[1])


def test_one_dimensional_density_integrates_to_one():
    torch.manual_seed(7)
    bijection = _randomise(_spline_step("autoregressive", 1, (8,)), scale=1.0)
    bijection = bijection.double()
    x = torch.linspace(-30, 30, 60001, dtype=F64)[:, None]
    with torch.no_grad():
        z, log_det = bijection(x)
        log_prob = -0.5 * z[:, 0].square() - 0.5 * math.log(2 * math.pi) + log_det
    total = torch.trapezoid(log_prob.exp(), x[:, 0])
    assert abs(total.item() - 1) < 1e-4
    # Not trivially the standard normal.
    normal = -0.5 * x[:, 0].square() - 0.5 * math.log(2 * math.pi)
    assert (log_prob - normal).abs().max() > 0.1
