"""Assertions for the test cells of the lessons.

Every lesson's visible and hidden tests call these so that a failing test always
reads the same way: what was checked, what was expected, what came. They raise
``AssertionError`` (what nbgrader counts as a failed test), never other errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ._validate import describe

__all__ = [
    "assert_close",
    "assert_dtype",
    "assert_equal",
    "assert_in_range",
    "assert_param_count",
    "assert_shape",
    "assert_type",
]


def _as_tensor(value: Any, name: str) -> torch.Tensor:
    """``value`` as a CPU tensor; anything that is not numbers fails as a test (AssertionError), not a crash."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    try:
        array = np.asarray(value)
        if array.dtype == object or array.dtype.kind in "USV":
            raise TypeError(array.dtype)
        return torch.as_tensor(array)
    except (TypeError, ValueError, RuntimeError):
        raise AssertionError(f"{name}: expected numbers (a tensor, an array or a number), "
                             f"got {describe(value)}") from None


def assert_type(value: Any, expected_type: type | tuple[type, ...], name: str = "result") -> None:
    """Fail unless ``value`` is an instance of ``expected_type``. Used by the test cells of lessons 00–05."""
    if not isinstance(value, expected_type):
        wanted = (
            " or ".join(t.__name__ for t in expected_type)
            if isinstance(expected_type, tuple)
            else expected_type.__name__
        )
        raise AssertionError(f"{name}: expected a {wanted}, got {describe(value)}")


def assert_shape(value: Any, expected_shape: Sequence[int], name: str = "result") -> None:
    """Fail unless ``value`` (tensor or array) has exactly ``expected_shape``.

    Used by the test cells of lessons 00–05.
    """
    shape = getattr(value, "shape", None)
    if shape is None:
        raise AssertionError(f"{name}: expected a tensor or array of shape {tuple(expected_shape)}, got {describe(value)}")
    if tuple(shape) != tuple(expected_shape):
        raise AssertionError(f"{name}: expected shape {tuple(expected_shape)}, got {tuple(shape)}")


def assert_dtype(value: Any, expected_dtype: Any, name: str = "result") -> None:
    """Fail unless ``value`` has dtype ``expected_dtype`` (torch or NumPy). Used by the test cells of lessons 00–05."""
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        raise AssertionError(f"{name}: expected dtype {expected_dtype}, got {describe(value)}")
    try:
        matches = dtype == np.dtype(expected_dtype) if isinstance(value, np.ndarray) else dtype == expected_dtype
    except TypeError:  # e.g. a torch dtype expected of a NumPy array
        matches = False
    if not matches:
        raise AssertionError(f"{name}: expected dtype {expected_dtype}, got {dtype}")


def assert_equal(actual: Any, expected: Any, name: str = "result") -> None:
    """Fail unless ``actual == expected`` (element-wise for tensors and arrays).

    Used by the test cells of lessons 00–05.
    """
    if isinstance(expected, (torch.Tensor, np.ndarray)) or isinstance(actual, (torch.Tensor, np.ndarray)):
        a, e = _as_tensor(actual, name), _as_tensor(expected, name)
        if a.shape != e.shape:
            raise AssertionError(f"{name}: expected shape {tuple(e.shape)}, got {tuple(a.shape)}")
        # compare in a type that holds both (never cast the answer to the expected dtype: 2.9 is not 2)
        common = torch.promote_types(a.dtype, e.dtype)
        differ = a.to(common) != e.to(common)
        if bool(differ.any()):
            raise AssertionError(f"{name}: {int(differ.sum())} of {e.numel()} values differ from the expected ones"
                                 + (f" (got dtype {a.dtype}, expected {e.dtype})" if a.dtype != e.dtype else ""))
        return
    try:
        same = bool(actual == expected)
    except (TypeError, ValueError, RuntimeError):
        same = False
    if not same:
        raise AssertionError(f"{name}: expected {expected!r}, got {actual!r}")


def assert_close(
    actual: Any,
    expected: Any,
    name: str = "result",
    *,
    atol: float = 1e-6,
    rtol: float = 1e-5,
) -> None:
    """Fail unless ``actual`` matches ``expected`` within tolerances (numbers, tensors, arrays).

    Used by the test cells of lessons 00–05.
    """
    if isinstance(expected, (int, float)) and not isinstance(expected, bool) and np.ndim(actual) == 0:
        try:
            got = float(actual)
        except (TypeError, ValueError):
            raise AssertionError(f"{name}: expected a number close to {expected}, got {describe(actual)}") from None
        if not abs(got - expected) <= atol + rtol * abs(expected):
            raise AssertionError(f"{name}: expected {expected:.6g} (±{atol + rtol * abs(expected):.2g}), got {got:.6g}")
        return
    a, e = _as_tensor(actual, name), _as_tensor(expected, name)
    if a.shape != e.shape:
        raise AssertionError(f"{name}: expected shape {tuple(e.shape)}, got {tuple(a.shape)}")
    a64, e64 = a.double(), e.double()
    close = torch.isclose(a64, e64, atol=atol, rtol=rtol)
    if not bool(close.all()):
        worst = (a64 - e64).abs().max().item()
        bad = int((~close).sum())
        raise AssertionError(
            f"{name}: {bad} of {e.numel()} values are not close to the expected ones "
            f"(largest difference {worst:.3g}, tolerance atol={atol}, rtol={rtol})"
        )


def assert_in_range(value: Any, low: float, high: float, name: str = "result") -> None:
    """Fail unless every element of ``value`` lies in ``[low, high]``. Used by the test cells of lessons 00–05."""
    t = _as_tensor(value, name).double()
    if t.numel() == 0:
        raise AssertionError(f"{name}: expected values in [{low}, {high}], got an empty {describe(value)}")
    if bool(t.isnan().any()):
        raise AssertionError(f"{name}: expected values in [{low}, {high}], got {int(t.isnan().sum())} NaN of {t.numel()}")
    lo, hi = t.min().item(), t.max().item()
    if lo < low or hi > high:
        raise AssertionError(f"{name}: expected values in [{low}, {high}], got values from {lo:.4g} to {hi:.4g}")


def assert_param_count(model: Any, expected: int, name: str = "model", *, trainable_only: bool = False) -> None:
    """Fail unless ``model`` has exactly ``expected`` (trainable) parameters.

    Used by the test cells of lessons 00–05.
    """
    assert_type(model, nn.Module, name)
    params = (p for p in model.parameters() if p.requires_grad or not trainable_only)
    got = sum(p.numel() for p in params)
    kind = "trainable parameters" if trainable_only else "parameters"
    if got != expected:
        raise AssertionError(f"{name}: expected {expected:,} {kind}, got {got:,}")
