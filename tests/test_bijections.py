"""Every bijection checked the same way, in float64: the inverse undoes the
forward map, and the log-determinant equals the autograd Jacobian's."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklearn_lgf.nn import (
    MADE,
    AffineCoupling,
    AffineStep,
    BatchNorm,
    Compose,
    IndexedAffine,
    MaskedAffineAutoregressive,
    Reverse,
    build_flow,
)
from sklearn_lgf.nn.splines import MaskedSplineAutoregressive, SplineCoupling

U_DIM = 2


def _batch_norm(d: int) -> BatchNorm:
    layer = BatchNorm(d)
    with torch.no_grad():
        layer.running_mean.uniform_(-1, 1)
        layer.running_var.uniform_(0.5, 2)
        layer.log_gamma.uniform_(-0.5, 0.5)
        layer.beta.uniform_(-1, 1)
    return layer.eval()


def _randomise(module: torch.nn.Module) -> torch.nn.Module:
    """Zero-initialised last layers would make some maps trivially the identity."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return module


def _shift_before_scale(step: AffineStep) -> AffineStep:
    """The affine step in the form of model files of format 1."""
    step.shift_before_scale = True
    return step


# name -> (factory(d) -> bijection, needs an index u as context)
BIJECTIONS: dict[str, tuple[Callable[[int], torch.nn.Module], bool]] = {
    "maf": (lambda d: MaskedAffineAutoregressive(d, (16, 16)), False),
    "maf_narrow": (lambda d: MaskedAffineAutoregressive(d, (1,)), False),
    "coupling_even": (lambda d: AffineCoupling(d, (16,), parity=0), False),
    "coupling_odd": (lambda d: AffineCoupling(d, (16,), parity=1), False),
    "maf_shift_before_scale": (
        lambda d: _shift_before_scale(MaskedAffineAutoregressive(d, (16, 16))),
        False,
    ),
    "coupling_shift_before_scale": (
        lambda d: _shift_before_scale(AffineCoupling(d, (16,), parity=1)),
        False,
    ),
    "reverse": (lambda d: Reverse(), False),
    "batch_norm": (_batch_norm, False),
    "compose": (
        lambda d: build_flow(d, 3, (12,), batch_norm=True).transform.eval(),
        False,
    ),
    "indexed_maf": (
        lambda d: IndexedAffine(MaskedAffineAutoregressive(d, (16,)), d, U_DIM, (8,)),
        True,
    ),
    "indexed_coupling": (
        lambda d: IndexedAffine(AffineCoupling(d, (16,)), d, U_DIM, (8,)),
        True,
    ),
    "maf_conditioned_on_u": (
        lambda d: MaskedAffineAutoregressive(d, (16,), context_features=U_DIM),
        True,
    ),
    "coupling_conditioned_on_u": (
        lambda d: AffineCoupling(d, (16,), parity=1, context_features=U_DIM),
        True,
    ),
    "compose_conditioned": (
        lambda d: Compose(
            [
                IndexedAffine(MaskedAffineAutoregressive(d, (8,)), d, U_DIM, (8,)),
                Reverse(),
                MaskedAffineAutoregressive(d, (8,), context_features=U_DIM),
            ]
        ),
        True,
    ),
    "spline_maf": (lambda d: MaskedSplineAutoregressive(d, (16, 16)), False),
    # A bound of 2 puts some of the inputs (drawn from [-3, 3]) in the tails.
    "spline_maf_narrow": (
        lambda d: MaskedSplineAutoregressive(d, (3,), n_bins=4, tail_bound=2.0),
        False,
    ),
    "spline_coupling_even": (lambda d: SplineCoupling(d, (16,), parity=0), False),
    "spline_coupling_odd": (
        lambda d: SplineCoupling(d, (16,), parity=1, tail_bound=2.0),
        False,
    ),
    "spline_maf_conditioned_on_u": (
        lambda d: MaskedSplineAutoregressive(d, (16,), context_features=U_DIM),
        True,
    ),
    "spline_coupling_conditioned_on_u": (
        lambda d: SplineCoupling(d, (16,), parity=1, context_features=U_DIM),
        True,
    ),
}


def _make(name: str, d: int, seed: int) -> tuple[torch.nn.Module, bool]:
    factory, conditioned = BIJECTIONS[name]
    torch.manual_seed(seed)
    return _randomise(factory(d)).double(), conditioned


rows = st.integers(1, 5).flatmap(
    lambda n: st.integers(1, 6).flatmap(
        lambda d: arrays("float64", (n, d), elements=st.floats(-3, 3, width=64))
    )
)


