"""FeatureStore: encode each image once, then serve memory-mapped features from a cache.

Every experiment after extraction works on cached CLIP embeddings, so a sweep of many
strategies and seeds costs one forward pass per image (see docs/architecture.md). The cache is
content-addressed: an entry's key is the sha256 of a canonical JSON of everything that changes
the numbers (backbone id, weights checksum, preprocessing, dataset, split and its fingerprint,
the on-disk format version), so a stale entry can never be served for changed inputs.

Augmented views (:mod:`albench.augmentation`) of a split are an entry of their own, keyed by
the plain entry's fields plus the number of views and the augmentation's description: the
plain features are view 0 and keep their key, and an entry holds views 1..K-1 of every image,
image-major (row ``i * (K - 1) + v - 1`` is view v of image i).

An entry is the folder ``<root>/<key[:2]>/<key>/`` with ``features.npy`` and
``manifest.json``. It is written into a temporary sibling folder and renamed into place, and a
file lock on ``<entry>.lock`` makes concurrent processes wait for the first writer and reuse
its result. Loading verifies the manifest, shape, dtype, file size, that the feature
dimension is the backbone's, and (once per process and file) the sha256 of the bytes and
that every value is finite. An entry that fails is treated as corrupt: recomputed with a
warning, or refused with ``recompute_corrupt=False``. Features that come out of an encoder
with NaN or inf are refused before they are cached.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from filelock import FileLock
from PIL import Image
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn
from rich.text import Text

from albench import __version__
from albench.augmentation import COOP, Augmentation, ViewTransform
from albench.backbones.base import Backbone
from albench.data.splits import UNREADABLE, unreadable_reason
from albench.errors import CacheCorruptError, FeatureError, UnreadableImageError
from albench.files import cache_root, reserve, sha256_file, space_checked

#: bump when the meaning or layout of cached bytes changes; part of every key
FORMAT_VERSION = 1
FEATURES_FILE = "features.npy"
MANIFEST_FILE = "manifest.json"
#: rows per block when scanning features for NaN / inf (bounds the temporary mask)
_FINITE_BLOCK = 1 << 16

log = logging.getLogger(__name__)

#: (entry, inode, size, mtime_ns, sha256) of files whose checksum this process has verified
_VERIFIED: set[tuple[str, int, int, int, str]] = set()


class _Corrupt(Exception):
    """An entry exists but cannot be trusted; the message says why."""


def default_root() -> Path:
    """``$ALBENCH_CACHE/features``, else ``~/.cache/albench/features``."""
    return cache_root() / "features"


def cache_key(fields: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of ``fields`` (sorted keys, no whitespace)."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def read_manifest(entry: Path) -> dict[str, Any]:
    """The manifest of a cache entry (key fields, shape, checksum, extraction speed)."""
    return json.loads((entry / MANIFEST_FILE).read_text(encoding="utf-8"))


class FeatureStore:
    """Content-addressed, verified cache of image and text features of one backbone.

    ``recompute_corrupt=False`` turns a corrupt entry into :class:`CacheCorruptError` instead
    of a warning and a recomputation: for runs that must not silently spend hours re-encoding.
    """

    def __init__(self, root: Path | None = None, *, recompute_corrupt: bool = True):
        self.root = Path(root) if root is not None else default_root()
        self.recompute_corrupt = recompute_corrupt

    def image_features(
        self,
        backbone: Backbone,
        dataset: Any,
        split: str,
        *,
        batch_size: int = 128,
        num_workers: int | None = None,
        progress: bool = True,
    ) -> np.ndarray:
        """(N, d) float16 read-only memory map of ``backbone``'s features of ``split``.

        float16 halves disk and page-cache use; L2-normalised CLIP features lose nothing that
        matters to classifiers at that precision. ``num_workers`` defaults to min(2, cpus).
        """
        images = dataset.split(split)
        fields = _image_fields(backbone, dataset, split, images)
        workers = min(2, os.cpu_count() or 1) if num_workers is None else num_workers

        def build(path: Path) -> dict[str, Any]:
            name = f"{dataset.name}/{split}"
            stats = _extract_images(backbone, images, path, batch_size, workers, name, progress)
            # what the dataset layer did to the data as found (partial copy, files left out)
            stats["dataset_notes"] = list(getattr(dataset, "notes", ()))
            stats["left_out"] = list(getattr(dataset, "left_out", ()))
            return stats

        return self._get(fields, np.float16, build, _hint(dataset, backbone), backbone.embed_dim)

    def augmented_views(
        self,
        backbone: Backbone,
        dataset: Any,
        split: str,
        views: int,
        *,
        augmentation: Augmentation = COOP,
        batch_size: int = 128,
        num_workers: int | None = None,
        progress: bool = True,
    ) -> np.ndarray:
        """(N, ``views`` - 1, d) float16 read-only memory map: the augmented views 1.. of
        every image of ``split`` (view 0 is :meth:`image_features`); ``views`` >= 2.

        ``batch_size`` counts encoded views, as for the plain features.
        """
        if views < 2:
            raise FeatureError(f"augmented views need views >= 2 (view 0 is plain), got {views}")
        images = dataset.split(split)
        fields = _views_fields(backbone, dataset, split, images, views, augmentation)
        workers = min(2, os.cpu_count() or 1) if num_workers is None else num_workers
        transform = ViewTransform(
            backbone.transform(), backbone.pixel_format, augmentation, views, (dataset.name, split)
        )

        def build(path: Path) -> dict[str, Any]:
            name = f"{dataset.name}/{split}"
            return _extract_images(
                backbone, images, path, batch_size, workers, name, progress, transform
            )

        hint = f"{_hint(dataset, backbone)} --views {views}"
        array = self._get(fields, np.float16, build, hint, backbone.embed_dim)
        return array.reshape(len(images), views - 1, backbone.embed_dim)

    def views_entry(
        self,
        backbone: Backbone,
        dataset: Any,
        split: str,
        views: int,
        augmentation: Augmentation = COOP,
    ) -> Path:
        """Folder of the augmented-views entry of ``split`` (whether or not it exists yet)."""
        images = dataset.split(split)
        return self._entry(_views_fields(backbone, dataset, split, images, views, augmentation))

    def text_features(self, backbone: Backbone, dataset: Any) -> np.ndarray:
        """(C, d) float32 zero-shot class embeddings, prompt-ensembled over the templates.

        Radford et al. 2021 (CLIP), sec. 3.1.4: average the normalised embeddings of every
        template filled with the class name, then re-normalise.
        """
        fields = _text_fields(backbone, dataset)

        def build(path: Path) -> dict[str, Any]:
            start = time.perf_counter()
            ensemble = prompt_ensemble(backbone, dataset.class_names, dataset.templates)
            out = _open_reserved(path, ensemble.dtype, ensemble.shape)
            out[:] = ensemble
            out.flush()
            del out
            seconds = time.perf_counter() - start
            count = len(dataset.class_names) * len(dataset.templates)
            return {"seconds": seconds, "texts_per_second": count / max(seconds, 1e-9)}

        return self._get(fields, np.float32, build, _hint(dataset, backbone), backbone.embed_dim)

    def image_entry(self, backbone: Backbone, dataset: Any, split: str) -> Path:
        """Folder of the image-feature entry of ``split`` (whether or not it exists yet)."""
        return self._entry(_image_fields(backbone, dataset, split, dataset.split(split)))

    def text_entry(self, backbone: Backbone, dataset: Any) -> Path:
        """Folder of the text-feature entry of ``dataset`` (whether or not it exists yet)."""
        return self._entry(_text_fields(backbone, dataset))

    def _entry(self, fields: dict[str, Any]) -> Path:
        key = cache_key(fields)
        return self.root / key[:2] / key

    def _get(
        self,
        fields: dict[str, Any],
        dtype: type[np.generic],
        build: Callable[[Path], dict[str, Any]],
        hint: str,
        dim: int,
    ) -> np.ndarray:
        """Load the entry of ``fields`` ((n, ``dim``) arrays); on a miss build it under its lock."""
        entry = self._entry(fields)
        loaded = self._load_checked(entry, dtype, hint, dim)
        if loaded is not None:
            return loaded
        entry.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(f"{entry}.lock"):
            if entry.exists():  # another process may have written it while we waited
                try:
                    return _load(entry, dtype, dim)
                except _Corrupt:
                    _discard(entry)
            with space_checked(entry):  # a full disk: one line, no entry, no staging folder
                _write_entry(entry, fields, build, dim)
        return _load(entry, dtype, dim)

    def _load_checked(
        self, entry: Path, dtype: type[np.generic], hint: str, dim: int
    ) -> np.ndarray | None:
        """The verified array, or None when it is missing (or corrupt and recomputable)."""
        if not entry.exists():
            return None
        try:
            return _load(entry, dtype, dim)
        except _Corrupt as problem:
            if not self.recompute_corrupt:
                raise CacheCorruptError(
                    f"feature cache entry {entry} is corrupt ({problem}); rebuild it with "
                    f"`albench features {hint}` (without --no-recompute) or delete that folder"
                ) from None
            log.warning("feature cache entry %s is corrupt (%s); recomputing", entry, problem)
            return None


def prompt_ensemble(
    backbone: Backbone, class_names: Sequence[str], templates: Sequence[str]
) -> np.ndarray:
    """(C, d) float32: per class, mean of normalised template embeddings, re-normalised."""
    rows = []
    with torch.inference_mode():
        for name in class_names:
            embeddings = backbone.encode_text([t.replace("{}", name) for t in templates])
            embeddings = torch.nn.functional.normalize(embeddings.float(), dim=-1)
            rows.append(torch.nn.functional.normalize(embeddings.mean(dim=0), dim=0))
    return torch.stack(rows).cpu().numpy().astype(np.float32)


def _image_fields(backbone: Backbone, dataset: Any, split: str, images: Any) -> dict[str, Any]:
    return {
        "kind": "image",
        "backbone": backbone.id,
        "weights": backbone.weights_checksum,
        "preprocess": backbone.preprocess_id,
        "dataset": dataset.name,
        "split": split,
        "fingerprint": images.fingerprint,
        "format": FORMAT_VERSION,
    }


def _views_fields(
    backbone: Backbone,
    dataset: Any,
    split: str,
    images: Any,
    views: int,
    augmentation: Augmentation,
) -> dict[str, Any]:
    """The plain entry's fields, the number of views and how they were drawn."""
    return {
        **_image_fields(backbone, dataset, split, images),
        "views": views,
        "augmentation": augmentation.describe(),
    }


