"""The image models: the paper's layout and sizes, a density of the data in
the data's units (it integrates to one), the LGF's bounds, samples, scores
that do not depend on the batch, batch norms calibrated to the training
data, and training. Inverses and log-determinants of every image bijection
are checked in tests/test_bijections.py."""

from __future__ import annotations

import math

import pytest
import torch

from sklearn_lgf.nn import (
    LGF,
    BatchNorm,
    Flow,
    LGFLayer,
    OnLeading,
    TrainingConfig,
    build_image_flow,
    build_image_lgf,
    collapse_diagnostics,
    evaluation,
    multiscale_layout,
    train,
)
from sklearn_lgf.nn.bijections import PooledMoments, calibrate_batch_norms
from sklearn_lgf.nn.image_models import CouplingAt, SqueezeAt

SMALL = dict(n_levels=4, hidden_channels=(4,))
SMALL_LGF = dict(
    n_levels=4,
    hidden_channels=(4,),
    pq_hidden_channels=(4,),
    st_hidden_channels=(4,),
)


KINDS = ["flow", "lgf"]


def _small(kind: str, shape: tuple[int, int, int] = (1, 4, 4), **extra) -> Flow | LGF:
    """A small image flow or LGF-RealNVP on ``shape`` with 4 levels."""
    if kind == "flow":
        return build_image_flow(shape, **SMALL, **extra)
    return build_image_lgf(shape, **SMALL_LGF, **extra)


def _layers(model: Flow | LGF) -> list[torch.nn.Module]:
    """The model's layers, data side first."""
    return list(model.transform.bijections if isinstance(model, Flow) else model.layers)


def _n_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _perturb_statistics(model: torch.nn.Module) -> torch.nn.Module:
    """Running statistics away from 0 and 1, so that evaluation-mode batch
    norms are not close to the identity."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d | BatchNorm):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.8, 1.25)
    return model


def _toy_images(n: int, levels: int = 4, seed: int = 0) -> torch.Tensor:
    """Dequantised 1 x 4 x 4 images: a bright left half, a dark right one,
    and one random pixel level of noise, as flat rows."""
    generator = torch.Generator().manual_seed(seed)
    base = torch.zeros(1, 4, 4)
    base[..., :2] = levels - 2
    noise = torch.randint(0, 2, (n, 1, 4, 4), generator=generator)
    dequantise = torch.rand(n, 1, 4, 4, generator=generator)
    return (base + noise + dequantise).reshape(n, -1)


# ------------------------------------------------------------ layout, sizes
def test_layout_is_the_papers_multiscale_realnvp():
    layout = multiscale_layout((1, 28, 28))
    couplings = [at for at in layout if isinstance(at, CouplingAt)]
    assert len(couplings) == 10
    assert [type(at) for at in layout].index(SqueezeAt) == 3
    assert [(at.shape, at.mask, at.parity) for at in couplings] == [
        ((1, 28, 28), "checkerboard", 1),
        ((1, 28, 28), "checkerboard", 0),
        ((1, 28, 28), "checkerboard", 1),
        ((4, 14, 14), "channel", 1),
        ((4, 14, 14), "channel", 0),
        ((4, 14, 14), "channel", 1),
        ((2, 14, 14), "checkerboard", 1),
        ((2, 14, 14), "checkerboard", 0),
        ((2, 14, 14), "checkerboard", 1),
        ((2, 14, 14), "checkerboard", 0),
    ]
    assert (
        len(
            [
                at
                for at in multiscale_layout((3, 32, 32), 3)
                if isinstance(at, CouplingAt)
            ]
        )
        == 16
    )
    with pytest.raises(ValueError, match="even height and width"):
        multiscale_layout((1, 6, 6), 3)


@pytest.mark.parametrize(
    "build, expected",
    [
        # The paper's Table 2 (Fashion-MNIST): 2.99M, 5.94M and 5.99M. Its
        # RealNVPs have the LGF paper code's batch norm, one statistic per
        # pixel; per channel they have 12,498 parameters fewer.
        (
            lambda: build_image_flow(
                (1, 28, 28), hidden_channels=(64,) * 4, batch_norm="element"
            ),
            2_985_220,
        ),
        (lambda: build_image_flow((1, 28, 28), batch_norm="element"), 5_944_580),
        (lambda: build_image_flow((1, 28, 28), hidden_channels=(64,) * 4), 2_972_722),
        (lambda: build_image_flow((1, 28, 28)), 5_932_082),
        (lambda: build_image_lgf((1, 28, 28)), 5_988_752),
        (lambda: build_image_lgf((1, 28, 28), batch_norm=True), 5_988_752),
    ],
)
def test_parameter_counts_at_the_papers_sizes(build, expected):
    assert _n_parameters(build()) == expected


def test_a_flat_row_is_the_image_in_c_order():
    """Entry ``c H W + h W + w`` of a row is pixel ``(c, h, w)``: the first
    coupling keeps the pixels with ``(h + w) % 2 == 1``, and only their
    (logit-transformed) values pass through it unchanged."""
    torch.manual_seed(0)
    flow = build_image_flow((2, 4, 4), **SMALL).double().eval()
    logit, coupling = flow.transform.bijections[:2]
    images = 4 * torch.rand(3, 2, 4, 4, dtype=torch.float64)
    y, _ = logit(images.reshape(3, -1))
    z, _ = coupling(y)
    h = torch.arange(4)[:, None]
    w = torch.arange(4)[None, :]
    kept = ((h + w) % 2 == 1).expand(2, 4, 4)
    y, z = y.view(3, 2, 4, 4), z.view(3, 2, 4, 4)
    assert torch.equal(z[:, kept], y[:, kept])
    assert (z[:, ~kept] != y[:, ~kept]).all()


def test_factored_out_channels_reach_the_base_unchanged():
    """After the first scale the second half of the squeezed channels is no
    later layer's input: the rest of the flow leaves those entries alone."""
    torch.manual_seed(0)
    flow = _perturb_statistics(build_image_flow((1, 4, 4), **SMALL)).double().eval()
    layers = list(flow.transform.bijections)
    # logit, 3 x (coupling, norm), squeeze, 3 x (coupling, norm): 14 layers
    x = 4 * torch.rand(5, 16, dtype=torch.float64)
    y = x
    for layer in layers[:14]:
        y, _ = layer(y)
    z, _ = flow.transform(x)
    assert layers[14].shape == (2, 2, 2) and isinstance(layers[14], OnLeading)
    assert torch.equal(z[:, 8:], y[:, 8:])
    assert not torch.equal(z[:, :8], y[:, :8])


