"""Small labelled data sets for transfer learning, splits made first, and duplicate checks.

* ``digits_tensors`` and ``faces_tensors`` turn two real data sets that ship inside
  scikit-learn (1,797 handwritten digits) and scikit-image (100 faces and 100
  non-faces from Labeled Faces in the Wild) into uint8 batches N×1×28×28, the
  format of FashionMNIST, so a network pretrained on FashionMNIST can be
  transferred to them without any download.
* ``stratified_split`` and ``per_class_subset`` make seeded, disjoint splits and
  "k labels per class" training sets: the split comes first, everything else after.
* ``pet_image_folder`` builds an ImageFolder tree ``root/{train,val,test}/<class>/``
  from a class subset of the Oxford-IIIT Pet data set (downloaded by torchvision).
  Where the download is impossible and ``COURSE_ALLOW_STANDINS`` is set, the same
  tree is built from crops of the photographs shipped with scikit-image and
  scikit-learn instead, and it says "STAND-IN" wherever it is described.
* ``find_duplicate_files`` compares files by content (SHA-256), the check that finds
  training images copied into a test set under another name.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision import datasets as tv_datasets
from torchvision.transforms import v2

from ._validate import describe, require_labels, require_positive_int
from .datasets import data_dir, sample_photos
from .runtime import STANDINS_ENV, require_standins_allowed, standin_banner

__all__ = [
    "DIGIT_CLASSES",
    "FACE_CLASSES",
    "PET_BREEDS",
    "PET_CLASSES",
    "ImageFolderSplits",
    "digits_tensors",
    "faces_tensors",
    "file_digest",
    "find_duplicate_files",
    "image_files",
    "per_class_subset",
    "pet_image_folder",
    "photo_standin_folder",
    "stratified_split",
]

DIGIT_CLASSES: tuple[str, ...] = tuple(str(digit) for digit in range(10))
FACE_CLASSES: tuple[str, ...] = ("face", "not a face")
#: The 37 breeds of Oxford-IIIT Pet, spelled as torchvision's ``OxfordIIITPet.classes``.
PET_BREEDS: tuple[str, ...] = (
    "Abyssinian", "American Bulldog", "American Pit Bull Terrier", "Basset Hound", "Beagle", "Bengal",
    "Birman", "Bombay", "Boxer", "British Shorthair", "Chihuahua", "Egyptian Mau", "English Cocker Spaniel",
    "English Setter", "German Shorthaired", "Great Pyrenees", "Havanese", "Japanese Chin", "Keeshond",
    "Leonberger", "Maine Coon", "Miniature Pinscher", "Newfoundland", "Persian", "Pomeranian", "Pug",
    "Ragdoll", "Russian Blue", "Saint Bernard", "Samoyed", "Scottish Terrier", "Shiba Inu", "Siamese",
    "Sphynx", "Staffordshire Bull Terrier", "Wheaten Terrier", "Yorkshire Terrier",
)
#: The lesson's subset: three cat and three dog breeds, two of them (grey, short-haired cats) easy to confuse.
PET_CLASSES: tuple[str, ...] = ("British Shorthair", "Russian Blue", "Siamese", "Beagle", "Pug", "Samoyed")
_DEFAULT_STANDIN_PER_CLASS = (24, 8, 16)
_SPLITS = ("train", "val", "test")
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


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


# ---------------------------------------------------------------- splits


def _check_int_labels(labels: Any) -> torch.Tensor:
    labels = require_labels("labels", labels)
    if int(labels.min()) < 0:
        raise ValueError(f"labels: expected class indices >= 0, got a smallest value of {int(labels.min())}")
    return labels.to(torch.int64).cpu()


def stratified_split(labels: torch.Tensor, fractions: Sequence[float], *, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Split the indices of ``labels`` into disjoint parts with the given fractions of *every* class.

    ``fractions`` such as ``(0.6, 0.2, 0.2)`` must be positive and sum to at most 1;
    when they sum to 1 every index lands in exactly one part (the last part takes
    what rounding leaves). Each class is shuffled with its own seeded generator, so
    the split never depends on anything else the program does. Returns one sorted
    int64 index tensor per fraction.

    Taught in lesson 04.
    """
    labels = _check_int_labels(labels)
    if isinstance(fractions, (str, bytes)) or not isinstance(fractions, Sequence) or not fractions:
        raise TypeError(f"fractions: expected a sequence of fractions such as (0.8, 0.2), got {describe(fractions)}")
    values = []
    for fraction in fractions:
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
            raise ValueError(f"fractions: expected numbers in (0, 1], got {describe(fractions)}")
        values.append(float(fraction))
    total = sum(values)
    if total > 1 + 1e-9:
        raise ValueError(f"fractions: expected a sum of at most 1, got {total:.6g}")
    require_positive_int("seed", seed, allow_zero=True)
    covers_all = abs(total - 1) <= 1e-9
    parts: list[list[torch.Tensor]] = [[] for _ in values]
    for label in torch.unique(labels).tolist():
        members = torch.nonzero(labels == label).flatten()
        generator = torch.Generator().manual_seed(seed * 1_000_003 + label)
        members = members[torch.randperm(len(members), generator=generator)]
        start = 0
        for part, fraction in enumerate(values):
            last = part == len(values) - 1
            stop = len(members) if (last and covers_all) else min(len(members), start + round(fraction * len(members)))
            parts[part].append(members[start:stop])
            start = stop
    return tuple(torch.cat(chunks).sort().values for chunks in parts)


