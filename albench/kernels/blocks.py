"""The one block-size rule of every blocked row computation in albench.

Kernels and geometry helpers never hold an N x N (or N x (C*d)) matrix: they walk the rows
in blocks and keep one (rows x n_cols) temporary at a time. The block height comes from
here alone:

    rows = max(MIN_ROWS, BLOCK_ELEMENTS // n_cols)

so a temporary holds at most ``max(BLOCK_ELEMENTS, MIN_ROWS * n_cols)`` elements: 1 Mi
elements (4 MiB of float32, 8 MiB of float64) up to 4096 columns, then 256 rows (a block of
similarities against a 100 000-image pool is 256 x 100 000 float32, about 98 MiB). The
floor exists because a GEMM over fewer rows re-reads its right-hand side once per block and
loses most of its speed; it binds only when the columns are a whole pool.
"""

from __future__ import annotations

from collections.abc import Iterator

#: elements of one temporary block (1 Mi: 4 MiB of float32), unless under MIN_ROWS rows
BLOCK_ELEMENTS = 1 << 20
#: fewest rows per block (smaller blocks lose GEMM efficiency)
MIN_ROWS = 256


def row_block(n_cols: int) -> int:
    """Rows per block for a (rows x n_cols) temporary (see the module docstring)."""
    return max(MIN_ROWS, BLOCK_ELEMENTS // max(1, n_cols))


def row_blocks(n_rows: int, n_cols: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` ranges covering ``n_rows`` rows, :func:`row_block` rows each."""
    step = row_block(n_cols)
    for start in range(0, n_rows, step):
        yield start, min(start + step, n_rows)
