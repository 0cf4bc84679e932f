"""The course's datasets, loaded the same way on a laptop, in Colab and in CI.

* FashionMNIST comes from a system copy (Debian's ``dataset-fashion-mnist``), a
  cached copy, or a download — always through torchvision's own dataset class.
* CIFAR-10 is downloaded by torchvision; where that fails and the run mode allows
  stand-ins, a synthetic dataset of the same shape is returned and labelled as such
  every time it is created or printed.
* Real photographs that ship inside scikit-image and scikit-learn need no download.

* Two more real data sets ship inside scikit-learn (1,797 handwritten digits) and scikit-image
  (100 faces and 100 non-faces from Labeled Faces in the Wild); ``digits_tensors`` and
  ``faces_tensors`` give them in FashionMNIST's format (uint8 N×1×28×28), so a network pretrained
  on FashionMNIST can be transferred to them without any download.

Also here: a dataset's per-channel statistics.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision import datasets as tv_datasets

from ._validate import (
    require_finite,
    describe,
    require_choice,
    require_images,
    require_positive_int,
)
from .standins import announce_standin, require_standins_allowed

__all__ = [
    "CIFAR10_CLASSES",
    "FASHION_MNIST_CLASSES",
    "SYSTEM_FASHION_MNIST",
    "CIFAR10StandIn",
    "DIGIT_CLASSES",
    "FACE_CLASSES",
    "channel_stats",
    "cifar10_tensors",
    "data_dir",
    "digits_tensors",
    "faces_tensors",
    "fashion_mnist_tensors",
    "load_cifar10",
    "load_fashion_mnist",
    "sample_photo",
    "sample_photos",
]

FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
DIGIT_CLASSES: tuple[str, ...] = tuple(str(digit) for digit in range(10))
FACE_CLASSES: tuple[str, ...] = ("face", "not a face")
SYSTEM_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
_FASHION_FILES = (
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
)
DATA_DIR_ENV = "COURSE_DATA_DIR"


def data_dir(root: str | Path | None = None) -> Path:
    """Where datasets are cached: ``root``, else ``$COURSE_DATA_DIR``, else ``~/.cache/image-course/data``.

    Taught in lesson 04.
    """
    if root is None:
        root = os.environ.get(DATA_DIR_ENV) or Path.home() / ".cache" / "image-course" / "data"
    path = Path(root).expanduser()
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"root: expected a folder for the datasets, got {str(path)!r}, which is a file")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _install_system_fashion_mnist(raw_dir: Path, system_dir: Path) -> bool:
    """Decompress the system copy into torchvision's raw folder; False when there is none."""
    sources = [system_dir / f"{name}.gz" for name in _FASHION_FILES]
    if not all(source.is_file() for source in sources):
        return False
    raw_dir.mkdir(parents=True, exist_ok=True)
    for source, name in zip(sources, _FASHION_FILES):
        target = raw_dir / name
        if not target.is_file():
            # Each writer unpacks into a file of its own, then renames it into place in one step: two
            # notebooks (or two test workers) unpacking at once never write into, or rename, each other's file.
            handle, own_name = tempfile.mkstemp(dir=raw_dir, prefix=f".{name}.", suffix=".partial")
            partial = Path(own_name)
            try:
                with os.fdopen(handle, "wb") as unpacked, gzip.open(source, "rb") as packed:
                    shutil.copyfileobj(packed, unpacked)
                partial.chmod(0o644)  # readable by all, as a downloaded file is (mkstemp makes it private)
                os.replace(partial, target)
            except BaseException:  # a broken copy, a full disk, Ctrl-C: no hidden half-file is left behind
                partial.unlink(missing_ok=True)
                raise
    return True


def load_fashion_mnist(
    train: bool = True,
    root: str | Path | None = None,
    transform: Any = None,
    *,
    system_dir: str | Path = SYSTEM_FASHION_MNIST,
) -> tv_datasets.FashionMNIST:
    """FashionMNIST (60,000 training or 10,000 test images) as torchvision's dataset.

    Uses, in order: a cached copy under ``root``, the system copy in ``system_dir``,
    a download. There is no stand-in: the real data can always be had offline by
    installing Debian's ``dataset-fashion-mnist``.

    Taught in lesson 01.
    """
    root = data_dir(root)
    raw_dir = root / "FashionMNIST" / "raw"
    have_copy = all((raw_dir / name).is_file() for name in _FASHION_FILES)
    if not have_copy and not _install_system_fashion_mnist(raw_dir, Path(system_dir)):
        try:
            return tv_datasets.FashionMNIST(root, train=train, transform=transform, download=True)
        except Exception as error:  # network errors come in many types
            raise RuntimeError(
                f"FashionMNIST could not be downloaded into {root} ({error.__class__.__name__}: {error}). "
                "Check your internet connection, or install the offline copy "
                "(Debian/Ubuntu: `sudo apt-get install dataset-fashion-mnist`)."
            ) from error
    return tv_datasets.FashionMNIST(root, train=train, transform=transform, download=False)