@pytest.mark.parametrize("name", sorted(BIJECTIONS))
@settings(max_examples=25, deadline=None)
@given(x=rows, seed=st.integers(0, 2**16))
def test_inverse_and_log_det(name, x, seed):
    n, d = x.shape
    bijection, conditioned = _make(name, d, seed)
    x = torch.from_numpy(x)
    u = torch.randn(n, U_DIM, dtype=torch.float64) if conditioned else None

    z, log_det = bijection(x, u)
    assert z.shape == x.shape and log_det.shape == (n,)
    torch.testing.assert_close(bijection.inverse(z, u), x, rtol=1e-9, atol=1e-9)

    for i in range(n):
        row_u = None if u is None else u[i : i + 1]

        def single(row, row_u=row_u):
            return bijection(row[None], row_u)[0][0]

        jacobian = torch.autograd.functional.jacobian(single, x[i])
        expected = torch.linalg.slogdet(jacobian).logabsdet
        torch.testing.assert_close(log_det[i], expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("hidden", [(32, 32), (3,), (1, 1), (7, 2)])
@pytest.mark.parametrize("d", [1, 2, 5, 9])
@pytest.mark.parametrize("context", [0, 2])
def test_made_jacobian_is_strictly_triangular(hidden, d, context):
    """Output i (shift and log-scale) depends on inputs < i only, whatever the
    hidden widths (including widths below the input dimension)."""
    torch.manual_seed(0)
    made = _randomise(MADE(d, hidden, 2, context_features=context)).double()
    x = torch.randn(d, dtype=torch.float64)
    c = torch.randn(1, context, dtype=torch.float64) if context else None
    jac = torch.autograd.functional.jacobian(lambda v: made(v[None], c)[0], x)
    assert jac.shape == (2, d, d)
    allowed = torch.ones(d, d).tril(-1).bool()
    assert (jac[:, ~allowed] == 0).all()
    # The masks themselves: paths from input j to output i exist iff j < i
    # (every allowed path exists once each layer has a unit of every degree).
    paths = torch.eye(context + d, dtype=torch.float64)
    for layer in made.layers:
        paths = layer.mask.double() @ paths
    paths = paths[:, context:].view(2, d, d)
    assert (paths[:, ~allowed] == 0).all()
    if min(hidden) >= d:
        assert (paths[:, allowed] > 0).all()


@pytest.mark.parametrize("hidden", [(32, 32), (3,), (7, 2, 5)])
@pytest.mark.parametrize("d", [1, 2, 6])
@pytest.mark.parametrize("context", [0, 3])
@pytest.mark.parametrize("shift_before_scale", [False, True])
def test_made_single_pass_inverse_matches_naive(hidden, d, context, shift_before_scale):
    """The incremental inverse equals d full passes of the network."""
    torch.manual_seed(1)
    step = _randomise(MaskedAffineAutoregressive(d, hidden, context)).double()
    step.shift_before_scale = shift_before_scale
    z = torch.randn(10, d, dtype=torch.float64)
    c = torch.randn(10, context, dtype=torch.float64) if context else None
    x = torch.zeros_like(z)
    for _ in range(d):
        shift, raw = step.made(x, c).unbind(1)
        bound = step.log_scale_bound
        if shift_before_scale:
            x = z * torch.exp(bound * torch.tanh(raw / bound)) + shift
        else:
            x = (z - shift) * torch.exp(-raw / (1 + raw.abs() / bound))
    torch.testing.assert_close(step.inverse(z, c), x, rtol=1e-12, atol=1e-12)


def test_batch_norm_evaluation_ignores_the_scored_batch():
    layer = BatchNorm(3).double().eval()
    x = torch.randn(50, 3, dtype=torch.float64) * 4 + 7
    single = torch.stack([layer(x[i : i + 1])[0][0] for i in range(50)])
    torch.testing.assert_close(layer(x)[0], single)
    torch.testing.assert_close(
        layer(x)[0], (x - 0) / torch.sqrt(torch.tensor(1 + 1e-5))
    )


@pytest.mark.parametrize(
    "make_step",
    [
        lambda: MaskedAffineAutoregressive(3, (8,)),
        lambda: AffineCoupling(3, (8,), parity=1),
    ],
)
def test_affine_step_pickled_before_the_form_flag_keeps_its_form(make_step):
    """A step pickled before ``shift_before_scale`` existed has no such
    attribute; it must compute the map it was trained with."""
    torch.manual_seed(0)
    step = _randomise(make_step()).double()
    x = torch.randn(6, 3, dtype=torch.float64)
    step.shift_before_scale = True
    legacy = step(x)
    del step.__dict__["shift_before_scale"]
    old = pickle.loads(pickle.dumps(step))
    assert "shift_before_scale" not in old.__dict__
    torch.testing.assert_close(old(x), legacy, rtol=0, atol=0)
    step.shift_before_scale = False
    assert not torch.allclose(step(x)[0], legacy[0])
