"""Validation and conversion between user arrays and the raw pointers that ``verireward._C`` takes.

Every public op builds one :class:`Call`. It checks each array argument (kind, dtype, device, shape)
against the first one, makes it contiguous, allocates outputs with the caller's framework (torch
or numpy) on the caller's device, and fills the ``_C.Device`` that carries the CUDA stream. Errors
name the op and the argument: ``TypeError`` for a wrong type or dtype, ``ValueError`` for a wrong
shape, value or device.

torch is not imported here: a torch tensor can only exist once the caller imported torch, so
``sys.modules`` tells whether an argument may be one.
"""

from __future__ import annotations

import math
import numbers
import os
import sys
from typing import Any, Optional, Sequence

import numpy as np

from verireward._native import _C

FLOAT_NP = {np.dtype(np.float32): _C.DType.float32, np.dtype(np.float64): _C.DType.float64}


def torch_module() -> Any:
    """The torch module if the caller has imported it, else None."""
    return sys.modules.get("torch")


def is_tensor(x: Any) -> bool:
    torch = torch_module()
    return torch is not None and isinstance(x, torch.Tensor)


def _kind(x: Any) -> str | None:
    if isinstance(x, np.ndarray):
        return "numpy"
    if is_tensor(x):
        return "torch"
    return None


def _shape_str(shape: Sequence[int]) -> str:
    return "[" + ", ".join(str(int(s)) for s in shape) + "]"


def _device_str(x: Any) -> str:
    return str(x.device) if is_tensor(x) else "cpu"


