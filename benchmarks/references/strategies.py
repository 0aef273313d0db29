"""Plain implementations of the field's newer strategies, the way their reference code runs
them: full kernel or distance matrices, materialised gradient embeddings, per-sample loops,
scikit-learn's k-means with its defaults. ``make bench`` times albench's strategies against
them in the same run (benchmarks/test_strategies.py).

Each takes the benchmark's synthetic pool (unit rows ``x``, probabilities ``p``, the
classifier ``head`` acting on ``x``, the labelled rows) and returns global row indices.
``max_herding_kernel_matrix`` picks exactly what albench picks (tests/test_references.py);
the k-means based ones run the same algorithm with scikit-learn's own k-means, so their
picks differ from albench's with the random state, not in law.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import pairwise_distances_argmin
from sklearn.neighbors import NearestNeighbors

from albench.capabilities import LinearHead


def _unlabelled(n: int, labelled: np.ndarray) -> np.ndarray:
    return np.setdiff1d(np.arange(n), labelled)


def _nearest_to_centres(z: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Positions of the rows nearest each centre of scikit-learn's default k-means."""
    model = KMeans(n_clusters=k, random_state=seed).fit(z)
    return np.unique(pairwise_distances_argmin(model.cluster_centers_, z))


def max_herding_kernel_matrix(
    x: np.ndarray, labelled: np.ndarray, budget: int, bandwidth: float = 1.0
) -> np.ndarray:
    """Greedy kernel coverage on the full N x N Gaussian kernel matrix (the pycls-based
    MaxHerding reference): each pick scans every (pool row, candidate) pair."""
    x = np.asarray(x, dtype=np.float64)
    squared = np.maximum(2.0 - 2.0 * (x @ x.T), 0.0)
    kernel = np.exp(-squared / bandwidth**2)
    del squared
    best = kernel[:, labelled].max(axis=1) if labelled.size else np.zeros(x.shape[0])
    candidates = _unlabelled(x.shape[0], labelled)
    picks = []
    for _ in range(budget):
        gains = np.maximum(kernel[:, candidates] - best[:, None], 0.0).mean(axis=0)
        position = int(np.argmax(gains))
        picks.append(candidates[position])
        best = np.maximum(best, kernel[:, candidates[position]])
        candidates = np.delete(candidates, position)
    return np.asarray(picks, dtype=np.int64)


def dropquery_plain(
    x: np.ndarray, head: LinearHead, labelled: np.ndarray, budget: int, seed: int = 0
) -> np.ndarray:
    """DropQuery as ALFM's ``dropout.py``: ``iterations`` dropout passes over the unlabelled
    features, candidates whose prediction changes in most of them, scikit-learn k-means
    over the candidates and the candidate nearest each centre."""
    rng = np.random.default_rng(seed)
    pool = _unlabelled(x.shape[0], labelled)
    z = x[pool].astype(np.float64)
    clean = head.predict(z)
    changed = np.zeros(pool.size, dtype=np.int64)
    for _ in range(3):
        kept = rng.random(z.shape) >= 0.75
        changed += head.predict(np.where(kept, z / 0.25, 0.0)) != clean
    candidates = np.flatnonzero(changed > 1)
    return pool[candidates[_nearest_to_centres(z[candidates], budget, seed)]]


def alfa_mix_per_sample(
    x: np.ndarray, head: LinearHead, labels: np.ndarray, labelled: np.ndarray, budget: int
) -> np.ndarray:
    """ALFA-Mix's candidate search one unlabelled sample at a time (every anchor, growing
    alpha caps, closed-form alpha), then scikit-learn k-means over the candidates."""
    pool = _unlabelled(x.shape[0], labelled)
    z = x[pool].astype(np.float64)
    anchors = np.stack(
        [x[labelled][labels == c].mean(axis=0) for c in range(head.weight.shape[0])]
    ).astype(np.float64)
    weight = head.weight.astype(np.float64)
    flips = np.zeros(pool.size, dtype=bool)
    for i, row in enumerate(z):
        predicted = int(np.argmax(weight @ row + head.bias))
        probabilities = head.probabilities(row[None])[0]
        probabilities[predicted] -= 1.0
        grad = probabilities @ weight
        norm = np.linalg.norm(grad)
        cap = 0.0
        while cap < 1.0 and not flips[i]:
            cap += 0.2
            difference = anchors - row
            scale = cap / np.sqrt(row.size) * np.linalg.norm(difference, axis=1, keepdims=True)
            with np.errstate(divide="ignore", invalid="ignore"):
                alpha = np.where(norm > 0, scale / norm * grad / (difference + 1e-8), 0.0)
            mixed = (1.0 - alpha) * row + alpha * anchors
            flips[i] = bool((np.argmax(mixed @ weight.T + head.bias, axis=1) != predicted).any())
    candidates = np.flatnonzero(flips)
    return pool[candidates[_nearest_to_centres(z[candidates], budget, 0)]]