def _text_fields(backbone: Backbone, dataset: Any) -> dict[str, Any]:
    return {
        "kind": "text",
        "backbone": backbone.id,
        "weights": backbone.weights_checksum,
        "dataset": dataset.name,
        "class_names": list(dataset.class_names),
        "templates": list(dataset.templates),
        "format": FORMAT_VERSION,
    }


def _hint(dataset: Any, backbone: Backbone) -> str:
    return f"--dataset {dataset.name} --backbone {backbone.id}"


def _identity(entry: Path, stat: os.stat_result, manifest: dict[str, Any]) -> tuple:
    """What must stay equal for a checksum verified earlier in this process to still hold."""
    return (str(entry), stat.st_ino, stat.st_size, stat.st_mtime_ns, manifest.get("sha256"))


def _remember_verified(entry: Path, manifest: dict[str, Any]) -> None:
    """A freshly written entry was hashed while writing; skip hashing it again on load."""
    _VERIFIED.add(_identity(entry, (entry / FEATURES_FILE).stat(), manifest))


def first_nonfinite_row(array: np.ndarray) -> int | None:
    """Index of the first row holding NaN or inf, else None (scanned in bounded blocks)."""
    for start in range(0, len(array), _FINITE_BLOCK):
        block = np.asarray(array[start : start + _FINITE_BLOCK])
        rows = np.flatnonzero(~np.isfinite(block.reshape(len(block), -1)).all(axis=1))
        if rows.size:
            return start + int(rows[0])
    return None


