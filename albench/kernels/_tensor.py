"""Input handling shared by the selection kernels.

Kernels accept numpy arrays or torch tensors and compute with torch on the tensor's device, so
CUDA inputs stay on the GPU. Numpy inputs are wrapped without copying when already float32.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from threadpoolctl import threadpool_limits


def as_float_tensor(array: np.ndarray | torch.Tensor, name: str) -> torch.Tensor:
    """A 2-D float32 tensor view of ``array`` (no copy for float32 inputs).

    Read-only arrays (the feature cache's memory maps) are wrapped as they are: the kernels
    never write to their inputs.
    """
    if isinstance(array, torch.Tensor):
        tensor = array
    else:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "The given NumPy array is not writable")
            tensor = torch.from_numpy(np.asarray(array))
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


@contextmanager
def single_threaded(device: torch.device) -> Iterator[None]:
    """Run the per-pick loop's small operations on one CPU thread.

    Waking a thread pool for a mat-vec over a few rows costs more than the work, and far
    more on a loaded machine (each op waits for every pool thread to be scheduled). The
    large GEMMs run inside :func:`all_threads`. No effect for CUDA tensors.
    """
    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(threads)


@contextmanager
def all_threads(threads: int) -> Iterator[None]:
    """Inside :func:`single_threaded`: give a large GEMM ``threads`` torch threads again."""
    inner = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(inner)
