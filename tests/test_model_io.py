"""Tests for :mod:`sklearn_lgf.model_io`: pickle-free saving and loading."""

from __future__ import annotations

import os
import pickle
import shlex
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

from sklearn_lgf import LGFDensity, MAFDensity
from sklearn_lgf.model_io import FORMAT_MARKER, load_model, save_model

# The fits stop at max_iter=3 on purpose.
pytestmark = pytest.mark.usefixtures("tiny_budget")

TINY = {
    "n_layers": 2,
    "hidden_layer_sizes": (16,),
    "max_iter": 3,
    "device": "cpu",
    "random_state": 0,
}
LGF_TINY = {
    **TINY,
    "univariate": "affine",
    "u_dim": 1,
    "pq_hidden_layer_sizes": (8, 8),
    "st_hidden_layer_sizes": (4,),
    "n_importance_samples": 7,
}


def _data(n: int = 300, seed: int = 0) -> np.ndarray:
    rng = np.random.RandomState(seed)
    return np.column_stack([rng.normal(2.0, 3.0, n), rng.gamma(2.0, 1.0, n)])


@pytest.fixture(scope="module", params=["maf", "lgf", "maf-spline", "lgf-spline"])
def fitted(request):
    spline = {"univariate": "spline", "n_bins": 5} if "spline" in request.param else {}
    if request.param.startswith("maf"):
        return MAFDensity(**TINY, **spline).fit(_data())
    return LGFDensity(**{**LGF_TINY, **spline}).fit(_data())


FITTED_ATTRIBUTES = [
    "n_features_in_",
    "n_iter_",
    "loss_curve_",
    "validation_scores_",
    "best_validation_score_",
    "_noise_seed",
]


def test_round_trip_is_exact(fitted, tmp_path):
    path = tmp_path / "model.pt"
    save_model(fitted, path)
    loaded = load_model(path)

    assert type(loaded) is type(fitted)
    assert loaded.get_params() == fitted.get_params()
    X = _data(50, seed=1)
    np.testing.assert_array_equal(loaded.score_samples(X), fitted.score_samples(X))
    np.testing.assert_array_equal(
        loaded.sample(20, random_state=0), fitted.sample(20, random_state=0)
    )
    for name in FITTED_ATTRIBUTES:
        assert getattr(loaded, name) == getattr(fitted, name), name
        assert type(getattr(loaded, name)) is type(getattr(fitted, name)), name
    for name in ["location_", "scale_", "grid_spacing_"]:
        value = getattr(loaded, name)
        assert isinstance(value, np.ndarray) and value.dtype == np.float64
        np.testing.assert_array_equal(value, getattr(fitted, name))
    assert isinstance(loaded.loss_curve_, list)
    assert all(isinstance(v, float) for v in loaded.loss_curve_)
    assert not hasattr(loaded, "feature_names_in_")
    assert not loaded.model_.training
    for key, tensor in fitted.model_.state_dict().items():
        assert torch.equal(loaded.model_.state_dict()[key], tensor), key


def test_file_is_plain_data(fitted, tmp_path):
    path = tmp_path / "model.pt"
    save_model(fitted, path)
    payload = torch.load(path, map_location="cpu", weights_only=True)
    assert payload["format"] == FORMAT_MARKER
    assert payload["class"] == type(fitted).__name__
    assert payload["params"]["hidden_layer_sizes"] == [16]
    assert payload["fitted"]["location_"].dtype == torch.float64
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temp files


