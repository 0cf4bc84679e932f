"""The exact messages and boundaries of course_utils.checks (what a learner reads when a test cell fails).

Mutation testing (``./course mutate``) showed that the behaviour tests of ``test_checks.py`` let
wrong messages, wrong default names and off-by-one tolerances pass; these pin them down.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torch import nn

from course_utils import checks


def fails_with(message: str, check, *args, **kwargs) -> None:  # noqa: ANN001 - any check and its arguments
    with pytest.raises(AssertionError) as caught:
        check(*args, **kwargs)
    assert str(caught.value) == message


def test_assert_type_messages() -> None:
    fails_with("result: expected a Tensor, got int 3", checks.assert_type, 3, torch.Tensor)
    fails_with("answer: expected a int or float, got str 'x'", checks.assert_type, "x", (int, float), "answer")
    checks.assert_type(True, int)  # a bool is an int in Python: accepted


def test_assert_shape_messages() -> None:
    fails_with("result: expected a tensor or array of shape (2,), got int 5", checks.assert_shape, 5, (2,))
    fails_with("result: expected shape (2, 3), got (3, 2)", checks.assert_shape, torch.zeros(3, 2), [2, 3])
    fails_with("x: expected shape (4,), got (4, 1)", checks.assert_shape, np.zeros((4, 1)), (4,), "x")
    checks.assert_shape(np.zeros((4, 1)), [4, 1])


def test_assert_dtype_messages() -> None:
    fails_with("result: expected dtype torch.int64, got int 1", checks.assert_dtype, 1, torch.int64)
    fails_with(
        "result: expected dtype torch.int64, got torch.float32", checks.assert_dtype, torch.zeros(1), torch.int64
    )
    fails_with(
        "y: expected dtype float32, got int64", checks.assert_dtype, np.zeros(1, np.int64), np.dtype("float32"), "y"
    )
    fails_with("result: expected dtype torch.float32, got float64", checks.assert_dtype, np.zeros(1), torch.float32)
    checks.assert_dtype(np.zeros(1, np.float32), "float32")  # NumPy dtype names are understood for arrays
    with pytest.raises(AssertionError):
        checks.assert_dtype(torch.zeros(1), "float32")  # but a torch tensor needs a torch dtype


def test_assert_equal_messages() -> None:
    fails_with("result: expected 3, got 4", checks.assert_equal, 4, 3)
    fails_with("result: expected shape (2,), got (3,)", checks.assert_equal, torch.zeros(3), torch.zeros(2))
    fails_with(
        "result: 1 of 3 values differ from the expected ones",
        checks.assert_equal,
        torch.tensor([1, 2, 3]),
        torch.tensor([1, 2, 4]),
    )
    fails_with(
        "z: 2 of 2 values differ from the expected ones (got dtype torch.float32, expected torch.int64)",
        checks.assert_equal,
        torch.tensor([2.9, 1.5]),
        torch.tensor([2, 1]),
        "z",
    )
    checks.assert_equal(torch.tensor([2.0, 1.0]), torch.tensor([2, 1]))  # equal values, other dtype: equal
    fails_with("result: expected [1, 2], got 'ab'", checks.assert_equal, "ab", [1, 2])


def test_assert_close_scalar_messages_and_boundary() -> None:
    fails_with("result: expected 1 (±1e-05), got 1.1", checks.assert_close, 1.1, 1.0, atol=0.0, rtol=1e-5)
    fails_with("result: expected a number close to 2.0, got str 'two'", checks.assert_close, "two", 2.0)
    fails_with("result: expected 10 (±2), got 13", checks.assert_close, 13.0, 10.0, atol=1.0, rtol=0.1)
    checks.assert_close(12.0, 10.0, atol=1.0, rtol=0.1)  # exactly on the tolerance: close (|d| <= atol + rtol·|e|)
    checks.assert_close(torch.tensor(12.0), 10.0, atol=1.0, rtol=0.1)
    with pytest.raises(AssertionError):
        checks.assert_close(12.01, 10.0, atol=1.0, rtol=0.1)


def test_assert_close_tensor_messages_use_both_tolerances() -> None:
    expected = torch.tensor([1.0, 100.0, 5.0])
    fails_with("result: expected shape (3,), got (2,)", checks.assert_close, torch.zeros(2), expected)
    message = (
        "result: 2 of 3 values are not close to the expected ones (largest difference 2, tolerance atol=0.5, rtol=0.01)"
    )
    fails_with(message, checks.assert_close, torch.tensor([1.0, 102.0, 6.0]), expected, atol=0.5, rtol=0.01)
    # 100 ± (0.5 + 1.0) accepts 101.4: only both tolerances together allow it
    checks.assert_close(torch.tensor([1.0, 101.4, 5.0]), expected, atol=0.5, rtol=0.01)
    with pytest.raises(AssertionError, match="1 of 3"):
        checks.assert_close(torch.tensor([1.0, 101.4, 5.0]), expected, atol=0.5, rtol=0.0)
    with pytest.raises(AssertionError, match="1 of 3"):
        checks.assert_close(torch.tensor([1.6, 100.0, 5.0]), expected, atol=0.0, rtol=0.5)
    checks.assert_close(torch.tensor([1.4, 100.0, 5.0]), expected, atol=0.0, rtol=0.5)
    fails_with(
        "w: expected numbers (a tensor, an array or a number), got str 'a'", checks.assert_close, "a", [1.0], "w"
    )
    fails_with(
        "w: expected numbers (a tensor, an array or a number), got list ['a']",
        checks.assert_close,
        torch.ones(1),
        ["a"],
        "w",
    )


def test_assert_in_range_messages() -> None:
    fails_with(
        "result: expected values in [0, 1], got values from -0.5 to 0.5",
        checks.assert_in_range,
        torch.tensor([-0.5, 0.5]),
        0,
        1,
    )
    fails_with("p: expected values in [0, 1], got 1 NaN of 2", checks.assert_in_range, [0.5, float("nan")], 0, 1, "p")
    empty = torch.zeros(0)
    fails_with(
        f"result: expected values in [0, 1], got an empty {checks.describe(empty)}", checks.assert_in_range, empty, 0, 1
    )
    checks.assert_in_range(torch.tensor([0.0, 1.0]), 0, 1)  # both ends included


def test_assert_param_count_messages() -> None:
    model = nn.Linear(3, 2)  # 8 parameters
    fails_with("model: expected 9 parameters, got 8", checks.assert_param_count, model, 9)
    model.bias.requires_grad_(False)
    fails_with(
        "net: expected 8 trainable parameters, got 6", checks.assert_param_count, model, 8, "net", trainable_only=True
    )
    checks.assert_param_count(model, 8)
    fails_with("model: expected a Module, got str 'linear'", checks.assert_param_count, "linear", 8)
    fails_with("model: expected 1,000 parameters, got 8", checks.assert_param_count, nn.Linear(3, 2), 1000)


def test_text_is_never_taken_for_numbers() -> None:
    for text in ("1", np.array(["a"]), np.array([b"a"])):
        with pytest.raises(AssertionError, match=re.escape("expected numbers")):
            checks.assert_close(text, [1.0])