def _check_array(array: np.ndarray, dim: int, finite: bool) -> None:
    """_Corrupt unless ``array`` is (n, ``dim``) and (when ``finite``) free of NaN and inf."""
    if array.ndim != 2 or array.shape[1] != dim:
        raise _Corrupt(f"features of shape {array.shape}, the backbone gives dimension {dim}")
    row = first_nonfinite_row(array) if finite else None
    if row is not None:
        raise _Corrupt(f"NaN or inf in row {row}")


def _load(entry: Path, dtype: type[np.generic], dim: int) -> np.ndarray:
    """Memory-map ``features.npy`` after checking it against the manifest; raise _Corrupt."""
    path = entry / FEATURES_FILE
    try:
        manifest = read_manifest(entry)
        stat = path.stat()
    except (OSError, ValueError) as error:
        raise _Corrupt(f"unreadable manifest or features: {type(error).__name__}") from None
    if manifest.get("key") != entry.name or manifest.get("dtype") != np.dtype(dtype).name:
        raise _Corrupt("manifest does not describe this entry")
    if stat.st_size != manifest.get("bytes"):
        raise _Corrupt(f"size {stat.st_size} bytes, manifest says {manifest.get('bytes')}")
    verified = _identity(entry, stat, manifest) in _VERIFIED
    if not verified and sha256_file(path) != manifest.get("sha256"):
        raise _Corrupt("sha256 of features.npy does not match the manifest")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as error:
        raise _Corrupt(f"unreadable features: {error}") from None
    if list(array.shape) != manifest.get("shape") or array.dtype != dtype:
        raise _Corrupt(f"array {array.dtype}{array.shape} differs from its manifest")
    _check_array(array, dim, finite=not verified)
    _VERIFIED.add(_identity(entry, stat, manifest))
    return array