# ----------------------------------------------------------------- density
def test_exact_image_flow_integrates_to_one():
    """``p(x)`` of a 1 x 2 x 2 image with 2 levels over the model's support,
    ``(a, 2 - a)^4`` with ``a = -2 lambda / (1 - 2 lambda)`` (``[0, 2)^4`` to
    within 2e-6), by the trapezoid rule after ``x = a + (2 - 2 a)
    sigmoid(sinh(v))`` in each coordinate: the substitution puts the nodes
    where the mass is, and a wrong log-determinant anywhere, the logit's
    included, would move the integral away from one."""
    torch.manual_seed(0)
    flow = build_image_flow((1, 2, 2), n_levels=2, hidden_channels=(4,))
    flow = _perturb_statistics(flow).double().eval()
    lam, n = 1e-6, 2
    low, width = -n * lam / (1 - 2 * lam), n / (1 - 2 * lam)
    v = torch.linspace(-3.1, 3.1, 21, dtype=torch.float64)
    t = torch.sinh(v)
    s = torch.sigmoid(t)
    nodes = low + width * s
    weights = width * s * (1 - s) * torch.cosh(v) * (v[1] - v[0])
    grid = torch.cartesian_prod(nodes, nodes, nodes, nodes)
    volume = torch.cartesian_prod(weights, weights, weights, weights).prod(1)
    log_p = evaluation.log_prob(flow, grid)
    integral = (log_p.exp() * volume).sum().item()
    assert integral == pytest.approx(1.0, abs=1e-3)


def test_lgf_elbo_is_below_the_importance_estimate():
    torch.manual_seed(0)
    model = build_image_lgf((1, 4, 4), **SMALL_LGF).double().eval()
    x = _toy_images(6).double()
    for k in (1, 4, 32):
        elbo = model.elbo(x, n_importance_samples=k)
        importance = model.log_prob(x, n_importance_samples=k)
        assert torch.isfinite(importance).all()
        if k == 1:
            torch.testing.assert_close(elbo, importance)
        else:
            assert (elbo < importance).all()
    assert model.noise_shape == (3 * 16 + 7 * 4,)
    assert model.u_shapes[0] == (1, 4, 4) and model.u_shapes[-1] == (1, 2, 2)


