"""Argument validation shared by every public function of ``course_utils``.

Each helper raises an exception whose message names the argument, says what was
expected and what was received, so a learner can fix the call without reading
the library's source. They return the validated value so calls stay one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch


def describe(value: Any) -> str:
    """A short description of ``value`` for error messages (type, shape, dtype)."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"a {type(value).__name__} of shape {tuple(shape)} and dtype {dtype}"
    if isinstance(value, (tuple, list)) and any(isinstance(item, torch.Tensor) for item in value):
        return f"a {type(value).__name__} of {len(value)}: " + ", ".join(describe(item) for item in value[:4])[:200]
    return f"{type(value).__name__} {value!r}"[:200]


def require_tensor(
    name: str,
    value: Any,
    *,
    ndim: int | Sequence[int] | None = None,
    dtypes: Sequence[torch.dtype] | None = None,
    channels: int | Sequence[int] | None = None,
    channel_dim: int = 1,
    nonempty: bool = True,
) -> torch.Tensor:
    """Check that ``value`` is a tensor with the expected rank, dtype and channel count."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {describe(value)}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if value.ndim not in allowed:
            wanted = " or ".join(str(n) for n in allowed)
            raise ValueError(f"{name}: expected a {wanted}-dimensional tensor, got {describe(value)}")
    if dtypes is not None and value.dtype not in dtypes:
        wanted = ", ".join(str(d) for d in dtypes)
        raise TypeError(f"{name}: expected dtype {wanted}, got {describe(value)}")
    if channels is not None:
        allowed_c = (channels,) if isinstance(channels, int) else tuple(channels)
        got = value.shape[channel_dim]
        if got not in allowed_c:
            wanted = " or ".join(str(c) for c in allowed_c)
            raise ValueError(
                f"{name}: expected {wanted} channel(s) in dimension {channel_dim}, "
                f"got {got} ({describe(value)})"
            )
    if nonempty and value.numel() == 0:
        raise ValueError(f"{name}: expected a non-empty tensor, got {describe(value)}")
    return value


def require_batch(index: int, batch: Any) -> tuple[Any, Any]:
    """Check that batch number ``index`` of a loader is an ``(images, labels)`` pair and return it."""
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise ValueError(f"loader: expected batches of (images, labels), got {describe(batch)} as batch {index}")
    return batch[0], batch[1]


def require_images(name: str, value: Any, *, channels: int | Sequence[int] | None = None) -> torch.Tensor:
    """Check for a batch of images laid out N×C×H×W (any dtype)."""
    value = require_tensor(name, value, ndim=4, channels=channels)
    return value


def require_labels(name: str, value: Any, n: int | None = None, num_classes: int | None = None) -> torch.Tensor:
    """Check for a 1-D integer label tensor, optionally of length ``n`` and within ``num_classes``."""
    value = require_tensor(
        name, value, ndim=1, dtypes=(torch.int64, torch.int32, torch.int16, torch.uint8)
    )
    if n is not None and value.shape[0] != n:
        raise ValueError(f"{name}: expected {n} labels (one per image), got {value.shape[0]}")
    if num_classes is not None:
        low, high = int(value.min()), int(value.max())
        if low < 0 or high >= num_classes:
            raise ValueError(
                f"{name}: expected class indices in [0, {num_classes - 1}] for {num_classes} classes, "
                f"got values from {low} to {high}"
            )
    return value


def require_positive_int(name: str, value: Any, *, allow_zero: bool = False) -> int:
    """Check for an int > 0 (or >= 0 with ``allow_zero``); bools are rejected."""
    lowest = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
        raise ValueError(f"{name}: expected an integer >= {lowest}, got {describe(value)}")
    return value


def require_positive_float(name: str, value: Any) -> float:
    """Check for a real number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name}: expected a number > 0, got {describe(value)}")
    return float(value)


def require_non_negative_float(name: str, value: Any) -> float:
    """Check for a real number >= 0 (NaN rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{name}: expected a number >= 0, got {describe(value)}")
    return float(value)


def require_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """Check that ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name}: expected one of {list(choices)}, got {value!r}")
    return value


def require_directory(name: str, value: str | Path) -> Path:
    """Check that a directory exists and return it as a Path."""
    path = Path(value)
    if not path.is_dir():
        raise FileNotFoundError(f"{name}: expected an existing directory, got {str(path)!r} (not found)")
    return path


def require_nonempty(name: str, value: Any) -> Any:
    """Check that a sized object (dataset, loader, list) has at least one element."""
    try:
        size = len(value)
    except TypeError:
        return value
    if size == 0:
        raise ValueError(f"{name}: expected a non-empty {type(value).__name__}, got one with 0 items")
    return value


def require_callable(name: str, value: Any, example: str, *, allow_none: bool = False) -> Any:
    """Check for a callable (a transform, a loss): ``example`` shows the learner what one looks like."""
    if (value is None and allow_none) or callable(value):
        return value
    none = "None or " if allow_none else ""
    raise TypeError(f"{name}: expected {none}a callable such as {example}, got {describe(value)}")


def require_module(name: str, value: Any) -> Any:
    """Check for a ``torch.nn.Module``."""
    if not isinstance(value, torch.nn.Module):
        raise TypeError(f"{name}: expected a torch.nn.Module, got {describe(value)}")
    return value


def require_optimizer(name: str, value: Any) -> Any:
    """Check for a ``torch.optim.Optimizer``."""
    if not isinstance(value, torch.optim.Optimizer):
        raise TypeError(f"{name}: expected a torch.optim.Optimizer such as torch.optim.SGD(model.parameters(), "
                        f"lr=0.1), got {describe(value)}")
    return value


def require_file(name: str, value: Any) -> Path:
    """Check that a file exists and return it as a Path."""
    path = Path(value)
    if not path.is_file():
        state = "a folder" if path.is_dir() else "not found"
        raise FileNotFoundError(f"{name}: expected an existing file, got {str(path)!r} ({state})")
    return path


def require_finite(name: str, value: torch.Tensor) -> torch.Tensor:
    """Check that a floating-point tensor holds no NaN or infinity (one host sync: use outside loops)."""
    if value.is_floating_point() and not bool(torch.isfinite(value).all()):
        bad = int((~torch.isfinite(value)).sum())
        raise ValueError(f"{name}: expected finite values, got {bad} NaN or infinite of {value.numel()} "
                         f"in {describe(value)}")
    return value


def require_device(name: str, value: Any) -> torch.device:
    """``value`` as a ``torch.device``: a device, or a string such as "cpu", "cuda" or "cuda:1"."""
    if isinstance(value, torch.device):
        return value
    try:
        if not isinstance(value, str):
            raise TypeError
        return torch.device(value)
    except (RuntimeError, TypeError):
        raise ValueError(f"{name}: expected a torch.device or a string such as 'cpu', 'cuda' or 'cuda:1', "
                         f"got {describe(value)}") from None
