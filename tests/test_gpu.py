"""The CUDA paths: device selection, training, IS scoring and sampling on the
GPU, and models that move between devices. Skipped where there is no GPU
(CI has none); run on a GPU machine with ``python -m pytest tests/test_gpu.py``."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from sklearn_lgf import LGFDensity, MAFDensity

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
    # The fits stop at a few epochs on purpose.
    pytest.mark.usefixtures("tiny_budget"),
]

KW = dict(n_layers=2, hidden_layer_sizes=(32,), max_iter=5, random_state=0)


def data(n=2000, seed=0):
    rng = np.random.RandomState(seed)
    return np.vstack(
        [rng.normal(-2, 0.5, (n // 2, 3)), rng.normal(2, 0.5, (n // 2, 3))]
    )


@pytest.mark.parametrize("Estimator", [MAFDensity, LGFDensity])
def test_auto_picks_cuda_and_results_match_the_cpu(Estimator):
    X = data()
    gpu = Estimator(**KW).fit(X)
    assert next(gpu.model_.parameters()).is_cuda
    cpu = pickle.loads(pickle.dumps(gpu))  # pickles hold CPU tensors
    assert next(cpu.model_.parameters()).device.type == "cpu"
    cpu.set_params(device="cpu")
    np.testing.assert_allclose(cpu.score_samples(X), gpu.score_samples(X), atol=2e-3)


@pytest.mark.parametrize("Estimator", [MAFDensity, LGFDensity])
def test_scores_are_deterministic_per_row_on_the_gpu(Estimator):
    X = data()
    est = Estimator(**KW).fit(X)
    together = est.score_samples(X[:300])
    np.testing.assert_array_equal(together, est.score_samples(X[:300]))
    np.testing.assert_array_equal(together[::-1], est.score_samples(X[:300][::-1]))
    alone = np.array([est.score_samples(X[i : i + 1])[0] for i in range(5)])
    np.testing.assert_array_equal(alone, together[:5])


def test_importance_sampling_with_many_draws_on_the_gpu():
    X = data()
    est = LGFDensity(**KW, n_importance_samples=1000).fit(X)
    torch.cuda.reset_peak_memory_stats()
    scores = est.score_samples(data(20000, seed=1))
    peak_20k = torch.cuda.max_memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    est.score_samples(data(2000, seed=1))
    peak_2k = torch.cuda.max_memory_allocated()
    assert np.isfinite(scores).all()
    assert peak_20k < 1.5 * peak_2k + 2**20  # chunked: flat in the number of rows


@pytest.mark.parametrize("Estimator", [MAFDensity, LGFDensity])
def test_sampling_on_the_gpu(Estimator):
    X = data()
    est = Estimator(**KW).fit(X)
    draws = est.sample(5000, random_state=0)
    assert draws.shape == (5000, 3) and np.isfinite(draws).all()
    np.testing.assert_array_equal(draws, est.sample(5000, random_state=0))


def test_same_seed_gives_identical_gpu_fits():
    X = data()
    a, b = LGFDensity(**KW).fit(X), LGFDensity(**KW).fit(X)
    np.testing.assert_allclose(
        a.score_samples(X), b.score_samples(X), rtol=0, atol=1e-5
    )


# ------------------------------------------------------------------ images
def images(n=600, seed=0):
    """28 x 28 images of 256 levels: bright bars at random rows."""
    rng = np.random.RandomState(seed)
    x = rng.randint(0, 32, size=(n, 1, 28, 28))
    for image, row in zip(x, rng.randint(0, 24, size=n), strict=True):
        image[0, row : row + 4] = 255 - rng.randint(0, 32)
    return x.reshape(n, -1).astype(np.float64)


IMAGE_KW = dict(image_shape=(1, 28, 28), max_iter=2, random_state=0)


@pytest.mark.parametrize(
    "estimator",
    [
        MAFDensity(hidden_layer_sizes=(16,) * 2, **IMAGE_KW),
        LGFDensity(hidden_layer_sizes=(16,) * 2, n_importance_samples=20, **IMAGE_KW),
    ],
    ids=["RealNVP", "LGF-RealNVP"],
)
def test_image_models_train_score_and_sample_on_the_gpu(estimator):
    X = images()
    gpu = estimator.fit(X)
    assert next(gpu.model_.parameters()).is_cuda
    scores = gpu.score_samples(X[:200])
    assert np.isfinite(scores).all()
    cpu = pickle.loads(pickle.dumps(gpu)).set_params(device="cpu")
    np.testing.assert_allclose(cpu.score_samples(X[:200]), scores, atol=5e-2)
    # More rows than a chunk of an image model holds: sampling is chunked.
    samples = gpu.sample(3000, random_state=0)
    assert samples.shape == (3000, 784)
    assert (samples >= -0.5).all() and (samples < 255.5).all()


def test_paper_size_image_models_fit_a_batch_on_the_gpu():
    X = images(200)
    for cls in (MAFDensity, LGFDensity):
        model = cls(image_shape=(1, 28, 28), max_iter=1, random_state=0).fit(X)
        assert np.isfinite(model.score_samples(X[:100])).all()
