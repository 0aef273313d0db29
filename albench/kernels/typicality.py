"""TypiClust's typicality (Hacohen, Dekel & Weinshall, ICML 2022, sec. 3.2), in row blocks.

The typicality of a row is the inverse mean Euclidean distance to its k nearest other rows.
TypiClust recomputes it over a cluster's unlabelled members at every pick, and each pick
removes one member: on a cluster of m rows that is an m x m distance pass per pick.
:class:`ShrinkingTypicality` keeps it exact across removals instead. Removing a row changes
only the rows that had it among their nearest neighbours; each row keeps its nearest
``2k`` neighbours sorted, so its k nearest remaining ones are the first k of them not
removed, and only a row that has lost more than k of them is searched again (one row
against the members). Every other open member is at least as far as the last neighbour a
row keeps, so the first k kept ones are its k nearest whatever was removed.
"""

from __future__ import annotations

import numpy as np

from albench.kernels.blocks import row_blocks


def member_typicality(x: np.ndarray, neighbours: int) -> np.ndarray:
    """Inverse mean Euclidean distance of each row to its ``neighbours`` nearest other rows.

    Computed in row blocks (:mod:`albench.kernels.blocks`), so a large cluster never needs
    its full distance matrix.
    """
    k = min(neighbours, x.shape[0] - 1)
    if k < 1:
        return np.ones(x.shape[0])
    x = x.astype(np.float64)
    everyone = np.arange(x.shape[0])
    _, d2 = _nearest(x, (x * x).sum(axis=1), everyone, everyone, k)
    return _inverse_mean_distance(d2)


class ShrinkingTypicality:
    """Typicality of the open rows of ``x`` as rows are removed one at a time.

    ``typicality`` equals :func:`member_typicality` of the open rows with TypiClust's
    neighbour count ``min(neighbours, open rows // 2)`` (to rounding: the distances of a
    row searched again come from a smaller product); removed rows read ``-inf``, so an
    argmax finds the most typical open row.
    """

    def __init__(self, x: np.ndarray, neighbours: int):
        self._x = np.asarray(x, dtype=np.float64)
        self._sq = (self._x * self._x).sum(axis=1)
        self._cap = int(neighbours)
        self._open = np.ones(self._x.shape[0], dtype=bool)
        self.typicality = np.empty(self._x.shape[0])
        self._rebuild()

    def remove(self, row: int) -> None:
        """Take ``row`` out: later typicality is over the rows still open."""
        self._open[row] = False
        self.typicality[row] = -np.inf
        if self._neighbour_count() != self._k:
            self._rebuild()
            return
        if self._k < 1:
            return
        hit = np.flatnonzero(self._open & (self._ids == row).any(axis=1))
        short = hit[self._open_kept(hit).sum(axis=1) < self._k]
        if short.size:
            self._search(short)
        self.typicality[hit] = _inverse_mean_distance(self._first_open(hit))

    def _neighbour_count(self) -> int:
        n_open = int(self._open.sum())
        return min(self._cap, n_open // 2, n_open - 1)

    def _rebuild(self) -> None:
        """Every open row's kept neighbours searched again, for the current count."""
        self._k = self._neighbour_count()
        rows = np.flatnonzero(self._open)
        self.typicality[~self._open] = -np.inf
        if self._k < 1:
            self.typicality[rows] = 1.0
            return
        self._ids = np.full((self._x.shape[0], self._kept()), -1, dtype=np.int64)
        self._d2 = np.full(self._ids.shape, np.inf)
        self._search(rows)
        self.typicality[rows] = _inverse_mean_distance(self._first_open(rows))

    def _kept(self) -> int:
        return min(2 * self._k, int(self._open.sum()) - 1)

    def _search(self, rows: np.ndarray) -> None:
        """The nearest open neighbours of ``rows``, sorted by distance, kept."""
        kept = self._kept()
        ids, d2 = _nearest(self._x, self._sq, rows, np.flatnonzero(self._open), kept)
        self._ids[rows] = -1
        self._d2[rows] = np.inf
        self._ids[rows, :kept] = ids
        self._d2[rows, :kept] = d2

    def _open_kept(self, rows: np.ndarray) -> np.ndarray:
        """(rows, kept) whether each kept neighbour of ``rows`` is still open (-1: none)."""
        ids = self._ids[rows]
        return self._open[ids] & (ids >= 0)

    def _first_open(self, rows: np.ndarray) -> np.ndarray:
        """Squared distances of each of ``rows`` to its first k open kept neighbours."""
        first = np.argsort(~self._open_kept(rows), axis=1, kind="stable")[:, : self._k]
        return np.take_along_axis(self._d2[rows], first, axis=1)


def _nearest(
    x: np.ndarray, sq: np.ndarray, rows: np.ndarray, among: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Ids (into ``x``) and squared distances of the ``k`` nearest of ``among`` (sorted ids)
    to each of ``rows`` other than itself, sorted by distance; one row block at a time."""
    ids = np.empty((rows.size, k), dtype=np.int64)
    d2_out = np.empty((rows.size, k))
    candidates = x[among]
    for start, stop in row_blocks(rows.size, among.size):
        block = rows[start:stop]
        d2 = sq[block, None] + sq[None, among] - 2.0 * (x[block] @ candidates.T)
        at = np.minimum(np.searchsorted(among, block), among.size - 1)
        itself = np.flatnonzero(among[at] == block)
        d2[itself, at[itself]] = np.inf
        nearest = np.argpartition(d2, k - 1, axis=1)[:, :k]
        values = np.take_along_axis(d2, nearest, axis=1)
        order = np.argsort(values, axis=1, kind="stable")
        ids[start:stop] = among[np.take_along_axis(nearest, order, axis=1)]
        d2_out[start:stop] = np.take_along_axis(values, order, axis=1)
    return ids, d2_out


def _inverse_mean_distance(d2: np.ndarray) -> np.ndarray:
    """1 / mean of sqrt(d2) per row (sorted squared distances; rounding below 0 clipped)."""
    return 1.0 / (np.sqrt(np.maximum(d2, 0.0)).mean(axis=1) + 1e-12)
