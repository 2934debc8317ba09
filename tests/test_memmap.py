"""Out-of-core fitting and scoring of a numpy.memmap (data larger than memory)."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone

from sklearn_lgf import LGFDensity, MAFDensity, _dequantise, _out_of_core, _rows
from sklearn_lgf._dequantise import find_grids
from sklearn_lgf._standardise import extreme_rows, robust_location_scale, statistics
from sklearn_lgf.nn.data import BlockRows

pytestmark = [
    pytest.mark.usefixtures("tiny_budget"),
    # data() has a constant column and a row beyond the fence on purpose.
    pytest.mark.filterwarnings("ignore:Features \\[3\\] are constant:UserWarning"),
    pytest.mark.filterwarnings("ignore:MAFDensity. 1 training row lies:UserWarning"),
]

SMALL = dict(
    n_layers=2, hidden_layer_sizes=(16,), device="cpu", n_threads=1, random_state=0
)
LGF_SMALL = dict(
    SMALL,
    univariate="affine",
    pq_hidden_layer_sizes=(16,),
    st_hidden_layer_sizes=(16,),
)


def data(n: int = 3000, seed: int = 0) -> np.ndarray:
    rng = np.random.RandomState(seed)
    X = np.c_[
        rng.normal(5.0, 2.0, n),
        rng.gamma(2.0, size=n),
        (rng.rand(n) < 0.05) * rng.rand(n),  # mostly zeros: IQR 0
        np.full(n, 7.0),  # constant
    ]
    X[17] = [1e4, 1.0, 0.0, 7.0]  # beyond the fence
    return X


def memmap(tmp_path, X: np.ndarray, mode: str = "r", name: str = "X.npy"):
    path = tmp_path / name
    out = np.lib.format.open_memmap(path, mode="w+", dtype=X.dtype, shape=X.shape)
    out[:] = X
    out.flush()
    del out
    return np.load(path, mmap_mode=mode)


def test_a_memmap_is_streamed_and_an_array_is_not(tmp_path):
    X = data(100)
    M = memmap(tmp_path, X)
    assert _rows.is_memmap(M)
    assert not _rows.is_memmap(X)
    assert not _rows.is_memmap(np.asarray(M))
    assert not _rows.is_memmap(M[:, 0])  # 1-D: sklearn's errors


def test_standardisation_matches_the_in_memory_statistics(tmp_path):
    X = data()
    found = _out_of_core.scan(memmap(tmp_path, X), seed=0)
    location, scale, constant = robust_location_scale(X)
    # A file smaller than the sample: the same fence, the same rows beyond it.
    np.testing.assert_array_equal(found.extreme, np.flatnonzero(extreme_rows(X)))
    assert found.extreme.tolist() == [17]
    # The same mean and standard deviation, summed in another order.
    np.testing.assert_allclose(found.location, location, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(found.scale, scale, rtol=1e-14)
    np.testing.assert_array_equal(found.constant, constant)
    assert found.location[3] == 7.0 and found.scale[3] == 1.0


def test_a_large_file_takes_its_fence_from_a_sample(tmp_path, monkeypatch):
    X = data(20000)
    monkeypatch.setattr(_out_of_core, "SAMPLE_VALUES", 4000)  # 1000 rows
    monkeypatch.setattr(_out_of_core, "CHUNK_BYTES", 1 << 14)
    found = _out_of_core.scan(memmap(tmp_path, X), seed=0)
    location, scale, _ = robust_location_scale(X)
    # The sample decides the same rows are too far out; the statistics over
    # the rest are the in-memory ones.
    np.testing.assert_array_equal(found.extreme, np.flatnonzero(extreme_rows(X)))
    np.testing.assert_allclose(found.location, location, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(found.scale, scale, rtol=1e-13)


def discrete_data(n: int = 6000, seed: int = 0) -> np.ndarray:
    """Binary, integer, 0.1-resolution, 0.25-grid, continuous and constant
    columns, and a row far beyond the fence in the integer column."""
    rng = np.random.RandomState(seed)
    X = np.c_[
        rng.rand(n) < 0.3,
        rng.poisson(4.0, n),
        np.round(rng.normal(50.0, 10.0, n), 1),
        0.25 * rng.randint(-20, 20, n),
        rng.normal(size=n),
        np.full(n, 2.0),
    ].astype(float)
    X[41, 1] = 1e7  # a typing error: it would stretch the grid past MAX_CELLS
    return X


@pytest.mark.filterwarnings("ignore:Features \\[5\\] are constant:UserWarning")
@pytest.mark.filterwarnings("ignore:MAFDensity. 1 training row lies:UserWarning")
def test_grid_spacings_match_the_in_memory_ones(tmp_path, monkeypatch):
    X = discrete_data()
    expected = statistics(X, grids=True).spacing
    kept = np.delete(X, 41, axis=0)
    np.testing.assert_array_equal(expected, find_grids(kept)[0])
    np.testing.assert_allclose(expected, [1.0, 1.0, 0.1, 0.25, 0.0, 0.0], rtol=1e-9)
    # Read in chunks of 100 rows, each column checked from its 8th value on:
    # the continuous column is dropped early, the others kept to the end.
    monkeypatch.setattr(_out_of_core, "CHUNK_BYTES", 100 * 6 * 8)
    monkeypatch.setattr(_dequantise, "FIRST_CHECK", 8)
    M = memmap(tmp_path, X)
    found = _out_of_core.scan(M, seed=0, grids=True)
    assert found.extreme.tolist() == [41]
    np.testing.assert_array_equal(found.spacing, expected)
    assert _out_of_core.scan(M, seed=0).spacing is None  # only when asked
    est = MAFDensity(**SMALL, max_iter=1).fit(M)
    np.testing.assert_array_equal(est.grid_spacing_, expected)
    in_memory = MAFDensity(**SMALL, max_iter=1).fit(X)
    np.testing.assert_array_equal(in_memory.grid_spacing_, expected)
    np.testing.assert_array_equal(est.score_samples(M), est.score_samples(X))


def test_a_grid_scan_drops_a_column_once_it_is_off_every_grid():
    rng = np.random.RandomState(0)
    scan = _dequantise.GridScan(2)
    for _ in range(5):
        scan.add(np.c_[rng.randint(0, 3, 50), rng.normal(size=50)].astype(float))
    assert scan.values[1] is None and len(scan.values[0]) == 3
    spacing, offset = scan.result()
    np.testing.assert_array_equal(spacing, [1.0, 0.0])
    assert offset[0] == 0.0


def test_row_permutation_is_a_permutation():
    for n in (1, 2, 3, 1000, 4097):
        image = _out_of_core.RowPermutation(n, seed=n)(np.arange(n))
        np.testing.assert_array_equal(np.sort(image), np.arange(n))
    image = _out_of_core.RowPermutation(1000, seed=0)(np.arange(1000))
    assert not np.array_equal(image, np.arange(1000))
    # About as many held-out rows in each half of the file.
    assert 30 <= np.sum(image[:500] < 100) <= 70


def test_block_rows_visit_every_row_once_per_epoch():
    values = torch.arange(1000, dtype=torch.float32)[:, None]
    sizes = [7, 0, 300, 93, 600]  # blocks with different numbers of rows
    edges = np.cumsum([0, *sizes])
    blocks = [values[edges[i] : edges[i + 1]] for i in range(len(sizes))]
    rows = BlockRows(
        lambda chosen: torch.cat([blocks[b] for b in chosen]),
        len(sizes),
        1000,
        1,
        window_blocks=2,
        seed=0,
        device=torch.device("cpu"),
    )
    generator = torch.Generator().manual_seed(0)
    epochs = []
    for _ in range(2):
        batches = list(rows.epoch_batches(64, generator))
        assert [len(b) for b in batches] == [64] * 15 + [40]
        seen = torch.cat(batches)[:, 0]
        assert torch.equal(seen.sort().values, values[:, 0])
        epochs.append(seen)
    assert not torch.equal(epochs[0], epochs[1])
    assert torch.equal(torch.cat(list(rows.batches(300)))[:, 0], values[:, 0])
    assert torch.equal(rows.head(50), rows.head(50)) and len(rows.head(50)) == 50


@pytest.mark.parametrize("Estimator", [MAFDensity, LGFDensity])
def test_fit_and_score_a_memmap(tmp_path, Estimator):
    X = data()
    M = memmap(tmp_path, X)
    params = SMALL if Estimator is MAFDensity else LGF_SMALL
    with pytest.warns(UserWarning, match=r"1 training row lies .* X\[17, 0\] = 10000"):
        est = Estimator(**params, max_iter=3).fit(M)
    assert est.n_features_in_ == 4 and est.n_iter_ == 3
    assert len(est.validation_scores_) == 3
    assert np.isfinite(est.loss_curve_).all()
    assert np.isfinite(est.validation_scores_).all()
    scores = est.score_samples(M)
    assert scores.shape == (len(X),) and np.isfinite(scores).all()
    np.testing.assert_array_equal(scores, est.score_samples(np.asarray(M)))
    with_std = est.score_samples(M, return_std=True)
    for streamed, loaded in zip(
        with_std, est.score_samples(X, return_std=True), strict=True
    ):
        np.testing.assert_array_equal(streamed, loaded)
    assert est.score(M) == est.score(X)
    # Another fit with the same seed is the same fit.
    again = Estimator(**params, max_iter=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        again.fit(M)
    np.testing.assert_array_equal(again.score_samples(M), scores)


def test_a_memmap_fit_is_as_good_as_the_in_memory_fit(tmp_path):
    """Not the same fit (the training order differs, see fit's Notes), but
    one of the same quality on held-out data: within the spread of
    in-memory fits with other seeds."""
    rng = np.random.RandomState(0)
    centres = np.where(rng.rand(5000, 1) < 0.5, -2.0, 2.0)
    X = centres + 0.5 * rng.randn(5000, 2)
    X, X_test = X[:3000], X[3000:]
    params = dict(SMALL, max_iter=15)
    streamed = MAFDensity(**params).fit(memmap(tmp_path, X)).score(X_test)
    loaded = [
        MAFDensity(**dict(params, random_state=seed)).fit(X).score(X_test)
        for seed in range(3)
    ]
    assert min(loaded) - 0.05 < streamed < max(loaded) + 0.05, (streamed, loaded)


def test_streaming_across_many_blocks(tmp_path, monkeypatch):
    """Blocks, windows, chunks and page releases of a few rows each."""
    monkeypatch.setattr(_out_of_core, "BLOCK_BYTES", 32 * 4 * 8)
    monkeypatch.setattr(_out_of_core, "WINDOW_BYTES", 8 * 32 * 4 * 8)
    monkeypatch.setattr(_out_of_core, "CHUNK_BYTES", 1000 * 4 * 8)
    monkeypatch.setattr(_out_of_core, "RELEASE_BYTES", 1 << 12)
    X = data(5000)
    M = memmap(tmp_path, X)
    with pytest.warns(UserWarning, match="1 training row lies"):
        est = MAFDensity(**SMALL, max_iter=2, batch_norm=True).fit(M)
    assert np.isfinite(est.validation_scores_).all()
    np.testing.assert_array_equal(est.score_samples(M), est.score_samples(X))
    standardisation = est._standardisation()
    rows = _out_of_core.MemmapRows(
        M, np.array([17]), standardisation, 500, 0, torch.device("cpu")
    )
    assert rows.n_blocks == 157 and rows.window_blocks == 8
    training = torch.cat([rows.read_training(range(rows.n_blocks))])
    validation = torch.cat(list(rows.validation_parts()))
    assert len(training) == 5000 - 1 - 500 and len(validation) == 500
    both = torch.cat([training, validation]).double().numpy()
    expected = (np.delete(X, 17, axis=0) - est.location_) / est.scale_
    order = np.lexsort(both.T)
    np.testing.assert_allclose(both[order], expected[np.lexsort(expected.T)], 1e-6)


def test_without_early_stopping(tmp_path):
    M = memmap(tmp_path, data(1000)[18:])
    est = MAFDensity(**SMALL, max_iter=2, early_stopping=False).fit(M)
    assert est.validation_scores_ == [] and len(est.loss_curve_) == 2


def test_warm_start_on_a_memmap(tmp_path):
    X = data(2000)[18:]
    M = memmap(tmp_path, X)
    est = MAFDensity(**SMALL, max_iter=2, warm_start=True).fit(M)
    location = est.location_.copy()
    est.fit(memmap(tmp_path, X[::-1] + 0.1, name="other.npy"))
    assert est.n_iter_ == 4
    np.testing.assert_array_equal(est.location_, location)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_value_names_its_row(tmp_path, bad):
    X = data(2000)
    X[1234, 2] = bad
    M = memmap(tmp_path, X)
    what = "NaN" if np.isnan(bad) else "infinity"
    message = rf"Input X contains {what}: X\[1234, 2\] = -?(nan|inf)"
    with pytest.raises(ValueError, match=message):
        MAFDensity(**SMALL, max_iter=1).fit(M)
    est = MAFDensity(**SMALL, max_iter=1).fit(np.delete(X, 1234, axis=0))
    with pytest.raises(ValueError, match=message):
        est.score_samples(M)


def test_the_finiteness_check_reads_the_file_once(tmp_path, monkeypatch):
    X = data(2000)
    X[1500] = np.nan
    M = memmap(tmp_path, X)
    monkeypatch.setattr(_out_of_core, "CHUNK_BYTES", 100 * 4 * 8)
    read = []
    original = _out_of_core.RowReader.blocks

    def spy(reader, spans):
        read.extend(spans)
        return original(reader, spans)

    monkeypatch.setattr(_out_of_core.RowReader, "blocks", spy)
    with pytest.raises(ValueError, match=r"X\[1500, 0\]"):
        MAFDensity(**SMALL, max_iter=1).fit(M)
    # Up to the chunk with the bad row, each chunk once.
    assert read == [(start, start + 100) for start in range(0, 1600, 100)]


def test_values_float32_cannot_hold_are_refused(tmp_path):
    X = data(500)
    X[300, 1] = 1e30
    with pytest.raises(ValueError, match=r"X\[300, 1\] = 1e\+30 lies"):
        MAFDensity(**SMALL, max_iter=1).fit(memmap(tmp_path, X))
    est = MAFDensity(**SMALL, max_iter=1).fit(data(500))
    with pytest.raises(ValueError, match=r"X\[300, 1\] = 1e\+30 lies"):
        est.score_samples(memmap(tmp_path, X, name="score.npy"))


def test_feature_count_mismatch(tmp_path):
    est = MAFDensity(**SMALL, max_iter=1).fit(memmap(tmp_path, data(300)))
    other = memmap(tmp_path, data(300)[:, :3], name="three.npy")
    with pytest.raises(
        ValueError, match="X has 3 features, but MAFDensity is expecting 4"
    ):
        est.score_samples(other)
    with pytest.raises(
        ValueError, match="X has 3 features, but MAFDensity is expecting 4"
    ):
        est.set_params(warm_start=True).fit(other)


def test_integer_and_float32_memmaps(tmp_path):
    X = np.random.RandomState(0).randint(0, 50, size=(500, 3))
    est = MAFDensity(**SMALL, max_iter=1).fit(memmap(tmp_path, X))
    scores = est.score_samples(memmap(tmp_path, X.astype(np.float32), name="f.npy"))
    np.testing.assert_array_equal(scores, est.score_samples(X.astype(np.float64)))


def test_a_copy_on_write_memmap_keeps_its_changes(tmp_path):
    """Pages are not handed back on a private mapping: that would drop them."""
    M = memmap(tmp_path, data(1000)[18:], mode="c")
    M[5] = [1.0, 2.0, 0.0, 7.0]
    assert _out_of_core.PageRelease(M).mapping is None
    MAFDensity(**SMALL, max_iter=1).fit(M)
    np.testing.assert_array_equal(M[5], [1.0, 2.0, 0.0, 7.0])
    assert _out_of_core.PageRelease(memmap(tmp_path, data(100))).mapping is not None


def test_fit_does_not_load_the_file(tmp_path, monkeypatch):
    """The Python-side allocations of a fit (numpy's included) stay a small
    fraction of the file: it is never held whole, nor as floats."""
    monkeypatch.setattr(_out_of_core, "WINDOW_BYTES", 1 << 20)
    monkeypatch.setattr(_out_of_core, "CHUNK_BYTES", 1 << 18)
    monkeypatch.setattr(_out_of_core, "SAMPLE_VALUES", 1 << 16)
    rng = np.random.RandomState(0)
    X = memmap(tmp_path, rng.normal(size=(400_000, 8)))  # 25.6 MB
    est = MAFDensity(
        n_layers=1,
        hidden_layer_sizes=(8,),
        max_iter=1,
        batch_size=4096,
        **{k: SMALL[k] for k in ("device", "n_threads", "random_state")},
    )
    # Not the first fit of the process: that imports modules (tens of MB).
    clone(est).set_params(max_iter=1).fit(rng.normal(size=(100, 8)))
    tracemalloc.start()
    try:
        est.fit(X)
        _, fit_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        scores = est.score_samples(X)
        _, score_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.isfinite(scores).all()
    assert fit_peak < X.nbytes / 4, fit_peak
    # Scoring holds its result, 8 bytes a row, and one segment of rows.
    assert score_peak - scores.nbytes < X.nbytes / 8, score_peak


def test_in_memory_fits_are_unchanged():
    """The out-of-core path left the in-memory one as it was: these are the
    scores of this fit before it existed (to float32 noise across BLAS),
    recomputed once since, for the affine steps' form of model format 2;
    with each feature scaled on its own, as every fit was then."""
    X = data(400)
    est = MAFDensity(**SMALL, max_iter=3, scaling="feature")
    with pytest.warns(UserWarning, match="1 training row lies"):
        est.fit(X)
    expected = [-4.27473692, -2.52450542, -3.23812155, -6.45794539, -23.6970406]
    np.testing.assert_allclose(est.score_samples(X[:5]), expected, rtol=1e-5)


def test_the_reader_reads_views_of_a_memmap(tmp_path):
    """Rows come from the file (pread) for shared mappings, whatever slice of
    the memmap is passed, and through the mapping otherwise."""
    X = np.random.RandomState(0).normal(size=(3000, 6))
    M = memmap(tmp_path, X)
    views = {
        "whole": M,
        "rows from 1000": M[1000:],
        "every other row": M[::2],
        "three columns": M[5:, 1:4],
        "reversed columns": M[:, ::-1],
    }
    for name, view in views.items():
        reader = _out_of_core.RowReader(view)
        assert (reader.fd is not None) == (name != "reversed columns"), name
        np.testing.assert_array_equal(reader.rows(3, 1203), np.asarray(view)[3:1203])
        spans = [(500, 510), (0, 2), (1400, 1401)]
        expected = np.concatenate([np.asarray(view)[a:b] for a, b in spans])
        np.testing.assert_array_equal(reader.blocks(spans), expected)
        reader.close()
    big_endian = memmap(tmp_path, X.astype(">f4"), name="big.npy")
    reader = _out_of_core.RowReader(big_endian)
    assert reader.fd is not None
    np.testing.assert_array_equal(reader.rows(0, 3000), X.astype(">f4"))
    private = memmap(tmp_path, X, mode="c", name="private.npy")
    private[7] = 1.0
    reader = _out_of_core.RowReader(private)
    assert reader.fd is None
    np.testing.assert_array_equal(reader.rows(7, 8), np.ones((1, 6)))
