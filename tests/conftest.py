"""Shared fixtures: every test runs offline and against a throwaway cache."""

from __future__ import annotations

import os

import pytest

# Set at import, before any test module imports huggingface_hub (which reads them once).
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory):
    """Point ALBENCH_CACHE at a per-session folder so no test writes the user's cache."""
    patch = pytest.MonkeyPatch()
    patch.setenv("ALBENCH_CACHE", str(tmp_path_factory.mktemp("albench-cache")))
    patch.setenv("HF_HUB_OFFLINE", "1")
    patch.setenv("TRANSFORMERS_OFFLINE", "1")
    yield
    patch.undo()


@pytest.fixture(scope="session")
def tiny_digits_cache(_isolated_cache) -> None:
    """digits encoded by tiny-clip in the session's cache, so CLI children only load it."""
    from albench.inputs import extract_features

    extract_features("digits", "tiny-clip", progress=False)