def fashion_mnist_tensors(train: bool = True, root: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """FashionMNIST as two tensors: uint8 images N×1×28×28 and int64 labels N (no per-sample Python).

    Taught in lesson 00.
    """
    dataset = load_fashion_mnist(train=train, root=root)
    return dataset.data.unsqueeze(1).contiguous(), dataset.targets.to(torch.int64)


_STANDIN_CACHE: dict[bool, tuple[np.ndarray, list[int]]] = {}


_STANDIN_PALETTE_SEED = 2024


class CIFAR10StandIn(tv_datasets.VisionDataset):
    """Synthetic data shaped like CIFAR-10, used only when the real one cannot be downloaded.

    Each class is a coloured, oriented stripe texture with noise, so models can learn
    something, but **no number measured on it is a CIFAR-10 result**. It behaves like
    torchvision's ``CIFAR10``: ``data`` is N×32×32×3 uint8, ``targets`` a list of ints,
    and items are ``(PIL image, label)`` passed through ``transform``.

    Taught in lesson 01.
    """

    is_standin = True
    classes = list(CIFAR10_CLASSES)

    def __init__(self, train: bool = True, transform: Any = None, target_transform: Any = None) -> None:
        super().__init__(root=None, transform=transform, target_transform=target_transform)
        self.train = train
        count = 50_000 if train else 10_000
        if train not in _STANDIN_CACHE:  # building 50,000 images takes seconds: once per process
            generator = torch.Generator().manual_seed(10 if train else 11)
            labels = torch.arange(count).remainder(10)[torch.randperm(count, generator=generator)]
            _STANDIN_CACHE[train] = (_standin_images(labels, generator).numpy(), labels.tolist())
        data, targets = _STANDIN_CACHE[train]
        self.data = data.copy()
        self.targets: list[int] = list(targets)
        announce_standin(
            "data",
            used=f"a synthetic CIFAR-10-shaped {'training' if train else 'test'} set ({count} images, 32×32 RGB)",
            instead_of="CIFAR-10", why="CIFAR-10 could not be downloaded",
            meaning="numbers measured on it are NOT CIFAR-10 results")

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image: Any = Image.fromarray(self.data[index])
        target: Any = self.targets[index]
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def extra_repr(self) -> str:
        return "STAND-IN for CIFAR-10 (synthetic images, not real photographs)"


def _standin_images(labels: torch.Tensor, generator: torch.Generator, chunk: int = 5_000) -> torch.Tensor:
    """Class-dependent colour + stripe orientation + noise, built a chunk at a time (N×32×32×3 uint8).

    The class colours come from a fixed seed shared by the training and test sets (what a model
    learns on one must hold on the other); ``generator`` draws only the per-image phase and noise.
    """
    palette = torch.rand(10, 3, generator=torch.Generator().manual_seed(_STANDIN_PALETTE_SEED)) * 0.6 + 0.2
    angles = torch.arange(10) * (torch.pi / 10)
    ys, xs = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    out = torch.empty(len(labels), 32, 32, 3, dtype=torch.uint8)
    for start in range(0, len(labels), chunk):
        part = labels[start:start + chunk]
        phase = torch.rand(len(part), 1, 1, generator=generator) * 6.28
        theta = angles[part].view(-1, 1, 1)
        stripes = torch.sin((xs * torch.cos(theta) + ys * torch.sin(theta)) * 0.8 + phase)
        colour = palette[part].view(-1, 1, 1, 3)
        noise = torch.randn(len(part), 32, 32, 3, generator=generator) * 0.12
        pixels = colour * (0.75 + 0.25 * stripes.unsqueeze(-1)) + noise
        out[start:start + chunk] = (pixels.clamp(0, 1) * 255).round().to(torch.uint8)
    return out


def load_cifar10(train: bool = True, root: str | Path | None = None, transform: Any = None) -> Any:
    """CIFAR-10 through torchvision (downloaded once), or a labelled stand-in offline.

    The returned dataset has an ``is_standin`` attribute. Without internet the
    stand-in is used only when ``COURSE_ALLOW_STANDINS`` is set; otherwise the
    failed download raises an error that says what to do.

    Taught in lesson 01.
    """
    root = data_dir(root)
    try:
        dataset = tv_datasets.CIFAR10(root, train=train, transform=transform, download=True)
    except Exception as error:  # network errors come in many types
        require_standins_allowed(f"CIFAR-10 could not be downloaded into {root}", error,
                                 "a clearly labelled synthetic stand-in")
        return CIFAR10StandIn(train=train, transform=transform)
    dataset.is_standin = False  # type: ignore[attr-defined]
    return dataset


def cifar10_tensors(
    train: bool = True, root: str | Path | None = None
) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """CIFAR-10 as uint8 images N×3×32×32, int64 labels N, and whether it is the stand-in. Taught in lesson 05."""
    dataset = load_cifar10(train=train, root=root)
    images = torch.from_numpy(np.ascontiguousarray(dataset.data)).permute(0, 3, 1, 2).contiguous()
    return images, torch.tensor(dataset.targets, dtype=torch.int64), bool(dataset.is_standin)


_PHOTO_LOADERS = {
    "astronaut": ("skimage", "astronaut"),
    "chelsea": ("skimage", "chelsea"),
    "coffee": ("skimage", "coffee"),
    "rocket": ("skimage", "rocket"),
    "china": ("sklearn", "china.jpg"),
    "flower": ("sklearn", "flower.jpg"),
}


def sample_photo(name: str) -> np.ndarray:
    """One real RGB photograph shipped inside scikit-image or scikit-learn, as a writable H×W×3 uint8 array.

    Taught in lesson 03.
    """
    require_choice("name", name, tuple(_PHOTO_LOADERS))
    package, key = _PHOTO_LOADERS[name]
    if package == "skimage":
        from skimage import data as skimage_data

        return np.array(getattr(skimage_data, key)(), copy=True)
    from sklearn.datasets import load_sample_image

    return np.array(load_sample_image(key), copy=True)  # scikit-learn's arrays are read-only


def sample_photos() -> dict[str, np.ndarray]:
    """All the shipped photographs by name (astronaut, chelsea the cat, coffee, rocket, china, flower).

    Taught in lesson 00.
    """
    return {name: sample_photo(name) for name in _PHOTO_LOADERS}


def channel_stats(images: torch.Tensor, batch_size: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation of N×C×H×W images, on the 0–1 scale.

    uint8 images are divided by 255. Statistics are accumulated in float64 a chunk
    at a time, so a whole dataset never has to be converted to float at once.
    The standard deviation is the population one (what ``Normalize`` expects).

    Taught in lesson 00.
    """
    images = require_images("images", images)
    require_positive_int("batch_size", batch_size)
    require_finite("images", images)
    scale = 255.0 if images.dtype == torch.uint8 else 1.0
    if images.dtype not in (torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64):
        raise TypeError(f"images: expected uint8 or floating-point pixels, got {describe(images)}")
    channels = images.shape[1]
    total = torch.zeros(channels, dtype=torch.float64)
    total_sq = torch.zeros(channels, dtype=torch.float64)
    for start in range(0, images.shape[0], batch_size):
        chunk = images[start:start + batch_size].to(torch.float64) / scale
        total += chunk.sum(dim=(0, 2, 3))
        total_sq += chunk.square().sum(dim=(0, 2, 3))
    count = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / count
    std = (total_sq / count - mean.square()).clamp_min(0).sqrt()
    return mean.float(), std.float()


# ---------------------------------------------------------------- small real data sets as 28×28 tensors


def _to_uint8_batch(images: torch.Tensor, size: int) -> torch.Tensor:
    """Float images N×1×h×w in [0, 1] -> uint8 N×1×size×size (bilinear up- or downscaling)."""
    resized = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return (resized.clamp(0, 1) * 255).round().to(torch.uint8)


def digits_tensors(size: int = 28) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 handwritten digits as uint8 images N×1×size×size and int64 labels 0–9.

    The originals are 8×8 pixels with values 0–16 (white ink on black, like
    FashionMNIST's garments); they are scaled to 0–255 and resized bilinearly.

    Taught in lesson 04.
    """
    require_positive_int("size", size)
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.from_numpy(digits.images).float().unsqueeze(1) / 16.0
    return _to_uint8_batch(images, size), torch.from_numpy(digits.target).to(torch.int64)


def faces_tensors(size: int = 28) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-image's ``lfw_subset`` as uint8 images N×1×size×size and int64 labels (0 = face, 1 = not a face).

    200 grayscale 25×25 crops from Labeled Faces in the Wild: 100 faces and 100
    patches of background from the same photographs (``FACE_CLASSES``).

    Taught in lesson 04.
    """
    require_positive_int("size", size)
    from skimage import data as skimage_data

    raw = np.asarray(skimage_data.lfw_subset())
    pixels = raw.astype(np.float32) / (255.0 if raw.dtype == np.uint8 else 1.0)
    images = torch.from_numpy(pixels).unsqueeze(1)
    labels = torch.cat([torch.zeros(100, dtype=torch.int64), torch.ones(len(raw) - 100, dtype=torch.int64)])
    return _to_uint8_batch(images, size), labels
