"""Every bijection checked the same way, in float64: the inverse undoes the
forward map, and the log-determinant equals the autograd Jacobian's. The
steps are every transform times every conditioner, with and without a
context; the image bijections (couplings with conv conditioners, squeeze,
logit, per-channel batch norm, whole image flows) take images or flat rows
of a fixed shape."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklearn_lgf._legacy import Format1Affine, restore_forms
from sklearn_lgf.nn import (
    CONDITIONERS,
    MADE,
    UNIVARIATES,
    Affine,
    AutoregressiveStep,
    BatchNorm,
    ChannelBatchNorm,
    Compose,
    CouplingStep,
    IndexedAffine,
    LogitTransform,
    MonotoneTransform,
    OnLeading,
    Reverse,
    Squeeze,
    build_flow,
    build_image_flow,
    build_lgf,
    conv_coupling_step,
    make_step,
    make_univariate,
)

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


# name -> factory(hidden_layer_sizes) of every transform, the engine's (by the
# names of UNIVARIATES) and the legacy form of format 1; a tail bound of 2
# puts some of the inputs (drawn from [-3, 3]) in the spline's tails.
TRANSFORMS: dict[str, Callable[[tuple[int, ...]], MonotoneTransform]] = {
    **{
        name: (lambda hidden, name=name: make_univariate(name, hidden))
        for name in UNIVARIATES
    },
    "spline_narrow": lambda hidden: make_univariate(
        "spline", hidden, n_bins=4, tail_bound=2.0
    ),
    "format1_affine": lambda hidden: Format1Affine(),
}

# name -> (conditioner, hidden_layer_sizes, layer): both conditioners, a MADE
# narrower than the data and both coupling masks.
CONDITIONER_CASES = {
    "autoregressive": ("autoregressive", (16, 16), 0),
    "autoregressive_narrow": ("autoregressive", (1,), 0),
    "coupling_even": ("coupling", (16,), 0),
    "coupling_odd": ("coupling", (16,), 1),
}


def _step_factory(
    transform: str, case: str, context: int
) -> Callable[[int], torch.nn.Module]:
    conditioner, hidden, layer = CONDITIONER_CASES[case]
    return lambda d: make_step(
        conditioner,
        TRANSFORMS[transform](hidden),
        d,
        hidden,
        context_features=context,
        layer=layer,
    )


# name -> (factory(d) -> bijection, needs an index u as context)
BIJECTIONS: dict[str, tuple[Callable[[int], torch.nn.Module], bool]] = {
    **{
        f"{transform}-{case}{'-conditioned_on_u' if context else ''}": (
            _step_factory(transform, case, context),
            bool(context),
        )
        for transform, case, context in itertools.product(
            TRANSFORMS, CONDITIONER_CASES, (0, U_DIM)
        )
    },
    "reverse": (lambda d: Reverse(), False),
    "batch_norm": (_batch_norm, False),
    "compose": (
        lambda d: build_flow(d, 3, (12,), batch_norm=True).transform.eval(),
        False,
    ),
    "indexed_autoregressive": (
        lambda d: IndexedAffine.dense(
            make_step("autoregressive", Affine(), d, (16,)), d, U_DIM, (8,)
        ),
        True,
    ),
    "indexed_coupling_spline": (
        lambda d: IndexedAffine.dense(
            make_step("coupling", make_univariate("spline", (16,)), d, (16,)),
            d,
            U_DIM,
            (8,),
        ),
        True,
    ),
    "compose_conditioned": (
        lambda d: Compose(
            [
                IndexedAffine.dense(
                    make_step("autoregressive", Affine(), d, (8,)), d, U_DIM, (8,)
                ),
                Reverse(),
                make_step("autoregressive", Affine(), d, (8,), context_features=U_DIM),
            ]
        ),
        True,
    ),
}


def _randomise_image(module: torch.nn.Module) -> torch.nn.Module:
    """:func:`_randomise`, and running statistics away from 0 and 1 for every
    batch norm (the flows' and those inside conv nets), in evaluation mode."""
    _randomise(module)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.BatchNorm2d | BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return module.eval()


@dataclass(frozen=True)
class ImageCase:
    """A bijection whose rows have one fixed ``shape`` (an image or a flat
    row of one), drawn from ``[low, high)``, with a context ``u`` of
    ``u_shape`` per row or none, mapped to rows of ``out_shape`` (``None``:
    ``shape``)."""

    factory: Callable[[], torch.nn.Module]
    shape: tuple[int, ...]
    u_shape: tuple[int, ...] | None = None
    low: float = -3.0
    high: float = 3.0
    out_shape: tuple[int, ...] | None = None


def _conv_case(transform: str, mask: str, parity: int, context: int) -> ImageCase:
    # Odd sizes for the checkerboard, an odd number of channels for the
    # channel mask.
    shape = (2, 3, 4) if mask == "checkerboard" else (3, 2, 2)
    return ImageCase(
        lambda: conv_coupling_step(
            TRANSFORMS[transform]((4,)),
            shape,
            mask,
            parity,
            (4,),
            context_channels=context,
        ),
        shape,
        (context, *shape[1:]) if context else None,
    )


IMAGE_BIJECTIONS: dict[str, ImageCase] = {
    **{
        f"{transform}-conv_{mask}{parity}{'-conditioned_on_u' if context else ''}": (
            _conv_case(transform, mask, parity, context)
        )
        for transform, mask, parity, context in itertools.product(
            ("affine", "spline_narrow"), ("checkerboard", "channel"), (0, 1), (0, 1)
        )
    },
    "squeeze": ImageCase(Squeeze, (2, 4, 6), out_shape=(8, 2, 3)),
    "logit": ImageCase(lambda: LogitTransform(4, 1e-6), (1, 2, 3), low=0.0, high=4.0),
    "logit_cifar_lambda": ImageCase(
        lambda: LogitTransform(4, 0.05), (5,), low=0.0, high=4.0
    ),
    "channel_batch_norm": ImageCase(lambda: ChannelBatchNorm(3), (3, 2, 2)),
    "channel_batch_norm_no_affine": ImageCase(
        lambda: ChannelBatchNorm(3, affine=False), (3, 2, 2)
    ),
    "on_leading_with_factored_out_tail": ImageCase(
        lambda: OnLeading(
            conv_coupling_step(Affine(), (2, 2, 2), "checkerboard", 1, (4,)), (2, 2, 2)
        ),
        (13,),
    ),
    "on_leading_squeeze": ImageCase(
        lambda: OnLeading(Squeeze(), (1, 2, 4), (4, 1, 2)), (11,)
    ),
    "indexed_conv": ImageCase(
        lambda: IndexedAffine.conv((2, 4, 4), 1, (4,)), (2, 4, 4), (1, 4, 4)
    ),
    **{
        f"image_flow_{scales}_scales_{norm}": ImageCase(
            lambda scales=scales, norm=norm: (
                build_image_flow(
                    (1, 4, 4),
                    n_levels=4,
                    n_scales=scales,
                    hidden_channels=(4,),
                    batch_norm=norm,
                ).transform
            ),
            (16,),
            low=0.0,
            high=4.0,
        )
        for scales, norm in (
            (1, "channel"),
            (2, "channel"),
            (2, "element"),
            (3, None),
        )
    },
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


def _image_rows(case: ImageCase) -> st.SearchStrategy:
    elements = st.floats(case.low, case.high, exclude_max=True, width=64)
    return st.integers(1, 3).flatmap(
        lambda n: arrays("float64", (n, *case.shape), elements=elements)
    )


@pytest.mark.parametrize("name", sorted(BIJECTIONS) + sorted(IMAGE_BIJECTIONS))
@settings(max_examples=25, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_inverse_and_log_det(name, data, seed):
    if name in IMAGE_BIJECTIONS:
        case = IMAGE_BIJECTIONS[name]
        x = torch.from_numpy(data.draw(_image_rows(case)))
        torch.manual_seed(seed)
        bijection = _randomise_image(case.factory()).double()
        u_shape = case.u_shape
        out_shape = (x.shape[0], *(case.out_shape or case.shape))
    else:
        x = torch.from_numpy(data.draw(rows))
        bijection, conditioned = _make(name, x.shape[1], seed)
        u_shape = (U_DIM,) if conditioned else None
        out_shape = x.shape
    n = x.shape[0]
    u = None if u_shape is None else torch.randn(n, *u_shape, dtype=torch.float64)

    z, log_det = bijection(x, u)
    assert z.shape == out_shape and log_det.shape == (n,)
    torch.testing.assert_close(bijection.inverse(z, u), x, rtol=1e-9, atol=1e-9)

    for i in range(n):
        row_u = None if u is None else u[i : i + 1]

        def single(row, row_u=row_u):
            return bijection(row[None], row_u)[0][0]

        jacobian = torch.autograd.functional.jacobian(single, x[i])
        jacobian = jacobian.reshape(x[i].numel(), x[i].numel())
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
    assert jac.shape == (d, 2, d)  # output feature, parameter, input
    jac = jac.movedim(1, 0)
    allowed = torch.ones(d, d).tril(-1).bool()
    assert (jac[:, ~allowed] == 0).all()
    # The masks themselves: paths from input j to output i exist iff j < i
    # (every allowed path exists once each layer has a unit of every degree);
    # the output units are ordered by parameter, then feature.
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
@pytest.mark.parametrize("format1", [False, True])
def test_made_single_pass_inverse_matches_naive(hidden, d, context, format1):
    """The incremental inverse equals d full passes of the network."""
    torch.manual_seed(1)
    univariate = Format1Affine() if format1 else Affine()
    step = make_step("autoregressive", univariate, d, hidden, context_features=context)
    step = _randomise(step).double()
    z = torch.randn(10, d, dtype=torch.float64)
    c = torch.randn(10, context, dtype=torch.float64) if context else None
    x = torch.zeros_like(z)
    for _ in range(d):
        shift, raw = step.made(x, c).unbind(-1)
        if format1:
            x = z * torch.exp(5 * torch.tanh(raw / 5)) + shift
        else:
            x = (z - shift) * torch.exp(-raw / (1 + raw.abs() / 3))
    torch.testing.assert_close(step.inverse(z, c), x, rtol=1e-12, atol=1e-12)


def test_batch_norm_evaluation_ignores_the_scored_batch():
    layer = BatchNorm(3).double().eval()
    x = torch.randn(50, 3, dtype=torch.float64) * 4 + 7
    single = torch.stack([layer(x[i : i + 1])[0][0] for i in range(50)])
    torch.testing.assert_close(layer(x)[0], single)
    torch.testing.assert_close(
        layer(x)[0], (x - 0) / torch.sqrt(torch.tensor(1 + 1e-5))
    )


@pytest.mark.parametrize("conditioner", CONDITIONERS)
@pytest.mark.parametrize("univariate", UNIVARIATES)
def test_steps_take_images(conditioner, univariate):
    """A step on ``(N, C, H, W)`` with an image-shaped context is the step on
    the rows flattened over ``C H W``."""
    torch.manual_seed(0)
    shape, u_shape = (2, 3, 2), (1, 3, 2)
    features, u_features = 12, 6
    step = make_step(
        conditioner,
        make_univariate(univariate, (16,)),
        features,
        (16,),
        context_features=u_features,
        layer=1,
    )
    step = _randomise(step).double()
    x = torch.randn(5, *shape, dtype=torch.float64)
    u = torch.randn(5, *u_shape, dtype=torch.float64)
    z, log_det = step(x, u)
    flat_z, flat_log_det = step(x.flatten(1), u.flatten(1))
    assert z.shape == x.shape
    assert torch.equal(z.flatten(1), flat_z) and torch.equal(log_det, flat_log_det)
    x_back = step.inverse(z, u)
    assert x_back.shape == x.shape
    assert torch.equal(x_back.flatten(1), step.inverse(flat_z, u.flatten(1)))


def test_step_refuses_a_made_of_the_wrong_width():
    with pytest.raises(ValueError, match="parameters per feature"):
        AutoregressiveStep(make_univariate("spline", (8,)), MADE(3, (8,), 2))


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="unknown conditioner 'conv'"):
        make_step("conv", Affine(), 3, (8,))
    with pytest.raises(ValueError, match="unknown univariate 'cubic'"):
        make_univariate("cubic", (8,))
    with pytest.raises(ValueError, match="unknown univariate 'cubic'"):
        build_flow(3, univariate="cubic")


@pytest.mark.parametrize("conditioner", CONDITIONERS)
def test_format1_forms_replace_the_affine_transforms_only(conditioner):
    """``restore_forms`` gives a model of a format-1 file format 1's affine
    map, ``z = (x - shift) * exp(-5 tanh(raw / 5))``, and leaves its weights,
    its spline steps and models of format 2 alone."""
    torch.manual_seed(0)
    model = build_lgf(3, 2, (8,), conditioner=conditioner, univariate="affine")
    keys = list(model.state_dict())
    restore_forms(model, 2)
    assert sum(isinstance(m, Affine) for m in model.modules()) == 2
    restore_forms(model, 1)
    steps = [
        m for m in model.modules() if isinstance(m, AutoregressiveStep | CouplingStep)
    ]
    assert len(steps) == 2
    assert all(type(step.univariate) is Format1Affine for step in steps)
    assert not any(isinstance(m, Affine) for m in model.modules())
    assert list(model.state_dict()) == keys

    step = _randomise(steps[0]).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    flat = x if conditioner == "autoregressive" else x[:, step.changed]
    params = (
        step.made(x)
        if conditioner == "autoregressive"
        else step.conditioner(x[:, step.kept])
    )
    shift, raw = params.unbind(-1)
    z, log_det = step(x)
    expected = (flat - shift) * torch.exp(-5 * torch.tanh(raw / 5))
    changed = z if conditioner == "autoregressive" else z[:, step.changed]
    torch.testing.assert_close(changed, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(
        log_det, -(5 * torch.tanh(raw / 5)).sum(-1), rtol=1e-12, atol=1e-12
    )

    spline = build_flow(3, 2, (8,), univariate="spline")
    restore_forms(spline, 1)
    assert not any(isinstance(m, Format1Affine) for m in spline.modules())
