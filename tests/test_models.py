"""Every engine model builder (every step, flow and LGF), checked the
same way (zuko-style): the :class:`~sklearn_lgf.nn.DensityModel` interface,
shapes, sampling then scoring, gradients reaching every parameter, and
state-dict round trips."""

from __future__ import annotations

import itertools

import pytest
import torch

from sklearn_lgf.nn import (
    CONDITIONERS,
    UNIVARIATES,
    DensityModel,
    MonteCarlo,
    build_flow,
    build_lgf,
    evaluation,
    train,
)
from sklearn_lgf.nn.training import TrainingConfig

FEATURES = 3
SMALL = {"n_layers": 2, "hidden_layer_sizes": (8, 8)}
LGF_SMALL = {"u_dim": 2, "pq_hidden_layer_sizes": (8,), "st_hidden_layer_sizes": (8,)}
STEPS = list(itertools.product(CONDITIONERS, UNIVARIATES))


def flow_builder(conditioner: str, univariate: str, batch_norm: bool):
    return lambda: build_flow(
        FEATURES,
        **SMALL,
        conditioner=conditioner,
        univariate=univariate,
        batch_norm=batch_norm,
    )


def lgf_builder(conditioner: str, univariate: str, indexing: str, batch_norm: bool):
    return lambda: build_lgf(
        FEATURES,
        **SMALL,
        **LGF_SMALL,
        conditioner=conditioner,
        univariate=univariate,
        indexing=indexing,
        batch_norm=batch_norm,
    )


BUILDERS = {
    **{
        f"flow-{c}-{u}-bn{int(bn)}": flow_builder(c, u, bn)
        for (c, u), bn in itertools.product(STEPS, (False, True))
    },
    **{
        f"lgf-{c}-{u}-{indexing}-bn{int(bn)}": lgf_builder(c, u, indexing, bn)
        for (c, u), indexing, bn in itertools.product(
            STEPS, ("affine", "conditioner"), (False, True)
        )
    },
}


@pytest.fixture(params=sorted(BUILDERS))
def builder(request):
    return BUILDERS[request.param]


@pytest.fixture
def model(builder) -> DensityModel:
    torch.manual_seed(0)
    model = builder().double()
    model.monte_carlo = MonteCarlo(training_draws=2, validation_samples=3, seed=5)
    return model


# Importance samples of the scoring calls (exact models ignore them).
K = 6


def rows(n: int = 10, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, FEATURES, generator=torch.Generator().manual_seed(seed)).to(
        torch.float64
    )


def test_shapes_and_the_bound(model):
    model.eval()
    x = rows()
    with torch.no_grad():
        log_prob = model.log_prob(x, n_importance_samples=K)
        elbo = model.elbo(x, n_importance_samples=K)
        validation = model.validation_log_prob(x)
    assert log_prob.shape == elbo.shape == validation.shape == (10,)
    assert torch.isfinite(log_prob).all() and torch.isfinite(validation).all()
    if model.exact:
        assert torch.equal(elbo, log_prob)
    else:
        # Jensen, row by row, for the same draws: mean <= log-mean-exp.
        assert (elbo <= log_prob + 1e-12).all()
        assert not torch.equal(elbo, log_prob)
    assert model.training_loss(x).shape == ()


def test_sample_then_score(model):
    model.eval()
    generator = torch.Generator().manual_seed(0)
    draws = model.sample(50, generator)
    assert draws.shape == (50, FEATURES) and draws.dtype == torch.float64
    assert torch.isfinite(draws).all()
    again = model.sample(50, torch.Generator().manual_seed(0))
    assert torch.equal(draws, again)
    with torch.no_grad():
        assert torch.isfinite(model.log_prob(draws, n_importance_samples=K)).all()


def test_gradients_reach_every_parameter(model):
    model.train()
    loss = model.training_loss(rows(64), torch.Generator().manual_seed(0))
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert parameter.grad.abs().sum() > 0, name


def test_state_dict_round_trip(builder, model):
    x = rows()
    trained_once(model)
    model.eval()
    torch.manual_seed(123)
    other = builder().double()
    other.load_state_dict(model.state_dict())
    other.monte_carlo = model.monte_carlo
    other.eval()
    with torch.no_grad():
        for method in ("log_prob", "elbo"):
            mine = getattr(model, method)(x, n_importance_samples=K)
            theirs = getattr(other, method)(x, n_importance_samples=K)
            assert torch.equal(theirs, mine)


def test_a_row_does_not_depend_on_its_batch(model):
    model.eval()
    x = rows(37)
    whole = evaluation.log_prob(model, x, n_importance_samples=K)
    alone = torch.cat(
        [
            evaluation.log_prob(model, x[i : i + 1], n_importance_samples=K)
            for i in range(37)
        ]
    )
    assert torch.equal(whole, alone)


def trained_once(model: DensityModel) -> None:
    """One epoch, so that batch norms' running statistics are not the defaults."""
    train(
        model,
        rows(64),
        TrainingConfig(max_iter=1, batch_size=32, early_stopping=False),
        shuffle_generator=torch.Generator().manual_seed(0),
        noise_generator=torch.Generator().manual_seed(1),
    )


@pytest.mark.parametrize(
    "features, sizes",
    [
        (43, {}),
        (2, {"pq_hidden_layer_sizes": (16,), "st_hidden_layer_sizes": (16,)}),
    ],
)
def test_a_rows_score_does_not_depend_on_its_place_in_the_chunk(features, sizes):
    """torch's CPU sigmoid and softplus round a tensor's last partial vector
    with other code than the rest: unless scoring keeps every element on one
    code path, the rows at the end of a chunk score differently (seen with
    these shapes: the LGF's defaults at d=43, and 16-unit p/q nets at d=2)."""
    torch.manual_seed(0)
    model = build_lgf(features, 2, (32, 32), **sizes)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    model.eval()
    n_rows = model.scoring_layout(torch.device("cpu"), 100)[0]
    x = torch.randn(n_rows, features)

    def score(rows):
        return evaluation.log_prob(model, rows, n_importance_samples=100)

    whole = score(x)
    alone = torch.cat([score(x[i : i + 1]) for i in range(n_rows)])
    assert torch.equal(whole, alone)


def test_the_defaults_and_unknown_names_are_checked():
    assert repr(build_flow(FEATURES, **SMALL)) == repr(
        build_flow(FEATURES, **SMALL, conditioner="autoregressive", univariate="affine")
    )
    assert repr(build_lgf(FEATURES, **SMALL)) == repr(
        build_lgf(FEATURES, **SMALL, conditioner="autoregressive", univariate="spline")
    )
    with pytest.raises(ValueError, match="unknown conditioner 'conv'"):
        build_lgf(FEATURES, conditioner="conv")