def logo_materialised(
    x: np.ndarray, p: np.ndarray, labelled: np.ndarray, budget: int, seed: int = 0
) -> np.ndarray:
    """LoGo on materialised N x (C*d) gradient embeddings: scikit-learn k-means (k-means++
    start), then each cluster's highest-entropy member."""
    pool = _unlabelled(x.shape[0], labelled)
    scale = p[pool].astype(np.float32)
    scale[np.arange(pool.size), scale.argmax(axis=1)] -= 1.0
    embedding = (scale[:, :, None] * x[pool][:, None, :]).reshape(pool.size, -1)
    clusters = KMeans(n_clusters=budget, random_state=seed, n_init=1).fit_predict(embedding)
    del embedding
    entropy = -(p[pool] * np.log(np.clip(p[pool], 1e-12, None))).sum(axis=1)
    picks = [
        np.flatnonzero(clusters == c)[np.argmax(entropy[clusters == c])] for c in range(budget)
    ]
    return pool[np.asarray(picks, dtype=np.int64)]


def cluster_margin_whole_pool(
    x: np.ndarray, p: np.ndarray, labelled: np.ndarray, budget: int, candidates: float = 10.0
) -> np.ndarray:
    """Cluster-Margin as its paper states it: average-linkage HAC over the whole pool (cut
    into ``budget`` clusters here), then round-robin over the clusters of the lowest-margin
    ``candidates x budget`` samples, smallest cluster first."""
    pool = _unlabelled(x.shape[0], labelled)
    tree = linkage(x[pool].astype(np.float64), method="average", metric="cosine")
    clusters = fcluster(tree, budget, criterion="maxclust")
    top2 = np.sort(p[pool], axis=1)[:, -2:]
    margin_order = np.argsort(top2[:, 1] - top2[:, 0], kind="stable")
    chosen = margin_order[: int(candidates * budget)]
    rng = np.random.default_rng(0)
    ids, sizes = np.unique(clusters[chosen], return_counts=True)
    queues = [rng.permutation(chosen[clusters[chosen] == c]) for c in ids[np.argsort(sizes)]]
    picks: list[int] = []
    turn = 0
    while len(picks) < budget:
        picks.extend(int(queue[turn]) for queue in queues if turn < queue.size)
        turn += 1
    return pool[np.asarray(picks[:budget], dtype=np.int64)]


