"""ImageFolder trees on disk: exporting tensors to one, and a real train/val/test tree of Oxford-IIIT Pet.

* ``export_image_folder`` writes uint8 images into ``root/<class>/<index>.png`` (lesson 01 uses it to
  practise loading files).
* ``pet_image_folder`` builds ``root/{train,val,test}/<class>/`` from a class subset of Oxford-IIIT
  Pet (downloaded by torchvision), split before anything looks at the images. Where the download
  is impossible and ``COURSE_ALLOW_STANDINS`` is set, ``photo_standin_folder`` builds the same tree
  from crops of the photographs shipped with scikit-image and scikit-learn, announced as a STAND-IN.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torchvision import datasets as tv_datasets
from torchvision.transforms import v2

from ._validate import describe, require_choice, require_images, require_labels, require_positive_int
from .datasets import data_dir, sample_photos
from .splits import stratified_split
from .standins import announce_standin, download_failure, require_standins_allowed

__all__ = [
    "PET_BREEDS",
    "PET_CLASSES",
    "ImageFolderSplits",
    "export_image_folder",
    "pet_image_folder",
    "photo_standin_folder",
]

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


def export_image_folder(
    images: torch.Tensor,
    labels: torch.Tensor,
    class_names: list[str] | tuple[str, ...],
    root: str | Path,
    *,
    per_class: int | None = None,
    fmt: str = "png",
) -> Path:
    """Write uint8 N×C×H×W images into ``root/<class name>/<index>.<fmt>`` (ImageFolder layout).

    ``per_class`` keeps only the first that many images of each class. Slashes in
    class names (FashionMNIST's "T-shirt/top") become underscores in folder names.

    Taught in lesson 01.
    """
    images = require_images("images", images, channels=(1, 3))
    if images.dtype != torch.uint8:
        raise TypeError(f"images: expected uint8 pixels (0–255), got {describe(images)}")
    labels = require_labels("labels", labels, n=images.shape[0], num_classes=len(class_names))
    require_choice("fmt", fmt, ("png", "jpg"))
    if per_class is not None:
        require_positive_int("per_class", per_class)
    root = Path(root)
    pixels = images.permute(0, 2, 3, 1).numpy()  # PIL wants H×W×C
    counts = [0] * len(class_names)
    for index in range(images.shape[0]):
        label = int(labels[index])
        if per_class is not None and counts[label] >= per_class:
            continue
        folder = root / str(class_names[label]).replace("/", "_")
        folder.mkdir(parents=True, exist_ok=True)
        picture = pixels[index, :, :, 0] if pixels.shape[3] == 1 else pixels[index]
        Image.fromarray(picture).save(folder / f"{index:05d}.{fmt}", quality=95)
        counts[label] += 1
    return root


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
    defaults to a new temporary folder, deleted when Python exits. The result has ``is_standin=True``.

    Taught in lesson 04.
    """
    counts = _check_per_class(per_class) or _DEFAULT_STANDIN_PER_CLASS
    require_positive_int("image_size", image_size)
    require_positive_int("seed", seed, allow_zero=True)
    if image_size < 16:
        raise ValueError(f"image_size: expected at least 16 pixels, got {image_size}")
    if root is None:
        root = Path(tempfile.mkdtemp(prefix="standin-folder-"))
        # Removed when Python exits, so a notebook cut off before its own clean-up cell leaves nothing in /tmp
        # (a grader runs a whole class); removing it earlier with shutil.rmtree is still fine.
        atexit.register(shutil.rmtree, root, ignore_errors=True)
    root = Path(root)
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
        announce_standin(
            "data", used="crops of six photographs shipped with scikit-image and scikit-learn (one class per photo)",
            instead_of="Oxford-IIIT Pet images", why=download_failure(error),
            meaning="the code runs unchanged, but no number measured on it says anything about pets or about "
                    "transfer learning")
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
