"""MAFDensity and LGFDensity on images: ``image_shape`` and ``n_levels``.

The engine's image bijections are tested in test_image_models.py and
test_bijections.py; here, what a user of the estimators sees: rows of
pixels in, densities of the dequantised pixels in their own units out, the
paper's settings for "auto" parameters, refusals of what images cannot
take, and everything that works for tabular data (scores independent of
the other rows, model files, warm starts, memmaps, the command line).
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits

from sklearn_lgf import LGFDensity, MAFDensity
from sklearn_lgf.cli import main
from sklearn_lgf.metrics import bits_per_dimension
from sklearn_lgf.model_io import load_model, save_model
from sklearn_lgf.nn import build_image_flow, build_image_lgf

pytestmark = pytest.mark.usefixtures("tiny_budget")

SHAPE = (1, 4, 4)
LEVELS = 4
TINY = dict(max_iter=2, random_state=0, device="cpu", batch_size=32)
SMALL_LGF = dict(
    hidden_layer_sizes=(4,),
    pq_hidden_layer_sizes=(4,),
    st_hidden_layer_sizes=(2,),
    n_importance_samples=8,
)


def pixels(n: int = 120, seed: int = 0) -> np.ndarray:
    """Images of SHAPE: a bright square at a random place, some noise."""
    rng = np.random.RandomState(seed)
    images = rng.randint(0, 2, size=(n, *SHAPE)).astype(np.float64)
    for image, (r, c) in zip(images, rng.randint(0, 3, size=(n, 2)), strict=True):
        image[0, r : r + 2, c : c + 2] = LEVELS - 1
    return images.reshape(n, -1)


def maf(**params) -> MAFDensity:
    settings = dict(image_shape=SHAPE, n_levels=LEVELS, hidden_layer_sizes=(4,))
    return MAFDensity(**{**settings, **TINY, **params})


def lgf(**params) -> LGFDensity:
    settings = dict(image_shape=SHAPE, n_levels=LEVELS, **SMALL_LGF)
    return LGFDensity(**{**settings, **TINY, **params})


MAKERS = [maf, lgf]
IDS = ["MAFDensity", "LGFDensity"]


@pytest.fixture(scope="module")
def fitted():
    X = pixels()
    with pytest.warns(Warning):  # max_iter=2 stops early, by design
        return {make.__name__: make().fit(X) for make in MAKERS}


@pytest.mark.parametrize("name", ["maf", "lgf"])
def test_images_are_shifted_half_a_level_and_not_scaled(fitted, name):
    model = fitted[name]
    np.testing.assert_array_equal(model.location_, np.full(16, -0.5))
    np.testing.assert_array_equal(model.scale_, np.ones(16))
    np.testing.assert_array_equal(model.grid_spacing_, np.ones(16))


@pytest.mark.parametrize("name", ["maf", "lgf"])
def test_scores_do_not_depend_on_the_other_rows(fitted, name):
    model, X = fitted[name], pixels(20, seed=1)
    together = model.score_samples(X)
    alone = np.array([model.score_samples(X[i : i + 1])[0] for i in range(len(X))])
    np.testing.assert_allclose(alone, together, rtol=0, atol=1e-4)
    reordered = model.score_samples(X[::-1])[::-1]
    np.testing.assert_allclose(reordered, together, rtol=0, atol=1e-4)
    assert np.isfinite(together).all()


def test_elbo_is_below_the_importance_estimate(fitted):
    model, X = fitted["lgf"], pixels(30, seed=2)
    assert (model.elbo(X) <= model.score_samples(X) + 1e-5).all()


@pytest.mark.parametrize("name", ["maf", "lgf"])
def test_samples_are_continuous_pixels_in_the_data_units(fitted, name):
    samples = fitted[name].sample(50, random_state=0)
    assert samples.shape == (50, 16)
    assert (samples >= -0.5).all() and (samples < LEVELS - 0.5).all()
    assert not np.allclose(samples, np.rint(samples))  # continuous, not rounded
    again = fitted[name].sample(50, random_state=0)
    np.testing.assert_array_equal(samples, again)


def test_the_density_of_a_dequantised_exact_flow_is_that_of_its_engine_model(fitted):
    # Nothing but the half-level shift stands between the rows and the
    # engine's model: its log-density of the keyed dequantised rows is the
    # estimator's score, to float32 rounding.
    model, X = fitted["maf"], pixels(10, seed=3)
    z = model._model_input(X)
    with torch.no_grad():
        engine = model.model_.log_prob(z).double().numpy()
    np.testing.assert_allclose(model.score_samples(X), engine, rtol=0, atol=1e-4)
    dequantised = z.double().numpy() - 0.5
    assert (np.abs(dequantised - X) <= 0.5).all()
    assert not np.allclose(dequantised, X)


def test_bits_per_dimension_of_a_score(fitted):
    score = fitted["maf"].score_samples(pixels(5, seed=4))
    np.testing.assert_allclose(
        bits_per_dimension(score, 16), -score / (16 * np.log(2)), rtol=1e-12
    )


# ------------------------------------------------------------ "auto"
def _n_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_auto_is_the_papers_image_models():
    shape = (1, 28, 28)
    realnvp = MAFDensity(image_shape=shape)._build_model(784)
    expected = build_image_flow(shape, hidden_channels=(64,) * 8, batch_norm="channel")
    assert _n_parameters(realnvp) == _n_parameters(expected)
    lgf_model = LGFDensity(image_shape=shape)._build_model(784)
    # The paper's LGF-RealNVP (4) on Fashion-MNIST: 5.99M parameters.
    assert _n_parameters(lgf_model) == _n_parameters(build_image_lgf(shape))
    assert round(_n_parameters(lgf_model) / 1e6, 2) == 5.99


@pytest.mark.parametrize(
    ("shape", "scales"),
    [((1, 28, 28), 2), ((3, 32, 32), 2), ((1, 7, 8), 1), ((1, 2, 2), 2)],
)
def test_auto_scales_follow_the_shape(shape, scales):
    assert MAFDensity(image_shape=shape)._setting("n_layers") == scales


@pytest.mark.parametrize("cls", [MAFDensity, LGFDensity], ids=IDS)
def test_auto_training_settings_are_the_papers(cls):
    estimator = cls(image_shape=SHAPE)
    assert estimator._setting("learning_rate_init") == 1e-4
    assert estimator._setting("n_iter_no_change") == 50
    assert estimator._setting("max_iter") == 1000
    assert estimator._image_defaults["batch_size"] == 100
    tabular = cls()
    assert tabular._setting("learning_rate_init") == 1e-3
    assert tabular._setting("max_iter") == 200


# ------------------------------------------------------------- refusals
@pytest.mark.parametrize("make", MAKERS, ids=IDS)
@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"conditioner": "autoregressive"}, "conditioner='autoregressive'"),
        ({"dequantise": None}, "dequantise=None"),
        ({"dequantise": np.ones(16)}, "dequantise="),
    ],
)
def test_tabular_choices_are_refused(make, params, named):
    with pytest.raises(ValueError, match="is for tabular data") as error:
        make(**params).fit(pixels())
    assert named in str(error.value)


def test_conditioner_indexing_is_refused_for_images():
    with pytest.raises(ValueError, match="indexing='conditioner' is for tabular"):
        lgf(indexing="conditioner").fit(pixels())


def test_a_deprecated_autoregressive_base_is_refused_for_images():
    with pytest.raises(ValueError, match="conditioner='autoregressive' is for tab"):
        maf(base="made").fit(pixels())


@pytest.mark.parametrize("make", MAKERS, ids=IDS)
@pytest.mark.parametrize("value", [-1.0, 0.5, LEVELS])
def test_values_that_are_not_pixels_are_refused_naming_them(make, value):
    X = pixels()
    X[7, 3] = value
    with pytest.raises(ValueError, match=r"X\[7, 3\] = .* is not a pixel value"):
        make().fit(X)


def test_scoring_refuses_values_that_are_not_pixels(fitted):
    X = pixels(10)
    X[4, 2] = 2.5
    for model in fitted.values():
        with pytest.raises(ValueError, match=r"X\[4, 2\] = 2.5 is not a pixel"):
            model.score_samples(X)


@pytest.mark.parametrize("make", MAKERS, ids=IDS)
def test_the_shape_must_match_the_rows(make):
    with pytest.raises(ValueError, match="n_features=15.*takes rows of 16 pixels"):
        make().fit(pixels()[:, :15])


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"image_shape": (4, 4)}, "image_shape must be"),
        ({"image_shape": (1, 4, 0)}, "image_shape must be"),
        ({"n_layers": 4}, "n_layers=4 scales"),
        ({"hidden_layer_sizes": (4, 8)}, "hidden_layer_sizes must be one positive"),
    ],
)
def test_bad_image_settings_are_named(params, match):
    with pytest.raises(ValueError, match=match):
        maf(**params).fit(pixels())


def test_digits_need_their_number_of_levels():
    X = load_digits().data[:50]
    with pytest.raises(ValueError, match=r"= 16 is not a pixel value.*n_levels=16"):
        MAFDensity(image_shape=(1, 8, 8), n_levels=16, **TINY).fit(X)


# ------------------------------------------ what works as for tabular data
@pytest.mark.parametrize("make", MAKERS, ids=IDS)
def test_model_files_and_pickles_keep_the_scores(make, tmp_path):
    X = pixels()
    model = make().fit(X)
    expected = model.score_samples(X[:10])
    save_model(model, tmp_path / "m.pt")
    loaded = load_model(tmp_path / "m.pt")
    assert loaded.get_params()["image_shape"] == SHAPE
    np.testing.assert_array_equal(loaded.score_samples(X[:10]), expected)
    unpickled = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(unpickled.score_samples(X[:10]), expected)
    np.testing.assert_array_equal(clone(model).get_params()["image_shape"], SHAPE)


@pytest.mark.parametrize("make", MAKERS, ids=IDS)
def test_warm_start_continues(make):
    X = pixels()
    model = make(warm_start=True, early_stopping=False, max_iter=1).fit(X)
    first = {k: v.clone() for k, v in model.model_.state_dict().items()}
    model.fit(X)
    assert model.n_iter_ == 2 and len(model.loss_curve_) == 2
    changed = [
        not torch.equal(first[k], v) for k, v in model.model_.state_dict().items()
    ]
    assert any(changed)


@pytest.mark.parametrize("make", MAKERS, ids=IDS)
def test_a_memmap_fits_and_scores_as_its_rows(make, tmp_path):
    X = pixels()
    path = tmp_path / "X.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    model = make().fit(mapped)
    np.testing.assert_array_equal(model.score_samples(mapped), model.score_samples(X))
    np.testing.assert_array_equal(model.location_, np.full(16, -0.5))


def test_a_memmap_with_a_value_that_is_not_a_pixel_is_refused(tmp_path):
    X = pixels()
    X[100, 5] = 0.25
    np.save(tmp_path / "X.npy", X)
    with pytest.raises(ValueError, match=r"X\[100, 5\] = 0.25 is not a pixel"):
        maf().fit(np.load(tmp_path / "X.npy", mmap_mode="r"))


def test_the_command_line_fits_and_scores_images(tmp_path, capsys):
    data = tmp_path / "images.csv"
    np.savetxt(data, pixels(), delimiter=",", fmt="%d")
    model = tmp_path / "m.pt"
    args = ["fit", str(data), "--model", "maf", "-o", str(model), "--quiet"]
    args += ["--image-shape", "1,4,4", "--n-levels", str(LEVELS)]
    args += ["--hidden-layer-sizes", "4", "--max-iter", "1", "--random-state", "0"]
    assert main(args) == 0
    fitted = load_model(model)
    assert fitted.image_shape == (1, 4, 4) and fitted.n_levels == LEVELS
    capsys.readouterr()
    assert main(["score", str(model), str(data), "--quiet"]) == 0
    out = capsys.readouterr().out.split()
    np.testing.assert_allclose(
        np.array(out, dtype=float), fitted.score_samples(pixels()), rtol=1e-6
    )


def test_the_command_line_refuses_levels_without_a_shape(tmp_path, capsys):
    data = tmp_path / "images.csv"
    np.savetxt(data, pixels(), delimiter=",", fmt="%d")
    args = ["fit", str(data), "--model", "maf", "-o", str(tmp_path / "m.pt")]
    assert main([*args, "--n-levels", "4", "--quiet"]) == 2
    assert "--n-levels only applies with --image-shape" in capsys.readouterr().err
