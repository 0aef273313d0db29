"""Regenerate docs/benchmarks.md from a pytest-benchmark JSON file.

Usage: ``python -m benchmarks.render benchmarks/last-run.json docs/benchmarks.md`` (several
JSON files of runs of parts of the suite are merged: ``a.json b.json docs/benchmarks.md``).
All measured numbers come from the JSON; the benchmark plan (:mod:`benchmarks.plan`) only says
which cases were not run and why.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import plan
from benchmarks.inputs import FEATURE_DIM, SIZES
from benchmarks.references import REFERENCES

KERNELS = {
    "k-center": ("albench-lazy", "albench-plain", "k_center_full_matrix", "k_center_pairwise"),
    "badge": (
        "albench-rejection",
        "albench-inverse-cdf",
        "badge_materialised",
        "badge_factorised_rv",
    ),
}
DESCRIPTIONS = {
    "albench-lazy": "albench `greedy_k_center` (lazy exact, default)",
    "albench-plain": "albench `greedy_k_center(method='plain')` (one mat-vec per pick)",
    "albench-rejection": "albench `kmeanspp_select` (rejection sampler, default)",
    "albench-inverse-cdf": "albench `kmeanspp_select(draws='inverse-cdf')` (one pass per pick)",
    **{name: text for name, (_, text) in REFERENCES.items()},
}
#: (kernel, reference, size, minimum speed-up over the reference)
SPEED_TARGETS = [
    ("k-center", "k_center_pairwise", "M", 6),
    ("k-center", "k_center_pairwise", "L", 6),
    ("badge", "badge_factorised_rv", "M", 10),
    ("badge", "badge_materialised", "S", 300),
]
#: (kernel, sizes, maximum multiple of the FLOP floor)
FLOOR_TARGETS = [("k-center", ("M", "L"), 2), ("badge", ("M", "L"), 4)]


METHOD_NOTES = [
    "## How the kernels avoid the per-pick pass",
    "",
    "A plain greedy loop reads every feature (k-center) or every factor (BADGE) once per pick,",
    "so it is memory-bound: B passes over the data. Both kernels read far less and stay exact.",
    "",
    "- k-center (`albench/kernels/k_center_lazy.py`): distances to the labelled set come from",
    "  blocked GEMMs (never N x N). Each point's distance to its nearest centre only shrinks, so",
    "  an old value is an upper bound; a heap pops the largest bounds, refreshes them against",
    "  the centres added since (one small GEMM) and accepts the best refreshed point once it",
    "  beats every remaining bound: the same picks as the plain loop (lazy greedy, Minoux 1978).",
    "- BADGE (`albench/kernels/kmeanspp_rejection.py`): distances from the factors",
    "  `|a_i|^2 |x_i|^2 + |a_j|^2 |x_j|^2 - 2 (a_i.a_j)(x_i.x_j)` (never N x (C*h)); k-means++",
    "  draws propose from stale D^2 weights through a two-level sampler and accept with",
    "  probability D^2_true / D^2_stale, which is exactly the k-means++ law; pending centres",
    "  are folded into all weights with two GEMMs every 256 picks (or 256 rejections).",
    "  `draws='inverse-cdf'` keeps the one-uniform-per-pick loop for exact-draw comparisons.",
    "- The per-pick steps run on one thread; only the GEMMs use the thread pool.",
]


def on_gpu(kind: str) -> str:
    """The case kind under which ``kind``'s runs on the CUDA device are keyed."""
    return f"{kind}@cuda"


