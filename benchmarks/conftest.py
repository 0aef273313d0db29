"""Run-level facts for docs/benchmarks.md: CPU model, threads, versions, machine load, GPU."""

from __future__ import annotations

import os
import platform
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

_LOAD_AT_START = os.getloadavg()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def pytest_benchmark_update_machine_info(config, machine_info):
    import numpy
    import torch

    machine_info["albench"] = {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "numpy_version": numpy.__version__,
        "load_at_start": list(_LOAD_AT_START),
        "load_at_end": list(os.getloadavg()),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cuda_version": torch.version.cuda,
    }