class Call:
    """Argument checks, conversions and allocations for one call of a public op."""

    def __init__(self, op: str):
        self.op = op
        self.kind: str | None = None  # "torch" | "numpy"
        self.first: Any = None  # the first array argument: its kind and device are the call's
        self.first_name = ""
        self.ref: Any = None  # the first float array: its dtype is the call's
        self.ref_name = ""

    # -- errors ---------------------------------------------------------------------------------
    def type_error(self, msg: str) -> TypeError:
        return TypeError(f"{self.op}: {msg}")

    def value_error(self, msg: str) -> ValueError:
        return ValueError(f"{self.op}: {msg}")

    # -- arguments ------------------------------------------------------------------------------
    def _array(self, x: Any, name: str) -> Any:
        kind = _kind(x)
        if kind is None:
            raise self.type_error(
                f"argument '{name}' must be a torch.Tensor or numpy.ndarray, got {type(x).__name__}"
            )
        if self.kind is None:
            self.kind, self.first, self.first_name = kind, x, name
        elif kind != self.kind:
            other = "torch.Tensor" if self.kind == "torch" else "numpy.ndarray"
            raise self.type_error(
                f"argument '{name}' is a {type(x).__module__}.{type(x).__name__} but '{self.first_name}' "
                f"is a {other}; pass arrays of one kind"
            )
        if kind == "torch":
            if getattr(x, "is_nested", False) or x.layout != torch_module().strided:
                layout = "nested" if getattr(x, "is_nested", False) else str(x.layout)
                raise self.type_error(f"argument '{name}' must be a dense (strided) tensor, got a {layout} tensor")
            dev = x.device.type
            if dev not in ("cpu", "cuda"):
                raise self.value_error(f"argument '{name}' is on device '{x.device}'; only cpu and cuda are supported")
            if dev == "cuda" and not _C.build_info()["cuda"]:
                raise self.value_error(
                    f"argument '{name}' is a CUDA tensor but verireward was built without CUDA "
                    "(reinstall with VERIREWARD_CUDA=1 where nvcc is available)"
                )
        if _device_str(x) != _device_str(self.first):
            raise self.value_error(
                f"argument '{name}' is on {_device_str(x)} but '{self.first_name}' is on {_device_str(self.first)}"
            )
        return x

    def floats(self, x: Any, name: str) -> Any:
        """A float32/float64 array with the dtype and device of the call's first float argument."""
        x = self._array(x, name)
        dt = np.dtype(x.dtype) if isinstance(x, np.ndarray) else None
        if dt is not None:
            ok = dt in FLOAT_NP
        else:
            torch = torch_module()
            ok = x.dtype in (torch.float32, torch.float64)
        if not ok:
            raise self.type_error(f"argument '{name}' must have dtype float32 or float64, got {x.dtype}")
        if self.ref is None:
            self.ref, self.ref_name = x, name
        elif x.dtype != self.ref.dtype:
            raise self.type_error(
                f"argument '{name}' has dtype {x.dtype} but '{self.ref_name}' has {self.ref.dtype}; "
                "pass one float dtype"
            )
        return x

    def ints(self, x: Any, name: str) -> Any:
        """An integer array converted to contiguous int64 on the call's device."""
        x = self._array(x, name)
        if isinstance(x, np.ndarray):
            if not np.issubdtype(x.dtype, np.integer):
                raise self.type_error(f"argument '{name}' must have an integer dtype, got {x.dtype}")
            return np.ascontiguousarray(x, dtype=np.int64)
        torch = torch_module()
        if x.dtype.is_floating_point or x.dtype.is_complex or x.dtype == torch.bool:
            raise self.type_error(f"argument '{name}' must have an integer dtype, got {x.dtype}")
        return x.detach().to(torch.int64).contiguous()

    def mask(self, x: Any, name: str) -> Any:
        """Any bool or numeric array as contiguous uint8 (1 where x != 0) on the call's device."""
        x = self._array(x, name)
        if isinstance(x, np.ndarray):
            return np.ascontiguousarray(x.view(np.uint8) if x.dtype == np.bool_ else (x != 0).astype(np.uint8))
        torch = torch_module()
        x = x.detach()
        return (x if x.dtype == torch.bool else x != 0).contiguous().view(torch.uint8)

    def group_ptr(self, groups: Any, n: int, name: str = "groups") -> Any:
        """`groups` as a CSR pointer [B + 1] (int64, on the call's device): an int G means rows
        g*G .. g*G+G-1 share a prompt (G must divide n); an integer array must start at 0, end at
        n and never decrease."""
        if isinstance(groups, (int, np.integer)) and not isinstance(groups, bool):
            g = int(groups)
            if g < 1 or n % g != 0:
                raise self.value_error(f"argument '{name}' = {g} must be >= 1 and divide the batch size {n}")
            ptr = np.arange(0, n + 1, g, dtype=np.int64)
            if self.kind == "torch":
                torch = torch_module()
                return torch.from_numpy(ptr).to(self.first.device)
            return ptr
        ptr = self.ints(groups, name)
        self.shape(ptr, name, "[B + 1] with B >= 1 (a CSR pointer) or an int group size", ptr.ndim == 1 and ptr.shape[0] >= 2)
        ok = int(ptr[0]) == 0 and int(ptr[-1]) == n and bool((ptr[1:] >= ptr[:-1]).all())
        if not ok:
            raise self.value_error(f"argument '{name}' must start at 0, end at the batch size {n} and never decrease")
        return ptr

    def int_range(self, x: Any, name: str, hi: int, why: str) -> None:
        """Every value of the integer array x lies in [0, hi] (one device sync for CUDA tensors)."""
        if x.shape[0] > 0 and bool((x < 0).any() or (x > hi).any()):
            raise self.value_error(f"argument '{name}' must lie in [0, {hi}] ({why}); got values in "
                                   f"[{int(x.min())}, {int(x.max())}]")

    def finite(self, x: Any, name: str) -> None:
        if isinstance(x, np.ndarray):
            ok = bool(np.isfinite(x).all())
        elif x.numel() == 0:
            ok = True
        else:  # one reduction: NaN propagates into min/max and an infinity is one of them
            lo, hi = x.aminmax()
            ok = bool(torch_module().isfinite(torch_module().stack([lo, hi])).all())
        if not ok:
            raise self.value_error(f"argument '{name}' has a NaN or infinite value; rewards must be finite")

    def shape(self, x: Any, name: str, expected: str, ok: bool) -> None:
        if not ok:
            raise self.value_error(f"argument '{name}' must have shape {expected}, got {_shape_str(x.shape)}")

    def positive(self, value: Any, name: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise self.type_error(f"argument '{name}' must be a number, got {type(value).__name__}")
        v = float(value)
        if not (math.isfinite(v) and v > 0):
            raise self.value_error(f"argument '{name}' must be finite and > 0, got {value!r}")
        return v

    # -- conversions ----------------------------------------------------------------------------
    @property
    def dtype_code(self) -> Any:
        return FLOAT_NP[np.dtype(str(self.ref.dtype).replace("torch.", ""))]

    def device(self) -> Any:
        """The _C.Device of the call's arrays (with the caller's current CUDA stream)."""
        d = _C.Device()
        if self.kind == "torch" and self.first.device.type == "cuda":
            torch = torch_module()
            dev = self.first.device
            d.type = 1
            d.index = dev.index if dev.index is not None else torch.cuda.current_device()
            d.stream = torch.cuda.current_stream(dev).cuda_stream
        return d

    def contiguous(self, x: Any) -> Any:
        if isinstance(x, np.ndarray):
            return np.ascontiguousarray(x)
        return x.detach().contiguous()

    def rows(self, x: Any, lead: tuple[int, ...], width: int) -> tuple[Any, int]:
        """x [*lead, width] or broadcastable to it -> (contiguous data, row stride in elements).

        A single row broadcasts with stride 0; any other broadcast is materialized."""
        if tuple(x.shape[:-1]) == tuple(lead):
            return self.contiguous(x), width
        if math.prod(x.shape) == width:
            return self.contiguous(x), 0
        if isinstance(x, np.ndarray):
            return np.ascontiguousarray(np.broadcast_to(x, (*lead, width))), width
        return x.detach().expand(*lead, width).contiguous(), width

    def check_output_size(self, shape: Sequence[int], itemsize: int) -> None:
        """ValueError naming the op and the bytes when an output could never fit in the memory of
        the call's device (checked before the allocator is asked, for outputs over 1 GiB)."""
        nbytes = math.prod(int(s) for s in shape) * itemsize
        if nbytes < 2**30:
            return
        avail, where = _device_memory(self)
        if avail is not None and nbytes > avail:
            raise self.value_error(f"the output {_shape_str(shape)} would need {nbytes / 2**30:.1f} GiB, more than the "
                                   f"{avail / 2**30:.1f} GiB of {where}; split the call into smaller batches")

    def empty(self, shape: Sequence[int], dtype: str | None = None) -> Any:
        """An output of the call's kind and device; dtype None (the floats' dtype) or 'bool'."""
        shape = tuple(int(s) for s in shape)
        self.check_output_size(shape, 1 if dtype == "bool" else np.dtype(str(self.ref.dtype).replace("torch.", "")).itemsize)
        if self.kind == "numpy":
            return np.empty(shape, dtype=np.bool_ if dtype == "bool" else self.ref.dtype)
        torch = torch_module()
        return torch.empty(shape, dtype=torch.bool if dtype == "bool" else self.ref.dtype, device=self.ref.device)

    def scratch_bytes(self, nbytes: int) -> Any:
        """A kernel's scratch buffer of at least nbytes (8-byte aligned) on the call's device."""
        count = max(1, (int(nbytes) + 7) // 8)
        if self.kind == "numpy":
            return np.empty(count, dtype=np.float64)
        torch = torch_module()
        return torch.empty(count, dtype=torch.float64, device=self.first.device)


def _device_memory(call: Call) -> tuple:
    """(bytes of memory the call's device has in all, its name), or (None, "") when unknown."""
    if call.kind == "torch" and call.first.device.type == "cuda":
        torch = torch_module()
        free, total = torch.cuda.mem_get_info(call.first.device)
        return int(total), f"memory on {call.first.device}"
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")), "this machine's memory"
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not a POSIX system
        return None, ""


class LazyFunction:
    """A ``torch.autograd.Function`` built by ``build()`` on first ``apply``, so that importing
    verireward does not import torch."""

    def __init__(self, build: Any) -> None:
        self._build, self._fn = build, None

    def apply(self, *args: Any) -> Any:
        if self._fn is None:
            self._fn = self._build()
        return self._fn.apply(*args)


def wants_grad(*xs: Any) -> bool:
    """Whether torch autograd should record an op on these arguments: all tensors, one requiring
    grad, grad mode on."""
    if not (all(is_tensor(x) for x in xs) and any(x.requires_grad for x in xs)):
        return False
    return bool(torch_module().is_grad_enabled())


def pair_function(name: str, forward: Any, backward: Any) -> LazyFunction:
    """The autograd function of an op of two box tensors ``a``, ``b`` with an analytic backward
    kernel: ``apply(a, b, *rest)`` runs ``forward(a, b, *rest)``; its backward
    ``backward(a, b, *rest, grad) -> (grad_a, grad_b)`` (``rest``: options, not differentiated)."""

    def build() -> Any:
        torch = torch_module()
        from torch.autograd.function import once_differentiable

        def fwd(ctx: Any, a: Any, b: Any, *rest: Any) -> Any:
            ctx.save_for_backward(a, b)
            ctx.rest = rest
            return forward(a, b, *rest)

        @once_differentiable
        def bwd(ctx: Any, grad: Any) -> Any:
            a, b = ctx.saved_tensors
            ga, gb = backward(a, b, *ctx.rest, grad)
            return (ga if ctx.needs_input_grad[0] else None, gb if ctx.needs_input_grad[1] else None,
                    *([None] * len(ctx.rest)))

        return type(name, (torch.autograd.Function,), {"forward": staticmethod(fwd), "backward": staticmethod(bwd)})

    return LazyFunction(build)


def numel(x: Any) -> int:
    """Elements of a numpy array or torch tensor."""
    return int(x.size) if isinstance(x, np.ndarray) else int(x.numel())


def check_number(op: str, value: Any, name: str, ok: Any, expected: str) -> float:
    """A real number (Python or numpy; not a bool) for which ok(float(value)) holds: TypeError
    naming the argument when it is not a number, ValueError when it is out of range."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: argument '{name}' must be {expected}, got {type(value).__name__} {value!r}")
    if not ok(float(value)):
        raise ValueError(f"{op}: argument '{name}' must be {expected}, got {value!r}")
    return float(value)


def torch_tensor(op: str, name: str, x: Any, kind: str = "any", shape: Optional[Sequence[Optional[int]]] = None,
                 shape_text: Optional[str] = None) -> Any:
    """The one check of an argument that must be a torch tensor (losses, preference, W2R2, point
    masking): TypeError for another type or a wrong dtype kind (``kind`` "float", "int" or "any"),
    ValueError for a wrong shape (``shape``: the expected sizes, None for any size of that axis;
    ``shape_text``: how the message writes it). Returns x."""
    torch = torch_module()
    if torch is None or not isinstance(x, torch.Tensor):
        raise TypeError(f"{op}: argument '{name}' must be a torch.Tensor, got {type(x).__name__}")
    if kind == "float" and not x.dtype.is_floating_point:
        raise TypeError(f"{op}: argument '{name}' must have a floating dtype, got {x.dtype}")
    if kind == "int" and (x.dtype.is_floating_point or x.dtype.is_complex or x.dtype == torch.bool):
        raise TypeError(f"{op}: argument '{name}' must have an integer dtype, got {x.dtype}")
    if shape is not None:
        ok = x.ndim == len(shape) and all(want is None or int(got) == want for got, want in zip(x.shape, shape))
        if not ok:
            text = shape_text or "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"
            raise ValueError(f"{op}: argument '{name}' must have shape {text}, got {_shape_str(x.shape)}")
    return x


def float_array(op: str, x: Any, name: str) -> Any:
    """x as a float torch tensor or numpy array (Python numbers and integer arrays become float64);
    TypeError naming the argument for anything that is not numbers."""
    if is_tensor(x):
        return x if x.dtype.is_floating_point else x.to(torch_module().float64)
    if isinstance(x, (bool, np.bool_, str)):
        raise TypeError(f"{op}: argument '{name}' must be numbers (a tensor, an array or a float), got {type(x).__name__}")
    try:
        a = np.asarray(x)
    except Exception as exc:  # pragma: no cover - numpy accepts almost anything
        raise TypeError(f"{op}: argument '{name}' must be numbers, got {type(x).__name__}") from exc
    if a.dtype == np.bool_ or not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise TypeError(f"{op}: argument '{name}' must be numbers, got dtype {a.dtype}")
    return a if np.issubdtype(a.dtype, np.floating) else a.astype(np.float64)


def to_numpy(x: Any) -> np.ndarray:
    """A numpy view or copy of a torch tensor (any device), numpy array or nested list."""
    if isinstance(x, np.ndarray):
        return x
    if is_tensor(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def check_int(op: str, value: Any, name: str, lo: int, hi: int, why: str = "") -> int:
    """An int (Python or numpy; not a bool) in [lo, hi], else ValueError naming the argument."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not lo <= int(value) <= hi:
        raise ValueError(f"{op}: argument '{name}' must be an int in [{lo}, {hi}]" + (f" ({why})" if why else "")
                         + f", got {value!r}")
    return int(value)


def data_ptr(x: Any) -> int:
    if isinstance(x, np.ndarray):
        return int(x.ctypes.data)
    return int(x.data_ptr())


def broadcast_lead(call: Call, a: Any, b: Any, na: str, nb: str) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(tuple(a.shape[:-1]), tuple(b.shape[:-1])))
    except ValueError:
        raise call.value_error(
            f"arguments '{na}' {_shape_str(a.shape)} and '{nb}' {_shape_str(b.shape)} do not broadcast"
        ) from None
