"""``alpha``: an L2 penalty on the weight matrices, as MLPClassifier's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sklearn_lgf import LGFDensity, MAFDensity

SMALL = dict(n_layers=2, hidden_layer_sizes=(16,), max_iter=5, device="cpu")
LGF_SMALL = dict(pq_hidden_layer_sizes=(8,), st_hidden_layer_sizes=(8,))


def data():
    rng = np.random.RandomState(0)
    return np.vstack([rng.normal(-2, 0.5, (150, 2)), rng.normal(2, 0.5, (150, 2))])


def weight_norm(model: torch.nn.Module) -> float:
    return float(
        sum(p.detach().square().sum() for p in model.parameters() if p.dim() >= 2)
    )


@pytest.mark.parametrize("Estimator", [MAFDensity, LGFDensity])
def test_alpha_shrinks_the_weights(Estimator, tiny_budget):
    extra = LGF_SMALL if Estimator is LGFDensity else {}
    plain = Estimator(**SMALL, **extra, random_state=0).fit(data())
    again = Estimator(**SMALL, **extra, alpha=0.0, random_state=0).fit(data())
    strong = Estimator(**SMALL, **extra, alpha=50.0, random_state=0).fit(data())
    # alpha=0 is the unpenalised fit, bit for bit.
    np.testing.assert_array_equal(
        plain.score_samples(data()), again.score_samples(data())
    )
    assert weight_norm(strong.model_) < weight_norm(plain.model_)


@pytest.mark.parametrize("alpha", [-1.0, "big"])
def test_alpha_is_validated(alpha):
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="alpha"):
        MAFDensity(alpha=alpha).fit(data())


def test_only_weight_matrices_are_penalised():
    from sklearn_lgf.nn import build_lgf
    from sklearn_lgf.nn.training.schedule import _parameter_groups

    model = build_lgf(
        2,
        2,
        (8,),
        u_dim=1,
        batch_norm=True,
        pq_hidden_layer_sizes=(50,) * 4,
        st_hidden_layer_sizes=(10, 10),
    )
    decayed, free = _parameter_groups(model, 0.25)
    assert decayed["weight_decay"] == 0.25 and free["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decayed["params"])
    assert all(p.dim() == 1 for p in free["params"])
    assert len(decayed["params"]) + len(free["params"]) == len(list(model.parameters()))
