"""Tests of course_utils.loaders: the in-memory TensorLoader and make_dataloaders."""

from __future__ import annotations

import sys
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


# ---------------------------------------------------------------- available_cpus, seed_worker, time_loader


def test_available_cpus_uses_the_affinity_mask_and_falls_back_to_cpu_count(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from course_utils import loaders

    if hasattr(os, "sched_getaffinity"):
        assert cu.available_cpus() == len(os.sched_getaffinity(0))
        monkeypatch.setattr(loaders.os, "sched_getaffinity", lambda pid: {0, 3, 5})
        assert cu.available_cpus() == 3
        monkeypatch.delattr(loaders.os, "sched_getaffinity")
    monkeypatch.setattr(loaders.os, "cpu_count", lambda: 12)
    assert cu.available_cpus() == 12
    monkeypatch.setattr(loaders.os, "cpu_count", lambda: None)  # "undetermined"
    assert cu.available_cpus() == 1


class _OwnGenerators(torch.utils.data.Dataset):
    """Each sample: a draw from the dataset's own NumPy generator, from its random.Random and from torch."""

    def __init__(self, n: int = 8) -> None:
        import random

        import numpy as np

        self.n = n
        self.rng = np.random.default_rng(0)
        self.parts = {"python": random.Random(0)}  # found inside a dict too

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.tensor([self.rng.random(), self.parts["python"].random(), torch.rand(()).item()],
                            dtype=torch.float64)


class _NoiseTransform:
    """A transform holding its own NumPy generator, as augmentation code often does."""

    def __init__(self) -> None:
        import numpy as np

        self.rng = np.random.default_rng(7)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x + float(self.rng.normal())


def _worker_batches(dataset: torch.utils.data.Dataset, seed: int, init: object) -> list[torch.Tensor]:
    """Batches of 2 from 2 workers: batches 0 and 2 come from worker 0, batches 1 and 3 from worker 1."""
    from torch.utils.data import DataLoader

    loader = DataLoader(dataset, batch_size=2, num_workers=2, worker_init_fn=init,  # type: ignore[arg-type]
                        generator=torch.Generator().manual_seed(seed), multiprocessing_context="fork")
    return [batch.clone() if isinstance(batch, torch.Tensor) else batch[0].clone() for batch in loader]


@pytest.mark.skipif(sys.platform == "win32", reason="fork is not available on Windows")
def test_without_seed_worker_every_worker_copies_the_datasets_own_generators() -> None:
    batches = _worker_batches(_OwnGenerators(), seed=0, init=None)
    assert torch.equal(batches[0][:, :2], batches[1][:, :2])  # NumPy and random.Random objects: the same draws
    assert not torch.equal(batches[0][:, 2], batches[1][:, 2])  # torch is seeded per worker by PyTorch


@pytest.mark.skipif(sys.platform == "win32", reason="fork is not available on Windows")
def test_seed_worker_gives_distinct_streams_across_workers_and_the_same_in_every_run() -> None:
    first = _worker_batches(_OwnGenerators(), seed=0, init=cu.seed_worker)
    again = _worker_batches(_OwnGenerators(), seed=0, init=cu.seed_worker)
    other = _worker_batches(_OwnGenerators(), seed=1, init=cu.seed_worker)
    for column in range(3):
        assert not torch.equal(first[0][:, column], first[1][:, column]), f"column {column}: workers agree"
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not any(torch.equal(a, b) for a, b in zip(first, other))
    # a generator held by a transform of a wrapped dataset is found as well
    wrapped = cu.TransformedDataset(TensorDataset(torch.zeros(8), torch.zeros(8)), _NoiseTransform())
    noisy = _worker_batches(wrapped, seed=0, init=cu.seed_worker)
    assert not torch.equal(noisy[0], noisy[1])
    assert torch.equal(_worker_batches(wrapped, seed=0, init=None)[0], _worker_batches(wrapped, seed=0, init=None)[1])
    # ... and inside a v2.Compose of a wrapped dataset (dataset -> Compose -> list -> transform -> generator)
    from torchvision.transforms import v2

    composed = cu.TransformedDataset(TensorDataset(torch.zeros(8), torch.zeros(8)), v2.Compose([_NoiseTransform()]))
    assert not torch.equal(*_worker_batches(composed, seed=0, init=cu.seed_worker)[:2])
    assert torch.equal(*_worker_batches(composed, seed=0, init=None)[:2])


def test_seed_worker_reseeds_the_objects_it_finds_and_refuses_to_run_outside_a_worker(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from course_utils import loaders

    with pytest.raises(RuntimeError, match="seed_worker: expected to run inside a DataLoader worker"):
        cu.seed_worker(0)
    dataset = _OwnGenerators()
    info = torch.utils.data._utils.worker.WorkerInfo(id=1, num_workers=2, seed=12345, dataset=dataset)
    monkeypatch.setattr(loaders.torch.utils.data, "get_worker_info", lambda: info)
    assert cu.seed_worker(1) == 2
    expected = np.random.Generator(np.random.PCG64(np.random.SeedSequence([12345, 0]))).random()
    assert dataset.rng.random() == expected
    with pytest.raises(ValueError, match="worker_id: expected this worker's id 1, got int 0"):
        cu.seed_worker(0)


def test_loader_timing_reports_median_and_quartiles() -> None:
    timing = cu.loaders.LoaderTiming(first_batch_s=(0.1, 0.3, 0.2), images_per_s=(500.0, 100.0, 300.0, 200.0, 400.0))
    assert (timing.median, timing.q1, timing.q3, timing.iqr) == (300.0, 200.0, 400.0, 200.0)
    assert timing.first_batch_median == pytest.approx(0.2)
    assert str(timing) == "300 images/s (IQR 200–400, 5 runs; first batch after 200 ms)"


class _CountingLoader:
    """Yields `n` batches of 4 images and remembers how many were taken."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.taken = 0

    def __iter__(self):  # type: ignore[no-untyped-def]
        for _ in range(self.n):
            self.taken += 1
            yield torch.zeros(4, 1, 2, 2), torch.zeros(4, dtype=torch.int64)


def test_time_loader_times_the_first_batch_apart_and_stops_after_enough_images(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from course_utils import loaders

    clock = iter(range(100))
    monkeypatch.setattr(loaders.time, "perf_counter", lambda: float(next(clock)))
    made: list[_CountingLoader] = []
    consumed: list[int] = []

    def make() -> _CountingLoader:
        made.append(_CountingLoader(50))
        return made[-1]

    timing = cu.time_loader(make, num_images=10, repeats=2, min_batches=2,
                            consume=lambda b: consumed.append(len(b[0])))
    # per run: the first batch, then 3 batches (12 images >= 10, 3 batches >= 2); clock: start, ready, stop
    assert [loader.taken for loader in made] == [4, 4]
    assert consumed == [4] * 8
    assert timing.first_batch_s == (1.0, 1.0) and timing.images_per_s == (12.0, 12.0)
    made.clear()
    timing = cu.time_loader(make, num_images=1, repeats=1, min_batches=5)
    assert made[0].taken == 6 and timing.images_per_s == (20.0,)


def test_time_loader_rejects_bad_input() -> None:
    with pytest.raises(TypeError, match="make_loader: expected a function that builds a loader"):
        cu.time_loader([1, 2], num_images=4)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_images: expected an integer >= 1, got int 0"):
        cu.time_loader(lambda: _CountingLoader(3), num_images=0)
    with pytest.raises(ValueError, match="repeats: expected an integer >= 1"):
        cu.time_loader(lambda: _CountingLoader(3), num_images=4, repeats=0)
    with pytest.raises(TypeError, match="consume: expected a function applied to each batch"):
        cu.time_loader(lambda: _CountingLoader(3), num_images=4, consume=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="make_loader: expected a loader with at least one batch, got an empty one"):
        cu.time_loader(lambda: _CountingLoader(0), num_images=4)
    with pytest.raises(ValueError, match="expected a loader with at least two batches"):
        cu.time_loader(lambda: _CountingLoader(1), num_images=4)
