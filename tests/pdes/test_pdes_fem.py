"""fem_example and load_matrix_market."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
import scipy.linalg
import scipy.sparse as sp

from itersolve.pdes import FEM_EXAMPLES, fem_example, load_matrix_market


@pytest.mark.parametrize("name", sorted(FEM_EXAMPLES))
def test_fem_examples_square_and_as_documented(name):
    note = FEM_EXAMPLES[name]
    A = fem_example(name)
    assert isinstance(A, sp.csr_matrix) and A.has_canonical_format
    assert A.shape[0] == A.shape[1] > 0 and A.dtype == np.float64
    assert str(A.shape[0]) in note
    D = A.toarray()
    asym = np.abs(D - D.T).max() / np.abs(D).max()
    if note.startswith("nonsymmetric"):
        assert asym > 1e-3
        return
    assert note.startswith(("SPD", "SPSD"))
    assert asym < 1e-12
    lmin = scipy.linalg.eigh((D + D.T) / 2, eigvals_only=True, subset_by_index=[0, 0])[0]
    scale = np.abs(D).max()
    if note.startswith("SPD"):
        assert lmin > 1e-8 * scale
    else:
        assert abs(lmin) < 1e-10 * scale


def test_unknown_example_lists_names():
    with pytest.raises(ValueError, match="unknown FEM example 'nope'") as info:
        fem_example("nope")
    for name in FEM_EXAMPLES:
        assert name in str(info.value)


def test_complex_helmholtz_is_not_offered():
    assert "helmholtz_2D" not in FEM_EXAMPLES
    with pytest.raises(ValueError, match="valid names"):
        fem_example("helmholtz_2D")


def test_matrix_market_roundtrip(tmp_path):
    A = sp.random(30, 30, density=0.1, random_state=0, format="coo") + sp.eye(30)
    path = tmp_path / "a.mtx"
    scipy.io.mmwrite(path, A)
    B = load_matrix_market(path)
    assert isinstance(B, sp.csr_matrix) and B.has_canonical_format and B.dtype == np.float64
    assert abs(B - A.tocsr()).max() < 1e-12
    B2 = load_matrix_market(str(path))
    assert (B2 != B).nnz == 0


def test_matrix_market_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.mtx"):
        load_matrix_market(tmp_path / "missing.mtx")
    rect = tmp_path / "rect.mtx"
    scipy.io.mmwrite(rect, sp.random(3, 4, density=0.5, random_state=0, format="coo"))
    with pytest.raises(ValueError, match="square"):
        load_matrix_market(rect)
    junk = tmp_path / "junk.mtx"
    junk.write_text("this is not a matrix market file\n")
    with pytest.raises(ValueError, match="could not read"):
        load_matrix_market(junk)
