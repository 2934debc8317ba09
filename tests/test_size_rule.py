"""The size rule of LGFDensity's "auto" index networks (sklearn_lgf._size_rule)."""

from __future__ import annotations

import numpy as np
import pytest

from sklearn_lgf import LGFDensity
from sklearn_lgf._size_rule import index_width
from sklearn_lgf.model_io import load_model, save_model

pytestmark = pytest.mark.usefixtures("tiny_budget")


@pytest.mark.parametrize(
    ("n_features", "width"),
    [
        (1, 32),
        (2, 32),
        (8, 32),
        (12, 32),
        (13, 32),
        (14, 32),
        (16, 32),
        (18, 32),
        (19, 64),
        (21, 64),
        (36, 64),
        (37, 128),
        (64, 128),
        (500, 128),
    ],
)
def test_the_width_is_the_power_of_two_nearest_to_two_and_a_half_d(n_features, width):
    assert index_width(n_features, None) == width
    nearest = min((32, 64, 128), key=lambda w: abs(np.log2(w / (2.5 * n_features))))
    assert width == nearest


@pytest.mark.parametrize(
    ("n_rows", "width"), [(10_000, 128), (512, 128), (300, 64), (100, 16), (10, 16)]
)
def test_few_rows_hold_the_width_back(n_rows, width):
    assert index_width(64, n_rows) == width


def test_the_digits_model_is_that_of_0_2_0():
    model = LGFDensity()._build_model(64)
    assert sum(p.numel() for p in model.parameters()) == 685_520


def test_a_fit_records_its_rows_and_builds_its_networks_from_them(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    lgf = LGFDensity(
        n_layers=1,
        hidden_layer_sizes=(8,),
        max_iter=2,
        n_importance_samples=4,
        random_state=0,
    ).fit(X)
    assert lgf.n_samples_fit_ == 200
    assert lgf._size("pq_hidden_layer_sizes", 3) == (32, 32)
    small = LGFDensity(
        n_layers=1,
        hidden_layer_sizes=(8,),
        max_iter=2,
        n_importance_samples=4,
        random_state=0,
    ).fit(X[:80])
    assert small._size("st_hidden_layer_sizes", 3) == (16, 16)
    assert sum(p.numel() for p in small.model_.parameters()) < sum(
        p.numel() for p in lgf.model_.parameters()
    )
    # A model file rebuilds the networks the fit chose, not the rule's
    # choice for other data.
    save_model(small, tmp_path / "small.pt")
    loaded = load_model(tmp_path / "small.pt")
    assert loaded.n_samples_fit_ == 80
    np.testing.assert_array_equal(
        loaded.score_samples(X[:5]), small.score_samples(X[:5])
    )


def test_a_warm_start_keeps_the_networks():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 3))
    lgf = LGFDensity(
        n_layers=1,
        hidden_layer_sizes=(8,),
        max_iter=1,
        warm_start=True,
        n_importance_samples=4,
        random_state=0,
    ).fit(X)
    shapes = {k: v.shape for k, v in lgf.model_.state_dict().items()}
    lgf.fit(np.vstack([X, rng.normal(size=(400, 3))]))
    assert {k: v.shape for k, v in lgf.model_.state_dict().items()} == shapes
    assert lgf.n_samples_fit_ == 80
