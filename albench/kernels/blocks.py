"""The one block-size rule of every blocked row computation in albench.

Kernels and geometry helpers never hold an N x N (or N x (C*d)) matrix: they walk the rows
in blocks and keep one (rows x n_cols) temporary at a time. The block height comes from
here alone:

    rows = max(MIN_ROWS, BLOCK_ELEMENTS // n_cols)

so a temporary holds at most ``max(BLOCK_ELEMENTS, MIN_ROWS * n_cols)`` elements: 2 Mi
elements (8 MiB of float32, 16 MiB of float64) up to 8,192 columns, then 256 rows (a block
of similarities against a 100 000-image pool is 256 x 100 000 float32, about 98 MiB). Both
bounds exist because a GEMM over few rows re-reads its right-hand side once per block and
loses speed: the learner's pass over a 100k x 512 pool at C = 1,000 took 1.39x the time of
16k-row blocks in blocks of 1,048 rows (1 Mi elements), 1.09x in blocks of 2,096 and 0.96x
in blocks of 4,192 (2 cores). 2 Mi keeps the uncertainty strategies within their targets
at 100k, time within 2x the pass and peak memory within half the feature matrix, where
4 Mi-element temporaries came to 0.7x (``benchmarks/test_scale.py``). The floor binds only
when the columns are a whole pool.
"""

from __future__ import annotations

from collections.abc import Iterator

#: elements of one temporary block (2 Mi: 8 MiB of float32), unless under MIN_ROWS rows
BLOCK_ELEMENTS = 1 << 21
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