def test_lgf_u_reaches_every_layer_with_its_own_shape():
    """Each indexed layer takes its share of the noise as its ``u``; moving
    one layer's share moves the weights."""
    torch.manual_seed(0)
    model = build_image_lgf((1, 4, 4), **SMALL_LGF).double().eval()
    x = _toy_images(2).double()
    noise = torch.randn(2, *model.noise_shape, dtype=torch.float64)
    base = model.log_weights(x, noise)
    start = 0
    for shape in model.u_shapes:
        size = math.prod(shape)
        moved = noise.clone()
        moved[:, start : start + size] += 0.5
        assert (model.log_weights(x, moved) != base).all()
        start += size
    assert start == noise.shape[1]


@pytest.mark.parametrize("kind", KINDS)
def test_samples_have_the_image_shape_and_the_data_range(kind):
    torch.manual_seed(0)
    model = _small(kind, (2, 4, 4)).eval()
    generator = torch.Generator().manual_seed(1)
    samples = model.sample(300, generator)
    assert samples.shape == (300, 32)
    assert torch.isfinite(samples).all()
    assert (samples >= 0).all() and (samples < 4).all()


@pytest.mark.parametrize("kind", KINDS)
def test_scores_do_not_depend_on_the_batch_or_the_order(kind):
    """In evaluation mode (the conv nets' batch norms on running statistics)
    a row's score is the same alone, in any batch and at any position."""
    torch.manual_seed(0)
    model = _perturb_statistics(_small(kind)).eval()
    score = {} if kind == "flow" else {"n_importance_samples": 8}
    x = _toy_images(40)
    full = evaluation.log_prob(model, x, **score)
    order = torch.randperm(40)
    assert torch.equal(evaluation.log_prob(model, x[order], **score), full[order])
    assert torch.equal(evaluation.log_prob(model, x[7:19], **score), full[7:19])
    single = torch.cat(
        [evaluation.log_prob(model, x[i : i + 1], **score) for i in range(5)]
    )
    assert torch.equal(single, full[:5])


# ------------------------------------------------------------- batch norms
def _inputs_of_batch_norms(model: torch.nn.Module, x: torch.Tensor, run) -> dict:
    """What every batch norm (the flow's and the conv nets') receives while
    ``run(x)`` runs."""
    seen: dict[torch.nn.Module, list[torch.Tensor]] = {}
    hooks = [
        m.register_forward_pre_hook(
            lambda module, inputs: seen.setdefault(module, []).append(inputs[0])
        )
        for m in model.modules()
        if isinstance(m, torch.nn.BatchNorm2d | BatchNorm)
    ]
    try:
        with torch.no_grad():
            run(x)
    finally:
        for hook in hooks:
            hook.remove()
    return seen


def _channel_moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    axes = [0, *range(2, x.dim())]
    return x.mean(axes), x.var(axes, unbiased=False)


