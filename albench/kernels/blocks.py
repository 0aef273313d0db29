"""The one block-size rule of every blocked row computation in albench.

Kernels and geometry helpers never hold an N x N (or N x (C*d)) matrix: they walk the rows
in blocks and keep one (rows x n_cols) temporary at a time. The block height comes from
here alone:

    rows = max(MIN_ROWS, BLOCK_ELEMENTS // n_cols)

so a temporary holds at most ``max(BLOCK_ELEMENTS, MIN_ROWS * n_cols)`` elements: 4 Mi
elements (16 MiB of float32, 32 MiB of float64) up to 16,384 columns, then 256 rows (a block
of similarities against a 100 000-image pool is 256 x 100 000 float32, about 98 MiB). Both
bounds exist because a GEMM over few rows re-reads its right-hand side once per block and
loses speed: the learner's pass over a pool at C = 1,000, d = 512 took 1.39x the time of
16k-row blocks in blocks of 1,048 rows (1 Mi elements) and 0.96x in blocks of 4,192
(``benchmarks/test_scale.py``'s GEMM floor, 100k rows, 2 cores). The floor binds only when
the columns are a whole pool.
"""

from __future__ import annotations

from collections.abc import Iterator

#: elements of one temporary block (4 Mi: 16 MiB of float32), unless under MIN_ROWS rows
BLOCK_ELEMENTS = 1 << 22
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
