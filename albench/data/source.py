"""Sources: the ways a dataset's images reach albench (embedded file, torchvision, folders).

A spec lists source alternatives; each is one :class:`Source` subclass, registered under
its ``kind`` when the class is defined, configured by the options of the spec entry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from albench.data.splits import ImageSplit
from albench.errors import DataNotFoundError, InvalidSpecError

SOURCE_KINDS: dict[str, type[Source]] = {}


@dataclass(frozen=True)
class Loaded:
    """What a source produced: the two splits, class names if the data names them, and
    notes on how the splits were made when the data did not ship them."""

    pool: ImageSplit
    test: ImageSplit
    class_names: tuple[str, ...] | None = None
    notes: tuple[str, ...] = ()


class Source(ABC):
    """One way to obtain a dataset, configured by a spec's source entry."""

    kind: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        SOURCE_KINDS[cls.kind] = cls

    def __init__(self, dataset: str, options: dict[str, Any], data_root: Path):
        self.dataset = dataset
        self.options = options
        self.data_root = data_root

    def path(self, relative: str) -> Path:
        """``relative`` under the data root (absolute paths stay as they are)."""
        return self.data_root / Path(relative).expanduser()

    @property
    def directory(self) -> Path:
        """The folder named by option ``dir``, under the data root unless absolute."""
        return self.path(self.options["dir"])

    @property
    def sizes(self) -> tuple[int | None, int | None]:
        """(pool, test) sizes the spec states for this source, None where unknown."""
        pool, test = self.options.get("sizes", (None, None))
        return pool, test

    @property
    def label(self) -> str:
        """Short description of the source for listings."""
        return self.kind

    def downloadable(self) -> bool:
        """Whether :meth:`load` can fetch the data when asked to download."""
        return False

    @abstractmethod
    def available(self) -> bool:
        """Whether the data can be loaded now without the network (cheap check)."""

    @abstractmethod
    def hint(self) -> str:
        """Short clause saying what to install or fetch, and where to put it."""

    def require_available(self) -> None:
        """DataNotFoundError with the hint unless the data can be loaded now."""
        if not self.available():
            raise DataNotFoundError(f"dataset {self.dataset!r}: {self.hint()}")

    @abstractmethod
    def load(self, download: bool = False) -> Loaded:
        """Both splits; raises DataNotFoundError when the data is missing."""


def make_source(dataset: str, options: dict[str, Any], data_root: Path) -> Source:
    """The source of kind ``options["kind"]`` configured by ``options``."""
    kind = options["kind"]
    if kind not in SOURCE_KINDS:
        raise InvalidSpecError(f"dataset {dataset!r}: unknown source kind {kind!r}")
    return SOURCE_KINDS[kind](dataset, options, data_root)
