"""Model files written before the one-interface redesign still load.

``tests/data/format1_*.pt`` were written by ``tests/data/make_format1_files.py``
with the package as of commit 0414454 (format version 1); the expected
scores, ELBOs and samples were computed by that code from the same models.
Compared to float32 rounding rather than bit for bit, because the test may
run on another CPU than the one that computed them.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from sklearn_lgf.model_io import load_model

DATA = Path(__file__).parent / "data"


def format1_estimate(model, X, method):
    """``score_samples`` (``method="log_prob"``) or ``elbo`` as format 1
    computed them: one bank of ``K`` draws from the model's seed, shared by
    all rows."""
    engine = model._fitted_model()
    k, seed = model.n_importance_samples, engine.monte_carlo.seed
    generator = torch.Generator().manual_seed(seed)
    bank = torch.randn(k, engine.n_indexed, engine.u_dim, generator=generator)
    x = model._model_input(X)
    with torch.no_grad():
        values = getattr(engine, method)(x, bank.to(x))
    return values.double().numpy() + model._standardisation().log_det_correction


@pytest.mark.parametrize("name", ["maf", "lgf", "lgf_conditioner"])
def test_format1_file_loads_and_gives_the_same_results(name):
    expected = np.load(DATA / "format1_expected.npz")
    model = load_model(DATA / f"format1_{name}.pt", device="cpu")
    X = expected["X"]
    if name.startswith("lgf"):
        # Format 1's scores came from one bank of draws shared by all rows;
        # today's draws are each row's own, so the loaded model is checked
        # with the old bank.
        np.testing.assert_allclose(
            format1_estimate(model, X, "log_prob"),
            expected[name],
            rtol=1e-5,
            atol=1e-6,
        )
    else:
        np.testing.assert_allclose(
            model.score_samples(X), expected[name], rtol=1e-5, atol=1e-6
        )
    np.testing.assert_allclose(
        model.sample(5, random_state=1),
        expected[f"{name}_sample"],
        rtol=1e-5,
        atol=1e-6,
    )
    if name.startswith("lgf"):
        np.testing.assert_allclose(
            format1_estimate(model, X, "elbo"),
            expected[f"{name}_elbo"],
            rtol=1e-5,
            atol=1e-6,
        )
