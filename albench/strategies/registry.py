"""Strategy registry: names, wrappers, plugins and strategies loaded from files.

Strategies register by subclassing :class:`~albench.strategies.base.Strategy` with a
``name``; third-party distributions expose their strategy classes in the
``albench.strategies`` entry-point group; ``path/to/file.py:ClassName`` loads a class from a
file. Lookups are dictionary lookups, never chains of name tests.

A spec is ``FILE.py:Class`` or a call in albench's option grammar (:mod:`albench.options`):
``name``, or ``name(args)`` whose positional argument is the wrapped strategy
(``pcb(badge)``) and whose keywords are options (``pcb(badge, candidates=8)``). Option keys
and value types are checked against the constructor's keyword parameters and annotations
before the strategy is built.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from albench.errors import AlbenchError, InvalidSpecError, UnknownNameError
from albench.options import (
    accepts_any_keyword,
    check_values,
    is_file_spec,
    parse_call,
    signature_options,
    split_top_level,
)

if TYPE_CHECKING:
    from albench.strategies.base import Strategy

GROUP = "albench.strategies"
BUILT_IN = "built-in"


class PluginError(AlbenchError):
    """A strategy plugin that cannot be imported or does not follow the contract."""


class StrategyRegistry:
    """Name -> strategy class, with where each class came from (``origin``).

    ``origin`` is ``"built-in"`` for classes defined inside albench, the distribution name
    for plugins, the file path for ``file.py:Class`` strategies, and the defining module
    otherwise (a class written in a user's script).
    """

    def __init__(self) -> None:
        self._classes: dict[str, type] = {}
        self._origins: dict[str, str] = {}
        self._loading_origin: str | None = None
        self._plugins_loaded = False

    def add(self, cls: type) -> None:
        """Register ``cls`` under ``cls.name``; a different class under that name is an error."""
        origin = self._origin_of(cls)
        previous = self._classes.get(cls.name)
        if previous is not None and not _same_definition(previous, cls):
            raise PluginError(
                f"strategy name {cls.name!r} is defined twice: by {_describe(previous)} "
                f"({self._origins[cls.name]}) and by {_describe(cls)} ({origin})"
            )
        self._classes[cls.name] = cls
        self._origins[cls.name] = origin

    def _origin_of(self, cls: type) -> str:
        if self._loading_origin is not None:
            return self._loading_origin
        if cls.__module__.split(".")[0] == "albench":
            return BUILT_IN
        return cls.__module__

    @contextlib.contextmanager
    def loading(self, origin: str) -> Iterator[None]:
        """Attribute classes defined inside the block to ``origin`` (a plugin or a file)."""
        outer, self._loading_origin = self._loading_origin, origin
        try:
            yield
        finally:
            self._loading_origin = outer

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def names(self) -> list[str]:
        return sorted(self._classes)

    def cls(self, name: str) -> type:
        """The class registered as ``name``; :class:`UnknownNameError` suggests a close one."""
        try:
            return self._classes[name]
        except KeyError:
            raise UnknownNameError("strategy", name, self._classes) from None

    def origin(self, name: str) -> str:
        self.cls(name)
        return self._origins[name]

    def load_plugins(self) -> None:
        """Import every ``albench.strategies`` entry point once, attributing its classes."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for point in entry_points(group=GROUP):
            dist = point.dist.name if point.dist is not None else point.value
            with self.loading(dist):
                try:
                    loaded = point.load()
                except AlbenchError:
                    raise
                except Exception as error:
                    raise PluginError(
                        f"strategy plugin {dist!r} (entry point {point.name} = {point.value}) "
                        f"failed to import: {type(error).__name__}: {error}"
                    ) from error
                _check_plugin_object(loaded, dist, point.name)


def _same_definition(a: type, b: type) -> bool:
    """True for one class seen twice (a module imported again), not for two distinct ones."""
    return a is b or (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


def _describe(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _check_plugin_object(loaded: Any, dist: str, point: str) -> None:
    from albench.strategies.base import Strategy

    if isinstance(loaded, type) and issubclass(loaded, Strategy):
        if not loaded.name:
            raise PluginError(f"strategy plugin {dist!r}: {_describe(loaded)} has no name")
        if loaded.name not in REGISTRY or REGISTRY.cls(loaded.name) is not loaded:
            REGISTRY.add(loaded)
        return
    if not hasattr(loaded, "__path__") and not hasattr(loaded, "__file__"):
        raise PluginError(
            f"strategy plugin {dist!r}: entry point {point!r} must name a Strategy subclass "
            f"or a module, not {loaded!r}"
        )


REGISTRY = StrategyRegistry()


def load_plugins() -> None:
    """Discover and import strategies of installed distributions (``albench.strategies``)."""
    REGISTRY.load_plugins()


def get_strategy(spec: str) -> Strategy:
    """A configured :class:`Strategy` instance from a spec string (see module docstring)."""
    load_plugins()
    spec = spec.strip()
    if is_file_spec(spec):
        return _instantiate(load_file_strategy(spec), [], {}, spec)
    call = parse_call(spec, "strategy spec")
    bases = [get_strategy(arg) for arg in call.args]
    return _instantiate(REGISTRY.cls(call.name), bases, dict(call.options), spec)


def _instantiate(
    cls: type[Strategy], bases: list[Strategy], options: dict[str, Any], spec: str
) -> Strategy:
    if cls.wraps and len(bases) != 1:
        raise InvalidSpecError(f"{cls.name!r} wraps one strategy: write {cls.name}(<strategy>)")
    if not cls.wraps and bases:
        raise InvalidSpecError(f"{cls.name!r} does not wrap a strategy (in {spec!r})")
    if not accepts_any_keyword(cls.__init__):
        check_values(f"strategy {cls.name!r}", options, signature_options(cls.__init__))
    try:
        return cls(*bases, **options)
    except TypeError as error:
        raise InvalidSpecError(f"bad options for strategy {cls.name!r}: {error}") from error


def split_specs(text: str) -> list[str]:
    """Split a comma-separated list of specs at top-level commas only.

    ``"random,pcb(badge, candidates=8)"`` -> ``["random", "pcb(badge, candidates=8)"]``:
    the command line's ``--strategy a,b,c`` must not cut a wrapper's arguments apart.
    """
    return split_top_level(text, "strategy spec")


def load_file_strategy(spec: str) -> type[Strategy]:
    """The Strategy subclass named by ``path/to/file.py:ClassName``.

    The file is imported once per resolved path as a private module; a class with a ``name``
    registers itself (origin: the path), so wrappers such as ``pcb(...)`` can use it too.
    """
    from albench.strategies.base import Strategy

    text, _, class_name = spec.rpartition(":")
    path = Path(text).expanduser().resolve()
    if not path.is_file():
        raise InvalidSpecError(f"strategy file {text!r} does not exist")
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    module_name = f"albench_user_strategy_{digest}"
    module = sys.modules.get(module_name)
    if module is None:
        module = _import_file(path, module_name)
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise InvalidSpecError(f"{class_name!r} in {text!r} is not a Strategy subclass")
    return cls


def _import_file(path: Path, module_name: str) -> Any:
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise InvalidSpecError(f"cannot import strategy file {str(path)!r}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module
    with REGISTRY.loading(str(path)):
        try:
            module_spec.loader.exec_module(module)
        except AlbenchError:
            del sys.modules[module_name]
            raise
        except Exception as error:
            del sys.modules[module_name]
            raise InvalidSpecError(
                f"strategy file {str(path)!r} failed to import: {type(error).__name__}: {error}"
            ) from error
    return module


def strategy_table() -> list[dict[str, Any]]:
    """One row per registered strategy: name, category, needs, options (key -> default),
    reference, origin, wraps."""
    load_plugins()
    rows = []
    for name in REGISTRY.names():
        cls = REGISTRY.cls(name)
        rows.append(
            {
                "name": name,
                "category": cls.category,
                "needs": tuple(sorted(cls.needs)),
                "options": {
                    key: spec.default for key, spec in signature_options(cls.__init__).items()
                },
                "reference": cls.reference,
                "origin": REGISTRY.origin(name),
                "wraps": bool(cls.wraps),
            }
        )
    return rows
