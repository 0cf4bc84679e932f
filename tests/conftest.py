"""Shared fixtures: headless plotting and a small slice of the real FashionMNIST."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest
import torch

import course_utils as cu


@pytest.fixture(scope="session")
def fashion_small() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """2,000 training and 500 test images of the real FashionMNIST (uint8 N×1×28×28, int64 labels)."""
    train_x, train_y = cu.fashion_mnist_tensors(train=True)
    test_x, test_y = cu.fashion_mnist_tensors(train=False)
    return train_x[:2000], train_y[:2000], test_x[:500], test_y[:500]
