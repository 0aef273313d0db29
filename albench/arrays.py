"""Numpy arrays and torch tensors alike, without importing torch.

On a GPU run the learner's outputs reach kernels, scores and stop signals as torch tensors
on the device; on a CPU run they are numpy arrays, and code on that path must not pay for
importing torch. These two helpers are the one place that tells the two apart.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def is_tensor(value: Any) -> bool:
    """Whether ``value`` is a torch tensor (on any device), told by its ``detach`` method."""
    return hasattr(value, "detach")


def host(value: Any) -> np.ndarray:
    """``value`` (numpy, or a tensor on any device) as a numpy array in host memory."""
    return value.cpu().numpy() if is_tensor(value) else np.asarray(value)
