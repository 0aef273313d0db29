"""Which kernel and reference runs at which size, and what each case costs.

``make bench`` runs every case here whose size is in ``ALBENCH_BENCH_SIZES`` (default
``S,M,L``; ``S`` for a quick run). References that cannot allocate their working set on a
machine of this class are not run; docs/benchmarks.md records the memory they would need.
``ALBENCH_BENCH_ALL_REFERENCES=1`` also runs the per-pick BADGE reference at L.
The scale suite (``benchmarks/test_scale.py``) runs at the pool sizes in
``ALBENCH_BENCH_SCALE_SIZES`` (default ``100k``; ``100k,320k,1.28M`` for all) for the
strategies in ``ALBENCH_BENCH_SCALE_STRATEGIES`` (comma-separated; ``all`` for every
built-in strategy; default the ones whose selection is one pass over the pool, ``SCALE_DEFAULT``:
the others take from minutes to hours at these sizes on a 2-core machine).
"""

from __future__ import annotations

import os

from benchmarks.inputs import FEATURE_DIM, SCALE_SIZES, SIZES, Size

F32 = 4
#: the largest working set a case may need: half the physical memory, leaving room for
#: the inputs and the process itself (24 GiB machine: 12 GiB)
MEMORY_LIMIT = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2


def selected_sizes() -> list[str]:
    names = os.environ.get("ALBENCH_BENCH_SIZES", "S,M,L").split(",")
    return [n.strip() for n in names if n.strip() in SIZES]


def selected_scale_sizes() -> list[str]:
    names = os.environ.get("ALBENCH_BENCH_SCALE_SIZES", "100k").split(",")
    return [n.strip() for n in names if n.strip() in SCALE_SIZES]


#: built-in strategies the scale suite does not run, and why (in the table's words)
SCALE_LEFT_OUT = {
    "batch-bald": (
        "not run: each of the B = 1,000 greedy picks scores every candidate's joint entropy "
        "with the batch over M sampled label configurations, M x T x C multiply-adds per "
        "candidate (10^10 at the reference's M = 100,000, T = 100): over 10^16 per selection "
        "even on 1,000 candidates, whatever the pool (the paper acquires tens of samples at a "
        "time from datasets of at most 47 classes)"
    ),
}

#: the scale suite's strategies unless ALBENCH_BENCH_SCALE_STRATEGIES says otherwise
SCALE_DEFAULT = "random,entropy,margin,least-confidence,coreset,badge"


def built_in_specs() -> list[str]:
    """Every built-in strategy as the scale suite names it; a wrapper wraps ``entropy``."""
    from albench.strategies import REGISTRY

    names = [n for n in REGISTRY.names() if REGISTRY.origin(n) == "built-in"]
    return [f"{n}(entropy)" if getattr(REGISTRY.cls(n), "wraps", False) else n for n in names]


def selected_scale_strategies(every: list[str]) -> list[str]:
    """Those of ``every`` strategy that ``ALBENCH_BENCH_SCALE_STRATEGIES`` names (``all``:
    every one; unset: :data:`SCALE_DEFAULT`)."""
    text = os.environ.get("ALBENCH_BENCH_SCALE_STRATEGIES", SCALE_DEFAULT)
    chosen = {n.strip() for n in text.split(",")} - {""}
    return [name for name in every if "all" in chosen or name in chosen]


def unlabelled(size: Size) -> int:
    return size.n - size.n_labelled


def k_center_flops(size: Size) -> float:
    """GEMM work of exact greedy k-center: distances of every row to |L| + B centres."""
    return 2.0 * size.n * FEATURE_DIM * (size.n_labelled + size.budget)


def k_center_stream_bytes(size: Size) -> float:
    """Bytes a plain loop reads: the labelled block once, then all features per pick."""
    return F32 * size.n * FEATURE_DIM * size.budget


def badge_flops(size: Size) -> float:
    """GEMM work of k-means++ on factors: each row against each centre, (C + h) per pair."""
    return 2.0 * unlabelled(size) * (size.n_classes + FEATURE_DIM) * size.budget