def _write_entry(
    entry: Path, fields: dict[str, Any], build: Callable[[Path], dict[str, Any]], dim: int
) -> None:
    """Build into a temporary sibling folder, check, write the manifest, rename into place.

    Features that are not (n, ``dim``) or hold NaN / inf are refused (FeatureError) and
    nothing is cached: every later run would otherwise inherit them.
    """
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", suffix=".tmp", dir=entry.parent))
    try:
        path = staging / FEATURES_FILE
        stats = build(path)
        array = np.load(path, mmap_mode="r", allow_pickle=False)
        try:
            _check_array(array, dim, finite=True)
        except _Corrupt as problem:
            what = f"{fields['dataset']} {fields.get('split', 'class texts')}"
            raise FeatureError(
                f"backbone {fields['backbone']} gave unusable features for {what} "
                f"({problem}); nothing was cached"
            ) from None
        manifest = {
            "key": entry.name,
            "fields": fields,
            "shape": list(array.shape),
            "dtype": array.dtype.name,
            "bytes": path.stat().st_size,
            "sha256": sha256_file(path),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "albench_version": __version__,
            **stats,
        }
        del array
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        os.replace(staging, entry)
        _remember_verified(entry, manifest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _open_reserved(path: Path, dtype: Any, shape: tuple[int, ...]) -> np.memmap:
    """A writable ``.npy`` memory map whose disk blocks are allocated up front, so that a
    full disk raises ENOSPC here instead of SIGBUS at the first write into a page."""
    out = np.lib.format.open_memmap(path, "w+", dtype, shape)
    reserve(path)
    return out


def _discard(entry: Path) -> None:
    """Move a corrupt entry out of the way (rename first, so no reader sees it half-deleted)."""
    if not entry.exists():
        return
    trash = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", suffix=".old", dir=entry.parent))
    os.replace(entry, trash / entry.name)
    shutil.rmtree(trash, ignore_errors=True)


class _Pixels(torch.utils.data.Dataset):
    """An image split seen through the per-image part of the backbone's preprocessing (runs
    in DataLoader workers; the per-batch part runs on the collated batch). ``transform``
    takes the image and its index (augmented views are seeded by it).

    An image that does not decode comes back as a blank one with PIL's reason beside it,
    so that the main process can name the file in one line: an exception raised in a worker
    would reach it wrapped in the worker's traceback.
    """

    def __init__(self, images: Any, transform: Callable[[Any, int], torch.Tensor]):
        self.images, self.transform = images, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, str]:
        try:
            return self.transform(self.images[index][0], index), ""
        except UNREADABLE as error:
            where = self.images.location(index) if hasattr(self.images, "location") else ""
            blank = self.transform(Image.new("RGB", (1, 1)), index)
            return blank, unreadable_reason(error, where)


