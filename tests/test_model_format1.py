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

from sklearn_lgf.model_io import load_model

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("name", ["maf", "lgf", "lgf_conditioner"])
def test_format1_file_loads_and_gives_the_same_results(name):
    expected = np.load(DATA / "format1_expected.npz")
    model = load_model(DATA / f"format1_{name}.pt", device="cpu")
    X = expected["X"]
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
            model.elbo(X), expected[f"{name}_elbo"], rtol=1e-5, atol=1e-6
        )
