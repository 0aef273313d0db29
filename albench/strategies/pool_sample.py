"""Selection on a random part of a large pool, for strategies whose cost is super-linear in N.

TypiClust's per-cluster typicality, ProbCover's delta-ball graph and the herding strategies'
first pass grow faster than the pool; on a pool of ImageNet's size (1.28M rows) they cannot
run as published. Above a pool size each strategy states (its ``max_pool`` option), it
selects from the labelled set plus a uniform sample of the unlabelled rows, drawn from the
strategy's rng, and records the draw in its selection's ``info``. At or below that size
nothing is drawn and the strategy computes exactly what it did without the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from albench.errors import InvalidSpecError
from albench.strategies.base import Selection, StrategyContext


@dataclass(frozen=True)
class PoolSample:
    """Pool rows a strategy works on (sorted): every labelled row plus the drawn unlabelled
    ones, and the context that shows the strategy only those rows."""

    rows: np.ndarray
    ctx: StrategyContext
    info: dict[str, Any]

    def lift(self, chosen: Selection) -> Selection:
        """``chosen`` (positions into ``rows``, pseudo-labelled ones too) as pool indices,
        with the draw in its info."""
        pseudo = chosen.pseudo_indices
        return Selection(
            indices=self.rows[chosen.indices],
            scores=chosen.scores,
            info={**chosen.info, "pool_sample": self.info},
            pseudo_indices=None if pseudo is None else self.rows[pseudo],
            pseudo_labels=chosen.pseudo_labels,
        )


def check_max_pool(strategy: str, value: int) -> int:
    """``value`` as an int, refused in one line unless it is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidSpecError(f"{strategy} max_pool must be an integer >= 1, not {value!r}")
    return value


def capped(
    ctx: StrategyContext,
    max_pool: int,
    rng: np.random.Generator,
    row_capabilities: Iterable[str] = (),
) -> PoolSample | None:
    """``max_pool`` unlabelled rows (plus the labelled ones) when more are unlabelled, else
    None: the strategy then runs on the whole pool, its rng untouched.
    ``row_capabilities`` as in :func:`draw`."""
    if ctx.unlabelled.size <= max_pool:
        return None
    return draw(ctx, max_pool, rng, "max_pool", row_capabilities)


def draw(
    ctx: StrategyContext,
    size: int,
    rng: np.random.Generator,
    rule: str,
    row_capabilities: Iterable[str] = (),
) -> PoolSample:
    """The labelled rows plus ``size`` unlabelled rows drawn uniformly without replacement.

    ``row_capabilities``: learner outputs the strategy reads, served on the sampled rows
    from the full context in row blocks (no pool-wide matrix is computed for them).
    """
    drawn = rng.choice(ctx.unlabelled, size=size, replace=False)
    rows = np.union1d(ctx.labelled, drawn).astype(np.int64)
    row_providers = {name: _on_rows(ctx, rows, name) for name in row_capabilities}
    device_row_providers = {
        name: _on_rows(ctx, rows, name, on_device=True) for name in row_capabilities
    }
    providers = {
        name: (lambda fn=fn, **options: fn(np.arange(rows.size), **options))
        for name, fn in row_providers.items()
    }
    providers.update(ctx.row_free_providers())
    sub = StrategyContext(
        features=ctx.features[rows],
        labelled=np.searchsorted(rows, ctx.labelled),
        labelled_labels=ctx.labelled_labels,
        n_classes=ctx.n_classes,
        providers=providers,
        row_providers=row_providers,
        device_row_providers=device_row_providers,
        device=ctx.device,
    )
    info = {"rule": rule, "unlabelled": int(size), "of": int(ctx.unlabelled.size)}
    return PoolSample(rows=rows, ctx=sub, info=info)


def _on_rows(
    ctx: StrategyContext, rows: np.ndarray, name: str, *, on_device: bool = False
) -> Callable[..., Any]:
    """The full context's ``name`` on the sampled rows at ``positions`` (the sample's own
    blocks set the size of each call; ``on_device`` as in ``StrategyContext.on_rows``)."""

    def compute(positions: np.ndarray, **options: Any) -> Any:
        return ctx.on_rows(name, rows[positions], on_device=on_device, **options)

    return compute
