"""Batches for training: the fast in-memory loader and the classic DataLoader pair.

``TensorLoader`` keeps a small dataset as one uint8 tensor (on the CPU or on the
GPU) and builds each batch with a single indexing operation: no per-sample Python,
no worker processes, four times less memory than float32. Converting to float,
normalising and (optionally) augmenting happen on the whole batch, on the device.

``make_dataloaders`` builds the usual ``DataLoader`` pair for datasets that do not
fit in memory or need per-sample PIL transforms, with the rules of the course
built in: the test loader is never shuffled and never augmented.
"""

from __future__ import annotations

import math
import os
import random
from collections import deque
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.datasets import ImageFolder

from ._validate import (
    require_callable,
    require_device,
    describe,
    require_directory,
    require_images,
    require_labels,
    require_nonempty,
    require_positive_int,
)

__all__ = ["TensorLoader", "TransformedDataset", "make_dataloaders", "LoaderTiming", "available_cpus", "seed_worker",
           "time_loader"]

BatchTransform = Callable[[torch.Tensor], torch.Tensor]


def _channel_vector(name: str, values: Sequence[float] | torch.Tensor | None, channels: int) -> torch.Tensor | None:
    if values is None:
        return None
    vector = torch.as_tensor(values, dtype=torch.float32).flatten()
    if vector.numel() != channels:
        raise ValueError(f"{name}: expected {channels} value(s), one per image channel, got {vector.numel()}")
    return vector.view(1, channels, 1, 1)