def load(path: Path) -> tuple[dict[str, Any], dict[tuple[str, str, str], dict[str, Any]], list]:
    """Machine facts, ``{(kind, impl, size): {median, peak_bytes, ...}}`` of this suite's
    cases (kind :func:`on_gpu` for cases run on the GPU), and the other suites' benchmarks
    (JSON entries without a ``kind``)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    cases, others = {}, []
    for bench in data["benchmarks"]:
        info = bench["extra_info"]
        if "kind" not in info or "impl" not in info:  # another suite's: listed as it is
            others.append(bench)
            continue
        kind = on_gpu(info["kind"]) if info.get("device") == "cuda" else info["kind"]
        key = (kind, info["impl"], info.get("size", ""))
        cases[key] = {
            **info,
            "median": bench["stats"]["median"],
            "rounds": bench["stats"]["rounds"],
            "measured": data.get("datetime", ""),
        }
    floors = {size: c["median"] for (kind, impl, size), c in cases.items() if impl == "gemm floor"}
    for (kind, _, size), case in cases.items():
        if kind == "scale" and size in floors:
            case["run_floor"] = floors[size]  # the floor of the case's own run
    return {**data["machine_info"], "datetime": data.get("datetime", "")}, cases, others


def other_lines(others: list) -> list[str]:
    """Benchmarks of other suites: group, name, median, rounds and their extra info."""
    lines = ["| group | benchmark | median | rounds | extra info |", "|---|---|---|---|---|"]
    for bench in others:
        extra = ", ".join(f"{k}={v}" for k, v in bench["extra_info"].items())
        stats = bench["stats"]
        lines.append(
            f"| {bench.get('group') or ''} | {bench['name']} | {_seconds(stats['median'])} "
            f"| {stats['rounds']} | {extra} |"
        )
    return lines


def rates(cases: dict) -> tuple[float | None, float | None]:
    """Measured GEMM FLOP/s and streaming bytes/s of this run."""
    gemm = cases.get(("machine", "gemm", ""))
    stream = cases.get(("machine", "stream", ""))
    return (
        gemm["flops"] / gemm["median"] if gemm else None,
        stream["bytes"] / stream["median"] if stream else None,
    )


def fit_exponent(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of log(y) on log(x)."""
    if len(points) < 2:
        return None
    xs = [math.log(x) for x, _ in points]
    ys = [math.log(y) for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else None


def _seconds(value: float) -> str:
    """Three significant digits; whole seconds from 1,000 s on (no exponent)."""
    return f"{value:,.0f} s" if value >= 1000 else f"{value:.3g} s"


def _mb(value: float) -> str:
    return f"{value / 1e6:,.0f} MB"


def kernel_table(kind: str, cases: dict, flop_rate: float | None, byte_rate: float | None):
    """One row per implementation and size; a last "GPU median" column when the run has
    GPU cases of ``kind`` (blank for implementations not run there)."""
    impls = KERNELS[kind]
    gpu = any(k == on_gpu(kind) for k, _, _ in cases)
    lines = [
        "| size | implementation | median | vs albench | peak extra memory | "
        "x input | FLOP floor | x FLOP floor | per-pick bandwidth floor |"
        + (" GPU median |" if gpu else ""),
        "|---|---|---|---|---|---|---|---|---|" + ("---|" if gpu else ""),
    ]
    for size_name in SIZES:
        ours = cases.get((kind, impls[0], size_name))
        if ours is None:
            continue
        for impl in impls:
            case = cases.get((kind, impl, size_name))
            if case is None:
                row = f"| {size_name} | {impl} | {_skip_reason(impl, size_name)} | | | | | | |"
            else:
                row = (
                    f"| {size_name} | {impl} | "
                    + " | ".join(_row(case, ours, flop_rate, byte_rate))
                    + " |"
                )
            if gpu:
                row += _gpu_cell(cases.get((on_gpu(kind), impl, size_name)), case)
            lines.append(row)
    return lines


def device_output_lines(cases: dict) -> list[str]:
    """A section for the GPU cases of ``test_cuda.py::test_entropy_outputs_cuda``: entropy
    scored from the learner's device outputs against host copies of them; nothing for a
    run without them."""
    kind = on_gpu("entropy-outputs")
    sizes = [size for size in SIZES if (kind, "albench-device", size) in cases]
    if not sizes:
        return []
    lines = [
        "## Selection on a GPU run: the learner's outputs on the device",
        "",
        "One entropy selection whose learner computes the pool's probabilities on the GPU",
        "(`benchmarks/test_cuda.py::test_entropy_outputs_cuda`): scored there from the",
        "learner's device outputs, against each block copied to host memory and scored on the",
        "CPU (how a GPU run selected before `Learner.device_outputs`). The same picks.",
        "",
        "| size | device outputs | host copies | host / device |",
        "|---|---|---|---|",
    ]
    for size in sizes:
        device = cases[(kind, "albench-device", size)]
        host = cases.get((kind, "albench-host", size))
        paired = (
            f"{_seconds(host['median'])} | {host['median'] / device['median']:.3g}x"
            if host
            else "not in this run |"
        )
        lines.append(f"| {size} | {_seconds(device['median'])} | {paired} |")
    return [*lines, ""]


def _gpu_cell(gpu_case: dict | None, cpu_case: dict | None) -> str:
    """The last cell: GPU median, and how many times faster it is than the CPU run."""
    if gpu_case is None:
        return " |"
    text = _seconds(gpu_case["median"])
    if cpu_case is not None:
        text += f" ({cpu_case['median'] / gpu_case['median']:.3g}x faster than CPU)"
    return f" {text} |"


def _row(case: dict, ours: dict, flop_rate: float | None, byte_rate: float | None) -> list[str]:
    """Cells after size and implementation: time, ratio, memory, floors."""
    floor = case["flops"] / flop_rate if flop_rate else None
    stream = case["stream_bytes"] / byte_rate if byte_rate else None
    return [
        _seconds(case["median"]),
        f"{case['median'] / ours['median']:.3g}x",
        _mb(case["peak_bytes"]),
        f"{case['peak_bytes'] / case['input_bytes']:.2f}",
        _seconds(floor) if floor else "-",
        f"{case['median'] / floor:.2f}" if floor else "-",
        _seconds(stream) if stream else "-",
    ]


def _skip_reason(impl: str, size_name: str) -> str:
    if impl in REFERENCES:
        return plan.reference_skip_reason(impl, size_name) or "not in this run"
    return "not run: time budget of make bench"


def exponent_lines(cases: dict) -> list[str]:
    lines = [
        "| implementation | sizes | fitted exponent of time in N | exponent of the FLOP count |",
        "|---|---|---|---|",
    ]
    for kind, impls in KERNELS.items():
        for impl in impls:
            pts = [
                (c["n"], c["median"]) for (k, i, _), c in cases.items() if (k, i) == (kind, impl)
            ]
            work = [
                (c["n"], c["flops"]) for (k, i, _), c in cases.items() if (k, i) == (kind, impl)
            ]
            slope = fit_exponent(pts)
            if slope is None:
                continue
            sizes = ",".join(s for (k, i, s) in sorted(cases) if (k, i) == (kind, impl))
            lines.append(f"| {impl} | {sizes} | {slope:.2f} | {fit_exponent(work):.2f} |")
    return lines


def target_lines(cases: dict, flop_rate: float | None) -> list[str]:
    lines = ["| target | measured | met |", "|---|---|---|"]
    for kind, ref, size_name, need in SPEED_TARGETS:
        ours = cases.get((kind, KERNELS[kind][0], size_name))
        theirs = cases.get((kind, ref, size_name))
        label = f"{kind} >= {need}x {ref} at {size_name}"
        if ours and theirs:
            ratio = theirs["median"] / ours["median"]
            lines.append(f"| {label} | {ratio:.3g}x | {'yes' if ratio >= need else 'no'} |")
        else:
            lines.append(f"| {label} | not measured in this run | - |")
    for kind, sizes, limit in FLOOR_TARGETS:
        for size_name in sizes:
            ours = cases.get((kind, KERNELS[kind][0], size_name))
            label = f"{kind} within {limit}x of the FLOP floor at {size_name}"
            if ours and flop_rate:
                ratio = ours["median"] / (ours["flops"] / flop_rate)
                lines.append(f"| {label} | {ratio:.2f}x | {'yes' if ratio <= limit else 'no'} |")
            else:
                lines.append(f"| {label} | not measured in this run | - |")
    for size_name in SIZES:
        ours = cases.get(("k-center", "albench-lazy", size_name))
        if ours:
            ratio = ours["peak_bytes"] / ours["input_bytes"]
            label = f"k-center peak extra memory <= 2x features at {size_name}"
            lines.append(f"| {label} | {ratio:.2f}x | {'yes' if ratio <= 2 else 'no'} |")
    return lines


def strategy_lines(cases: dict) -> list[str]:
    """One row per (strategy, size): albench's selection against its plain counterpart."""
    specs = sorted({c["strategy"] for (kind, _, _), c in cases.items() if kind == "strategy"})
    if not specs:
        return ["Strategy selection was not measured in this run."]
    lines = [
        "| strategy | size | albench | plain | plain / albench | albench peak extra memory "
        "| plain peak extra memory |",
        "|---|---|---|---|---|---|---|",
    ]
    for spec in specs:
        for size_name in SIZES:
            ours = cases.get(("strategy", f"albench {spec}", size_name))
            theirs = cases.get(("strategy", f"plain {spec}", size_name))
            if ours is None:
                continue
            plain_cells = (
                [_seconds(theirs["median"]), f"{theirs['median'] / ours['median']:.3g}x"]
                if theirs
                else [plan.PLAIN_NOT_AT_M.get(spec, "not run (memory or time)"), "-"]
            )
            lines.append(
                f"| {spec} | {size_name} | {_seconds(ours['median'])} | "
                + " | ".join(plain_cells)
                + f" | {_mb(ours['peak_bytes'])} | "
                + (_mb(theirs["peak_bytes"]) if theirs else "-")
                + " |"
            )
    stale = _measured_before_change(cases)
    if stale:
        lines += ["", *stale]
    return lines


def _measured_before_change(cases: dict) -> list[str]:
    """A line per strategy whose rows were measured before its selection last changed at
    their size (``plan.STRATEGY_CHANGES``): they describe the earlier implementation."""
    lines = []
    for spec, (changed, changed_sizes, what) in plan.STRATEGY_CHANGES.items():
        sizes = [
            size
            for size in SIZES
            if size in changed_sizes
            and cases.get(("strategy", f"albench {spec}", size), {}).get("measured", changed)
            < changed
        ]
        if sizes:
            when = changed[:16].replace("T", " ")
            lines.append(
                f"{spec} at {', '.join(sizes)}: measured before {when} UTC, when {what}; "
                "the next run of the suite measures it again."
            )
    return lines


def scale_lines(cases: dict, flop_rate: float | None) -> list[str]:
    """Per pool size, one row per strategy (and the linear fit): seconds, peak extra memory
    against the float32 feature matrix, time over the N x d x C GEMM floor of that size (the
    floor case of the same run, else the machine GEMM rate); then the fitted exponent of time
    in N of each case run at several sizes."""
    scale = {key: c for key, c in cases.items() if key[0] == "scale"}
    if not scale:
        return ["Pools of ImageNet's size were not measured in this run."]
    lines: list[str] = []
    for size_name in sorted({s for _, _, s in scale}, key=lambda s: _scale_n(scale, s)):
        rows = {impl: c for (_, impl, s), c in scale.items() if s == size_name}
        n = _scale_n(scale, size_name)
        seconds = _floor_seconds(scale, size_name, flop_rate)
        lines += [
            f"### N = {n:,}",
            "",
            f"GEMM floor (N x d x C fp32): {_seconds(seconds)} (each row's ratio is to the "
            "floor of its own run)."
            if seconds
            else "",
            "",
            "| case | seconds | peak extra memory | / feature matrix | / GEMM floor | rows |",
            "|---|---|---|---|---|---|",
        ]
        for impl in sorted(i for i in rows if i != "gemm floor"):
            case = rows[impl]
            floor = case.get("run_floor", seconds)
            ratio = f"{case['median'] / floor:.3g}x" if floor else "-"
            lines.append(
                f"| {impl} | {_seconds(case['median'])} | {_mb(case['peak_bytes'])} "
                f"| {case['peak_bytes'] / case['feature_bytes']:.2f} | {ratio} "
                f"| {_scale_rows(case)} |"
            )
        lines.append("")
    exponents = []
    for impl in sorted({i for _, i, _ in scale}):
        points = [(c["n"], c["median"]) for (_, i, _), c in scale.items() if i == impl]
        slope = fit_exponent(points)
        if slope is not None:
            exponents.append(f"| {impl} | {len(points)} | {slope:.2f} |")
    if exponents:
        lines += ["| case | sizes | fitted exponent of time in N |", "|---|---|---|", *exponents]
    stand_ins = sorted(
        {f"{i}: {c['stand_in']}" for (_, i, _), c in scale.items() if "stand_in" in c}
    )
    if stand_ins:
        lines += ["", "Stand-in learner outputs: " + "; ".join(stand_ins) + "."]
    left_out = [f"| {name} | {why} |" for name, why in plan.SCALE_LEFT_OUT.items()]
    lines += ["", "| strategy left out | why |", "|---|---|", *left_out]
    sizes = sorted({s for _, _, s in scale}, key=lambda s: _scale_n(scale, s))
    for size_name in sizes:
        missing = [
            spec
            for spec in plan.built_in_specs()
            if spec not in plan.SCALE_LEFT_OUT and ("scale", spec, size_name) not in scale
        ]
        if missing:
            lines += ["", f"Not measured at {size_name} in these runs: {', '.join(missing)}."]
    return lines


#: the scale suite's targets: strategy -> (largest time over the GEMM floor or None,
#: largest peak extra memory over the float32 feature matrix)
SCALE_TARGETS = {
    "entropy": (2.0, 0.5),
    "margin": (2.0, 0.5),
    "least-confidence": (2.0, 0.5),
    "coreset": (None, 0.5),
    "badge": (None, 0.5),
}


def _floor_seconds(scale: dict, size_name: str, flop_rate: float | None) -> float | None:
    """The GEMM floor case of ``size_name`` in the same run, else the machine GEMM rate's."""
    floor = scale.get(("scale", "gemm floor", size_name))
    if floor:
        return floor["median"]
    case = next(c for (_, _, s), c in scale.items() if s == size_name)
    return case["flops"] / flop_rate if flop_rate else None


def scale_target_lines(cases: dict, flop_rate: float | None) -> list[str]:
    """One row per target and pool size measured: the value, and whether it is met."""
    scale = {key: c for key, c in cases.items() if key[0] == "scale"}
    lines = ["| strategy | N | target | measured | met |", "|---|---|---|---|---|"]
    for size_name in sorted({s for _, _, s in scale}, key=lambda s: _scale_n(scale, s)):
        floor = _floor_seconds(scale, size_name, flop_rate)
        for impl, (time_bound, memory_bound) in SCALE_TARGETS.items():
            case = scale.get(("scale", impl, size_name))
            if case is None:
                continue
            n = f"{case['n']:,}"
            own = case.get("run_floor", floor)
            if time_bound is not None and own:
                ratio = case["median"] / own
                met = "yes" if ratio <= time_bound else "no"
                lines.append(
                    f"| {impl} | {n} | time <= {time_bound:g}x GEMM floor | {ratio:.2f}x | {met} |"
                )
            memory = case["peak_bytes"] / case["feature_bytes"]
            met = "yes" if memory <= memory_bound else "no"
            lines.append(
                f"| {impl} | {n} | peak extra memory <= {memory_bound:g}x features "
                f"| {memory:.2f}x | {met} |"
            )
    return lines if len(lines) > 2 else []


def _scale_rows(case: dict) -> str:
    """The rows a selection worked on: the pool, or a strategy's sample of it."""
    sample = case.get("pool_sample")
    if case["impl"] == "fit linear":
        return "labelled"
    if not sample:
        return "pool"
    return f"{sample['unlabelled']:,} of {sample['of']:,} unlabelled ({sample['rule']})"


def _scale_n(scale: dict, size_name: str) -> int:
    return next(c["n"] for (_, _, s), c in scale.items() if s == size_name)


def extraction_lines(cases: dict) -> list[str]:
    """Pipeline against bare forward, from rounds run back to back in pairs (a raw round,
    then a pipeline round): the verdict is the median of the per-pair throughput ratios, so
    a load change on a shared machine moves both halves of a pair together."""
    pipeline = cases.get(("extraction", "feature-store", ""))
    if not pipeline:
        return ["Feature extraction was not measured in this run."]
    raw_median = statistics.median(pipeline["raw_seconds"])
    ratios = sorted(
        raw / ours
        for raw, ours in zip(pipeline["raw_seconds"], pipeline["pipeline_seconds"], strict=True)
    )
    images = pipeline["images"]
    return [
        f"Backbone `{pipeline['backbone']}`, {images} images of "
        f"`{pipeline['dataset']}`, batch size {pipeline['batch_size']}; {len(ratios)} rounds "
        "of each, run in back-to-back pairs (bare forward, then pipeline).",
        "",
        "| path | median | images/s |",
        "|---|---|---|",
        f"| FeatureStore.image_features (DataLoader, workers, cache write) "
        f"| {_seconds(pipeline['median'])} | {images / pipeline['median']:,.0f} |",
        f"| encode_image on pre-made tensors | {_seconds(raw_median)} "
        f"| {images / raw_median:,.0f} |",
        "",
        f"Pipeline throughput is {statistics.median(ratios):.0%} of the bare forward, median of "
        f"the pairs (range {ratios[0]:.0%} to {ratios[-1]:.0%}; target >= 90%).",
    ]


def render(machine: dict, cases: dict, others: list) -> str:
    flop_rate, byte_rate = rates(cases)
    facts = machine.get("albench", {})
    out = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (the whole suite into `benchmarks/last-run.json`, then",
        "`python -m benchmarks.render`), here from "
        f"{_sources(machine.get('sources', []))}; do not edit by hand.",
        f"Run: {machine.get('datetime', '')}. CPU: {facts.get('cpu_model', '?')}, "
        f"{facts.get('cpu_count', '?')} logical CPUs, torch {facts.get('torch_version', '?')} "
        f"with {facts.get('torch_threads', '?')} threads, numpy {facts.get('numpy_version', '?')}.",
        *_gpu_line(facts),
        f"Load average{' of the first run' if len(machine.get('sources', [])) > 1 else ''} "
        f"(1/5/15 min) at start {_load(facts.get('load_at_start'))}, at end "
        f"{_load(facts.get('load_at_end'))}{_load_note(facts)}",
        "",
        "Quick run at size S only: `ALBENCH_BENCH_SIZES=S make bench`; add the per-pick BADGE",
        "reference at L with `ALBENCH_BENCH_ALL_REFERENCES=1`. Pools of ImageNet's size:",
        "`ALBENCH_BENCH_SCALE_SIZES=100k,320k,1.28M` (default `100k`).",
        "",
        *METHOD_NOTES,
        "",
        "## Sizes",
        "",
        "Synthetic CLIP-like inputs (`benchmarks/inputs.py`): L2-normalised d=512 features from",
        "C Gaussian class clusters, softmax probabilities; the labelled set is the initial set of",
        "k-center centres, BADGE runs over the unlabelled rows. float32, selection call only.",
        "",
        "| size | pool N | labelled | classes C | budget B |",
        "|---|---|---|---|---|",
        *[
            f"| {s.name} | {s.n:,} | {s.n_labelled:,} | {s.n_classes} | {s.budget} |"
            for s in SIZES.values()
        ],
        "",
        "## Machine rates in this run",
        "",
        f"fp32 GEMM {flop_rate / 1e9:.0f} GFLOP/s; streaming read {byte_rate / 1e9:.1f} GB/s."
        if flop_rate and byte_rate
        else "Machine rates were not measured in this run.",
        "",
        "FLOP floor: the GEMM work of the exact algorithm at that rate (k-center: "
        f"2 N d (|L| + B), d = {FEATURE_DIM}; BADGE: 2 N_u (C + d) B). Per-pick bandwidth floor:",
        "what a plain greedy loop must read (all features, or all factors, once per pick).",
        "Peak extra memory: growth of the peak resident set during the call over the resident",
        "set before it (VmHWM reset per round; freed heap trimmed first), numpy and torch alike.",
        "",
    ]
    for kind, title in (("k-center", "Greedy k-center"), ("badge", "BADGE k-means++")):
        out += [f"## {title}", ""]
        out += [f"- `{impl}`: {DESCRIPTIONS[impl]}" for impl in KERNELS[kind]]
        out += ["", *kernel_table(kind, cases, flop_rate, byte_rate), ""]
    out += device_output_lines(cases)
    out += [
        "## Scaling",
        "",
        "Least-squares slope of log(median time) on log(N) over the sizes run. |L|, B and C grow",
        "with N across S/M/L, so the FLOP count's own slope is given for comparison: a time",
        "slope at or under it means the implementation scales with its arithmetic.",
        "",
        *exponent_lines(cases),
        "",
    ]
    out += ["## Targets", "", *target_lines(cases, flop_rate), ""]
    out += [
        "## Strategy selection",
        "",
        "One selection of each newer strategy (`benchmarks/test_strategies.py`) through the",
        "registry on the synthetic pool, against a plain implementation of the same algorithm",
        "as its reference code runs it (`benchmarks/references/strategies.py`: full kernel or",
        "distance matrices, materialised gradient embeddings, per-sample loops, scikit-learn's",
        "default k-means). One timed round each. `make bench` runs the plain implementations",
        "of an hour or more at S only; `ALBENCH_BENCH_PLAIN_AT_M='alfa-mix;cb-sq'` (names",
        "separated by `;`) adds M for those named, and the table says why the others do not",
        "run at M. At M the herding strategies select among a 35,000-row sample of the 45,000",
        "unlabelled rows and LoGo among a 20,000-row one (their `max_pool` rules,",
        "docs/strategies.md); their plain counterparts use every row. BatchBALD selects 5",
        "picks with T = 20 passes and M = 2,000 sampled configurations, at S, and at M (albench",
        "and plain) when `ALBENCH_BENCH_PLAIN_AT_M` names `batch-bald`.",
        "",
        *strategy_lines(cases),
        "",
    ]
    out += [
        "## Pools of ImageNet's size",
        "",
        "One selection of every built-in strategy and one fit of the `linear` learner",
        "(`benchmarks/test_scale.py`) at N = 100k, 320k, 1.28M with C = 1,000, d = 512, 1,000",
        "labelled rows and B = 1,000, through the runner's providers (learner outputs in row",
        "blocks) and selection checks. Sizes: `ALBENCH_BENCH_SCALE_SIZES` (default `100k`;",
        "`100k,320k,1.28M` for all), strategies: `ALBENCH_BENCH_SCALE_STRATEGIES` (`all`, or",
        f"names; default the one-pass ones: {plan.SCALE_DEFAULT.replace(',', ', ')}).",
        "TypiClust, ProbCover, LoGo, CB+SQ and the herding strategies select from a sample of",
        "the pool above their `max_pool` (docs/strategies.md; the rows column says which).",
        "TypiClust's time on these inputs is set by its clusters: mini-batch k-means of the",
        "synthetic pool into 500 clusters leaves half of them with a single row and a few",
        "with about 10,000 (100k rows; `benchmarks.inputs.clip_like_rows`), and B = 1,000",
        "picks cycle through the dozen large ones. The reference computes typicality again",
        "over a cluster's open members at every pick, seconds each on such a cluster (TypiClust",
        "took 2,932 s at 1.28M so, in run 16); albench's revision 3 keeps it across picks",
        "(`kernels.ShrinkingTypicality`): one distance pass per cluster. BALD and PowerBALD",
        "score T = 100 MC-dropout passes of the learner (the BatchBALD paper's MNIST setting,",
        "docs/strategies.md): each pass is one N x d x C product, so 100 GEMM floors is their",
        "least, before the float64 entropies of every rows x T x C block.",
        "",
        *scale_lines(cases, flop_rate),
        "",
    ]
    targets = scale_target_lines(cases, flop_rate)
    if targets:
        out += [
            "### Targets at these sizes",
            "",
            *targets,
            "",
            "BADGE's k-means++ reads, at every pick, the class factor `p - onehot(argmax p)` of",
            "every unlabelled row (C floats) and its feature (d floats): held as float32 they",
            "are (C + d) / d = 2.95 times the feature matrix at C = 1,000, d = 512, so its",
            "memory bound cannot be met exactly (recomputing them costs one pass of the learner",
            "over the pool per pick, B = 1,000 passes). Its time is one pass of the learner",
            "for the factors, then k-means++: B draws, each checking its proposals against",
            "the pending centres on the host, and a fold of every 256 centres into all",
            "weights (two GEMMs over the factors).",
            "At 100k the temporaries of one row block (1 Mi elements, 4 MiB of float32, a",
            "few alive at once) weigh on the memory ratios; at 320k and above they do not.",
            "",
        ]
    out += ["## Feature extraction", "", *extraction_lines(cases), ""]
    if others:
        out += ["## Other benchmarks", "", *other_lines(others), ""]
    return "\n".join(out)


def _gpu_line(facts: dict) -> list[str]:
    """The GPU the "GPU median" columns ran on; nothing for a run without one."""
    if not facts.get("gpu"):
        return []
    return [
        f"GPU: {facts['gpu']}, CUDA {facts.get('cuda_version', '?')}; the GPU median columns "
        "time albench's kernels there, inputs moved to the device first, each round ended by "
        "`torch.cuda.synchronize()`."
    ]


def _sources(paths: list[str]) -> str:
    """The command that renders this page again from the runs it was rendered from."""
    folders = {str(Path(p).parent) for p in paths}
    if len(paths) > 1 and len(folders) == 1:
        return f"`python -m benchmarks.render {folders.pop()}/*.json docs/benchmarks.md`"
    return f"`python -m benchmarks.render {' '.join(paths)} docs/benchmarks.md`"


def _load_note(facts: dict) -> str:
    """A warning when other processes competed for the cores during the run."""
    one_minute = [
        load[0] for load in (facts.get("load_at_start"), facts.get("load_at_end")) if load
    ]
    if one_minute and max(one_minute) > float(facts.get("cpu_count") or 1):
        return (
            ": above the CPU count, other processes shared the cores and absolute times are"
            " inflated; ratios within the run are the numbers to read."
        )
    return "."


def _load(values: list[float] | None) -> str:
    return "/".join(f"{v:.1f}" for v in values) if values else "?"


def load_all(paths: list[Path]) -> tuple[dict[str, Any], dict, list]:
    """:func:`load` of several runs of parts of the suite, merged: the machine facts of the
    first run (with every run's start time), the cases and other benchmarks of all (a case
    measured twice: the later file's)."""
    machine: dict[str, Any] = {}
    cases: dict = {}
    others: list = []
    for path in paths:
        facts, run_cases, run_others = load(path)
        if not machine:
            machine = facts
        else:
            machine["datetime"] += f", {facts['datetime']}"
        cases.update(run_cases)
        others += run_others
    machine["sources"] = [str(path) for path in paths]
    return machine, cases, others


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python -m benchmarks.render RUN.json [RUN.json ...] OUT.md", file=sys.stderr)
        return 2
    machine, cases, others = load_all([Path(arg) for arg in argv[:-1]])
    target = Path(argv[-1])
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(render(machine, cases, others))
    os.replace(tmp, target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
