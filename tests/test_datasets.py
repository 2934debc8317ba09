"""Tests for the 2-D density targets in :mod:`sklearn_lgf.datasets`."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import multivariate_normal

from sklearn_lgf.datasets import (
    TARGETS,
    TRUE_LOG_DENSITIES,
    checkerboard_log_density,
    eight_gaussians_log_density,
    make_checkerboard,
    make_eight_gaussians,
    make_rings,
    make_target,
    make_two_spirals,
    make_two_uniforms,
    two_uniforms_log_density,
)

ALL_NAMES = sorted(TARGETS)
NOISY_NAMES = [
    name for name in ALL_NAMES if "noise" in inspect.signature(TARGETS[name]).parameters
]
EIGHT_GAUSSIANS_RADIUS = 4.0 / 1.414


def _midpoint_integral(log_density, lo, hi, n_cells):
    """Integrate exp(log_density) over the square [lo, hi]^2 (midpoint rule)."""
    width = (hi - lo) / n_cells
    centres = lo + width * (np.arange(n_cells) + 0.5)
    xx, yy = np.meshgrid(centres, centres)
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    return float(np.exp(log_density(grid)).sum() * width**2)


# ---------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------


def test_registry_names():
    assert set(TARGETS) == {
        "two_uniforms",
        "eight_gaussians",
        "checkerboard",
        "two_spirals",
        "rings",
    }
    assert set(TRUE_LOG_DENSITIES) <= set(TARGETS)
    assert TRUE_LOG_DENSITIES["two_uniforms"] is two_uniforms_log_density
    assert TRUE_LOG_DENSITIES["checkerboard"] is checkerboard_log_density


@pytest.mark.parametrize("name", ALL_NAMES)
def test_make_target_matches_generator(name):
    expected = TARGETS[name](50, random_state=3)
    np.testing.assert_array_equal(make_target(name, 50, random_state=3), expected)
    assert make_target(name, random_state=0).shape == (1000, 2)


@pytest.mark.parametrize("bad_name", ["moons", "", "Two_Uniforms", None, ["rings"]])
def test_make_target_unknown_name_lists_valid_names(bad_name):
    with pytest.raises(ValueError, match="Unknown target name") as excinfo:
        make_target(bad_name)
    for name in TARGETS:
        assert repr(name) in str(excinfo.value)


# ---------------------------------------------------------------------------
# common generator contract
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_NAMES)
@pytest.mark.parametrize("n_samples", [1, 2, 3, 5, 7, 1000])
def test_shape_dtype_finite(name, n_samples):
    X = TARGETS[name](n_samples, random_state=0)
    assert isinstance(X, np.ndarray)
    assert X.shape == (n_samples, 2)
    assert X.dtype == np.float64
    assert np.isfinite(X).all()


@pytest.mark.parametrize("name", ALL_NAMES)
def test_default_n_samples_and_global_random_state(name):
    X = TARGETS[name]()
    assert X.shape == (1000, 2)
    assert X.dtype == np.float64


@pytest.mark.parametrize("name", ALL_NAMES)
def test_numpy_integer_n_samples(name):
    assert TARGETS[name](np.int64(4), random_state=0).shape == (4, 2)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_reproducible(name):
    generator = TARGETS[name]
    a = generator(200, random_state=0)
    b = generator(200, random_state=0)
    c = generator(200, random_state=1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_random_state_instance(name):
    generator = TARGETS[name]
    rng = np.random.RandomState(7)
    first = generator(100, random_state=rng)
    second = generator(100, random_state=rng)
    # Same stream as the integer seed, and the instance is advanced.
    np.testing.assert_array_equal(first, generator(100, random_state=7))
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_returns_fresh_array(name):
    X = TARGETS[name](10, random_state=0)
    X[:] = 0.0
    assert not np.array_equal(TARGETS[name](10, random_state=0), X)


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(ALL_NAMES),
    n_samples=st.integers(min_value=1, max_value=64),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_shape_property(name, n_samples, seed):
    X = TARGETS[name](n_samples, random_state=seed)
    assert X.shape == (n_samples, 2)
    assert np.isfinite(X).all()


# ---------------------------------------------------------------------------
# argument validation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_NAMES)
@pytest.mark.parametrize("n_samples", [0, -1, -100])
def test_n_samples_not_positive(name, n_samples):
    with pytest.raises(ValueError, match="n_samples"):
        TARGETS[name](n_samples)


@pytest.mark.parametrize("name", ALL_NAMES)
@pytest.mark.parametrize("n_samples", [2.5, 10.0, "10", None, True])
def test_n_samples_not_int(name, n_samples):
    with pytest.raises(TypeError, match="n_samples"):
        TARGETS[name](n_samples)


@pytest.mark.parametrize("name", NOISY_NAMES)
@pytest.mark.parametrize("noise", [-1, -1e-9, np.nan, np.inf])
def test_noise_bad_value(name, noise):
    with pytest.raises(ValueError, match="noise"):
        TARGETS[name](10, noise=noise)


@pytest.mark.parametrize("name", NOISY_NAMES)
@pytest.mark.parametrize("noise", ["0.1", None, False])
def test_noise_bad_type(name, noise):
    with pytest.raises(TypeError, match="noise"):
        TARGETS[name](10, noise=noise)


def test_noisy_targets():
    assert NOISY_NAMES == ["eight_gaussians", "rings", "two_spirals"]
    for name in ("two_uniforms", "checkerboard"):
        with pytest.raises(TypeError):
            TARGETS[name](10, noise=0.1)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_bad_random_state(name):
    with pytest.raises(ValueError, match="RandomState"):
        TARGETS[name](10, random_state="seed")


# ---------------------------------------------------------------------------
# two uniforms
# ---------------------------------------------------------------------------


def test_two_uniforms_support():
    X = make_two_uniforms(20_000, random_state=0)
    x1, x2 = X[:, 0], X[:, 1]
    left = (x1 >= -2.0) & (x1 <= -1.0)
    right = (x1 >= 0.0) & (x1 <= 1.0)
    assert (left | right).all()
    assert ((x2 >= -1.0) & (x2 <= 1.0)).all()
    log_p = two_uniforms_log_density(X)
    np.testing.assert_array_equal(log_p, np.full(len(X), np.log(0.25)))


def test_two_uniforms_fractions():
    n = 20_000
    X = make_two_uniforms(n, random_state=1)
    tol = 5 * 0.5 / np.sqrt(n)  # five binomial standard deviations
    assert abs(np.mean(X[:, 0] < -0.5) - 0.5) < tol
    assert abs(np.mean(X[:, 1] > 0.0) - 0.5) < tol
    # Within a component x1 is uniform: a quarter of the mass on [0, 0.5].
    assert abs(np.mean((X[:, 0] >= 0.0) & (X[:, 0] < 0.5)) - 0.25) < tol


def test_two_uniforms_log_density_values():
    inside = [[-2.0, -1.0], [-1.5, 0.0], [-1.0, 1.0], [0.0, 0.3], [1.0, -0.9]]
    outside = [[-0.5, 0.0], [-0.01, 0.5], [1.5, 0.0], [0.5, 1.01], [1.01, 0.0],
               [-2.5, 0.0], [0.5, -1.5], [-1e6, 0.0]]  # fmt: skip
    np.testing.assert_allclose(two_uniforms_log_density(inside), np.log(1 / 4))
    assert np.isclose(np.log(1 / 4), -1.386, atol=1e-3)
    assert (two_uniforms_log_density(outside) == -np.inf).all()


@pytest.mark.parametrize("gap", [0.25, 2.0, 3.5])
def test_two_uniforms_gap_moves_the_right_rectangle(gap):
    X = make_two_uniforms(20_000, gap=gap, random_state=0)
    x1 = X[:, 0]
    left = (x1 >= -2.0) & (x1 <= -1.0)
    right = (x1 >= gap - 1.0) & (x1 <= gap)
    assert (left | right).all()
    assert left.any() and right.any()
    # The empty band is exactly the gap wide (up to sampling resolution).
    assert x1[right].min() - x1[left].max() == pytest.approx(gap, abs=1e-3)
    log_p = two_uniforms_log_density(X, gap=gap)
    np.testing.assert_array_equal(log_p, np.full(len(X), np.log(0.25)))
    # The default geometry would put some of these points outside its support.
    assert (two_uniforms_log_density(X) == -np.inf).any()


def test_two_uniforms_gap_density_integrates_to_one():
    def log_density(X):
        return two_uniforms_log_density(X, gap=2.0)

    assert _midpoint_integral(log_density, -3.0, 3.0, 601) == pytest.approx(
        1.0, rel=0.01
    )


@pytest.mark.parametrize("gap", [0.0, -1.0, np.inf, np.nan, "1", True])
def test_two_uniforms_gap_rejects_bad_values(gap):
    with pytest.raises((ValueError, TypeError), match="gap"):
        make_two_uniforms(10, gap=gap)
    with pytest.raises((ValueError, TypeError), match="gap"):
        two_uniforms_log_density([[0.0, 0.0]], gap=gap)


# ---------------------------------------------------------------------------
# checkerboard
# ---------------------------------------------------------------------------


def test_checkerboard_support():
    X = make_checkerboard(20_000, random_state=0)
    assert ((X >= -4.0) & (X <= 4.0)).all()
    log_p = checkerboard_log_density(X)
    assert np.isfinite(log_p).all()
    np.testing.assert_allclose(log_p, np.log(1 / 32))


def test_checkerboard_density_is_one_over_32():
    """Empirical check of the claim: uniform density 1/32 on 8 squares."""
    n = 64_000
    X = make_checkerboard(n, random_state=2)
    # Histogram on the 8x8 unit cells of [-4, 4]^2: the 32 cells inside the
    # 8 black 2x2 squares each have mass 1 * 1/32, the other 32 are empty.
    counts, _, _ = np.histogram2d(
        X[:, 0], X[:, 1], bins=8, range=[[-4.0, 4.0], [-4.0, 4.0]]
    )
    density = counts / n  # unit cells: mass == mean density on the cell
    centres = np.arange(-3.5, 4.0, 1.0)
    xx, yy = np.meshgrid(centres, centres, indexing="ij")
    cell_log_p = checkerboard_log_density(
        np.column_stack([xx.ravel(), yy.ravel()])
    ).reshape(8, 8)
    on = np.isfinite(cell_log_p)
    assert on.sum() == 32
    assert (density[~on] == 0).all()
    np.testing.assert_allclose(density[on], 1 / 32, rtol=0.12)
    # And the 8 squares of side 2 each hold probability 1/8.
    squares, _, _ = np.histogram2d(
        X[:, 0], X[:, 1], bins=4, range=[[-4.0, 4.0], [-4.0, 4.0]]
    )
    assert (squares > 0).sum() == 8
    np.testing.assert_allclose(squares[squares > 0] / n, 1 / 8, atol=0.01)


def test_checkerboard_log_density_values():
    # Black squares [2i, 2i + 2] x [2j, 2j + 2] with i + j even, edges included.
    inside = [[1.0, 1.0], [-1.0, -1.0], [3.0, -1.0], [-3.0, -3.0], [-3.0, 1.0],
              [0.0, 0.0], [4.0, 4.0], [-4.0, -4.0], [1.0, 0.0]]  # fmt: skip
    outside = [[1.0, -1.0], [-1.0, 1.0], [3.0, 1.0], [-3.0, 3.0], [-3.5, -0.5],
               [0.5, 4.5], [5.0, 5.0], [-4.5, -3.0], [4.0, 1.0],
               [4.0, -4.0], [-4.0, 4.0]]  # fmt: skip
    np.testing.assert_allclose(checkerboard_log_density(inside), np.log(1 / 32))
    assert (checkerboard_log_density(outside) == -np.inf).all()


# ---------------------------------------------------------------------------
# eight gaussians
# ---------------------------------------------------------------------------


def test_eight_gaussians_noise_zero_is_on_centres():
    X = make_eight_gaussians(400, noise=0.0, random_state=0)
    np.testing.assert_allclose(np.hypot(X[:, 0], X[:, 1]), EIGHT_GAUSSIANS_RADIUS)
    k = np.arctan2(X[:, 1], X[:, 0]) / (np.pi / 4)
    np.testing.assert_allclose(k, np.round(k), atol=1e-12)
    assert len(np.unique(np.round(k) % 8)) == 8


def test_eight_gaussians_components_and_noise():
    n = 16_000
    noise = 0.2
    X = make_eight_gaussians(n, noise=noise, random_state=0)
    angle = np.arange(8) * np.pi / 4
    centres = EIGHT_GAUSSIANS_RADIUS * np.column_stack([np.cos(angle), np.sin(angle)])
    nearest = np.argmin(((X[:, None, :] - centres) ** 2).sum(-1), axis=1)
    fractions = np.bincount(nearest, minlength=8) / n
    np.testing.assert_allclose(fractions, 1 / 8, atol=0.015)
    residual = X - centres[nearest]
    np.testing.assert_allclose(residual.std(axis=0), noise, rtol=0.05)
    np.testing.assert_allclose(residual.mean(axis=0), 0.0, atol=0.01)


def test_eight_gaussians_log_density_matches_scipy():
    rng = np.random.RandomState(0)
    points = rng.uniform(-4, 4, size=(50, 2))
    angle = np.arange(8) * np.pi / 4
    centres = EIGHT_GAUSSIANS_RADIUS * np.column_stack([np.cos(angle), np.sin(angle)])
    for noise in (0.1, 0.5 / 1.414, 1.0):
        expected = np.log(
            np.mean(
                [multivariate_normal(c, noise**2).pdf(points) for c in centres],
                axis=0,
            )
        )
        got = eight_gaussians_log_density(points, noise=noise)
        np.testing.assert_allclose(got, expected, rtol=1e-10)
    # Far from every centre it stays finite (log-sum-exp, no underflow).
    far = eight_gaussians_log_density([[100.0, 100.0]], noise=0.1)
    assert np.isfinite(far).all() and far[0] < -1e5


def test_eight_gaussians_log_density_bad_noise():
    with pytest.raises(ValueError, match="noise"):
        eight_gaussians_log_density([[0.0, 0.0]], noise=0.0)
    with pytest.raises(ValueError, match="noise"):
        eight_gaussians_log_density([[0.0, 0.0]], noise=-1.0)


# ---------------------------------------------------------------------------
# closed-form densities in general
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "lo", "hi", "n_cells"),
    [
        ("two_uniforms", -3.0, 3.0, 601),
        ("checkerboard", -5.0, 5.0, 997),
        ("eight_gaussians", -5.0, 5.0, 500),
    ],
)
def test_true_density_integrates_to_one(name, lo, hi, n_cells):
    total = _midpoint_integral(TRUE_LOG_DENSITIES[name], lo, hi, n_cells)
    assert total == pytest.approx(1.0, rel=0.01)


@pytest.mark.parametrize("name", sorted(TRUE_LOG_DENSITIES))
def test_true_density_finite_on_samples(name):
    X = make_target(name, 2000, random_state=0)
    log_p = TRUE_LOG_DENSITIES[name](X)
    assert log_p.shape == (2000,)
    assert log_p.dtype == np.float64
    assert np.isfinite(log_p).all()


@pytest.mark.parametrize("name", sorted(TRUE_LOG_DENSITIES))
def test_true_density_input_validation(name):
    log_density = TRUE_LOG_DENSITIES[name]
    with pytest.raises(ValueError, match="X"):
        log_density(np.zeros((3, 3)))
    with pytest.raises(ValueError):
        log_density(np.zeros(2))
    with pytest.raises(ValueError):
        log_density([[np.nan, 0.0]])
    # Lists and float32 are accepted; the result is float64.
    out = log_density(np.zeros((4, 2), dtype=np.float32).tolist())
    assert out.shape == (4,) and out.dtype == np.float64


# ---------------------------------------------------------------------------
# two spirals and rings
# ---------------------------------------------------------------------------


def test_two_spirals_structure():
    X = make_two_spirals(4001, noise=0.0, random_state=0)
    # Noise-free points lie within (3 pi + 0.5 sqrt 2) / 3 of the origin.
    assert (np.hypot(X[:, 0], X[:, 1]) <= (3 * np.pi + 0.5 * np.sqrt(2)) / 3).all()
    # The two spirals are point reflections of each other: symmetric mass.
    n = 20_000
    Y = make_two_spirals(n, random_state=1)
    tol = 5 * 0.5 / np.sqrt(n)
    assert abs(np.mean(Y[:, 0] > 0) - 0.5) < tol
    assert abs(np.mean(Y[:, 1] > 0) - 0.5) < tol


def test_two_spirals_noise_spreads_points():
    quiet = make_two_spirals(2000, noise=0.0, random_state=0)
    loud = make_two_spirals(2000, noise=1.0, random_state=0)
    assert loud.std() > quiet.std()


@pytest.mark.parametrize("n_samples", [8, 10, 1001])
def test_rings_noise_zero(n_samples):
    X = make_rings(n_samples, noise=0.0, random_state=0)
    radius = np.round(np.hypot(X[:, 0], X[:, 1]), 10)
    values, counts = np.unique(radius, return_counts=True)
    np.testing.assert_allclose(values, [0.75, 1.5, 2.25, 3.0])
    q = n_samples // 4
    np.testing.assert_array_equal(counts, [n_samples - 3 * q, q, q, q])


def test_rings_noise():
    noise = 0.08
    X = make_rings(20_000, noise=noise, random_state=0)
    radius = np.hypot(X[:, 0], X[:, 1])
    ring = np.argmin(np.abs(radius[:, None] - np.array([3.0, 2.25, 1.5, 0.75])), 1)
    np.testing.assert_allclose(np.bincount(ring) / len(X), 0.25, atol=0.005)
    radial_residual = radius - np.array([3.0, 2.25, 1.5, 0.75])[ring]
    np.testing.assert_allclose(radial_residual.std(), noise, rtol=0.1)
