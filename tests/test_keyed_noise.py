"""The scoring draws keyed by a row's values: standard normal, deterministic
per row whatever the batch, independent across rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from sklearn_lgf.nn.keyed_noise import (
    MASK32,
    _times,
    keyed_standard_normal,
    mix32,
    row_keys,
)


def test_times_is_the_low_32_bits_of_the_product():
    rng = np.random.RandomState(0)
    x = rng.randint(0, 2**32, size=1000, dtype=np.uint64).astype(np.int64)
    for constant in (0xED5AD4BB, 0xAC4C1B51, 0x31848BAB, 1, MASK32):
        got = _times(torch.from_numpy(x), constant).numpy()
        expected = [(int(v) * constant) & MASK32 for v in x]
        np.testing.assert_array_equal(got, expected)


def test_mix32_is_a_bijection_into_32_bits():
    values = torch.arange(2**20, dtype=torch.int64) * 4093 + 7
    mixed = mix32(values)
    assert int(mixed.min()) >= 0 and int(mixed.max()) <= MASK32
    assert torch.unique(mixed).numel() == values.numel()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_draws_are_standard_normal_and_uncorrelated(dtype):
    x = torch.randn(4000, 3, generator=torch.Generator().manual_seed(0)).to(dtype)
    draws = keyed_standard_normal(row_keys(x, 0), 0, 25, (2, 1), dtype)
    assert draws.shape == (4000, 25, 2, 1) and draws.dtype == dtype
    flat = draws.reshape(4000, 50).double().numpy()
    assert stats.kstest(flat.ravel(), "norm").pvalue > 1e-3
    # Across rows, draw by draw: no draw number is biased.
    assert np.abs(flat.mean(axis=0)).max() < 4.5 / np.sqrt(4000)
    correlation = np.corrcoef(flat.T) - np.eye(50)
    assert np.abs(correlation).max() < 5 / np.sqrt(4000)


def test_a_row_has_the_same_draws_in_any_batch_and_slice():
    x = torch.randn(50, 4, dtype=torch.float64)
    draws = keyed_standard_normal(row_keys(x, 3), 0, 30, (5,), torch.float64)
    shuffled = torch.randperm(50)
    again = keyed_standard_normal(row_keys(x[shuffled], 3), 0, 30, (5,), torch.float64)
    torch.testing.assert_close(again, draws[shuffled], rtol=0, atol=0)
    middle = keyed_standard_normal(row_keys(x[:7], 3), 11, 9, (5,), torch.float64)
    torch.testing.assert_close(middle, draws[:7, 11:20], rtol=0, atol=0)


def test_nearby_rows_and_other_seeds_get_independent_draws():
    """Rows one float step apart (and one row under two seeds) share nothing:
    their draws are uncorrelated."""
    x = torch.rand(2000, 2, dtype=torch.float64)
    nearby = x.clone()
    nearby[:, 1] = torch.nextafter(x[:, 1], torch.full_like(x[:, 1], 2.0))
    shape, dtype = (3,), torch.float64
    draws = keyed_standard_normal(row_keys(x, 0), 0, 10, shape, dtype).flatten()
    for other in (
        keyed_standard_normal(row_keys(nearby, 0), 0, 10, shape, dtype),
        keyed_standard_normal(row_keys(x, 1), 0, 10, shape, dtype),
    ):
        assert not torch.equal(other.flatten(), draws)
        r = np.corrcoef(draws.numpy(), other.flatten().numpy())[0, 1]
        assert abs(r) < 5 / np.sqrt(draws.numel())


def test_equal_rows_get_equal_keys_and_bad_shapes_are_refused():
    x = torch.tensor([[1.0, 2.0], [1.0, 2.0], [2.0, 1.0]])
    keys = row_keys(x, 0)
    assert keys[0] == keys[1] and keys[0] != keys[2]
    with pytest.raises(ValueError, match="2-D"):
        row_keys(x[0], 0)


def test_too_many_draws_per_row_are_refused():
    keys = row_keys(torch.zeros(1, 2), 0)
    with pytest.raises(ValueError, match="draws per row"):
        keyed_standard_normal(keys, MASK32 // 4, 2, (4,), torch.float32)
