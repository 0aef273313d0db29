"""Input handling shared by the selection kernels.

Kernels accept numpy arrays or torch tensors and compute with torch on the tensor's device, so
CUDA inputs stay on the GPU. Numpy inputs are wrapped without copying when already float32.
"""

from __future__ import annotations

import numpy as np
import torch

#: upper bound on the elements of one temporary block (16 Mi floats = 64 MiB)
BLOCK_ELEMENTS = 1 << 24


def as_float_tensor(array: np.ndarray | torch.Tensor, name: str) -> torch.Tensor:
    """A 2-D float32 tensor view of ``array`` (no copy for float32 inputs)."""
    tensor = array if isinstance(array, torch.Tensor) else torch.from_numpy(np.asarray(array))
    if tensor.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {tuple(tensor.shape)}")
    return tensor.detach().to(torch.float32).contiguous()


def as_index_array(indices: np.ndarray | torch.Tensor | None, n: int, name: str) -> np.ndarray:
    """Sorted, unique int64 indices into ``n`` rows (empty when ``indices`` is None)."""
    if indices is None:
        return np.zeros(0, dtype=np.int64)
    if isinstance(indices, torch.Tensor):
        indices = indices.detach().cpu().numpy()
    out = np.unique(np.asarray(indices, dtype=np.int64).ravel())
    if out.size and (out[0] < 0 or out[-1] >= n):
        raise ValueError(f"{name} must index rows 0..{n - 1}")
    return out


def row_block(n_cols: int) -> int:
    """Rows per block so that a (rows x n_cols) temporary stays under BLOCK_ELEMENTS."""
    return max(1, BLOCK_ELEMENTS // max(1, n_cols))
