"""Tests of course_utils.checks: the assertions lesson test cells use."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from course_utils import checks


def test_assert_type() -> None:
    checks.assert_type(torch.zeros(1), torch.Tensor)
    with pytest.raises(AssertionError, match="answer: expected a Tensor, got list"):
        checks.assert_type([1], torch.Tensor, "answer")
    with pytest.raises(AssertionError, match="expected a int or float"):
        checks.assert_type("x", (int, float))


def test_assert_shape() -> None:
    checks.assert_shape(torch.zeros(2, 3), (2, 3))
    checks.assert_shape(np.zeros((4,)), [4])
    with pytest.raises(AssertionError, match=r"x: expected shape \(3, 2\), got \(2, 3\)"):
        checks.assert_shape(torch.zeros(2, 3), (3, 2), "x")
    with pytest.raises(AssertionError, match="expected a tensor or array of shape"):
        checks.assert_shape(5, (1,))


def test_assert_dtype() -> None:
    checks.assert_dtype(torch.zeros(1), torch.float32)
    checks.assert_dtype(np.zeros(1, dtype=np.uint8), np.uint8)
    with pytest.raises(AssertionError, match="img: expected dtype torch.uint8, got torch.float32"):
        checks.assert_dtype(torch.zeros(1), torch.uint8, "img")
    with pytest.raises(AssertionError, match="expected dtype"):
        checks.assert_dtype(3, torch.float32)


def test_assert_equal() -> None:
    checks.assert_equal(3, 3)
    checks.assert_equal(torch.tensor([1, 2]), np.array([1, 2]))
    with pytest.raises(AssertionError, match="n: expected 4, got 5"):
        checks.assert_equal(5, 4, "n")
    with pytest.raises(AssertionError, match="1 of 2 values differ"):
        checks.assert_equal(torch.tensor([1, 3]), torch.tensor([1, 2]))
    with pytest.raises(AssertionError, match=r"expected shape \(2,\), got \(3,\)"):
        checks.assert_equal(torch.zeros(3), torch.zeros(2))


def test_assert_close() -> None:
    checks.assert_close(0.1 + 0.2, 0.3)
    checks.assert_close(torch.tensor(2.0), 2.0)
    checks.assert_close(torch.tensor([1.0, 2.0]), [1.0, 2.0 + 1e-7])
    with pytest.raises(AssertionError, match="loss: expected 2.30259"):
        checks.assert_close(2.5, 2.302585, "loss", atol=1e-3)
    with pytest.raises(AssertionError, match="1 of 2 values are not close.*largest difference 0.5"):
        checks.assert_close(torch.tensor([1.0, 2.5]), torch.tensor([1.0, 2.0]))
    with pytest.raises(AssertionError, match="expected shape"):
        checks.assert_close(torch.zeros(2), torch.zeros(3))
    with pytest.raises(AssertionError, match="expected a number close to 1"):
        checks.assert_close("abc", 1.0)


def test_assert_in_range() -> None:
    checks.assert_in_range(torch.tensor([0.0, 1.0]), 0, 1)
    with pytest.raises(AssertionError, match="pixels: expected values in \\[0, 1\\], got values from -0.5 to 1"):
        checks.assert_in_range(torch.tensor([-0.5, 1.0]), 0, 1, "pixels")
    with pytest.raises(AssertionError, match="got an empty"):
        checks.assert_in_range(torch.zeros(0), 0, 1)


def test_assert_param_count() -> None:
    model = nn.Linear(3, 2)  # 3*2 + 2 = 8
    checks.assert_param_count(model, 8)
    model.bias.requires_grad_(False)
    checks.assert_param_count(model, 6, trainable_only=True)
    with pytest.raises(AssertionError, match="head: expected 9 parameters, got 8"):
        checks.assert_param_count(model, 9, "head")


# --- holes found by the exercise audit (issue #16) ------------------------------------------------

def test_assert_in_range_fails_on_nan():
    with pytest.raises(AssertionError, match=r"probs: expected values in \[0, 1\], got 1 NaN of 3"):
        checks.assert_in_range(torch.tensor([0.2, float("nan"), 0.5]), 0, 1, "probs")


@pytest.mark.parametrize("actual, expected", [
    (torch.tensor([2.9]), torch.tensor([2])),  # not truncated to the expected dtype
    (torch.tensor([300]), torch.tensor([44], dtype=torch.uint8)),  # no uint8 wrap-around
    (np.array([0.5]), torch.tensor([0])),
])
def test_assert_equal_never_casts_the_answer_to_the_expected_dtype(actual, expected):
    with pytest.raises(AssertionError, match=r"result: 1 of 1 values differ from the expected ones \(got dtype"):
        checks.assert_equal(actual, expected)


def test_assert_equal_accepts_equal_values_of_different_dtypes():
    checks.assert_equal(torch.tensor([1, 2], dtype=torch.int32), torch.tensor([1, 2]))
    checks.assert_equal(torch.tensor([1.0, 2.0]), np.array([1, 2]))


@pytest.mark.parametrize("check", [
    lambda: checks.assert_equal(["a", None], torch.tensor([1, 2]), "x"),
    lambda: checks.assert_close({"a": 1}, torch.tensor([1.0]), "x"),
    lambda: checks.assert_in_range("text", 0, 1, "x"),
    lambda: checks.assert_in_range([1, [2, 3]], 0, 1, "x"),
    lambda: checks.assert_equal(np.array([1, 2]), [[1, 2], [3]], "x"),
])
def test_answers_that_are_not_numbers_fail_as_tests_not_crashes(check):
    with pytest.raises(AssertionError, match=r"x: expected numbers"):
        check()


def test_assert_equal_on_values_that_cannot_be_compared_is_a_failed_test():
    class Odd:
        def __eq__(self, other):
            raise ValueError("ambiguous")

    with pytest.raises(AssertionError, match="x: expected 3, got"):
        checks.assert_equal(Odd(), 3, "x")


def test_assert_dtype_of_a_numpy_array_against_a_torch_dtype_fails_as_a_test():
    with pytest.raises(AssertionError, match="a: expected dtype torch.float32, got float32"):
        checks.assert_dtype(np.zeros(2, dtype=np.float32), torch.float32, "a")
