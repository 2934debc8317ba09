"""Tests for :func:`sklearn_lgf.metrics.bits_per_dimension`."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sklearn_lgf.metrics import bits_per_dimension

# Float64 rounding of a handful of operations; the formulas are exact.
RTOL = 1e-13


@pytest.mark.parametrize("n_levels", [2, 17, 256, 65536])
@pytest.mark.parametrize("n_dims", [1, 64, 784, 3072])
def test_uniform_density_scores_log2_of_the_levels(n_levels, n_dims):
    # Uniform on [0, n_levels)^d in level units: log p = -d ln(n_levels).
    expected = math.log2(n_levels)
    in_levels = bits_per_dimension(-n_dims * math.log(n_levels), n_dims)
    assert in_levels == pytest.approx(expected, rel=RTOL)
    # The same density on [0, 1)^d, data scaled by 1 / n_levels: log p = 0.
    in_unit_cube = bits_per_dimension(0.0, n_dims, bin_width=1 / n_levels)
    assert in_unit_cube == pytest.approx(expected, rel=RTOL)
    # Scaled by 1 / (n_levels - 1): uniform on [0, n_levels / (n_levels - 1))^d.
    if n_levels > 1:
        width = 1 / (n_levels - 1)
        log_density = -n_dims * math.log(n_levels * width)
        scaled = bits_per_dimension(log_density, n_dims, bin_width=width)
        assert scaled == pytest.approx(expected, rel=RTOL)


def test_uniform_density_evaluated_by_scipy():
    # The uniform density on 8-bit images of 3 x 4 x 4 pixels as scipy
    # computes it at dequantised points, in both units.
    rng = np.random.default_rng(0)
    n_dims = 48
    levels = rng.integers(0, 256, size=(20, n_dims)) + rng.random((20, n_dims))
    pixel_units = stats.uniform(0, 256).logpdf(levels).sum(axis=1)
    unit_cube = stats.uniform(0, 1).logpdf(levels / 256).sum(axis=1)
    np.testing.assert_allclose(bits_per_dimension(pixel_units, n_dims), 8.0, RTOL)
    np.testing.assert_allclose(
        bits_per_dimension(unit_cube, n_dims, bin_width=1 / 256), 8.0, RTOL
    )


def test_piecewise_constant_density_gives_the_discrete_code_length():
    # A density constant on each level's cell, P(k) on [k, k + 1), is the
    # dequantised model of a discrete distribution P: its bits per dimension
    # are -log2 P(image) / d, whatever the noise inside the cells.
    rng = np.random.default_rng(1)
    n_levels, n_dims = 17, 64
    probabilities = rng.dirichlet(np.ones(n_levels))
    images = rng.choice(n_levels, size=(50, n_dims), p=probabilities)
    dequantised = images + rng.random(images.shape)
    log_density = np.log(probabilities[np.floor(dequantised).astype(int)]).sum(axis=1)
    expected = -np.log2(probabilities[images]).sum(axis=1) / n_dims
    np.testing.assert_allclose(bits_per_dimension(log_density, n_dims), expected, RTOL)


@pytest.mark.parametrize("bin_width", [1 / 256, 1 / 255, 0.5, 3.0])
def test_the_units_of_the_data_do_not_change_the_bits(bin_width):
    # The same Gaussian model in level units and in the data's units
    # (x = bin_width * v): the densities differ by the Jacobian, scipy
    # evaluates each, and the bits per dimension agree.
    rng = np.random.default_rng(2)
    n_dims = 10
    mean, scale = rng.normal(128, 10, n_dims), rng.uniform(20, 60, n_dims)
    levels = rng.normal(mean, scale, size=(30, n_dims))
    log_density_levels = stats.norm(mean, scale).logpdf(levels).sum(axis=1)
    log_density_data = (
        stats.norm(bin_width * mean, bin_width * scale)
        .logpdf(bin_width * levels)
        .sum(axis=1)
    )
    np.testing.assert_allclose(
        bits_per_dimension(log_density_data, n_dims, bin_width=bin_width),
        bits_per_dimension(log_density_levels, n_dims),
        rtol=RTOL,
    )


def test_scaling_into_the_unit_interval_adds_eight_bits():
    # The design note's rule for 8-bit images scaled by 1/256: add 8.
    log_density = np.array([-1500.0, -2000.0, 10.0])
    np.testing.assert_allclose(
        bits_per_dimension(log_density, 784, bin_width=1 / 256),
        bits_per_dimension(log_density, 784) + 8.0,
        rtol=RTOL,
    )


def test_formula():
    # -(log p + d ln w) / (d ln 2), written out.
    assert bits_per_dimension(-100.0, 20, bin_width=0.1) == pytest.approx(
        -(-100.0 + 20 * math.log(0.1)) / (20 * math.log(2)), rel=RTOL
    )


def test_returns_a_float_or_an_array_of_the_input_shape():
    assert type(bits_per_dimension(-10.0, 4)) is float
    assert type(bits_per_dimension(np.float32(-10.0), 4)) is float
    assert type(bits_per_dimension(-10, 4)) is float
    scores = np.full((3, 2), -10.0, dtype=np.float32)
    bpd = bits_per_dimension(scores, 4)
    assert isinstance(bpd, np.ndarray)
    assert bpd.shape == (3, 2)
    assert bpd.dtype == np.float64
    np.testing.assert_allclose(bpd, 10 / (4 * math.log(2)), rtol=RTOL)
    assert bits_per_dimension([-10.0, -20.0], 4).shape == (2,)
    assert bits_per_dimension(-np.inf, 4) == np.inf


@pytest.mark.parametrize(
    "n_dims, bin_width, error, match",
    [
        (0, 1.0, ValueError, "n_dims"),
        (-3, 1.0, ValueError, "n_dims"),
        (2.0, 1.0, TypeError, "n_dims"),
        (True, 1.0, TypeError, "n_dims"),
        (2, 0.0, ValueError, "bin_width"),
        (2, -1.0, ValueError, "bin_width"),
        (2, math.inf, ValueError, "bin_width"),
        (2, math.nan, ValueError, "bin_width"),
        (2, "1/256", TypeError, "bin_width"),
    ],
)
def test_invalid_arguments(n_dims, bin_width, error, match):
    with pytest.raises(error, match=match):
        bits_per_dimension(-1.0, n_dims, bin_width=bin_width)


def test_numpy_integer_n_dims():
    assert bits_per_dimension(0.0, np.int64(784), bin_width=0.5) == 1.0
