"""docs/benchmarks.md rendering from a small synthetic pytest-benchmark JSON.

The GPU column only appears on machines with CUDA, so its logic is exercised here on
made-up numbers: the column and the GPU line appear exactly when GPU cases exist, and
removing them gives back the CPU-only document unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import render

FACTS = {
    "cpu_model": "Test CPU",
    "cpu_count": 2,
    "torch_threads": 2,
    "torch_version": "2.x",
    "numpy_version": "2.x",
    "load_at_start": [0.1, 0.1, 0.1],
    "load_at_end": [0.2, 0.2, 0.2],
    "gpu": None,
    "cuda_version": None,
}
GPU_LINE = "GPU: Test GPU 80GB, CUDA 12.9;"


def _bench(median: float, **info) -> dict:
    return {"name": f"test_{info.get('impl', 'x')}", "group": None, "extra_info": info,
            "stats": {"median": median, "rounds": 3}}  # fmt: skip


def _kernel(kind: str, impl: str, size: str, median: float, **extra) -> dict:
    floor = {"flops": 1e9, "stream_bytes": 1e9, "input_bytes": 1e6, "peak_bytes": 2e6}
    return _bench(median, kind=kind, impl=impl, size=size, n=10_000, **floor, **extra)


def _cpu_run() -> dict:
    extraction = _bench(
        11.0, kind="extraction", impl="feature-store", backbone="offline-effnet-minilm",
        dataset="digits", images=440, batch_size=64, raw_seconds=[10.0, 11.0, 12.0],
        pipeline_seconds=[11.0, 11.0, 13.0],
    )  # fmt: skip
    return {
        "datetime": "2026-01-01T00:00:00",
        "machine_info": {"albench": dict(FACTS)},
        "benchmarks": [
            _bench(0.01, kind="machine", impl="gemm", flops=1e9),
            _bench(0.1, kind="machine", impl="stream", bytes=1e9),
            _kernel("k-center", "albench-lazy", "S", 0.2),
            _kernel("k-center", "albench-plain", "S", 0.4),
            _kernel("k-center", "k_center_pairwise", "S", 2.0),
            _kernel("badge", "albench-rejection", "S", 0.05),
            extraction,
        ],
    }


def _gpu_run() -> dict:
    run = _cpu_run()
    run["machine_info"]["albench"].update(gpu="Test GPU 80GB", cuda_version="12.9")
    run["benchmarks"] += [
        _kernel("k-center", "albench-lazy", "S", 0.02, device="cuda"),
        _kernel("k-center", "albench-plain", "S", 0.004, device="cuda"),
        _kernel("k-center", "albench-plain", "M", 0.03, device="cuda"),
        _kernel("badge", "albench-rejection", "S", 0.01, device="cuda"),
        _bench(0.05, kind="entropy-outputs", impl="albench-device", size="S", device="cuda"),
        _bench(0.4, kind="entropy-outputs", impl="albench-host", size="S", device="cuda"),
        _bench(0.2, kind="entropy-outputs", impl="albench-device", size="M", device="cuda"),
    ]
    return run


def _render(run: dict, tmp_path: Path) -> str:
    source, target = tmp_path / "run.json", tmp_path / "out" / "benchmarks.md"
    source.write_text(json.dumps(run), encoding="utf-8")
    assert render.main([str(source), str(target)]) == 0
    return target.read_text(encoding="utf-8")


def _table(document: str, title: str) -> list[str]:
    section = document.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("|")]


def test_cpu_only_run_has_no_gpu_column_or_line(tmp_path):
    document = _render(_cpu_run(), tmp_path)
    assert "GPU" not in document
    table = _table(document, "Greedy k-center")
    assert table[0].endswith("| per-pick bandwidth floor |")
    assert table[2].startswith("| S | albench-lazy | 0.2 s | 1x |")
    assert table[4] == "| S | k_center_full_matrix | not in this run | | | | | | |"


def test_gpu_column_holds_gpu_medians_and_speed_ups(tmp_path):
    document = _render(_gpu_run(), tmp_path)
    assert f"\n{GPU_LINE}" in document
    table = _table(document, "Greedy k-center")
    assert table[0].endswith("| per-pick bandwidth floor | GPU median |")
    assert table[1] == "|---" * 10 + "|"
    assert all(row.count("|") == 11 for row in table)
    assert table[2].endswith("| 0.02 s (10x faster than CPU) |")
    assert table[3].endswith("| 0.004 s (100x faster than CPU) |")
    assert table[4] == "| S | k_center_full_matrix | not in this run | | | | | | | |"
    assert table[5].endswith("| 2 s | 10x | 2 MB | 2.00 | 0.01 s | 200.00 | 0.1 s | |")
    # M has no CPU run of the default kernel, so no rows for it (as in CPU-only runs)
    assert not any(row.startswith("| M |") for row in table)
    badge = _table(document, "BADGE k-means++")
    assert badge[2].endswith("| 0.01 s (5x faster than CPU) |")
    skipped = "| S | albench-inverse-cdf | not run: time budget of make bench |"
    assert badge[3] == skipped + " | | | | | | |"


def test_device_outputs_section_pairs_device_and_host_scoring(tmp_path):
    document = _render(_gpu_run(), tmp_path)
    assert _table(document, "Selection on a GPU run: the learner's outputs on the device") == [
        "| size | device outputs | host copies | host / device |",
        "|---|---|---|---|",
        "| S | 0.05 s | 0.4 s | 8x |",
        "| M | 0.2 s | not in this run | |",
    ]
    assert "outputs on the device" not in _render(_cpu_run(), tmp_path)


def test_gpu_additions_leave_the_cpu_document_unchanged(tmp_path):
    gpu = _render(_gpu_run(), tmp_path)
    section = "## Selection on a GPU run: the learner's outputs on the device\n"
    start = gpu.index(section)
    gpu = gpu[:start] + gpu[gpu.index("\n## ", start + 1) + 1 :]
    stripped = []
    for line in gpu.splitlines():
        if line.startswith(GPU_LINE):
            continue
        if line.startswith("|") and line.count("|") == 11:  # a kernel table row: drop the GPU cell
            line = line[: line[:-1].rindex("|") + 1]
        stripped.append(line)
    assert "\n".join(stripped) + "\n" == _render(_cpu_run(), tmp_path)


def test_extraction_verdict_is_the_median_of_paired_ratios(tmp_path):
    document = _render(_cpu_run(), tmp_path)
    section = document.split("## Feature extraction\n", 1)[1]
    assert "| encode_image on pre-made tensors | 11 s | 40 |" in section
    assert "| FeatureStore.image_features (DataLoader, workers, cache write) | 11 s | 40 |\n" in (
        section
    )
    # pairs: 10/11, 11/11, 12/13 -> 91%, 100%, 92%
    assert "92% of the bare forward, median of the pairs (range 91% to 100%;" in section


def _strategy(impl: str, size: str, median: float, peak: float) -> dict:
    return _bench(median, kind="strategy", strategy="logo", impl=f"{impl} logo", size=size,
                  n=10_000, budget=100, input_bytes=1e6, peak_bytes=peak)  # fmt: skip


def test_parts_of_the_suite_render_as_one_document_with_the_strategy_table(tmp_path):
    strategies = {
        "datetime": "2026-01-02T00:00:00",
        "machine_info": {"albench": dict(FACTS)},
        "benchmarks": [
            _strategy("albench", "S", 2.0, 3e6),
            _strategy("plain", "S", 10.0, 9e8),
            _strategy("albench", "M", 8.0, 5e6),
        ],
    }
    kernels, more = tmp_path / "kernels.json", tmp_path / "strategies.json"
    kernels.write_text(json.dumps(_cpu_run()), encoding="utf-8")
    more.write_text(json.dumps(strategies), encoding="utf-8")
    target = tmp_path / "benchmarks.md"
    assert render.main([str(kernels), str(more), str(target)]) == 0
    document = target.read_text(encoding="utf-8")
    assert "Run: 2026-01-01T00:00:00, 2026-01-02T00:00:00." in document
    assert _table(document, "Greedy k-center")[2].startswith("| S | albench-lazy | 0.2 s |")
    assert _table(document, "Strategy selection")[2:] == [
        "| logo | S | 2 s | 10 s | 5x | 3 MB | 900 MB |",
        "| logo | M | 8 s | not run: k-means on 45,000 x 51,200 embeddings (9.2 GB), 4.6 TFLOP "
        "per iteration | - | 5 MB | - |",
    ]
    # LoGo's selection changed at M after this run: its M row (only) says so
    assert "\nlogo at M: measured before 2026-11-30 10:51 UTC, when it clustered all" in document
    again = {**strategies, "datetime": "2026-12-01T00:00:00"}
    again["benchmarks"] = [_strategy("albench", "M", 4.0, 5e6)]
    later = tmp_path / "later.json"
    later.write_text(json.dumps(again), encoding="utf-8")
    assert render.main([str(kernels), str(more), str(later), str(target)]) == 0
    assert "measured before" not in target.read_text(encoding="utf-8")


def _scale(impl: str, n: int, median: float, peak: float, **info) -> dict:
    size = {100_000: "100k", 320_000: "320k"}[n]
    return _bench(
        median, kind="scale", impl=impl, size=size, n=n, feature_bytes=4 * n * 512,
        flops=2.0 * n * 512 * 1000, peak_bytes=peak, **info,
    )  # fmt: skip


def test_scale_section_tables_each_size_against_its_floor_and_fits_exponents(tmp_path):
    run = {
        "datetime": "2026-01-03T00:00:00",
        "machine_info": {"albench": dict(FACTS)},
        "benchmarks": [
            _bench(0.01, kind="machine", impl="gemm", flops=1e9),  # 1e11 FLOP/s
            _scale("gemm floor", 100_000, 0.5, 0.0),
            _scale("entropy", 100_000, 2.0, 102.4e6),
            _scale("fit linear", 100_000, 1.0, 0.0),
            _scale("probcover", 100_000, 1.0, 409.6e6),
            # no floor case at 320k: 2 x 320k x 512 x 1000 FLOPs at 1e11 FLOP/s = 3.2768 s
            _scale("entropy", 320_000, 6.5536, 655.36e6),
            _scale(
                "probcover",
                320_000,
                10.24,
                655.36e6,
                pool_sample={"rule": "max_pool", "unlabelled": 50_000, "of": 318_000},
            ),
        ],
    }
    document = _render(run, tmp_path)
    section = document.split("## Pools of ImageNet's size\n", 1)[1].split("\n## ", 1)[0]
    tables, targets = section.split("### Targets at these sizes\n")
    first, second = tables.split("### N = 100,000\n", 1)[1].split("### N = 320,000\n")
    assert "GEMM floor (N x d x C fp32): 0.5 s (each row's ratio is to the floor" in first
    assert [line for line in first.splitlines() if line.startswith("| ")][1:] == [
        "| entropy | 2 s | 102 MB | 0.50 | 4x | pool |",
        "| fit linear | 1 s | 0 MB | 0.00 | 2x | labelled |",
        "| probcover | 1 s | 410 MB | 2.00 | 2x | pool |",
    ]
    assert "GEMM floor (N x d x C fp32): 3.28 s (each" in second
    rows = [line for line in second.splitlines() if line.startswith("| ")]
    # exponents: log(6.5536 / 2) / log(3.2) = 1.0204..., log(10.24) / log(3.2) = 2
    assert rows[1:3] == ["| entropy | 6.55 s | 655 MB | 1.00 | 2x | pool |",
                         "| probcover | 10.2 s | 655 MB | 1.00 | 3.12x "
                         "| 50,000 of 318,000 unlabelled (max_pool) |"]  # fmt: skip
    assert rows[3:6] == [
        "| case | sizes | fitted exponent of time in N |",
        "| entropy | 2 | 1.02 |",
        "| probcover | 2 | 2.00 |",
    ]
    assert rows[6] == "| strategy left out | why |"
    assert rows[7].startswith("| batch-bald | not run: each of the B = 1,000 greedy picks")
    assert [line for line in targets.splitlines() if line.startswith("| ")][1:] == [
        "| entropy | 100,000 | time <= 2x GEMM floor | 4.00x | no |",
        "| entropy | 100,000 | peak extra memory <= 0.5x features | 0.50x | yes |",
        "| entropy | 320,000 | time <= 2x GEMM floor | 2.00x | yes |",
        "| entropy | 320,000 | peak extra memory <= 0.5x features | 1.00x | no |",
    ]


def test_a_run_without_scale_cases_says_so(tmp_path):
    assert "Pools of ImageNet's size were not measured in this run." in _render(
        _cpu_run(), tmp_path
    )


def test_a_scale_row_is_divided_by_the_floor_of_its_own_run(tmp_path):
    def run(when: str, cases: list) -> Path:
        path = tmp_path / f"{when}.json"
        body = {"datetime": when, "machine_info": {"albench": dict(FACTS)}, "benchmarks": cases}
        path.write_text(json.dumps(body), encoding="utf-8")
        return path

    first = run("2026-01-01", [_scale("gemm floor", 100_000, 0.5, 0.0),
                               _scale("entropy", 100_000, 1.0, 0.0)])  # fmt: skip
    second = run("2026-01-02", [_scale("gemm floor", 100_000, 2.0, 0.0),
                                _scale("margin", 100_000, 3.0, 0.0)])  # fmt: skip
    target = tmp_path / "benchmarks.md"
    assert render.main([str(first), str(second), str(target)]) == 0
    rows = _table(target.read_text(encoding="utf-8"), "Pools of ImageNet's size")
    assert "| entropy | 1 s | 0 MB | 0.00 | 2x | pool |" in rows  # 1 / 0.5, not 1 / 2
    assert "| margin | 3 s | 0 MB | 0.00 | 1.5x | pool |" in rows