def test_load_leaves_global_torch_rng_alone(fitted, tmp_path):
    path = tmp_path / "model.pt"
    save_model(fitted, path)
    before = torch.random.get_rng_state()
    load_model(path)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_feature_names_round_trip(tmp_path):
    X = pd.DataFrame(_data(), columns=["height", "weight"])
    maf = MAFDensity(**TINY).fit(X)
    path = tmp_path / "named.pt"
    save_model(maf, path)
    loaded = load_model(path)
    assert loaded.feature_names_in_.dtype == object
    assert list(loaded.feature_names_in_) == ["height", "weight"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no feature-name warning with a DataFrame
        np.testing.assert_array_equal(loaded.score_samples(X), maf.score_samples(X))


def test_params_are_restored_with_their_types(tmp_path):
    lgf = LGFDensity(
        **{**LGF_TINY, "random_state": np.random.RandomState(3), "batch_size": 64}
    )
    lgf.fit(_data())
    path = tmp_path / "lgf.pt"
    save_model(lgf, path)
    loaded = load_model(path)
    params = loaded.get_params()
    assert params["random_state"] is None  # a RandomState is not stored
    assert params["hidden_layer_sizes"] == (16,)
    assert params["pq_hidden_layer_sizes"] == (8, 8)
    assert params["batch_size"] == 64
    assert params["device"] == "cpu"
    np.testing.assert_array_equal(
        loaded.score_samples(_data(20)), lgf.score_samples(_data(20))
    )


def _discrete_data(n: int = 300, seed: int = 0) -> np.ndarray:
    rng = np.random.RandomState(seed)
    return np.column_stack([_data(n, seed), rng.rand(n) < 0.2, rng.poisson(3.0, n)])


@pytest.mark.parametrize("Estimator", [MAFDensity, LGFDensity])
@pytest.mark.parametrize("dequantise", ["auto", (0.0, 0.0, 1.0, 0.5)])
def test_a_model_with_discrete_features_round_trips(tmp_path, Estimator, dequantise):
    settings = TINY if Estimator is MAFDensity else LGF_TINY
    est = Estimator(**settings, dequantise=dequantise).fit(_discrete_data())
    assert (est.grid_spacing_ > 0).sum() == 2
    path = tmp_path / "model.pt"
    save_model(est, path)
    loaded = load_model(path)
    assert loaded.get_params() == est.get_params()
    np.testing.assert_array_equal(loaded.grid_spacing_, est.grid_spacing_)
    X = _discrete_data(50, seed=1)
    np.testing.assert_array_equal(loaded.score_samples(X), est.score_samples(X))


def test_a_file_from_before_dequantisation_loads_as_it_was_fitted(tmp_path):
    # Such a file has neither the parameter nor the fitted spacings: its
    # model took discrete features as they are, and still does.
    old = MAFDensity(**TINY, dequantise=None).fit(_discrete_data())
    path = tmp_path / "old.pt"
    save_model(old, path)
    payload = torch.load(path, weights_only=True)
    del payload["params"]["dequantise"], payload["fitted"]["grid_spacing_"]
    torch.save(payload, path)
    loaded = load_model(path)
    assert loaded.get_params()["dequantise"] is None
    np.testing.assert_array_equal(loaded.grid_spacing_, np.zeros(4))
    X = _discrete_data(50, seed=1)
    np.testing.assert_array_equal(loaded.score_samples(X), old.score_samples(X))


@pytest.mark.parametrize("value", [-1.0, np.nan, np.inf])
def test_bad_grid_spacings_are_refused(tmp_path, value):
    maf = MAFDensity(**TINY).fit(_data())
    path = tmp_path / "maf.pt"
    save_model(maf, path)
    payload = torch.load(path, weights_only=True)
    payload["fitted"]["grid_spacing_"] = torch.tensor([0.0, value], dtype=torch.float64)
    torch.save(payload, path)
    with pytest.raises(
        ValueError, match="not an sklearn-lgf model file.*grid_spacing_"
    ):
        load_model(path)
    payload["fitted"]["grid_spacing_"] = torch.zeros(3, dtype=torch.float64)
    torch.save(payload, path)
    with pytest.raises(ValueError, match="grid_spacing_"):
        load_model(path)


def test_device_override(tmp_path):
    maf = MAFDensity(**{**TINY, "device": torch.device("cpu")}).fit(_data())
    path = tmp_path / "maf.pt"
    save_model(maf, path)
    assert load_model(path).device == "cpu"
    assert load_model(path, device="auto").device == "auto"


def test_overwrite_keeps_file_whole(tmp_path):
    maf = MAFDensity(**TINY).fit(_data())
    path = tmp_path / "maf.pt"
    path.write_bytes(b"old content")
    save_model(maf, path)
    assert isinstance(load_model(path), MAFDensity)


# ------------------------------------------------------------------ errors


class _Exploit:
    """Unpickling this runs ``touch marker``."""

    def __init__(self, marker: os.PathLike) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


def test_malicious_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"format": FORMAT_MARKER, "x": _Exploit(marker)}))

    with pytest.raises(ValueError, match="not an sklearn-lgf model file") as info:
        load_model(path)
    assert str(path) in str(info.value)
    assert not marker.exists()

    # The payload is live: plain pickle would have run it.
    with open(path, "rb") as handle:
        pickle.load(handle)
    assert marker.exists()


def test_malicious_torch_file_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format": FORMAT_MARKER, "class": _Exploit(marker)}, path)
    with pytest.raises(ValueError, match="not an sklearn-lgf model file"):
        load_model(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "not an sklearn-lgf model file"),
        (b"garbage bytes \x00\x01\x02", "not an sklearn-lgf model file"),
        (b"PK\x03\x04 truncated zip", "truncated or corrupted"),
    ],
    ids=["empty", "garbage", "truncated-zip"],
)
def test_garbage_is_refused(tmp_path, content, reason):
    path = tmp_path / "garbage.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=reason) as info:
        load_model(path)
    assert str(path) in str(info.value)


