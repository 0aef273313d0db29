"""Selection kernels against brute-force definitions on small inputs."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from albench.kernels import gradient_embedding_sq_dists, greedy_k_center, kmeanspp_select


def _unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _brute_k_center(x, centres, budget, candidates, first=None):
    """Definition: farthest candidate from its nearest centre, float64, full matrix."""
    dist = 1.0 - x.astype(np.float64) @ x.astype(np.float64).T
    chosen = list(centres)
    picks = []
    pool = sorted(candidates)
    for _ in range(min(budget, len(pool))):
        if not chosen:
            best = first
        else:
            gaps = [min(dist[i, c] for c in chosen) for i in pool]
            best = pool[int(np.argmax(gaps))]
        picks.append(best)
        chosen.append(best)
        pool.remove(best)
    return picks


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("n_centres", [0, 1, 7])
@pytest.mark.parametrize("method", ["lazy", "plain"])
def test_k_center_matches_brute_force(seed, n_centres, method):
    rng = np.random.default_rng(seed)
    x = _unit_rows(rng, 60, 5)
    centres = rng.choice(60, n_centres, replace=False)
    rest = np.setdiff1d(np.arange(60), centres)
    first_rng = np.random.default_rng(100 + seed)
    picks = greedy_k_center(x, centres, 12, rng=np.random.default_rng(100 + seed), method=method)
    first = int(rest[first_rng.integers(rest.size)]) if n_centres == 0 else None
    assert picks.dtype == np.int64
    assert picks.tolist() == _brute_k_center(x, centres, 12, rest, first)


@pytest.mark.parametrize("seed", [0, 1])
def test_k_center_candidate_subset_and_torch_input(seed):
    rng = np.random.default_rng(seed)
    x = _unit_rows(rng, 80, 6)
    centres = np.array([3, 40])
    candidates = rng.permutation(np.setdiff1d(np.arange(0, 80, 2), centres))[:25]
    expected = _brute_k_center(x, centres, 10, candidates)
    assert greedy_k_center(x, centres, 10, candidates=candidates).tolist() == expected
    got = greedy_k_center(torch.from_numpy(x), torch.tensor(centres), 10, candidates=candidates)
    assert got.tolist() == expected


def test_k_center_budget_larger_than_candidates_and_ties():
    x = np.eye(4, dtype=np.float32)  # all pairwise distances equal 1: ties go to lowest index
    assert greedy_k_center(x, [2], 10).tolist() == [0, 1, 3]
    assert greedy_k_center(x, [], 0, rng=np.random.default_rng(0)).tolist() == []


def test_k_center_needs_rng_without_centres():
    with pytest.raises(ValueError, match="rng"):
        greedy_k_center(np.eye(3, dtype=np.float32), [], 2)


def _factors(seed: int, n: int = 50, c: int = 4, h: int = 6):
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((n, c)).astype(np.float32),
        rng.standard_normal((n, h)).astype(np.float32),
    )


def test_factorised_distances_equal_materialised():
    a, x = _factors(0)
    g = np.einsum("nc,nh->nch", a.astype(np.float64), x.astype(np.float64)).reshape(50, -1)
    for centre in (0, 17, 49):
        expected = ((g - g[centre]) ** 2).sum(1)
        got = gradient_embedding_sq_dists(a, x, centre).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("fold_every", [1, 3, 64])
@pytest.mark.parametrize("draws", ["rejection", "inverse-cdf"])
def test_kmeanspp_first_pick_is_largest_norm_and_no_repeats(draws, fold_every):
    a, x = _factors(1)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(x, axis=1)
    rng = np.random.default_rng(0)
    picks = kmeanspp_select(a, x, 50, rng, draws=draws, fold_every=fold_every)
    assert picks[0] == int(np.argmax(norms))
    assert sorted(picks.tolist()) == list(range(50))


@pytest.mark.parametrize("draws", ["rejection", "inverse-cdf"])
def test_kmeanspp_uniform_when_all_remaining_weights_are_zero(draws):
    a = np.ones((5, 2), dtype=np.float32)
    x = np.ones((5, 3), dtype=np.float32)  # all embeddings equal: D^2 = 0 after the first
    picks = kmeanspp_select(a, x, 5, np.random.default_rng(3), draws=draws)
    assert picks[0] == 0
    assert sorted(picks.tolist()) == [0, 1, 2, 3, 4]


def test_kmeanspp_follows_given_uniforms():
    """Each pick after the first is the inverse-CDF draw of one rng.random()."""
    a, x = _factors(2, n=30)
    g = np.einsum("nc,nh->nch", a.astype(np.float64), x.astype(np.float64)).reshape(30, -1)
    picks = kmeanspp_select(a, x, 6, np.random.default_rng(7), draws="inverse-cdf")
    uniforms = np.random.default_rng(7).random(5)
    d2 = ((g - g[picks[0]]) ** 2).sum(1)
    for step, u in enumerate(uniforms, start=1):
        cumulative = np.cumsum(d2)
        assert picks[step] == int(np.searchsorted(cumulative, u * cumulative[-1], side="right"))
        d2 = np.minimum(d2, ((g - g[picks[step]]) ** 2).sum(1))


def _pair_law(a: np.ndarray, x: np.ndarray) -> dict[tuple[int, int], float]:
    """Exact k-means++ law of (second, third) pick, by enumeration in float64."""
    g = np.einsum("nc,nh->nch", a.astype(np.float64), x.astype(np.float64)).reshape(len(a), -1)
    sq = ((g[:, None] - g[None]) ** 2).sum(2)
    first = int(np.argmax((g**2).sum(1)))
    law = {}
    p2 = sq[first] / sq[first].sum()
    for i in np.flatnonzero(p2):
        d2 = np.minimum(sq[first], sq[i])
        for j in np.flatnonzero(d2):
            law[(int(i), int(j))] = p2[i] * d2[j] / d2.sum()
    return law


def test_rejection_sampler_follows_the_d2_law():
    """Third pick is drawn with the second still pending, i.e. through rejection."""
    a, x = _factors(5, n=6, c=3, h=2)
    law = _pair_law(a, x)
    rng = np.random.default_rng(11)
    draws = 2000
    counts = dict.fromkeys(law, 0)
    for _ in range(draws):
        picks = kmeanspp_select(a, x, 3, rng, fold_every=8)
        counts[(int(picks[1]), int(picks[2]))] += 1
    cells = sorted(law)
    expected = np.array([law[c] for c in cells]) * draws
    observed = np.array([counts[c] for c in cells])
    assert expected.min() > 5  # chi-square approximation valid on every cell
    assert stats.chisquare(observed, expected).pvalue > 0.001


def _peak_rss_growth(fn) -> int:
    """Bytes the peak resident set grew by during ``fn()`` (Linux VmHWM, reset first).

    glibc serves blocks of 32 MB and more with fresh mmap pages, so an allocation that large
    always shows up here, whatever the allocator cached before.
    """

    def kib(field: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise KeyError(field)

    Path("/proc/self/clear_refs").write_text("5")
    base = kib("VmRSS")
    fn()
    return (kib("VmHWM") - base) * 1024


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux procfs")
def test_kernels_allocate_no_n_by_n_matrix():
    """N = 4000: one N x N float32 matrix is 64 MB, the N x (C*h) embedding 41 MB."""
    n, limit = 4000, 32 * 2**20
    rng = np.random.default_rng(0)
    x = _unit_rows(rng, n, 128)
    scale = rng.standard_normal((n, 20)).astype(np.float32)
    greedy_k_center(x[:500], np.arange(50), 20)  # warm up thread pools
    kmeanspp_select(scale[:500], x[:500], 20, np.random.default_rng(0))
    assert _peak_rss_growth(lambda: greedy_k_center(x, np.arange(400), 200)) < limit
    picks = lambda: kmeanspp_select(scale, x, 200, np.random.default_rng(0))  # noqa: E731
    assert _peak_rss_growth(picks) < limit


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_kernels_on_cuda_pick_what_they_pick_on_cpu():
    rng = np.random.default_rng(4)
    x = _unit_rows(rng, 500, 32)
    on_gpu = torch.from_numpy(x).cuda()
    for method in ("lazy", "plain"):
        expected = greedy_k_center(x, np.arange(20), 30, method=method)
        assert greedy_k_center(on_gpu, np.arange(20), 30, method=method).tolist() == (
            expected.tolist()
        )
    a, f = _factors(6, n=200)
    expected = kmeanspp_select(a, f, 15, np.random.default_rng(1), draws="inverse-cdf")
    got = kmeanspp_select(
        torch.from_numpy(a).cuda(),
        torch.from_numpy(f).cuda(),
        15,
        np.random.default_rng(1),
        draws="inverse-cdf",
    )
    assert got.tolist() == expected.tolist()
    picks = kmeanspp_select(torch.from_numpy(a).cuda(), torch.from_numpy(f).cuda(), 50, rng)
    assert len(set(picks.tolist())) == 50


def test_k_center_accepts_read_only_float16_features():
    """The feature cache serves read-only float16 memory maps."""
    x = _unit_rows(np.random.default_rng(9), 50, 8).astype(np.float16)
    x.setflags(write=False)
    expected = greedy_k_center(x.astype(np.float32), [0, 1], 6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert greedy_k_center(x, [0, 1], 6).tolist() == expected.tolist()
