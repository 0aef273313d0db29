"""`make gpu-check`: the GPU acceptance run, one prepared script for a machine with a CUDA GPU.

Builds a CLIP ViT-B-16 with random weights, saves it as a local checkpoint and loads it
through the ``MODEL:/path`` form (no model hub is reachable there either), then runs on
``digits``, each as `albench run` would:

- the ``dual-prompt-paper`` preset (dual prompts, VPT-deep with 20 tokens) for 2 rounds;
- the ``pcb`` preset (CoOp with class-specific contexts, 200 epochs a round) for 2 rounds;
- the ``vpt`` learner (visual prompts only) for 1 round;
- the ``maple`` learner (prompts in both towers, coupled) at its reference defaults for 1 round;

after one selection round of coreset, BADGE, PCB(BADGE), entropy, margin,
least-confidence, PCB(entropy), BALD, MaxHerding, Uncertainty Herding and ALFA-Mix on the
benchmark pool with CPU and with GPU contexts (``benchmarks/selection_parity.py``: the picks
must be the same, except for the herding strategies' near-ties, which are reported), and
before the CUDA kernel benchmarks (``benchmarks/test_cuda.py``). Each section prints its
table as soon as it ends, and with ``--out DIR`` also writes it there: ``parity.csv``, then
``runs.csv`` (seconds per round, peak GPU memory, the last round's accuracy: random weights,
so the accuracies only show that the path runs end to end), then ``kernels.json``
(pytest-benchmark's file, for ``python -m benchmarks.render``); a check stopped part-way
keeps the sections it finished.

Exit 1 when a run fails or a GPU pick differs from its CPU pick where they must be equal.
Refused in one line, exit 2, where no CUDA device is visible or a package the check imports
is missing (a GPU machine without a package index: ``make gpu-wheels`` on one with an index,
then ``make gpu-check-offline`` there; ``benchmarks/gpu_wheels.py``). ``--backbone``,
``--device`` and extra ``albench run`` options exist for testing the script itself on a CPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.selection_parity import parity_table

if TYPE_CHECKING:
    import pandas as pd

MODEL = "ViT-B-16"
DATASET = "digits"

#: modules the check imports (``albench run``'s path, the parity table, the kernel
#: benchmarks) and the distribution each comes from; sweeps' Dask and the reports' plotly
#: are not on that path
NEEDED = {
    "torch": "torch",
    "torchvision": "torchvision",
    "open_clip": "open-clip-torch",
    "ftfy": "ftfy",
    "numpy": "numpy",
    "scipy": "scipy",
    "sklearn": "scikit-learn",
    "pandas": "pandas",
    "pyarrow": "pyarrow",
    "scikit_posthocs": "scikit-posthocs",
    "statsmodels": "statsmodels",
    "filelock": "filelock",
    "threadpoolctl": "threadpoolctl",
    "joblib": "joblib",
    "rich": "rich",
    "pytest_benchmark": "pytest-benchmark",
}


def missing_packages() -> list[str]:
    """Distributions of :data:`NEEDED` whose module this Python cannot find."""
    return [dist for module, dist in NEEDED.items() if importlib.util.find_spec(module) is None]


@dataclass(frozen=True)
class Case:
    """One `albench run` of the check: a name and the arguments that differ."""

    name: str
    arguments: tuple[str, ...]
    rounds: int


CASES = (
    Case("dual-prompt-paper", ("--protocol=dual-prompt-paper", "--strategy=random,dual-prompt"), 2),
    Case("pcb", ("--protocol=pcb", "--strategy=random,pcb(badge)"), 2),
    Case("vpt", ("--learner=vpt(n_vpt=10)", "--strategy=random"), 1),
    Case("maple", ("--learner=maple", "--strategy=random"), 1),
)


def random_checkpoint(folder: Path) -> str:
    """A seeded random-weight ViT-B-16 saved under ``folder``; its backbone spec."""
    import open_clip
    import torch

    torch.manual_seed(0)
    model = open_clip.create_model(MODEL, pretrained=None)
    path = folder / "open_clip_model.bin"
    torch.save(model.state_dict(), path)
    return f"{MODEL}:{path}"


RUN_COLUMNS = [
    "case", "status", "runs", "seconds per round", "train s per round", "peak GPU GiB",
    "accuracy (%)",
]  # fmt: skip


def run_case(case: Case, backbone: str, device: str, out: Path, extra: Sequence[str]) -> dict:
    """Run one case in this process; seconds per round, peak GPU memory, last accuracy."""
    import torch

    from albench.cli import main as albench
    from albench.results import load

    argv = [
        "run",
        f"--dataset={DATASET}",
        f"--backbone={backbone}",
        "--seeds=0",
        f"--rounds={case.rounds}",
        f"--device={device}",
        f"--out={out / case.name}",
        *case.arguments,
        *extra,
    ]
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    status = albench(argv)
    seconds = time.perf_counter() - start
    if status:
        return {"case": case.name, "status": f"exit {status}"}
    rows = load(out / case.name)
    last = rows[rows["round"] == rows["round"].max()]
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else 0.0
    return {
        "case": case.name,
        "status": "ok",
        "runs": rows["run_id"].nunique(),
        "seconds per round": seconds / (case.rounds * rows["run_id"].nunique()),
        "train s per round": rows.loc[rows["round"] > 0, "train_seconds"].mean(),
        "peak GPU GiB": peak,
        "accuracy (%)": 100 * last["accuracy"].mean(),
    }


def kernel_benchmarks(out: Path | None) -> str:
    """The last lines of the CUDA kernel benchmarks (pytest-benchmark's summary); their
    file is ``out/kernels.json``."""
    command = [
        sys.executable, "-m", "pytest", "benchmarks/test_cuda.py", "--benchmark-only",
        "-p", "no:cacheprovider", "-o", "addopts=", "-q",
    ]  # fmt: skip
    if out is not None:
        command.append(f"--benchmark-json={out / 'kernels.json'}")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return "\n".join((done.stdout + done.stderr).strip().splitlines()[-40:])


class Sections:
    """Prints each section's table when it ends, with the seconds since the check began,
    and writes it to ``out`` (when given) at once, so a stopped check keeps what it did."""

    def __init__(self, out: Path | None):
        self.out = out
        self.start = time.perf_counter()
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)

    def begin(self, title: str) -> None:
        print(f"[{time.perf_counter() - self.start:6.0f} s] {title}", flush=True)

    def table(self, frame: pd.DataFrame, name: str) -> None:
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.2f}"), flush=True)
        if self.out is not None:
            frame.to_csv(self.out / name, index=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpu-check", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="torch device (default: cuda)")
    parser.add_argument("--backbone", help="backbone spec instead of a random ViT-B-16")
    parser.add_argument("--cases", default=",".join(c.name for c in CASES), help="which cases")
    parser.add_argument("--no-kernels", action="store_true", help="skip the kernel benchmarks")
    parser.add_argument(
        "--selection-size", default="M", help="benchmark size of the selection parity table"
    )
    parser.add_argument("--out", type=Path, help="folder for the sections' tables")
    args, extra = parser.parse_known_args(argv)
    missing = missing_packages()
    if missing:
        print(
            f"gpu-check: error: this Python lacks {', '.join(missing)}; install them, or on "
            "a machine without a package index run `make gpu-wheels` where there is one and "
            "`make gpu-check-offline` here",
            file=sys.stderr,
        )
        return 2
    import pandas as pd
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu-check: error: no CUDA device is visible on this machine", file=sys.stderr)
        return 2
    sections = Sections(args.out)
    sections.begin(f"selection parity at {args.selection_size}, CPU against {args.device}")
    parity = parity_table(args.device, args.selection_size)
    sections.table(parity, "parity.csv")
    chosen = [case for case in CASES if case.name in args.cases.split(",")]
    sections.begin(f"runs: {', '.join(case.name for case in chosen) or 'none'}")
    with tempfile.TemporaryDirectory(prefix="albench-gpu-check-") as scratch:
        folder = Path(scratch)
        backbone = args.backbone or random_checkpoint(folder)
        table = [run_case(case, backbone, args.device, folder, extra) for case in chosen]
    sections.table(pd.DataFrame(table, columns=RUN_COLUMNS), "runs.csv")
    if not args.no_kernels and args.device.startswith("cuda"):
        sections.begin("CUDA kernel benchmarks")
        print(kernel_benchmarks(args.out), flush=True)
    sections.begin("done")
    runs_ok = all(row["status"] == "ok" for row in table)
    exact = parity.loc[parity["must equal"], "picks equal"].all()
    return 0 if runs_ok and exact else 1


if __name__ == "__main__":
    sys.exit(main())
