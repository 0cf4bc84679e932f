"""Tests of course_utils.datasets on the real offline FashionMNIST, the CIFAR-10 stand-in and the photos."""

from __future__ import annotations

import gzip
import shutil
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision import datasets as tv_datasets
from torchvision.datasets import ImageFolder

import course_utils as cu
from course_utils import datasets


def test_data_dir_uses_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))
    assert cu.data_dir() == tmp_path / "cache" and (tmp_path / "cache").is_dir()
    assert cu.data_dir(tmp_path / "x") == tmp_path / "x"


def test_fashion_mnist_from_system_copy(tmp_path: Path) -> None:
    train = cu.load_fashion_mnist(train=True, root=tmp_path)
    test = cu.load_fashion_mnist(train=False, root=tmp_path)
    assert isinstance(train, tv_datasets.FashionMNIST)
    assert (len(train), len(test)) == (60_000, 10_000)
    assert (tmp_path / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").stat().st_size == 47_040_016
    assert tuple(train.classes) == cu.FASHION_MNIST_CLASSES
    images, labels = cu.fashion_mnist_tensors(train=False, root=tmp_path)
    assert images.shape == (10_000, 1, 28, 28) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64 and torch.equal(torch.bincount(labels), torch.full((10,), 1000))
    # The first test image of FashionMNIST is an ankle boot (class 9).
    assert int(labels[0]) == 9


def test_two_writers_unpacking_the_system_copy_at_once_both_succeed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Two notebooks (or two test workers) that find the cache empty unpack the same files at the same time."""
    system_dir, raw_dir = tmp_path / "system", tmp_path / "cache" / "FashionMNIST" / "raw"
    system_dir.mkdir()
    contents = {name: f"{name} ".encode() * 5000 for name in datasets._FASHION_FILES}
    for name, content in contents.items():
        (system_dir / f"{name}.gz").write_bytes(gzip.compress(content))
    real_copy = shutil.copyfileobj
    interrupted = []

    def copy_while_another_writer_runs(source: object, destination: object) -> None:
        if not interrupted:  # the first copy is overtaken: a second writer unpacks every file meanwhile
            interrupted.append(True)
            assert datasets._install_system_fashion_mnist(raw_dir, system_dir)
        real_copy(source, destination)

    monkeypatch.setattr(datasets.shutil, "copyfileobj", copy_while_another_writer_runs)
    assert datasets._install_system_fashion_mnist(raw_dir, system_dir)
    assert interrupted
    assert {path.name: path.read_bytes() for path in raw_dir.iterdir()} == contents  # whole files, no leftovers
    assert {path.stat().st_mode & 0o777 for path in raw_dir.iterdir()} == {0o644}  # readable by every user


def test_a_broken_system_copy_leaves_no_partial_file(tmp_path: Path) -> None:
    system_dir, raw_dir = tmp_path / "system", tmp_path / "raw"
    system_dir.mkdir()
    for name in datasets._FASHION_FILES:
        (system_dir / f"{name}.gz").write_bytes(gzip.compress(bytes(range(256)) * 400)[:-100])  # cut short
    with pytest.raises(EOFError):
        datasets._install_system_fashion_mnist(raw_dir, system_dir)
    assert list(raw_dir.iterdir()) == []  # the next try starts clean


def test_fashion_mnist_without_copy_or_network_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(tv_datasets, "FashionMNIST", no_network)
    with pytest.raises(RuntimeError, match="FashionMNIST could not be downloaded.*dataset-fashion-mnist"):
        cu.load_fashion_mnist(root=tmp_path, system_dir=tmp_path / "missing")


def _no_cifar(*args: object, **kwargs: object) -> None:
    raise urllib.error.URLError("no network")


def test_cifar10_offline_without_permission_raises(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("COURSE_ALLOW_STANDINS", raising=False)
    monkeypatch.setattr(tv_datasets, "CIFAR10", _no_cifar)
    with pytest.raises(RuntimeError, match="CIFAR-10 could not be downloaded.*COURSE_ALLOW_STANDINS=1"):
        cu.load_cifar10(root=tmp_path)


def test_cifar10_standin_is_labelled_and_shaped_like_cifar(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COURSE_ALLOW_STANDINS", "1")
    monkeypatch.setattr(tv_datasets, "CIFAR10", _no_cifar)
    images, labels, is_standin = cu.cifar10_tensors(train=False, root=tmp_path)
    assert is_standin
    assert "STAND-IN DATA" in capsys.readouterr().out
    assert images.shape == (10_000, 3, 32, 32) and images.dtype == torch.uint8
    assert torch.equal(torch.bincount(labels), torch.full((10,), 1000))
    dataset = cu.load_cifar10(train=False, root=tmp_path, transform=lambda image: np.asarray(image))
    assert "STAND-IN" in repr(dataset)
    first, label = dataset[0]
    assert first.shape == (32, 32, 3) and label == int(labels[0])
    # The classes are learnable: a nearest-class-mean colour classifier beats chance by far.
    means = torch.stack([images[labels == k].float().mean(dim=(0, 2, 3)) for k in range(10)])
    pixel_means = images.float().mean(dim=(2, 3))
    predictions = torch.cdist(pixel_means, means).argmin(dim=1)
    assert (predictions == labels).float().mean() > 0.5


def test_cifar10_real_dataset_is_marked_real(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    class FakeCifar:
        def __init__(self, root: Path, train: bool, transform: object, download: bool) -> None:
            self.data = np.zeros((4, 32, 32, 3), dtype=np.uint8)
            self.targets = [0, 1, 2, 3]

    monkeypatch.setattr(tv_datasets, "CIFAR10", FakeCifar)
    images, labels, is_standin = cu.cifar10_tensors(root=tmp_path)
    assert not is_standin and images.shape == (4, 3, 32, 32) and labels.tolist() == [0, 1, 2, 3]


def test_sample_photos_are_real_rgb_uint8() -> None:
    photos = cu.sample_photos()
    assert set(photos) == {"astronaut", "chelsea", "coffee", "rocket", "china", "flower"}
    for photo in photos.values():
        assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3
        assert photo.flags.writeable  # torch.from_numpy warns on read-only arrays
    assert photos["astronaut"].shape == (512, 512, 3)
    assert photos["china"].shape == (427, 640, 3)
    with pytest.raises(ValueError, match="name: expected one of"):
        cu.sample_photo("dog")


def test_channel_stats_matches_direct_computation() -> None:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (37, 3, 5, 7), dtype=torch.uint8, generator=generator)
    mean, std = cu.channel_stats(images, batch_size=8)
    as_float = images.double() / 255
    assert torch.allclose(mean.double(), as_float.mean(dim=(0, 2, 3)), atol=1e-6)
    assert torch.allclose(std.double(), as_float.std(dim=(0, 2, 3), correction=0), atol=1e-6)
    float_mean, _ = cu.channel_stats(as_float.float())
    assert torch.allclose(float_mean, mean, atol=1e-6)


def test_channel_stats_of_fashion_mnist(fashion_small: tuple[torch.Tensor, ...]) -> None:
    mean, std = cu.channel_stats(cu.fashion_mnist_tensors()[0])
    assert mean.item() == pytest.approx(0.2860, abs=5e-4)
    assert std.item() == pytest.approx(0.3530, abs=5e-4)


def test_channel_stats_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="images: expected a 4-dimensional tensor, got a tensor of shape \\(28, 28\\)"):
        cu.channel_stats(torch.zeros(28, 28))
    with pytest.raises(TypeError, match="images: expected uint8 or floating-point pixels"):
        cu.channel_stats(torch.zeros(1, 1, 2, 2, dtype=torch.int32))
    with pytest.raises(ValueError, match="images: expected a non-empty tensor"):
        cu.channel_stats(torch.zeros(0, 3, 2, 2))
    with pytest.raises(TypeError, match="images: expected a torch.Tensor, got a ndarray of shape \\(1, 1, 2, 2\\)"):
        cu.channel_stats(np.zeros((1, 1, 2, 2)))


def test_export_image_folder_round_trips_through_imagefolder(
    fashion_small: tuple[torch.Tensor, ...], tmp_path: Path
) -> None:
    images, labels = fashion_small[0][:200], fashion_small[1][:200]
    root = cu.export_image_folder(images, labels, cu.FASHION_MNIST_CLASSES, tmp_path / "tree", per_class=5)
    folder = ImageFolder(root)
    assert len(folder) == 50
    assert sorted(folder.classes) == sorted(name.replace("/", "_") for name in cu.FASHION_MNIST_CLASSES)
    path, class_index = folder.samples[0]
    index = int(Path(path).stem)
    loaded = np.asarray(folder.loader(path).convert("L"))
    assert np.array_equal(loaded, images[index, 0].numpy())  # PNG is lossless
    assert folder.classes[class_index] == cu.FASHION_MNIST_CLASSES[int(labels[index])].replace("/", "_")
    jpg_root = cu.export_image_folder(images[:3], labels[:3], cu.FASHION_MNIST_CLASSES, tmp_path / "jpg", fmt="jpg")
    assert len(list(jpg_root.rglob("*.jpg"))) == 3


def test_export_image_folder_rejects_bad_input(tmp_path: Path) -> None:
    images = torch.zeros(2, 1, 4, 4, dtype=torch.uint8)
    with pytest.raises(TypeError, match="images: expected uint8 pixels"):
        cu.export_image_folder(images.float(), torch.tensor([0, 1]), ["a", "b"], tmp_path)
    with pytest.raises(ValueError, match="labels: expected 2 labels \\(one per image\\), got 3"):
        cu.export_image_folder(images, torch.tensor([0, 1, 1]), ["a", "b"], tmp_path)
    with pytest.raises(ValueError, match="labels: expected class indices in \\[0, 1\\] for 2 classes, got values from 0 to 2"):
        cu.export_image_folder(images, torch.tensor([0, 2]), ["a", "b"], tmp_path)
    with pytest.raises(ValueError, match="images: expected 1 or 3 channel\\(s\\) in dimension 1, got 2"):
        cu.export_image_folder(torch.zeros(2, 2, 4, 4, dtype=torch.uint8), torch.tensor([0, 1]), ["a", "b"], tmp_path)
    with pytest.raises(ValueError, match="fmt: expected one of \\['png', 'jpg'\\], got 'gif'"):
        cu.export_image_folder(images, torch.tensor([0, 1]), ["a", "b"], tmp_path, fmt="gif")


def test_standin_generator_is_deterministic() -> None:
    labels = torch.arange(20).remainder(10)
    first = datasets._standin_images(labels, torch.Generator().manual_seed(3))
    second = datasets._standin_images(labels, torch.Generator().manual_seed(3))
    assert torch.equal(first, second) and first.shape == (20, 32, 32, 3)


def test_standin_classes_look_the_same_in_training_and_test_sets() -> None:
    # The two splits are built with different generators (seeds 10 and 11); what is learned on one
    # must hold on the other, so a nearest-class-mean colour classifier fitted on a "training" build
    # must work on a "test" build.
    labels = torch.arange(500).remainder(10)
    train_images = datasets._standin_images(labels, torch.Generator().manual_seed(10)).float()
    test_images = datasets._standin_images(labels, torch.Generator().manual_seed(11)).float()
    means = torch.stack([train_images[labels == k].mean(dim=(0, 1, 2)) for k in range(10)])
    predictions = torch.cdist(test_images.mean(dim=(1, 2)), means).argmin(dim=1)
    assert (predictions == labels).float().mean() > 0.5
