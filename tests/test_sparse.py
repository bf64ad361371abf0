"""The input normaliser: canonical CSR, dtypes, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from itersolve.sparse import as_csr, as_operator, as_vector, check_tolerances, solve_dtype

FORMATS = ["csr", "csc", "coo", "lil", "dok", "bsr", "dia"]


@settings(max_examples=60, deadline=None)
@given(
    dense=hnp.arrays(
        dtype=st.sampled_from([np.float32, np.float64, np.int32, np.int64]),
        shape=st.integers(1, 12).map(lambda n: (n, n)),
        elements=st.integers(-5, 5),
    ),
    fmt=st.sampled_from(FORMATS),
)
def test_as_csr_preserves_values_in_any_format(dense, fmt):
    A = as_csr(sp.csr_matrix(dense).asformat(fmt))
    assert A.format == "csr" and A.has_canonical_format
    assert A.dtype == (np.float32 if dense.dtype == np.float32 else np.float64)
    assert A.indices.dtype == np.int32 and A.indptr.dtype == np.int32
    assert A.indices.flags.c_contiguous and A.data.flags.c_contiguous
    np.testing.assert_array_equal(A.toarray(), dense.astype(A.dtype))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 20), seed=st.integers(0, 1000))
def test_duplicates_are_summed_and_indices_sorted(n, seed):
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, n, 3 * n)
    cols = rng.integers(0, n, 3 * n)
    vals = rng.standard_normal(3 * n)
    coo = sp.coo_matrix((vals, (rows, cols)), shape=(n, n))
    A = as_csr(coo)
    np.testing.assert_allclose(A.toarray(), coo.toarray())
    for i in range(n):
        row = A.indices[A.indptr[i]:A.indptr[i + 1]]
        assert np.all(np.diff(row) > 0)


def test_int64_indices_on_request_and_kept():
    A = as_csr(sp.eye(4), index_dtype=np.int64)
    assert A.indices.dtype == np.int64 and A.indptr.dtype == np.int64


def test_input_not_modified():
    B = sp.coo_matrix(([1.0, 2.0], ([0, 0], [0, 0])), shape=(2, 2))
    as_csr(B)
    assert B.nnz == 2  # the caller's duplicates are still there


@pytest.mark.parametrize(
    "bad, exc, message",
    [
        (np.ones((2, 3)), ValueError, "square"),
        (np.ones(3), ValueError, "2-D"),
        (np.zeros((0, 0)), ValueError, "empty"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), ValueError, "NaN or Inf"),
        (sp.csr_matrix(np.array([[np.inf]])), ValueError, "NaN or Inf"),
        (np.eye(2) * 1j, TypeError, "complex"),
        (np.array([["a", "b"], ["c", "d"]]), TypeError, "dtype"),
        (np.array([[object(), 1], [1, 1]], dtype=object), TypeError, "object"),
    ],
)
def test_bad_matrices_rejected_with_the_argument_named(bad, exc, message):
    with pytest.raises(exc, match=message):
        as_csr(bad, name="A")
    with pytest.raises(exc, match=r"^M\b|M "):
        as_csr(bad, name="M")


@settings(max_examples=60, deadline=None)
@given(
    v=hnp.arrays(dtype=st.sampled_from([np.float32, np.float64, np.int64]), shape=st.integers(1, 30),
                 elements=st.integers(-100000, 100000)),
    column=st.booleans(),
)
def test_as_vector_copies_and_casts(v, column):
    given_v = v.reshape(-1, 1) if column else v
    out = as_vector(given_v, v.shape[0])
    assert out.ndim == 1 and out.flags.c_contiguous
    assert not np.shares_memory(out, v)
    np.testing.assert_array_equal(out, v.astype(out.dtype))


@pytest.mark.parametrize(
    "bad, message",
    [(np.ones(3), "length 3"), (np.ones((2, 2)), "vector"), (np.array([np.inf, 0.0]), "NaN or Inf")],
)
def test_bad_vectors_rejected(bad, message):
    with pytest.raises(ValueError, match=message):
        as_vector(bad, 2, name="b")


def test_solve_dtype_rules():
    assert solve_dtype(np.float32, np.float32) == np.float32
    assert solve_dtype(np.float32, np.float64) == np.float64


def test_operator_passes_linear_operator_through():
    from scipy.sparse.linalg import aslinearoperator

    op = aslinearoperator(np.eye(3))
    assert as_operator(op) is op
    with pytest.raises(ValueError, match="square"):
        as_operator(aslinearoperator(np.ones((2, 3))))


@pytest.mark.parametrize("args", [(1e-5, -1.0, None), (np.nan, 0.0, None), (1e-5, 0.0, 2.5), (True, 0.0, None)])
def test_check_tolerances_rejects(args):
    with pytest.raises((ValueError, TypeError)):
        check_tolerances(*args, default_maxiter=10)