class TensorLoader:
    """Iterate over shuffled (or ordered) batches of an in-memory image tensor.

    Args:
        images: N×C×H×W images, uint8 (0–255, scaled to 0–1 per batch) or float.
        labels: N integer class labels.
        batch_size: images per batch; the last batch is smaller unless ``drop_last``.
        shuffle: draw a new random order every epoch (training only).
        device: where batches are produced; the data is moved there once (default: where ``images``
            are). Pass the device the model trains on: on a GPU every batch is then cut out,
            converted, augmented and normalised on the GPU, with no copy of images from the host
            and no wait for it (the loader cannot know where the model will run, so it does not guess).
        mean, std: per-channel statistics on the 0–1 scale for normalisation.
        augment: a function applied to each float batch (before normalisation),
            for batch-level augmentation on the device; use it for training only.
        drop_last: skip the final incomplete batch.
        generator: a seeded ``torch.Generator`` for a reproducible order.

    Each iteration yields ``(images float32 on device, labels int64 on device)``.

    Taught in lesson 00.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int = 256,
        *,
        shuffle: bool = False,
        device: torch.device | str | None = None,
        mean: Sequence[float] | torch.Tensor | None = None,
        std: Sequence[float] | torch.Tensor | None = None,
        augment: BatchTransform | None = None,
        drop_last: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        images = require_images("images", images)
        if images.dtype != torch.uint8 and not images.is_floating_point():
            raise TypeError(f"images: expected uint8 or floating-point pixels, got {describe(images)}")
        labels = require_labels("labels", labels, n=images.shape[0])
        self.batch_size = require_positive_int("batch_size", batch_size)
        if augment is not None and not callable(augment):
            raise TypeError(f"augment: expected a callable that takes a batch, got {describe(augment)}")
        if (mean is None) != (std is None):
            raise ValueError("mean, std: expected both or neither, got only one of them")
        self.device = require_device("device", device) if device is not None else images.device
        self.images = images.to(self.device)
        self.labels = labels.to(self.device, torch.int64)
        channels = images.shape[1]
        mean_vector = _channel_vector("mean", mean, channels)
        std_vector = _channel_vector("std", std, channels)
        if std_vector is not None and bool((std_vector <= 0).any()):
            raise ValueError(f"std: expected every value > 0, got {std_vector.flatten().tolist()}")
        self.mean = mean_vector.to(self.device) if mean_vector is not None else None
        self.std = std_vector.to(self.device) if std_vector is not None else None
        self.shuffle = shuffle
        self.augment = augment
        self.drop_last = drop_last
        self.generator = generator

    @property
    def num_samples(self) -> int:
        """Number of images in the dataset."""
        return int(self.images.shape[0])

    def __len__(self) -> int:
        """Batches per epoch: ceil(N / B), or floor with ``drop_last``."""
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    def to_float(self, images: torch.Tensor) -> torch.Tensor:
        """Scale a batch to float 0–1 (if uint8), augment it, then normalise it."""
        batch = images.float().div_(255.0) if images.dtype == torch.uint8 else images.float()
        if self.augment is not None:
            batch = self.augment(batch)
        if self.mean is not None and self.std is not None:
            batch = (batch - self.mean) / self.std
        return batch

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.shuffle:
            # drawn on the CPU (a seeded generator gives the same order everywhere); to a CUDA GPU copied without
            # making the host wait (MPS needs a waiting copy: its early return may read the CPU tensor once freed)
            order = torch.randperm(self.num_samples, generator=self.generator).to(
                self.device, non_blocking=self.device.type == "cuda")
        else:
            order = None
        for batch_index in range(len(self)):
            start = batch_index * self.batch_size
            stop = min(start + self.batch_size, self.num_samples)
            if order is None:
                images, labels = self.images[start:stop], self.labels[start:stop]
            else:
                index = order[start:stop]
                images, labels = self.images[index], self.labels[index]
            yield self.to_float(images), labels

    def __repr__(self) -> str:
        return (
            f"TensorLoader({self.num_samples} images of shape {tuple(self.images.shape[1:])}, "
            f"batch_size={self.batch_size}, shuffle={self.shuffle}, device={self.device}, "
            f"{len(self)} batches)"
        )


class TransformedDataset(Dataset):
    """Apply ``transform`` to the images of another dataset (labels unchanged).

    Lets one split of data get the training transform and another the test
    transform, without loading the files twice.

    Taught in lesson 01.
    """

    def __init__(self, dataset: Any, transform: Callable[[Any], Any] | None) -> None:
        if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise TypeError(f"dataset: expected a dataset with __getitem__ and __len__ (e.g. torchvision's "
                            f"FashionMNIST or a list of (image, label) pairs), got {describe(dataset)}")
        self.dataset = require_nonempty("dataset", dataset)
        self.transform = require_callable("transform", transform, "transforms.v2.ToImage()", allow_none=True)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image, label = self.dataset[index]
        return (self.transform(image) if self.transform is not None else image), label


def _as_dataset(name: str, data: Any, transform: Callable[[Any], Any] | None) -> Any:
    transform_name = name.replace("_data", "_transform")
    require_callable(transform_name, transform, "transforms.v2.ToImage()", allow_none=True)
    if isinstance(data, (str, Path)):
        return ImageFolder(require_directory(name, data), transform=transform)
    require_nonempty(name, data)
    return TransformedDataset(data, transform) if transform is not None else data


def make_dataloaders(
    train_data: Any,
    test_data: Any,
    *,
    batch_size: int = 32,
    train_transform: Callable[[Any], Any] | None = None,
    test_transform: Callable[[Any], Any] | None = None,
    num_workers: int = 0,
    generator: torch.Generator | None = None,
    pin_memory: bool | None = None,
) -> tuple[DataLoader, DataLoader, list[str]]:
    """Build a shuffled training loader and an ordered test loader.

    ``train_data`` and ``test_data`` are datasets or ImageFolder directories. The
    training transform may augment; the test transform must not (it only
    prepares images). Returns ``(train_loader, test_loader, class_names)``.

    Taught in lesson 01.
    """
    require_positive_int("batch_size", batch_size)
    require_positive_int("num_workers", num_workers, allow_zero=True)
    train_dataset = _as_dataset("train_data", train_data, train_transform)
    test_dataset = _as_dataset("test_data", test_data, test_transform)
    train_classes = _class_names(train_dataset)
    test_classes = _class_names(test_dataset)
    if train_classes and test_classes and train_classes != test_classes:
        raise ValueError(
            f"test_data: expected the same classes as train_data ({len(train_classes)}: {train_classes}), "
            f"got {len(test_classes)}: {test_classes}"
        )
    if pin_memory is None:
        pin_memory = torch.cuda.is_available()
    common: dict[str, Any] = {
        "batch_size": batch_size,
        "num_workers": num_workers,
        "pin_memory": pin_memory,
        "persistent_workers": num_workers > 0,
    }
    train_loader = DataLoader(train_dataset, shuffle=True, generator=generator, **common)
    test_loader = DataLoader(test_dataset, shuffle=False, **common)
    return train_loader, test_loader, list(train_classes)


def _class_names(dataset: Any) -> list[str]:
    inner = dataset.dataset if isinstance(dataset, TransformedDataset) else dataset
    classes = getattr(inner, "classes", None)
    return list(classes) if classes is not None else []


# ---------------------------------------------------------------- a loader that fits the machine (lesson 01)


def available_cpus() -> int:
    """How many CPU cores this process may use: the basis for choosing ``num_workers``.

    ``os.cpu_count()`` counts the machine's cores, but a container, a job scheduler or ``taskset`` may
    let a process run on fewer; where the operating system reports that set (Linux), its size is used.

    Taught in lesson 01.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS and Windows have no affinity mask
        return max(1, os.cpu_count() or 1)