def per_class_subset(
    labels: torch.Tensor,
    k: int,
    *,
    seed: int = 0,
    pool: torch.Tensor | None = None,
) -> torch.Tensor:
    """Indices of ``k`` randomly chosen examples of every class, drawn from ``pool`` (default: all).

    The training sets of a "labels per class" experiment: with ``k=1`` and ten
    classes, ten labelled images. The choice is seeded; a class with fewer than
    ``k`` examples in the pool raises a ``ValueError``. The result lists class 0's
    indices first, then class 1's, and so on.

    Taught in lesson 04.
    """
    labels = _check_int_labels(labels)
    require_positive_int("k", k)
    require_positive_int("seed", seed, allow_zero=True)
    if pool is None:
        pool = torch.arange(len(labels))
    else:
        pool = require_labels("pool", pool).to(torch.int64).cpu()
        if int(pool.min()) < 0 or int(pool.max()) >= len(labels):
            raise ValueError(f"pool: expected indices into labels (0 to {len(labels) - 1}), got {describe(pool)}")
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for label in range(int(labels.max()) + 1):
        members = pool[labels[pool] == label]
        if len(members) < k:
            raise ValueError(f"k: expected at most {len(members)} (the examples of class {label} in the pool), got {k}")
        chosen.append(members[torch.randperm(len(members), generator=generator)[:k]])
    return torch.cat(chosen)


# ---------------------------------------------------------------- ImageFolder trees with train/val/test


@dataclass(frozen=True)
class ImageFolderSplits:
    """An ImageFolder tree ``root/{train,val,test}/<class name>/<image>`` and what it holds.

    ``counts[split][i]`` is the number of images of ``class_names[i]`` in that split.
    ``is_standin`` is True for the offline stand-in, whose ``source`` says what it is.

    Taught in lesson 04.
    """

    root: Path
    class_names: tuple[str, ...]
    counts: dict[str, list[int]] = field(repr=False)
    is_standin: bool
    source: str

    @property
    def train(self) -> Path:
        """The training folder (one sub-folder per class)."""
        return self.root / "train"

    @property
    def val(self) -> Path:
        """The validation folder."""
        return self.root / "val"

    @property
    def test(self) -> Path:
        """The test folder: touch it once, at the end."""
        return self.root / "test"

    def describe(self) -> str:
        """A few lines: what the data is, where it lives, how many images each split has."""
        lines = [("STAND-IN DATA: " if self.is_standin else "") + self.source, f"root: {self.root}"]
        for split in _SPLITS:
            per_class = ", ".join(f"{name} {n}" for name, n in zip(self.class_names, self.counts[split]))
            lines.append(f"{split:>5}: {sum(self.counts[split]):4d} images ({per_class})")
        return "\n".join(lines)