@pytest.mark.parametrize("kind", KINDS)
def test_calibration_sets_every_batch_norm_to_the_statistics_it_sees(kind):
    """After one calibration pass over the training rows every batch norm,
    those inside the coupling, p, q and s/t nets included, holds the exact
    mean and variance of what it receives when those rows are scored."""
    torch.manual_seed(0)
    extra = {} if kind == "flow" else {"batch_norm": True}
    model = _small(kind, **extra).double().eval()
    x = _toy_images(50).double()
    noise = (
        None
        if kind == "flow"
        else torch.randn(
            50,
            *model.noise_shape,
            generator=torch.Generator().manual_seed(3),
            dtype=torch.float64,
        )
    )

    def score(rows):
        return model.log_prob(rows) if noise is None else model.log_weights(rows, noise)

    calibrate_batch_norms(model, lambda: score(x))
    assert not any(m.training for m in model.modules())
    seen = _inputs_of_batch_norms(model, x, score)
    assert len(seen) > 20 and any(isinstance(m, torch.nn.BatchNorm2d) for m in seen)
    for module, (inputs,) in seen.items():
        if isinstance(module, BatchNorm) and inputs.dim() == 2:
            mean, var = inputs.mean(0), inputs.var(0, unbiased=False)
        else:
            mean, var = _channel_moments(inputs)
        torch.testing.assert_close(module.running_mean, mean, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(module.running_var, var, rtol=1e-10, atol=1e-12)


def test_calibration_in_passes_pools_what_each_layer_saw():
    """Calibrated in several passes, each batch norm holds the mean and
    variance of everything it received over the passes."""
    torch.manual_seed(0)
    model = build_image_flow((1, 4, 4), **SMALL).double().eval()
    x = _toy_images(60).double()
    passes = list(x.tensor_split(3))
    seen: dict = {}
    hooks = [
        m.register_forward_pre_hook(
            lambda module, inputs: seen.setdefault(module, []).append(inputs[0].clone())
        )
        for m in model.modules()
        if isinstance(m, torch.nn.BatchNorm2d | BatchNorm)
    ]
    calibrate_batch_norms(model, lambda: [model.log_prob(part) for part in passes])
    for hook in hooks:
        hook.remove()
    for module, inputs in seen.items():
        assert len(inputs) == 3
        mean, var = _channel_moments(torch.cat(inputs))
        torch.testing.assert_close(module.running_mean, mean, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(module.running_var, var, rtol=1e-10, atol=1e-12)


def test_pooled_moments_are_those_of_the_concatenation():
    generator = torch.Generator().manual_seed(0)
    parts = [
        torch.randn(m, 3, generator=generator, dtype=torch.float64) * 2 + 1
        for m in (5, 1, 12)
    ]
    pooled = PooledMoments()
    for part in parts:
        mean, var = pooled.add(part.mean(0), part.var(0, unbiased=False), part.shape[0])
    whole = torch.cat(parts)
    torch.testing.assert_close(mean, whole.mean(0))
    torch.testing.assert_close(var, whole.var(0, unbiased=False))


# ---------------------------------------------------------------- training
@pytest.mark.parametrize("kind", KINDS)
def test_training_reduces_the_loss_and_ends_calibrated(kind):
    torch.manual_seed(0)
    model = _small(kind)
    x = _toy_images(256)
    result = train(
        model,
        x,
        TrainingConfig(
            max_iter=8, batch_size=64, learning_rate_init=3e-3, early_stopping=False
        ),
        shuffle_generator=torch.Generator().manual_seed(1),
        noise_generator=torch.Generator().manual_seed(2),
    )
    assert result.divergence is None
    assert result.loss_curve[-1] < result.loss_curve[0] - 1.0
    assert not model.training
    # The conv nets' batch norms hold the training rows' statistics, not
    # their running averages: a layer of the first coupling sees the rows
    # through the logit only, so its input is known exactly.
    first = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    logit, coupling = _layers(model)[:2]
    assert first is next(
        m for m in coupling.modules() if isinstance(m, torch.nn.BatchNorm2d)
    )
    stem = coupling.bijection.conditioner.net.stem
    with torch.no_grad():
        y, _ = logit(x)
        kept = coupling.bijection.kept
        image = torch.zeros_like(y)
        image[:, kept] = y[:, kept]
        mean, var = _channel_moments(stem(image.view(-1, 1, 4, 4)))
    torch.testing.assert_close(first.running_mean, mean, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(first.running_var, var, rtol=1e-4, atol=1e-5)


def test_lgf_layers_see_their_part_of_the_row():
    """An indexed layer after the factoring out has the halved image shape,
    and its ``p`` and ``q`` nets take that many channels."""
    model = build_image_lgf((1, 4, 4), **SMALL_LGF)
    indexed = [layer for layer in model.layers if isinstance(layer, LGFLayer)]
    assert [layer.shape for layer in indexed] == [(1, 4, 4)] * 3 + [(4, 2, 2)] * 3 + [
        (2, 2, 2)
    ] * 4
    assert indexed[-1].posterior.net.stem.in_channels == 2


def test_collapse_diagnostics_take_image_lgfs():
    torch.manual_seed(0)
    model = build_image_lgf((1, 4, 4), **SMALL_LGF).eval()
    report = collapse_diagnostics(model, _toy_images(8), n_draws=4)
    assert len(report.layers) == 10
    assert all(math.isfinite(layer.log_scale_spread) for layer in report.layers)
    assert report.elbo <= report.importance


def test_builders_refuse_bad_sizes():
    with pytest.raises(ValueError, match="one positive width per residual block"):
        build_image_flow((1, 4, 4), hidden_channels=(8, 4))
    with pytest.raises(ValueError, match="pq_hidden_channels"):
        build_image_lgf((1, 4, 4), pq_hidden_channels=())
    with pytest.raises(ValueError, match="unknown batch_norm"):
        build_image_flow((1, 4, 4), batch_norm="layer")
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        build_image_flow((16,))