def _one_line_damage(path) -> str:
    with pytest.raises(ValueError) as info:
        load_model(path)
    message = str(info.value)
    assert "\n" not in message and repr(str(path)) in message
    assert "truncated or corrupted, not a readable sklearn-lgf model" in message
    assert "miniz" not in message and "PytorchStreamReader" not in message
    return message


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_truncated_model_file(fitted, tmp_path, keep):
    path = tmp_path / "model.pt"
    save_model(fitted, path)
    content = path.read_bytes()
    path.write_bytes(content[: int(len(content) * keep)])
    assert "cut short" in _one_line_damage(path)


def test_corrupted_model_file(fitted, tmp_path):
    # One changed byte inside the pickled payload or a tensor's data: torch
    # itself would load it (and give another model) or fail obscurely; the
    # CRC-32 of the member says which one is damaged.
    import zipfile

    path = tmp_path / "model.pt"
    save_model(fitted, path)
    content = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        member = next(i for i in archive.infolist() if i.filename.endswith("/0"))
    # Local header: 30 bytes plus the name and extra field, then the data.
    name_length = int.from_bytes(content[member.header_offset + 26 :][:2], "little")
    extra_length = int.from_bytes(content[member.header_offset + 28 :][:2], "little")
    start = member.header_offset + 30 + name_length + extra_length
    content[start] ^= 0x01
    path.write_bytes(bytes(content))
    message = _one_line_damage(path)
    assert f"Bad CRC-32 for file {member.filename!r}" in message


def test_invalid_parameters_are_refused(tmp_path):
    maf = MAFDensity(**TINY).fit(_data())
    path = tmp_path / "maf.pt"
    save_model(maf, path)
    payload = torch.load(path, weights_only=True)
    payload["params"]["n_layers"] = 0
    torch.save(payload, path)
    with pytest.raises(ValueError, match="not an sklearn-lgf model file.*n_layers"):
        load_model(path)


@pytest.mark.parametrize(
    "payload, reason",
    [
        ({"weights": torch.zeros(3)}, "marker"),
        ([1, 2, 3], "marker"),
        ({"format": FORMAT_MARKER, "format_version": 1, "class": "os.system"}, "class"),
        ({"format": FORMAT_MARKER, "format_version": 99}, "newer"),
    ],
    ids=["other-dict", "list", "unknown-class", "newer-version"],
)
def test_other_torch_files_are_refused(tmp_path, payload, reason):
    path = tmp_path / "other.pt"
    torch.save(payload, path)
    with pytest.raises(ValueError, match=reason):
        load_model(path)


def test_mismatched_weights_are_refused(tmp_path):
    maf = MAFDensity(**TINY).fit(_data())
    path = tmp_path / "maf.pt"
    save_model(maf, path)
    payload = torch.load(path, weights_only=True)
    payload["params"]["hidden_layer_sizes"] = [17]
    torch.save(payload, path)
    with pytest.raises(ValueError, match="not an sklearn-lgf model file"):
        load_model(path)


def test_missing_file(tmp_path):
    path = tmp_path / "absent.pt"
    with pytest.raises(FileNotFoundError, match="absent.pt"):
        load_model(path)


def test_unfitted_is_refused(tmp_path):
    path = tmp_path / "unfitted.pt"
    with pytest.raises(NotFittedError):
        save_model(LGFDensity(), path)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_other_estimators_are_refused(tmp_path):
    from sklearn.neighbors import KernelDensity

    with pytest.raises(TypeError, match="MAFDensity and LGFDensity"):
        save_model(KernelDensity().fit(_data()), tmp_path / "kde.pt")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_model_round_trip(tmp_path):
    X = _data()
    lgf = LGFDensity(**{**LGF_TINY, "device": "cuda"}).fit(X)
    path = tmp_path / "cuda.pt"
    save_model(lgf, path)
    payload = torch.load(path, map_location="cpu", weights_only=True)
    assert all(t.device.type == "cpu" for t in payload["state_dict"].values())
    loaded = load_model(path)
    assert loaded.device == "cuda"
    np.testing.assert_array_equal(loaded.score_samples(X), lgf.score_samples(X))
    on_cpu = load_model(path, device="cpu")
    np.testing.assert_allclose(
        on_cpu.score_samples(X), lgf.score_samples(X), rtol=0, atol=1e-4
    )
