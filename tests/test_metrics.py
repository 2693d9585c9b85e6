"""J and F against hand-computed values and an independent reference implementation."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from movseg.eval.metrics import bound_pixels, boundary_f, disk, jaccard, seg2bmap, statistics


# ---- an independent reference, written from the definitions, not from our code ----
def ref_boundary(mask):
    """Per-pixel rule: differs from right / bottom / bottom-right; last row: right only;
    last column: bottom only; bottom-right corner never."""
    m = mask.astype(bool)
    H, W = m.shape
    b = np.zeros_like(m)
    for i in range(H):
        for j in range(W):
            if i < H - 1 and j < W - 1:
                b[i, j] = m[i, j] != m[i, j + 1] or m[i, j] != m[i + 1, j] or m[i, j] != m[i + 1, j + 1]
            elif i == H - 1 and j < W - 1:
                b[i, j] = m[i, j] != m[i, j + 1]
            elif j == W - 1 and i < H - 1:
                b[i, j] = m[i, j] != m[i + 1, j]
    return b


def ref_f(gt, pred):
    H, W = gt.shape
    r = math.ceil(0.008 * math.sqrt(H * H + W * W))
    bg, bp = ref_boundary(gt), ref_boundary(pred)
    if not bg.any() and not bp.any():
        return 1.0
    if not bg.any() or not bp.any():
        return 0.0
    # within the disk of radius r  <=>  Euclidean distance to the boundary <= r
    near_g = ndimage.distance_transform_edt(~bg) <= r
    near_p = ndimage.distance_transform_edt(~bp) <= r
    p = (bp & near_g).sum() / bp.sum()
    rc = (bg & near_p).sum() / bg.sum()
    return 0.0 if p + rc == 0 else 2 * p * rc / (p + rc)


def ref_j(gt, pred):
    u = np.logical_or(gt, pred).sum()
    return 1.0 if u == 0 else np.logical_and(gt, pred).sum() / u


def square(h, w, y, x, s):
    m = np.zeros((h, w), bool)
    m[y : y + s, x : x + s] = True
    return m


# ---- hand-computed cases ----
def test_bound_pixels_davis_resolution():
    assert bound_pixels((480, 854)) == 8
    assert bound_pixels((100, 100)) == 2
    assert bound_pixels((100, 100), bound_th=3) == 3


def test_disk_matches_definition():
    d = disk(2)
    assert d.shape == (5, 5)
    assert d.sum() == 13  # x² + y² <= 4 on the integer lattice
    assert d[0, 2] == 1 and d[0, 1] == 0


def test_one_pixel_boundary():
    m = np.zeros((10, 10), bool)
    m[5, 5] = True
    b = seg2bmap(m)
    assert set(zip(*np.nonzero(b))) == {(5, 5), (4, 5), (5, 4), (4, 4)}


def test_square_boundary_count():
    b = seg2bmap(square(100, 100, 10, 10, 10))
    assert b.sum() == 40  # row 9 (11 px) + col 9 (10) + row 19 (10) + col 19 (9)


def test_full_image_has_no_boundary_and_half_image_one_column():
    full = np.ones((30, 40), bool)
    assert seg2bmap(full).sum() == 0
    assert boundary_f(full, full) == 1.0
    half = np.zeros((30, 40), bool)
    half[:, :20] = True
    b = seg2bmap(half)
    assert b.sum() == 30 and b[:, 19].all()


def test_identical_and_shifted_squares():
    a = square(100, 100, 10, 10, 10)
    assert jaccard(a, a) == 1.0 and boundary_f(a, a) == 1.0
    b = square(100, 100, 10, 11, 10)
    assert jaccard(a, b) == pytest.approx(90 / 110)
    assert boundary_f(a, b) == 1.0  # 1 px shift is within the 2 px tolerance
    c = square(100, 100, 50, 50, 10)
    assert jaccard(a, c) == 0.0 and boundary_f(a, c) == 0.0


def test_shift_beyond_tolerance():
    a = square(100, 100, 20, 20, 20)
    b = square(100, 100, 20, 25, 20)  # vertical edges 5 px apart, tolerance 2
    # pred boundary: 80 px; matched: top/bottom rows that overlap a's dilated boundary
    f = boundary_f(a, b)
    assert 0.0 < f < 1.0
    assert f == pytest.approx(ref_f(a, b), abs=1e-12)


def test_empty_masks():
    e = np.zeros((20, 30), bool)
    a = square(20, 30, 5, 5, 4)
    assert jaccard(e, e) == 1.0 and boundary_f(e, e) == 1.0
    assert jaccard(a, e) == 0.0 and jaccard(e, a) == 0.0
    assert boundary_f(a, e) == 0.0 and boundary_f(e, a) == 0.0


def test_one_pixel_masks():
    a = np.zeros((50, 50), bool)
    b = np.zeros((50, 50), bool)
    a[10, 10] = True
    b[10, 11] = True
    assert jaccard(a, b) == 0.0
    assert boundary_f(a, b) == 1.0  # boundaries 1 px apart, tolerance 1 px (ceil(0.57))
    b[:] = False
    b[40, 40] = True
    assert boundary_f(a, b) == 0.0


def test_mismatched_shapes_are_an_error():
    with pytest.raises(ValueError, match="shapes differ"):
        jaccard(np.zeros((10, 10)), np.zeros((10, 11)))
    with pytest.raises(ValueError, match="shapes differ"):
        boundary_f(np.zeros((10, 10)), np.zeros((11, 10)))


def test_batched_equals_per_frame():
    rng = np.random.default_rng(0)
    g = rng.random((4, 24, 32)) > 0.6
    p = rng.random((4, 24, 32)) > 0.6
    np.testing.assert_allclose(jaccard(g, p), [jaccard(a, b) for a, b in zip(g, p)])
    np.testing.assert_allclose(boundary_f(g, p), [boundary_f(a, b) for a, b in zip(g, p)])


def test_statistics_toolkit_binning():
    s = statistics(np.array([1, 1, 1, 1, 0, 0, 0, 0], float))
    assert s["mean"] == 0.5 and s["recall"] == 0.5
    assert s["decay"] == 1.0  # bins [0:3] and [5:8]
    assert statistics(np.array([0.7]))["decay"] == 0.0
    assert statistics(np.array([0.5, 0.51]))["recall"] == 0.5  # strictly greater than 0.5


def test_statistics_long_sequence_is_not_wrapped():
    v = np.r_[np.ones(200), np.zeros(200)]
    assert statistics(v)["decay"] == 1.0


# ---- properties on random masks ----
masks = st.integers(4, 28).flatmap(
    lambda h: st.integers(4, 28).flatmap(
        lambda w: st.tuples(arrays(bool, (h, w)), arrays(bool, (h, w)))
    )
)


@settings(max_examples=150, deadline=None)
@given(masks)
def test_random_masks_agree_with_reference(pair):
    g, p = pair
    assert jaccard(g, p) == pytest.approx(ref_j(g, p), abs=1e-4)
    assert boundary_f(g, p) == pytest.approx(ref_f(g, p), abs=1e-4)
    np.testing.assert_array_equal(seg2bmap(g), ref_boundary(g))


@settings(max_examples=100, deadline=None)
@given(masks)
def test_symmetry_and_range(pair):
    g, p = pair
    assert jaccard(g, p) == pytest.approx(jaccard(p, g))
    assert boundary_f(g, p) == pytest.approx(boundary_f(p, g))  # F is symmetric in P and R
    assert 0.0 <= jaccard(g, p) <= 1.0 and 0.0 <= boundary_f(g, p) <= 1.0
    assert jaccard(g, g) == 1.0 and boundary_f(g, g) == 1.0


def test_blobby_random_masks_at_davis_size_agree_with_reference():
    rng = np.random.default_rng(3)
    for _ in range(3):
        g = ndimage.gaussian_filter(rng.random((120, 214)), 6) > 0.5
        p = ndimage.gaussian_filter(rng.random((120, 214)), 6) > 0.5
        assert boundary_f(g, p) == pytest.approx(ref_f(g, p), abs=1e-4)
