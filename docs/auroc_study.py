"""Does the dual-prompt learner's u(x) = p_yes(x, y_hat) tell its right from its wrong
predictions better than its own maximum softmax probability? The table of docs/results.md.

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 python docs/auroc_study.py            # fast-cpu
    python docs/auroc_study.py --negative-init positive   # the study's first form

For each number of labels per class (1, 5, 9) and each training budget (10 and 50 steps),
the script fits the ``dual-prompt`` learner with the ``fast-cpu`` preset's options
(``protocols/fast-cpu.toml``: "a photo of a", AdamW lr 0.01, full batches) on a
class-stratified random labelled set of ``fashion-mnist-mini`` (encoded by the offline
backbone; numpy seed = labels per class, learner seed 0), and scores its test predictions:
the AUROC with which u, and the maximum softmax probability, rank correct predictions above
wrong ones (scikit-learn's ``roc_auc_score``; 0.5 is chance). The acquisition strategy
``dual-prompt`` queries the lowest u; margin and BADGE rank by softmax confidence, so a u
with the lower AUROC ranks the learner's mistakes worse than plain confidence does.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.metrics import roc_auc_score

from albench.inputs import load_inputs
from albench.kernels import unit_rows
from albench.learners import LearnerContext, make_learner
from albench.presets import get_preset

DATASET = "fashion-mnist-mini"
LABELS_PER_CLASS = (1, 5, 9)
STEPS = (10, 50)


def stratified(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """``per_class`` random indices of every class, in class order."""
    return np.concatenate(
        [
            rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
            for c in np.unique(labels)
        ]
    )


def study(negative_init: str) -> list[dict[str, float]]:
    preset = get_preset("fast-cpu")
    inputs = load_inputs(DATASET, preset.backbone)
    context = LearnerContext(
        class_names=tuple(inputs.class_names),
        text_embeddings=np.asarray(inputs.text_embeddings, dtype=np.float32),
        logit_scale=float(inputs.logit_scale),
        backbone=inputs.backbone,
    )
    pool_x, test_x = unit_rows(inputs.pool_features), unit_rows(inputs.test_features)
    pool_y, test_y = np.asarray(inputs.pool_labels), np.asarray(inputs.test_labels)
    rows = []
    for per_class in LABELS_PER_CLASS:
        labelled = stratified(pool_y, per_class, np.random.default_rng(per_class))
        for steps in STEPS:
            options = dict(preset.learner_options, steps=steps, negative_init=negative_init)
            learner = make_learner("dual-prompt", context, options)
            learner.fit(pool_x[labelled], pool_y[labelled], np.random.default_rng(0))
            probabilities = learner.predict_proba(test_x)
            correct = probabilities.argmax(axis=1) == test_y
            rows.append(
                {
                    "labels/class": per_class,
                    "steps": steps,
                    "test accuracy": float(correct.mean()),
                    "AUROC of u": float(roc_auc_score(correct, learner.correctness_prob(test_x))),
                    "AUROC of max softmax": float(
                        roc_auc_score(correct, probabilities.max(axis=1))
                    ),
                }
            )
            print(rows[-1], flush=True)
    return rows


def markdown(rows: list[dict[str, float]]) -> str:
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for row in rows:
        cells = [
            f"{value:.3f}" if isinstance(value, float) else str(value) for value in row.values()
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--negative-init", choices=("random", "positive"), default="random")
    print(markdown(study(parser.parse_args().negative_init)))


if __name__ == "__main__":
    main()