def badge_stream_bytes(size: Size) -> float:
    """Bytes a plain loop reads: all factors once per pick."""
    return F32 * unlabelled(size) * (size.n_classes + FEATURE_DIM) * size.budget


def feature_bytes(size: Size) -> int:
    return F32 * size.n * FEATURE_DIM


def factor_bytes(size: Size) -> int:
    return F32 * unlabelled(size) * (size.n_classes + FEATURE_DIM)


#: working set (bytes) of each reference at a size
NEEDS = {
    "k_center_full_matrix": lambda s: F32 * s.n * s.n,
    "k_center_pairwise": lambda s: F32 * s.n * s.n_labelled * 2,
    "badge_materialised": lambda s: F32 * unlabelled(s) * s.n_classes * FEATURE_DIM * 2,
    "badge_factorised_rv": lambda s: 8 * unlabelled(s) * 6,
}

#: sizes each reference runs at when memory allows (per-pick references are slow)
REFERENCE_SIZES = {
    "k_center_full_matrix": ("S",),
    "k_center_pairwise": ("S", "M", "L"),
    "badge_materialised": ("S",),
    "badge_factorised_rv": ("S", "M"),
}


def reference_skip_reason(name: str, size_name: str) -> str | None:
    """Why ``name`` does not run at ``size_name`` (None: it runs)."""
    need = NEEDS[name](SIZES[size_name])
    if need > MEMORY_LIMIT:
        return f"cannot allocate: needs {need / 1e9:.0f} GB"
    sizes = REFERENCE_SIZES[name]
    if os.environ.get("ALBENCH_BENCH_ALL_REFERENCES") == "1":
        sizes = (*sizes, "L")
    if size_name not in sizes:
        return "not run: time budget of make bench"
    return None


def rounds(reference: bool = False) -> int:
    """Timed rounds: three for albench's kernels (a median that shrugs off one slow round on
    a shared machine), one for the references (a single call takes seconds to minutes)."""
    return 1 if reference else 3


#: why a plain counterpart of benchmarks/test_strategies.py does not run at M (N = 50,000,
#: 45,000 unlabelled, C = 100, d = 512, B = 1,000), in the table's words; the others at M are
#: measured or, in a quick run, left to ``ALBENCH_BENCH_PLAIN_AT_M``
PLAIN_NOT_AT_M = {
    "max-herding": "not run: N x N float64 matrices, 20 GB each",
    "uncertainty-herding": "not run: N x N float64 matrices, 20 GB each",
    "logo": ("not run: k-means on 45,000 x 51,200 embeddings (9.2 GB), 4.6 TFLOP per iteration"),
}


#: strategies whose selection changed since a committed run may have measured them: the
#: commit's UTC time, the sizes whose selection it changed, and what the earlier
#: implementation did (rows measured before are marked as such in docs/benchmarks.md)
STRATEGY_CHANGES = {
    "alfa-mix": (
        "2026-11-30T10:44:57+00:00",
        ("S", "M"),
        "it ran the linear head once per class anchor and cap step instead of finding each "
        "sample's flip point in one pass",
    ),
    "logo": (
        "2026-11-30T10:51:06+00:00",
        ("M",),
        "it clustered all 45,000 unlabelled rows (now a 20,000-row sample, its max_pool, "
        "clustered on the Gram matrix)",
    ),
    "max-herding": (
        "2026-11-30T11:04:53+00:00",
        ("S", "M"),
        "its lazy greedy re-evaluated one stale gain at a time",
    ),
    "uncertainty-herding": (
        "2026-11-30T11:04:53+00:00",
        ("S", "M"),
        "its lazy greedy re-evaluated one stale gain at a time",
    ),
    "tcm(labels_per_class=100)": (
        "2026-11-30T13:39:26+00:00",
        ("S", "M"),
        "its TypiClust computed typicality again over the chosen cluster at every pick",
    ),
}