def _write_jpeg(image: Image.Image, path: Path, image_size: int) -> None:
    """Save ``image`` as JPEG, shrunk (never enlarged) so that its shorter side is ``image_size``."""
    image = image.convert("RGB")
    scale = image_size / min(image.size)
    if scale < 1:
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.BICUBIC)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="JPEG", quality=90)


def _finish(tmp: Path, root: Path) -> None:
    """Move a finished tree into place (another process may have finished the same tree first)."""
    try:
        os.replace(tmp, root)
    except OSError:  # a concurrent writer may have won the race: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
        if not (root / "split.json").is_file():
            raise


def _check_per_class(per_class: Any) -> tuple[int, int, int] | None:
    if per_class is None:
        return None
    if isinstance(per_class, (str, bytes)) or not isinstance(per_class, Sequence) or len(per_class) != 3:
        raise ValueError(
            f"per_class: expected None or (train, val, test) counts such as (24, 8, 16), got {describe(per_class)}"
        )
    for count in per_class:
        require_positive_int("per_class", count)
    return (int(per_class[0]), int(per_class[1]), int(per_class[2]))


def _standin_banner(error: BaseException | None) -> str:
    reason = f" ({type(error).__name__}: {error})" if error is not None else ""
    return standin_banner(
        f"STAND-IN DATA: the Oxford-IIIT Pet images could not be downloaded{reason}.\n"
        f"Because {STANDINS_ENV} is set, the ImageFolder tree holds crops of six photographs shipped with\n"
        "scikit-image and scikit-learn instead (one class per photograph). The code runs unchanged, but\n"
        "no number measured on it says anything about pets or about transfer learning."
    )


def photo_standin_folder(
    root: str | Path | None = None,
    *,
    per_class: Sequence[int] | None = None,
    image_size: int = 256,
    seed: int = 0,
) -> ImageFolderSplits:
    """The offline stand-in for ``pet_image_folder``: crops of the shipped photographs, one class per photo.

    ``per_class`` gives the (train, val, test) images per class, default (24, 8, 16).
    Every image is a random crop (10–50 % of the region's area, randomly mirrored)
    resized to ``image_size``×``image_size`` and saved as JPEG. Train, validation and
    test crops come from separate vertical strips of each photograph (the left 60 %,
    the next 15 %, the last 25 %), so no pixel is shared between splits. ``root``
    defaults to a new temporary folder. The result has ``is_standin=True``.

    Taught in lesson 04.
    """
    counts = _check_per_class(per_class) or _DEFAULT_STANDIN_PER_CLASS
    require_positive_int("image_size", image_size)
    require_positive_int("seed", seed, allow_zero=True)
    if image_size < 16:
        raise ValueError(f"image_size: expected at least 16 pixels, got {image_size}")
    root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="standin-folder-"))
    photos = sample_photos()
    names = tuple(photos)
    strips = {"train": (0.0, 0.6), "val": (0.6, 0.75), "test": (0.75, 1.0)}
    crop = v2.RandomResizedCrop(image_size, scale=(0.1, 0.5), antialias=True)
    flip = v2.RandomHorizontalFlip(p=0.5)
    root.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for name, photo in photos.items():
            tensor = torch.from_numpy(photo).permute(2, 0, 1)
            width = tensor.shape[2]
            for split, count in zip(_SPLITS, counts):
                low, high = strips[split]
                region = tensor[:, :, int(low * width):int(high * width)]
                for index in range(count):
                    picture = flip(crop(region)).permute(1, 2, 0).numpy()
                    _write_jpeg(Image.fromarray(picture), root / split / name / f"{name}_{split}_{index:03d}.jpg",
                                image_size)
    return ImageFolderSplits(
        root=root,
        class_names=tuple(sorted(names)),  # ImageFolder sorts the folder names
        counts={split: [count] * len(names) for split, count in zip(_SPLITS, counts)},
        is_standin=True,
        source=f"crops of {len(names)} photographs shipped with scikit-image/scikit-learn (NOT Oxford-IIIT Pet)",
    )


