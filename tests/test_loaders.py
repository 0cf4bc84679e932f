"""Tests of course_utils.loaders: the in-memory TensorLoader and make_dataloaders."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

import course_utils as cu


def _toy(n: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 2, 2).contiguous()
    return images, torch.arange(n)


def test_batches_cover_the_data_once_in_order() -> None:
    images, labels = _toy(10)
    loader = cu.TensorLoader(images, labels, batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [len(y) for _, y in batches] == [4, 4, 2]
    assert torch.equal(torch.cat([y for _, y in batches]), labels)
    first_images = batches[0][0]
    assert first_images.dtype == torch.float32 and first_images.shape == (4, 1, 2, 2)
    assert torch.allclose(first_images[:, 0, 0, 0], torch.tensor([0, 1, 2, 3]) / 255)


def test_drop_last_and_len() -> None:
    images, labels = _toy(10)
    loader = cu.TensorLoader(images, labels, batch_size=4, drop_last=True)
    assert len(loader) == 2 and sum(len(y) for _, y in loader) == 8


def test_shuffle_is_a_permutation_and_reproducible() -> None:
    images, labels = _toy(50)
    orders = []
    for _ in range(2):
        loader = cu.TensorLoader(images, labels, 16, shuffle=True, generator=torch.Generator().manual_seed(1))
        orders.append(torch.cat([y for _, y in loader]))
    assert torch.equal(orders[0], orders[1])
    assert not torch.equal(orders[0], labels)
    assert torch.equal(orders[0].sort().values, labels)
    # images stay paired with their labels
    loader = cu.TensorLoader(images, labels, 16, shuffle=True)
    for x, y in loader:
        assert torch.allclose(x[:, 0, 0, 0] * 255, y.float())
    # a new epoch draws a new order
    first, second = (torch.cat([y for _, y in loader]) for _ in range(2))
    assert not torch.equal(first, second)


def test_normalisation_and_augment_are_applied_per_batch() -> None:
    images, labels = _toy(4)
    loader = cu.TensorLoader(images, labels, 4, mean=[0.5], std=[0.25], augment=lambda x: x.flip(-1) + 1)
    x, _ = next(iter(loader))
    expected = ((torch.arange(4) / 255 + 1) - 0.5) / 0.25
    assert torch.allclose(x[:, 0, 0, 0], expected)


def test_float_images_are_not_rescaled() -> None:
    images = torch.full((3, 3, 2, 2), 0.5)
    x, _ = next(iter(cu.TensorLoader(images, torch.zeros(3, dtype=torch.int64), 3)))
    assert torch.allclose(x, images)
    assert "3 images of shape (3, 2, 2)" in repr(cu.TensorLoader(images, torch.zeros(3, dtype=torch.int64), 3))


def test_tensor_loader_rejects_bad_input() -> None:
    images, labels = _toy(4)
    with pytest.raises(ValueError, match="images: expected a 4-dimensional tensor"):
        cu.TensorLoader(images[0], labels)
    with pytest.raises(TypeError, match="images: expected uint8 or floating-point pixels"):
        cu.TensorLoader(images.int(), labels)
    with pytest.raises(ValueError, match="labels: expected 4 labels \\(one per image\\), got 3"):
        cu.TensorLoader(images, labels[:3])
    with pytest.raises(TypeError, match="labels: expected dtype"):
        cu.TensorLoader(images, labels.float())
    with pytest.raises(ValueError, match="batch_size: expected an integer >= 1, got int 0"):
        cu.TensorLoader(images, labels, 0)
    with pytest.raises(ValueError, match="mean: expected 1 value\\(s\\), one per image channel, got 3"):
        cu.TensorLoader(images, labels, mean=[0.5, 0.5, 0.5], std=[1, 1, 1])
    with pytest.raises(ValueError, match="mean, std: expected both or neither"):
        cu.TensorLoader(images, labels, mean=[0.5])
    with pytest.raises(ValueError, match="std: expected every value > 0"):
        cu.TensorLoader(images, labels, mean=[0.5], std=[0.0])
    with pytest.raises(TypeError, match="augment: expected a callable"):
        cu.TensorLoader(images, labels, augment=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="images: expected a non-empty tensor"):
        cu.TensorLoader(torch.zeros(0, 1, 2, 2), torch.zeros(0, dtype=torch.int64))


def test_make_dataloaders_from_datasets_applies_separate_transforms() -> None:
    train = TensorDataset(torch.arange(10.0), torch.arange(10))
    test = TensorDataset(torch.arange(4.0), torch.arange(4))
    train_loader, test_loader, classes = cu.make_dataloaders(
        train, test, batch_size=4, train_transform=lambda x: x + 100, test_transform=lambda x: x * 2,
        generator=torch.Generator().manual_seed(0),
    )
    assert classes == []
    train_x = torch.cat([x for x, _ in train_loader])
    assert torch.equal(train_x.sort().values, torch.arange(10.0) + 100)
    test_x = torch.cat([x for x, _ in test_loader])
    assert torch.equal(test_x, torch.arange(4.0) * 2)  # never shuffled
    assert train_loader.batch_size == 4 and len(test_loader) == 1


def test_make_dataloaders_from_imagefolder_directories(tmp_path: Path) -> None:
    images = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8)
    labels = torch.tensor([0, 1, 0, 1, 0, 1])
    cu.export_image_folder(images[:4], labels[:4], ["cat", "dog"], tmp_path / "train")
    cu.export_image_folder(images[4:], labels[4:], ["cat", "dog"], tmp_path / "test")
    from torchvision.transforms import v2

    to_tensor = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])
    train_loader, test_loader, classes = cu.make_dataloaders(
        tmp_path / "train", str(tmp_path / "test"), batch_size=2, train_transform=to_tensor, test_transform=to_tensor
    )
    assert classes == ["cat", "dog"]
    x, y = next(iter(test_loader))
    assert x.shape == (2, 3, 8, 8) and y.tolist() == [0, 1]


def test_make_dataloaders_rejects_bad_input(tmp_path: Path) -> None:
    data = TensorDataset(torch.zeros(2), torch.zeros(2))
    with pytest.raises(FileNotFoundError, match="train_data: expected an existing directory, got '.*missing' \\(not found\\)"):
        cu.make_dataloaders(tmp_path / "missing", data)
    with pytest.raises(ValueError, match="test_data: expected a non-empty TensorDataset, got one with 0 items"):
        cu.make_dataloaders(data, TensorDataset(torch.zeros(0), torch.zeros(0)))
    with pytest.raises(ValueError, match="num_workers: expected an integer >= 0"):
        cu.make_dataloaders(data, data, num_workers=-1)
    images = torch.zeros(2, 1, 4, 4, dtype=torch.uint8)
    cu.export_image_folder(images, torch.tensor([0, 1]), ["a", "b"], tmp_path / "ab")
    cu.export_image_folder(images, torch.tensor([0, 1]), ["a", "c"], tmp_path / "ac")
    with pytest.raises(ValueError, match="test_data: expected the same classes as train_data"):
        cu.make_dataloaders(tmp_path / "ab", tmp_path / "ac")
