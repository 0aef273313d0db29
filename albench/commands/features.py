"""`albench features`: extract and cache a dataset's image and text features for a backbone.

Running it once before a sweep makes every run of the sweep start from cached features, and
shows the extraction speed of a backbone on this machine.
"""

from __future__ import annotations

import argparse
from pathlib import Path

SPLITS = ("pool", "test")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "features",
        help="extract and cache image (pool, test) and text features",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--dataset", required=True, help="dataset name (see `albench datasets`)")
    parser.add_argument("--backbone", required=True, help="backbone (see `albench backbones`)")
    parser.add_argument("--data-root", type=Path, help="folder holding downloaded datasets")
    parser.add_argument("--download", action="store_true", help="download missing data")
    parser.add_argument("--batch-size", type=_positive_int, default=128, help="images per batch")
    parser.add_argument("--device", default="cpu", help="torch device for the encoders")
    parser.add_argument(
        "--views",
        type=_positive_int,
        default=1,
        metavar="K",
        help="views per pool image: 1 plain + K-1 random-resized-crop + flip views (default: 1)",
    )
    parser.add_argument(
        "--no-recompute",
        action="store_true",
        help="fail on a corrupt cache entry instead of recomputing it",
    )
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="use a dataset copy with fewer images than its spec states (recorded)",
    )
    parser.add_argument(
        "--skip-unreadable",
        action="store_true",
        help="leave out images that cannot be decoded (listed) instead of stopping",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        help="feature cache folder (default: $ALBENCH_CACHE/features or ~/.cache/albench/features)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Extract (or verify) pool, test and text features, and with ``--views`` K > 1 the
    pool's K - 1 augmented views; print one line per cache entry.

    Seconds and images/s are those of the extraction that wrote the entry, also when it was
    already cached.
    """
    # Imported here so that `albench --help` does not pay for importing torch.
    from albench.backbones import get_backbone
    from albench.data import get_dataset
    from albench.features import FeatureStore, read_manifest

    dataset = get_dataset(
        args.dataset,
        data_root=args.data_root,
        download=args.download,
        allow_partial=args.allow_partial,
        skip_unreadable=args.skip_unreadable,
    )
    backbone = get_backbone(args.backbone, device=args.device)
    store = FeatureStore(args.cache, recompute_corrupt=not args.no_recompute)
    print(f"{backbone.id} on {dataset.name}; cache {store.root}")
    for note in dataset.notes:
        print(f"note: {note}")
    for path in dataset.left_out:
        print(f"left out: {path}")
    for split in SPLITS:
        entry = store.image_entry(backbone, dataset, split)
        state = "cached" if entry.exists() else "extracted"
        n, d = store.image_features(backbone, dataset, split, batch_size=args.batch_size).shape
        manifest = read_manifest(entry)
        print(
            f"{split:<5} N={n} d={d} {manifest['seconds']:.1f} s "
            f"{manifest['images_per_second']:,.1f} images/s ({state}) {entry}"
        )
    if args.views > 1:
        entry = store.views_entry(backbone, dataset, "pool", args.views)
        state = "cached" if entry.exists() else "extracted"
        views = store.augmented_views(
            backbone, dataset, "pool", args.views, batch_size=args.batch_size
        )
        manifest = read_manifest(entry)
        print(
            f"views N={len(views)} K={args.views} d={views.shape[2]} {manifest['seconds']:.1f} s "
            f"{manifest['images_per_second']:,.1f} images/s ({state}) {entry}"
        )
    entry = store.text_entry(backbone, dataset)
    classes, d = store.text_features(backbone, dataset).shape
    print(f"text  C={classes} d={d} {read_manifest(entry)['seconds']:.1f} s {entry}")
    return 0