def _dataset_labels(dataset: Any) -> list[int]:
    labels = getattr(dataset, "_labels", None)  # torchvision keeps them; reading them avoids decoding every image
    if labels is None:  # pragma: no cover - a future torchvision without the attribute
        labels = [dataset[index][1] for index in range(len(dataset))]
    return [int(label) for label in labels]


def _dataset_name(dataset: Any, index: int, split: str) -> str:
    paths = getattr(dataset, "_images", None)
    return Path(paths[index]).stem if paths is not None else f"{split}_{index:05d}"


def pet_image_folder(
    root: str | Path | None = None,
    classes: Sequence[str] = PET_CLASSES,
    *,
    per_class: Sequence[int] | None = None,
    image_size: int = 256,
    val_fraction: float = 0.2,
    seed: int = 0,
    download_root: str | Path | None = None,
) -> ImageFolderSplits:
    """An ImageFolder tree with train/val/test splits of some Oxford-IIIT Pet breeds.

    torchvision downloads the data set (about 800 MB) into ``download_root``
    (default: the course's data folder). The official "test" split is the test
    set; the official "trainval" split is divided, per class and seeded, into
    training and validation images (``val_fraction``) — the split is made before
    anything else looks at the images. ``per_class`` optionally caps the
    (train, val, test) images per class, e.g. for a quick run. Images are copied
    as JPEGs with their shorter side shrunk to ``image_size`` (decoding small files
    is faster). The tree is cached under ``root`` (default: inside the data folder)
    and reused when its settings match.

    Offline: with ``COURSE_ALLOW_STANDINS=1`` the same tree is built from photo
    crops (``photo_standin_folder``), announced with a "STAND-IN" banner; without
    it a ``RuntimeError`` explains what to do.

    Taught in lesson 04.
    """
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Sequence) or len(classes) < 2:
        raise ValueError(
            f"classes: expected at least two breed names such as {PET_CLASSES[:2]}, got {describe(classes)}"
        )
    unknown = [name for name in classes if name not in PET_BREEDS]
    if unknown:
        raise ValueError(f"classes: expected names from PET_BREEDS, got unknown {unknown}")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes: expected each breed once, got {list(classes)}")
    caps = _check_per_class(per_class)
    require_positive_int("image_size", image_size)
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction: expected a number between 0 and 1, got {describe(val_fraction)}")
    require_positive_int("seed", seed, allow_zero=True)
    download_dir = data_dir(download_root)
    try:
        trainval = tv_datasets.OxfordIIITPet(download_dir, split="trainval", download=True)
        official_test = tv_datasets.OxfordIIITPet(download_dir, split="test", download=True)
    except Exception as error:  # network errors come in many types
        require_standins_allowed(f"Oxford-IIIT Pet could not be downloaded into {download_dir}", error,
                                 "a clearly labelled stand-in made of photo crops")
        print(_standin_banner(error))
        return photo_standin_folder(
            root, per_class=caps or _DEFAULT_STANDIN_PER_CLASS, image_size=image_size, seed=seed
        )
    settings = {"classes": list(classes), "per_class": caps, "image_size": image_size,
                "val_fraction": float(val_fraction), "seed": seed}
    # Compare settings as split.json stores them: JSON turns the per_class tuple into a list, and
    # (5, 2, 3) != [5, 2, 3] would refuse the cached tree that this very call wrote before.
    settings = json.loads(json.dumps(settings))
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    root = Path(root) if root is not None else data_dir() / f"pets-subset-{key}"
    marker = root / "split.json"
    ordered = tuple(sorted(classes))  # ImageFolder numbers classes in sorted folder order
    if marker.is_file():
        saved = json.loads(marker.read_text(encoding="utf-8"))
        if saved.get("settings") == settings:
            return ImageFolderSplits(root, ordered, saved["counts"], False, saved["source"])
        raise FileExistsError(f"root: expected an empty folder or one made with the same settings, got {root} "
                              f"made with {saved.get('settings')}")
    name_of = {index: name for index, name in enumerate(trainval.classes)}
    wanted = {index for index, name in name_of.items() if name in classes}
    trainval_labels = _dataset_labels(trainval)
    test_labels = _dataset_labels(official_test)
    picked = [i for i, label in enumerate(trainval_labels) if label in wanted]
    picked_labels = torch.tensor([trainval_labels[i] for i in picked])
    train_part, val_part = stratified_split(picked_labels, (1 - val_fraction, val_fraction), seed=seed)
    test_picked = [i for i, label in enumerate(test_labels) if label in wanted]
    generator = torch.Generator().manual_seed(seed)
    test_order = [test_picked[i] for i in torch.randperm(len(test_picked), generator=generator).tolist()]
    plan = {
        "train": (trainval, [picked[i] for i in train_part.tolist()]),
        "val": (trainval, [picked[i] for i in val_part.tolist()]),
        "test": (official_test, test_order),
    }
    counts = {split: [0] * len(ordered) for split in _SPLITS}
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=root.parent))  # same file system: atomic rename
    try:
        for split_index, split in enumerate(_SPLITS):
            dataset, indices = plan[split]
            labels = trainval_labels if dataset is trainval else test_labels
            for index in indices:
                name = name_of[labels[index]]
                position = ordered.index(name)
                if caps is not None and counts[split][position] >= caps[split_index]:
                    continue
                image, _ = dataset[index]
                _write_jpeg(image, tmp / split / name / f"{_dataset_name(dataset, index, split)}.jpg", image_size)
                counts[split][position] += 1
        source = (f"Oxford-IIIT Pet, {len(ordered)} breeds (official test split; trainval split into train/val, "
                  f"seed {seed})")
        record = {"settings": settings, "counts": counts, "source": source}
        (tmp / "split.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    except BaseException:  # an interrupted export (error, Ctrl-C) leaves no half-written folder behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _finish(tmp, root)
    return ImageFolderSplits(root, ordered, counts, False, source)


# ---------------------------------------------------------------- duplicates


def image_files(folder: str | Path) -> list[Path]:
    """Every image file below ``folder`` (any depth), sorted, by suffix (.jpg, .png, ...). Taught in lesson 04."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder: expected an existing directory, got {str(folder)!r} (not found)")
    return sorted(path for path in folder.rglob("*") if path.is_file() and path.suffix.lower() in _IMAGE_SUFFIXES)


def file_digest(path: str | Path) -> str:
    """The SHA-256 of a file's bytes as hex: equal digests mean identical contents, whatever the names.

    Taught in lesson 04.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def find_duplicate_files(
    files: Iterable[str | Path], reference_files: Iterable[str | Path]
) -> list[tuple[Path, Path]]:
    """Pairs ``(file, reference_file)`` whose contents are byte-for-byte identical.

    Typical use: ``files`` = the test images, ``reference_files`` = the training
    images; every pair is a test image the model may have memorised. Names do not
    matter — two files called ``0001.jpg`` in different class folders are usually
    different pictures, and a copy renamed ``0001 (1).jpg`` is still the same one.
    Re-encoded or resized copies are *not* found (their bytes differ). Sorted by file.

    Taught in lesson 04.
    """
    by_digest: dict[str, Path] = {}
    for reference in reference_files:
        by_digest.setdefault(file_digest(reference), Path(reference))
    pairs = []
    for file in files:
        match = by_digest.get(file_digest(file))
        if match is not None:
            pairs.append((Path(file), match))
    return sorted(pairs)