def typiclust_plain(
    x: np.ndarray, labelled: np.ndarray, budget: int, neighbours: int = 20, seed: int = 0
) -> np.ndarray:
    """TypiClust as its reference: k-means into min(|L| + B, 500) clusters (mini-batch above 50),
    then per pick the most typical unlabelled member (inverse mean distance to its k nearest
    neighbours, a fresh scikit-learn neighbour search) of the largest uncovered cluster."""
    n_clusters = min(labelled.size + budget, 500)  # the reference's MAX_NUM_CLUSTERS
    model = MiniBatchKMeans if n_clusters > 50 else KMeans
    clusters = model(n_clusters=n_clusters, random_state=seed, n_init=1).fit_predict(x)
    open_ = np.ones(x.shape[0], dtype=bool)
    open_[labelled] = False
    covered = np.bincount(clusters[labelled], minlength=n_clusters)
    picks = []
    for _ in range(budget):
        sizes = np.bincount(clusters[open_], minlength=n_clusters)
        large = sizes > 5  # the reference drops clusters of 5 or fewer
        eligible = large if large.any() else sizes > 0
        order = np.lexsort((-sizes, covered))
        cluster = int(order[eligible[order]][0])
        members = np.flatnonzero((clusters == cluster) & open_)
        k = min(neighbours, members.size // 2)
        if k == 0:
            pick = members[0]
        else:
            nn = NearestNeighbors(n_neighbors=k + 1).fit(x[members])
            distances, _ = nn.kneighbors(x[members])
            pick = members[int(np.argmax(1.0 / (distances[:, 1:].mean(axis=1) + 1e-5)))]
        picks.append(pick)
        open_[pick] = False
        covered[cluster] += 1
    return np.asarray(picks, dtype=np.int64)


def bald_full_tensor(mc: np.ndarray, labelled: np.ndarray, budget: int) -> np.ndarray:
    """BALD as batchbald_redux's ``get_bald_batch``: mutual information of the whole
    (N, T, C) tensor of MC passes at once, in float64, top-B."""
    pool = _unlabelled(mc.shape[0], labelled)
    p = mc[pool].astype(np.float64)
    mean = p.mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nansum(mean * np.log(mean), axis=1)
        conditional = -np.nansum(p * np.log(p), axis=2).mean(axis=1)
    return pool[np.argsort(-(entropy - conditional), kind="stable")[:budget]]


def power_bald_full_tensor(
    mc: np.ndarray, labelled: np.ndarray, budget: int, seed: int = 0
) -> np.ndarray:
    """PowerBALD as ``get_power_samples``: BALD scores of the whole tensor, log score plus
    Gumbel noise, top-B."""
    pool = _unlabelled(mc.shape[0], labelled)
    p = mc[pool].astype(np.float64)
    mean = p.mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = -np.nansum(mean * np.log(mean), axis=1) + np.nansum(p * np.log(p), axis=2).mean(1)
    noisy = np.log(np.maximum(score, np.finfo(float).tiny)) + np.random.default_rng(seed).gumbel(
        size=pool.size
    )
    return pool[np.argsort(-noisy, kind="stable")[:budget]]


def batch_bald_redrawn(
    mc: np.ndarray, labelled: np.ndarray, budget: int, joint_samples: int, seed: int = 0
) -> np.ndarray:
    """Greedy BatchBALD as batchbald_redux's ``get_batchbald_batch``: the joint entropy of
    batch + candidate over all label configurations of the batch while C^n <= M, else over
    M // T configurations per pass drawn afresh at every pick (importance weights 1 / q),
    every candidate scored from the whole (N, T, C) tensor."""
    rng = np.random.default_rng(seed)
    pool = _unlabelled(mc.shape[0], labelled)
    p = mc[pool].astype(np.float64)
    n, t, c = p.shape
    with np.errstate(divide="ignore", invalid="ignore"):
        conditional = -np.nansum(p * np.log(p), axis=2).mean(axis=1)
    picks: list[int] = []
    for _ in range(budget):
        if c ** len(picks) <= joint_samples:
            joint = np.ones((t, 1))
            for j in picks:
                joint = (joint[:, :, None] * p[j][:, None, :]).reshape(t, -1)
            weight = np.ones(joint.shape[1])
        else:
            per = max(1, joint_samples // t)
            configs = np.stack(
                [
                    np.concatenate([rng.choice(c, per, p=_law(p[j, model])) for model in range(t)])
                    for j in picks
                ],
                axis=1,
            )
            joint = np.prod([p[j][:, configs[:, k]] for k, j in enumerate(picks)], axis=0)
            weight = 1.0 / (joint.mean(axis=0) * configs.shape[0])
        entropy = np.empty(n)
        for lo in range(0, n, 64):
            mixed = np.einsum("tk,ntc->nkc", joint, p[lo : lo + 64]) / t
            with np.errstate(divide="ignore", invalid="ignore"):
                terms = np.nan_to_num(mixed * np.log(mixed))
            entropy[lo : lo + 64] = -(terms.sum(axis=2) * weight).sum(axis=1)
        score = entropy - conditional - conditional[picks].sum()
        score[picks] = -np.inf
        picks.append(int(np.argmax(score)))
    return pool[np.asarray(picks, dtype=np.int64)]


def _law(probabilities: np.ndarray) -> np.ndarray:
    """``probabilities`` rescaled to sum to 1 in float64 (float32 rows miss by round-off)."""
    return probabilities / probabilities.sum()
