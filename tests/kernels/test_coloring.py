"""Greedy colouring: validity on random (also nonsymmetric) patterns, red-black on stencils."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from itersolve.kernels.coloring import color_partition, greedy_coloring

from ._ref import ITYPES, poisson2d, poisson3d, random_sparse


def _assert_valid(A, colors):
    C = A.tocoo()
    off = C.row != C.col
    assert np.all(colors[C.row[off]] != colors[C.col[off]])
    assert colors.dtype == np.int32
    assert colors.min() >= 0


@pytest.mark.parametrize("itype", ITYPES)
def test_stencils_get_two_colours(itype):
    for A in (poisson2d(17, itype=itype), poisson2d(16, itype=itype), poisson3d(7, itype=itype)):
        colors = greedy_coloring(A.indptr, A.indices)
        _assert_valid(A, colors)
        assert colors.max() == 1
    A = poisson2d(4)
    np.testing.assert_array_equal(greedy_coloring(A.indptr, A.indices).reshape(4, 4) % 2, (np.add.outer(range(4), range(4))) % 2)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 80), density=st.floats(0.0, 0.3), seed=st.integers(0, 10**6))
def test_valid_on_random_nonsymmetric_patterns(n, density, seed):
    A = random_sparse(n, density, seed)
    colors = greedy_coloring(A.indptr, A.indices)
    _assert_valid(A, colors)
    _assert_valid(A.T.tocsr(), colors)  # nonsymmetric pattern: both directions
    ptr, rows = color_partition(colors)
    assert ptr[0] == 0 and ptr[-1] == n and len(ptr) == colors.max() + 2
    assert sorted(rows) == list(range(n))
    for c in range(len(ptr) - 1):
        block = rows[ptr[c] : ptr[c + 1]]
        assert np.all(colors[block] == c)
        assert np.all(np.diff(block) > 0)


def test_dense_row_needs_many_colours():
    A = sp.csr_matrix(np.ones((6, 6)))
    colors = greedy_coloring(A.indptr, A.indices)
    assert sorted(colors) == list(range(6))
