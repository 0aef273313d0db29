"""`make gpu-check`: the GPU acceptance run, one prepared script for a lent GPU machine.

Builds a CLIP ViT-B-16 with random weights, saves it as a local checkpoint and loads it
through the ``MODEL:/path`` form (no model hub is reachable there either), then runs on
``digits``, each as `albench run` would:

- the ``dual-prompt-paper`` preset (dual prompts, VPT-deep with 20 tokens) for 2 rounds;
- the ``pcb`` preset (CoOp with class-specific contexts, 200 epochs a round) for 2 rounds;
- the ``vpt`` learner (visual prompts only) for 1 round;
- the ``maple`` learner (prompts in both towers, coupled) at its reference defaults for 1 round;

then one selection round of coreset, BADGE, PCB(BADGE), entropy, margin, least-confidence,
PCB(entropy), BALD, MaxHerding, Uncertainty Herding and ALFA-Mix on the benchmark pool with
CPU and with GPU contexts (``benchmarks/selection_parity.py``: the picks must be the same,
except for the herding strategies' near-ties, which are reported), and the CUDA kernel
benchmarks (``benchmarks/test_cuda.py``). It prints the runs' table (seconds per round,
peak GPU memory, the last round's accuracy: random weights, so the accuracies only show
that the path runs end to end), the parity table, then the kernel benchmarks' summary.
Exit 1 when a run fails or a GPU pick differs from its CPU pick where they must be equal.
Refused in one line, exit 2, where no CUDA device is visible. ``--backbone``, ``--device``
and extra ``albench run`` options exist for testing the script itself on a CPU.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.selection_parity import parity_table

MODEL = "ViT-B-16"
DATASET = "digits"


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


def kernel_benchmarks() -> str:
    """The last lines of the CUDA kernel benchmarks (pytest-benchmark's summary)."""
    command = [
        sys.executable, "-m", "pytest", "benchmarks/test_cuda.py", "--benchmark-only",
        "-p", "no:cacheprovider", "-o", "addopts=", "-q",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return "\n".join((done.stdout + done.stderr).strip().splitlines()[-40:])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpu-check", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="torch device (default: cuda)")
    parser.add_argument("--backbone", help="backbone spec instead of a random ViT-B-16")
    parser.add_argument("--cases", default=",".join(c.name for c in CASES), help="which cases")
    parser.add_argument("--no-kernels", action="store_true", help="skip the kernel benchmarks")
    parser.add_argument(
        "--selection-size", default="M", help="benchmark size of the selection parity table"
    )
    args, extra = parser.parse_known_args(argv)
    import pandas as pd
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu-check: error: no CUDA device is visible on this machine", file=sys.stderr)
        return 2
    chosen = [case for case in CASES if case.name in args.cases.split(",")]
    with tempfile.TemporaryDirectory(prefix="albench-gpu-check-") as scratch:
        folder = Path(scratch)
        backbone = args.backbone or random_checkpoint(folder)
        table = [run_case(case, backbone, args.device, folder, extra) for case in chosen]
    print(pd.DataFrame(table).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    parity = parity_table(args.device, args.selection_size)
    print(parity.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    if not args.no_kernels and args.device.startswith("cuda"):
        print(kernel_benchmarks())
    runs_ok = all(row["status"] == "ok" for row in table)
    exact = parity.loc[parity["must equal"], "picks equal"].all()
    return 0 if runs_ok and exact else 1


if __name__ == "__main__":
    sys.exit(main())