def _reseed_objects(root: Any, seed: int) -> int:
    """Re-seed every NumPy ``Generator`` and ``random.Random`` reachable from ``root``'s attributes.

    Searched breadth first through attributes, lists, tuples and dicts, up to 8 levels deep: enough for
    dataset -> wrapped dataset -> ``v2.Compose`` -> its list -> a transform -> its generator.
    """
    found = 0
    seen: set[int] = set()
    pending: deque[tuple[Any, int]] = deque([(root, 0)])
    while pending:
        obj, depth = pending.popleft()
        if id(obj) in seen or depth > 8:
            continue
        seen.add(id(obj))
        if isinstance(obj, np.random.Generator):
            bits = obj.bit_generator
            bits.state = type(bits)(np.random.SeedSequence([seed, found])).state
            found += 1
            continue
        if isinstance(obj, random.Random):
            obj.seed(seed * 1_000_003 + found)
            found += 1
            continue
        if isinstance(obj, (list, tuple)):
            children = list(obj)
        elif isinstance(obj, dict):
            children = list(obj.values())
        elif isinstance(obj, (torch.Tensor, np.ndarray, type)) or not hasattr(obj, "__dict__"):
            continue
        else:
            children = list(vars(obj).values())
        pending.extend((child, depth + 1) for child in children)
    return found


def seed_worker(worker_id: int) -> int:
    """``worker_init_fn`` that gives each ``DataLoader`` worker its own, reproducible random numbers.

    PyTorch already seeds the global generators in every worker from the base seed the loader draws
    from its ``generator``: ``torch`` and ``random`` with ``base_seed + worker_id`` (the worker's seed),
    NumPy's global generator with a seed mixed from both. They are distinct across workers and, with a
    seeded ``generator``, the same in every run. Random-number generator *objects* that the dataset
    holds — a ``numpy.random.Generator`` or a ``random.Random`` in an attribute, in a wrapped dataset or
    in a transform — are copied into every worker in the same state, so every worker would draw the
    same "random" numbers. This re-seeds each of them from the worker's seed; the global generators are
    left as PyTorch seeded them. Returns how many objects it re-seeded.
    Use ``DataLoader(..., worker_init_fn=cu.seed_worker, generator=torch.Generator().manual_seed(0))``.

    Taught in lesson 01.
    """
    info = torch.utils.data.get_worker_info()
    if info is None:
        raise RuntimeError("seed_worker: expected to run inside a DataLoader worker "
                           "(pass it as DataLoader(..., num_workers=2, worker_init_fn=cu.seed_worker))")
    if info.id != worker_id:
        raise ValueError(f"worker_id: expected this worker's id {info.id}, got {describe(worker_id)}")
    return _reseed_objects(info.dataset, info.seed)


