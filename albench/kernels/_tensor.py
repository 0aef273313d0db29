"""Input handling shared by the selection kernels.

Kernels accept numpy arrays or torch tensors and compute with torch on the tensor's device, so
CUDA inputs stay on the GPU. Numpy inputs are wrapped without copying when already float32.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from albench.kernels.blocks import row_block


def tensor_view(array: np.ndarray) -> torch.Tensor:
    """A CPU tensor sharing ``array``'s memory, read-only arrays included (the feature
    cache's memory maps): albench's kernels and scores never write to their inputs."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The given NumPy array is not writable")
        return torch.from_numpy(np.asarray(array))


def to_device(array: np.ndarray, device: str) -> torch.Tensor:
    """``array`` as a float32 tensor on ``device`` (a view on the CPU when already float32)."""
    return tensor_view(np.asarray(array, dtype=np.float32)).to(device)


def as_float_tensor(array: np.ndarray | torch.Tensor, name: str) -> torch.Tensor:
    """A 2-D float32 tensor view of ``array`` (no copy for float32 inputs).

    Read-only arrays (the feature cache's memory maps) are wrapped as they are: the kernels
    never write to their inputs.
    """
    tensor = array if isinstance(array, torch.Tensor) else tensor_view(array)
    if tensor.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {tuple(tensor.shape)}")
    return tensor.detach().to(torch.float32).contiguous()


def row_sq_norms(t: torch.Tensor) -> torch.Tensor:
    """``(t * t).sum(1)`` in row blocks: the same sums without a temporary the size of
    ``t`` (BADGE's (N, C) scale at C = 1,000 is twice the feature matrix)."""
    out = torch.empty(t.shape[0], dtype=t.dtype, device=t.device)
    step = row_block(t.shape[1])
    for start in range(0, t.shape[0], step):
        block = t[start : start + step]
        out[start : start + step] = (block * block).sum(1)
    return out


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
def exact_float32() -> Iterator[None]:
    """float32 matrix products in full precision (no TF32) while selecting.

    On Ampere and later GPUs TF32 rounds GEMM inputs to 10 mantissa bits; distances and
    scores computed that way reorder near-ties, and a run on a GPU would pick other samples
    than the same run on a CPU. The previous setting comes back afterwards (a learner may
    train in TF32).
    """
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)


def host_rows(t: torch.Tensor) -> Callable[[int], np.ndarray]:
    """Row ``i`` of ``t`` as numpy: a view for CPU tensors, a one-row copy otherwise (per-pick
    loops read a few rows; copying a whole device matrix to host memory would not fit at
    ImageNet's size)."""
    if t.device.type == "cpu":
        return t.numpy().__getitem__
    return lambda i: t[i].cpu().numpy()


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
