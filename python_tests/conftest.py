"""Shared fixtures: every op runs over backend (numpy, torch CPU, torch CUDA when a GPU is usable)
and dtype (float32, float64); inputs are built from Python lists and results read back as lists."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, settings

import verireward as vr

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture], print_blob=True
)
settings.register_profile("fuzz", parent=settings.get_profile("default"), max_examples=5000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

BACKENDS = ["numpy", "torch", pytest.param("cuda", marks=pytest.mark.skipif(not vr.cuda_available(), reason="no usable GPU"))]
DTYPES = ["float32", "float64"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture(params=DTYPES)
def dtype(request):
    return request.param


def make(values, backend: str, dtype: str):
    """An array of `values` for the backend in `dtype`; an integer numpy array keeps its dtype."""
    keep_int = isinstance(values, np.ndarray) and values.dtype.kind in "iu"
    arr = np.asarray(values)
    if not keep_int:
        with np.errstate(over="ignore"):
            arr = arr.astype(dtype)
    if backend == "numpy":
        return arr
    t = torch.from_numpy(np.ascontiguousarray(arr))
    return t.cuda() if backend == "cuda" else t


def as_list(x):
    """Result as nested Python floats/bools, checking nothing is left on another device."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return x.tolist()


def rounded(values, dtype: str):
    """The values as the kernel sees them after storage in `dtype` (what the oracle must get)."""
    with np.errstate(over="ignore"):  # 1e300 stored as float32 is inf, as the kernel sees it
        return np.asarray(values, dtype=np.float64).astype(dtype).astype(np.float64).tolist()


def tol(dtype: str) -> float:
    return 1e-12 if dtype == "float64" else 2e-7


def check_kind(result, backend: str, dtype: str):
    """Same kind, device and dtype out as in."""
    if backend == "numpy":
        assert isinstance(result, np.ndarray) and result.dtype == np.dtype(dtype)
    else:
        assert isinstance(result, torch.Tensor) and result.dtype == getattr(torch, dtype)
        assert result.device.type == ("cuda" if backend == "cuda" else "cpu")
