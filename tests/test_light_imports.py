"""Importing the strategy registry stays light, so names are checked before heavy imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from albench import kernels

HEAVY = ("torch", "sklearn", "pandas", "open_clip")


def test_strategies_import_without_torch_sklearn_pandas_or_open_clip():
    code = (
        "import json, sys\n"
        "import albench.strategies\n"
        f"print(json.dumps([name for name in {HEAVY!r} if name in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


@pytest.mark.parametrize("name", kernels.__all__)
def test_kernel_names_resolve_to_their_functions(name):
    function = getattr(kernels, name)
    assert callable(function) and function.__name__ == name
    assert name in dir(kernels)


def test_unknown_kernel_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_kernel"):
        kernels.no_such_kernel  # noqa: B018
