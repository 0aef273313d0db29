"""Strategy registry (placeholder until the registry module lands)."""

from __future__ import annotations


class _Registry(dict):
    def add(self, cls: type) -> None:
        self[cls.name] = cls


REGISTRY = _Registry()
