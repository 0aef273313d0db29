"""Reference (f): CB+SQ as its reference code runs it, in plain numpy and scikit-learn.

The steps of ``CBSQ`` in github.com/ml-postech/active-prompt-learning
(``trainers/active_learning/cbsq.py``): class-guided features [x, p @ T], scikit-learn's
``KMeans`` into 4C + |L| clusters, the budget dealt slot by slot over a dictionary of
labelled-to-size ratios, cosine distances to each cluster's centre (``cdist``), class
thresholds from the labelled confidences. As albench documents, a pseudo-labelled slot among
the first B is followed by one more slot, queried.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.cluster import KMeans


def cb_sq_plain(
    features: np.ndarray,
    probabilities: np.ndarray,
    text: np.ndarray,
    labelled: np.ndarray,
    labels: np.ndarray,
    budget: int,
    seed: int = 42,
) -> tuple[list[int], list[int]]:
    """(queried, pseudo-labelled) pool indices in dealing order."""
    text = text / np.linalg.norm(text, axis=1, keepdims=True)
    z = np.hstack([features, probabilities @ text])
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    n_classes = probabilities.shape[1]
    kmeans = KMeans(n_clusters=4 * n_classes + len(labelled), random_state=seed, n_init=1)
    clusters = kmeans.fit_predict(z)
    confidence, predicted = probabilities.max(axis=1), probabilities.argmax(axis=1)
    thresholds = {c: 99.0 for c in range(n_classes)}
    for c in range(n_classes):
        members = labelled[labels == c]
        if members.size:
            thresholds[c] = float(confidence[members].mean())
    is_labelled = np.zeros(len(z), dtype=bool)
    is_labelled[labelled] = True
    size, count, ranked = {}, {}, {}
    for c in np.unique(clusters):
        members = np.flatnonzero(clusters == c)
        size[c], count[c] = members.size, int(is_labelled[members].sum())
        d = cdist(z[members], kmeans.cluster_centers_[c : c + 1], "cosine").ravel()
        ranked[c] = [m for m in members[np.argsort(d, kind="stable")] if not is_labelled[m]]
    left = sum(len(r) for r in ranked.values())
    queried, pseudo, slot = [], [], 0
    while len(queried) < budget:
        ratio = {c: count[c] / size[c] for c in size if ranked[c]}
        low = min(ratio.values())
        c = max([c for c, r in ratio.items() if r == low], key=size.get)
        sample = ranked[c].pop(0)
        count[c] += 1
        left -= 1
        slot += 1
        sure = confidence[sample] >= thresholds[predicted[sample]]
        if sure and slot <= budget and left >= budget - len(queried):
            pseudo.append(int(sample))
        else:
            queried.append(int(sample))
    return queried, pseudo