class _Plain:
    """The backbone's per-image preprocessing, called as ``_Pixels`` calls a transform."""

    def __init__(self, per_image: Callable[[Any], torch.Tensor]):
        self.per_image = per_image

    def __call__(self, image: Any, index: int) -> torch.Tensor:
        return self.per_image(image)


class _RateColumn(ProgressColumn):
    """Images per second, the number that tells whether extraction is input- or model-bound."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} img/s")


def _refuse_unreadable(images: Any, start: int, problems: Sequence[str], name: str) -> None:
    """UnreadableImageError naming the first image of the batch that did not decode."""
    for offset, problem in enumerate(problems):
        if problem:
            index = start + offset
            where = images.location(index) if hasattr(images, "location") else f"item {index}"
            dataset = name.rpartition("/")[0]
            raise UnreadableImageError(
                f"cannot decode image {where} ({problem}); nothing was cached; list every "
                f"unreadable file with `albench datasets --verify {dataset}`, or leave them "
                "out with --skip-unreadable"
            )


def _extract_images(
    backbone: Backbone,
    images: Any,
    path: Path,
    batch_size: int,
    workers: int,
    name: str,
    progress: bool,
    views: ViewTransform | None = None,
) -> dict[str, Any]:
    """Encode ``images`` (``name``: dataset/split) in order straight into a float16 .npy at
    ``path``; ``progress`` shows a bar. With ``views``, encode its augmented views of each
    image instead, image-major, ``batch_size`` views per batch."""
    if views is None:
        preprocessing = backbone.preprocessing()
        per_image, per_batch, per_item = _Plain(preprocessing.per_image), preprocessing.per_batch, 1
    else:
        per_image, per_batch, per_item = views, views.per_batch, views.views - 1
    loader = torch.utils.data.DataLoader(
        _Pixels(images, per_image),
        batch_size=max(1, batch_size // per_item),
        shuffle=False,
        num_workers=workers,
    )
    rows = len(images) * per_item
    out = _open_reserved(path, np.float16, (rows, backbone.embed_dim))
    bar = Progress(
        TextColumn(name),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        _RateColumn(),
        console=Console(stderr=True),
        disable=not progress,
    )
    start, done = time.perf_counter(), 0
    with bar, torch.inference_mode():
        task = bar.add_task("encode", total=len(images))
        for batch, problems in loader:
            _refuse_unreadable(images, done, problems, name)
            pixels = per_batch(batch if views is None else batch.flatten(0, 1))
            features = backbone.encode_image(pixels).float().cpu().numpy()
            out[done * per_item : done * per_item + len(features)] = features
            done += len(problems)
            bar.advance(task, len(problems))
    out.flush()
    del out
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "images_per_second": rows / max(seconds, 1e-9)}