@dataclass(frozen=True)
class LoaderTiming:
    """What ``time_loader`` measured: one value per run, with the median and the quartiles of the speed.

    Quote a timing as its median with its spread: the interquartile range (IQR, from the first to the
    third quartile) holds the middle half of the runs, so one run slowed down by another program
    moves neither end much.

    Taught in lesson 01.
    """

    first_batch_s: tuple[float, ...]
    images_per_s: tuple[float, ...]

    def _quantile(self, values: tuple[float, ...], q: float) -> float:
        return float(torch.quantile(torch.tensor(values, dtype=torch.float64), q))

    @property
    def median(self) -> float:
        """Median images per second."""
        return self._quantile(self.images_per_s, 0.5)

    @property
    def q1(self) -> float:
        """First quartile of images per second (a quarter of the runs were slower)."""
        return self._quantile(self.images_per_s, 0.25)

    @property
    def q3(self) -> float:
        """Third quartile of images per second (a quarter of the runs were faster)."""
        return self._quantile(self.images_per_s, 0.75)

    @property
    def iqr(self) -> float:
        """Interquartile range of images per second, ``q3 - q1``."""
        return self.q3 - self.q1

    @property
    def first_batch_median(self) -> float:
        """Median seconds from ``iter(loader)`` to the first batch (worker start-up included)."""
        return self._quantile(self.first_batch_s, 0.5)

    def __str__(self) -> str:
        return (f"{self.median:,.0f} images/s (IQR {self.q1:,.0f}–{self.q3:,.0f}, {len(self.images_per_s)} runs; "
                f"first batch after {self.first_batch_median * 1e3:.0f} ms)")


def _batch_length(batch: Any) -> int:
    first = batch[0] if isinstance(batch, (tuple, list)) else batch
    return len(first)


def time_loader(
    make_loader: Callable[[], Any],
    num_images: int,
    repeats: int = 5,
    *,
    min_batches: int = 16,
    consume: Callable[[Any], Any] | None = None,
) -> LoaderTiming:
    """Time a loader ``repeats`` times: seconds to its first batch, then images per second after it.

    ``make_loader()`` builds a fresh loader for every run (a new epoch, new workers). The first batch is
    timed on its own, because it includes starting the worker processes; the speed is measured over the
    batches after it, until at least ``num_images`` images and ``min_batches`` batches have arrived
    (workers prepare a few batches ahead, which arrive at once; ``min_batches`` keeps their share small). ``consume(batch)``, if given, runs on
    every batch, e.g. copying it to the GPU; CUDA work is waited for before the clock stops. Counts
    ``len(batch[0])`` images per ``(images, labels)`` batch.

    Taught in lesson 01.
    """
    if not callable(make_loader):
        raise TypeError(f"make_loader: expected a function that builds a loader, got {describe(make_loader)}")
    require_positive_int("num_images", num_images)
    require_positive_int("repeats", repeats)
    require_positive_int("min_batches", min_batches)
    if consume is not None and not callable(consume):
        raise TypeError(f"consume: expected a function applied to each batch, got {describe(consume)}")
    firsts, rates = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        iterator = iter(make_loader())
        try:
            first = next(iterator)
        except StopIteration:
            raise ValueError("make_loader: expected a loader with at least one batch, got an empty one") from None
        if consume is not None:
            consume(first)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        ready = time.perf_counter()
        seen = batches = 0
        for batch in iterator:
            if consume is not None:
                consume(batch)
            seen += _batch_length(batch)
            batches += 1
            if seen >= num_images and batches >= min_batches:
                break
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        stop = time.perf_counter()
        del iterator  # stops worker processes, if any
        if seen == 0:
            raise ValueError("make_loader: expected a loader with at least two batches (the first is timed "
                             "on its own), got one")
        firsts.append(ready - start)
        rates.append(seen / (stop - ready))
    return LoaderTiming(tuple(firsts), tuple(rates))
