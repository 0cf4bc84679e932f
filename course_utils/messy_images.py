"""A realistic messy image folder, generated offline: what a learner's first own dataset looks like.

Every folder the course builds elsewhere holds clean PNGs of one size and one mode, written by the
lesson itself. A folder of images collected by hand is different: JPEGs and PNGs of many sizes,
grayscale, RGB, transparent (RGBA) and palette (P) files, phone photos whose pixels are stored
sideways with an EXIF orientation tag, a file that broke during a copy, stray files that are not
images at all, and labels kept in a CSV file, with far more examples of one class than of another.

``make_messy_folder`` writes such a folder from real data that ships offline: FashionMNIST's
products (bags, sneakers, trousers), scaled up and recoloured, and — as the backgrounds of the phone
photos — photographs that ship with scikit-image and scikit-learn. It is deterministic for a given
``seed`` and takes well under a second. ``write_phone_photo`` stores any picture the way a phone
held sideways does. Taught in lesson 01.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ._validate import describe, require_choice

__all__ = ["MESSY_CLASSES", "MessyFile", "MessyFolder", "make_messy_folder", "write_phone_photo"]

#: The classes of the messy folder, sorted by name (the numbering ``ImageFolder`` would use too).
MESSY_CLASSES: tuple[str, ...] = ("bag", "sneaker", "trouser")
#: FashionMNIST's label of each class.
_FASHION_LABEL = {"bag": 8, "sneaker": 7, "trouser": 1}
#: Rows of the CSV per class (the broken file included): an imbalance of 4 : 2 : 1.
_CSV_ROWS = {"sneaker": 20, "bag": 10, "trouser": 5}
#: Phone photos per class, in the order they are written, with the EXIF orientation of each.
#: The last sneaker photo is the one that gets truncated.
_PHONE_ORIENTATIONS = {"sneaker": (6, 1, 8), "bag": (6, 3), "trouser": (8,)}
_BROKEN_CLASS = "sneaker"
#: The other kinds of file, dealt out in turn within each class: (kind, PIL mode, format, name pattern).
_SHOP_KINDS = (
    ("scan", "L", "PNG", "scan_{:03d}.png"),
    ("product", "RGB", "JPEG", "product_{:03d}.jpg"),
    ("cutout", "RGBA", "PNG", "cutout_{:03d}.png"),
    ("web", "P", "PNG", "web_{:03d}.png"),
    ("photocopy", "L", "JPEG", "photocopy_{:03d}.jpeg"),
)
_PHONE_BACKGROUNDS = ("coffee", "china", "flower")
_PHONE_SIZE = (480, 640)  # width, height of the upright picture (portrait)
#: What ``exif_transpose`` does for each orientation, undone here so that it restores the upright picture.
_STORE_ROTATED = {1: None, 3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90,
                  8: Image.Transpose.ROTATE_270}
EXIF_ORIENTATION = 0x0112
_DS_STORE = b"\x00\x00\x00\x01Bud1" + bytes(range(256)) * 8  # starts like macOS's Finder file, then junk
_NOTES = "photos for the shop app, batch 2\nTODO: ask Sam whether the brown ones are bags\n"


@dataclass(frozen=True)
class MessyFile:
    """One file of the messy folder as it was written (the truth a lesson's inspection can be checked against).

    ``label`` is None for a file that has no row in the CSV (the non-images); ``mode``, ``format`` and
    ``size`` (width, height as stored) are None for them too. ``orientation`` is the EXIF orientation tag
    of a phone photo, None for files without one. ``readable`` is False for the broken file and the
    non-images.

    Taught in lesson 01.
    """

    name: str
    label: str | None
    kind: str
    mode: str | None
    format: str | None
    size: tuple[int, int] | None
    orientation: int | None
    readable: bool


@dataclass(frozen=True)
class MessyFolder:
    """Where ``make_messy_folder`` wrote its files, and what each of them is.

    ``image_dir`` holds the image files (and two stray files that are not images); ``csv_path`` lists
    ``filename,label`` for every image file, the broken one included.

    Taught in lesson 01.
    """

    root: Path
    image_dir: Path
    csv_path: Path
    files: tuple[MessyFile, ...]

    @property
    def broken(self) -> tuple[str, ...]:
        """Names of the image files that cannot be decoded."""
        return tuple(f.name for f in self.files if f.label is not None and not f.readable)

    @property
    def non_images(self) -> tuple[str, ...]:
        """Names of the files in ``image_dir`` that are not images."""
        return tuple(f.name for f in self.files if f.label is None)

    def counts(self) -> dict[str, int]:
        """Rows of the CSV per class, the broken file included."""
        return dict(Counter(f.label for f in self.files if f.label is not None))


def _as_hwc(pixels: np.ndarray | torch.Tensor) -> np.ndarray:
    """An H×W×3 uint8 array from an H×W×3 array or a 3×H×W tensor."""
    if isinstance(pixels, torch.Tensor):
        if pixels.ndim != 3 or pixels.shape[0] != 3 or pixels.dtype != torch.uint8:
            raise ValueError(f"pixels: expected a uint8 tensor of shape (3, H, W), got {describe(pixels)}")
        return pixels.permute(1, 2, 0).contiguous().cpu().numpy()
    if not isinstance(pixels, np.ndarray) or pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"pixels: expected a uint8 array of shape (H, W, 3) or a uint8 tensor (3, H, W), "
                         f"got {describe(pixels)}")
    return pixels


def write_phone_photo(pixels: np.ndarray | torch.Tensor, path: str | os.PathLike[str], orientation: int = 6,
                      quality: int = 90) -> Path:
    """Save an upright RGB picture as a phone does: pixels stored rotated, plus an EXIF orientation tag.

    A phone's sensor has one fixed orientation; when the phone is held sideways it saves the pixels as
    the sensor saw them and writes the EXIF tag 0x0112 (*Orientation*) to say how a viewer must rotate
    them: 6 = turn 90° clockwise, 8 = 90° counter-clockwise, 3 = 180°, 1 = as stored. Viewers and
    ``PIL.ImageOps.exif_transpose`` honour the tag; code that reads only the pixels sees the picture on
    its side. ``pixels`` is H×W×3 uint8 (NumPy) or 3×H×W uint8 (tensor); the file is a JPEG.

    Taught in lesson 01.
    """
    array = _as_hwc(pixels)
    require_choice("orientation", orientation, tuple(_STORE_ROTATED))
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 95:
        raise ValueError(f"quality: expected an integer JPEG quality from 1 to 95, got {describe(quality)}")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a file path (str or pathlib.Path), got {describe(path)}")
    file = Path(path)
    if not file.parent.is_dir():
        raise FileNotFoundError(f"path: the folder {str(file.parent)!r} does not exist; create it first")
    image = Image.fromarray(array)
    rotation = _STORE_ROTATED[orientation]
    if rotation is not None:
        image = image.transpose(rotation)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    exif[0x010F] = "CoursePhone"  # Make
    exif[0x0110] = "Model 1"  # Model
    image.save(file, format="JPEG", quality=quality, exif=exif.tobytes())
    return file


# ---------------------------------------------------------------- building the pictures


def _item(gray: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A FashionMNIST item (28×28, 0–255) scaled into a canvas of ``size`` (width, height), values 0–1."""
    width, height = size
    side = int(min(width, height) * rng.uniform(0.7, 0.9))
    item = np.asarray(Image.fromarray(gray).resize((side, side), Image.Resampling.BICUBIC), dtype=np.float32)
    canvas = np.zeros((height, width), dtype=np.float32)
    top = int(rng.integers(0, height - side + 1))
    left = int(rng.integers(0, width - side + 1))
    canvas[top:top + side, left:left + side] = np.clip(item, 0, 255) / 255
    return canvas


def _colour(rng: np.random.Generator) -> np.ndarray:
    """A saturated random colour, as three floats 0–255."""
    colour = rng.uniform(30, 230, size=3)
    colour[rng.integers(0, 3)] = rng.uniform(0, 40)
    return colour


def _shop_image(gray: np.ndarray, mode: str, rng: np.random.Generator) -> Image.Image:
    """A product picture of a random size in ``mode``: L and P on black, RGB on white, RGBA cut out."""
    long_side, aspect = int(rng.integers(64, 321)), float(rng.uniform(0.6, 1.0))
    short_side = max(48, round(long_side * aspect))
    size = (long_side, short_side) if rng.random() < 0.5 else (short_side, long_side)
    alpha = _item(gray, size, rng)[:, :, None]
    colour = _colour(rng)
    if mode == "L":
        return Image.fromarray(np.round(alpha[:, :, 0] * 255).astype(np.uint8), mode="L")
    if mode == "RGB":  # a product shot on a white background
        return Image.fromarray(np.round(255 * (1 - alpha) + colour * alpha).astype(np.uint8), mode="RGB")
    if mode == "RGBA":  # a cut-out: one colour everywhere, the shape lives only in the alpha channel
        rgb = np.broadcast_to(colour, alpha.shape[:2] + (3,))
        rgba = np.concatenate([rgb, alpha * 255], axis=2)
        return Image.fromarray(np.round(rgba).astype(np.uint8), mode="RGBA")
    rgb = Image.fromarray(np.round(colour * alpha).astype(np.uint8), mode="RGB")  # P: a web graphic, 16 colours
    return rgb.quantize(colors=16, method=Image.Quantize.MEDIANCUT)


def _phone_picture(gray: np.ndarray, background: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An upright H×W×3 picture: the product lying on a real photograph, like a snapshot on a table."""
    width, height = _PHONE_SIZE
    photo_h, photo_w = background.shape[:2]
    crop_w = min(photo_w, int(photo_h * width / height))
    left = int(rng.integers(0, photo_w - crop_w + 1))
    crop = Image.fromarray(background[:, left:left + crop_w]).resize((width, height), Image.Resampling.BILINEAR)
    alpha = _item(gray, (width, height), rng)[:, :, None]
    colour = _colour(rng)
    picture = np.asarray(crop, dtype=np.float32) * (1 - alpha) + colour * alpha
    return np.round(picture).astype(np.uint8)


def _fashion_items(seed: int) -> dict[str, list[np.ndarray]]:
    """For each class, enough distinct FashionMNIST test images (28×28 uint8), chosen by ``seed``."""
    from .datasets import fashion_mnist_tensors

    images, labels = fashion_mnist_tensors(train=False)
    rng = np.random.default_rng(seed)
    chosen = {}
    for name in MESSY_CLASSES:
        candidates = torch.nonzero(labels == _FASHION_LABEL[name]).flatten().numpy()
        picks = rng.choice(candidates, size=_CSV_ROWS[name], replace=False)
        chosen[name] = [images[int(i), 0].numpy() for i in picks]
    return chosen


def _require_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: expected an integer >= 0, got {describe(seed)}")
    return seed


def make_messy_folder(root: str | os.PathLike[str], seed: int = 0) -> MessyFolder:
    """Write a small, realistic, messy labelled image folder into ``root`` (which must not exist yet).

    The folder (35 images, about 1 MB)::

        root/labels.csv            filename,label — one row per image file, sorted by file name
        root/images/IMG_0001.JPG   phone photos (RGB JPEG, EXIF orientation 6, 8, 3 or 1; stored 640×480
                                   for 6 and 8, i.e. on their side, and 480×640 for 3 and 1)
        root/images/scan_*.png     grayscale PNG        product_*.jpg   RGB JPEG on white
        root/images/cutout_*.png   RGBA PNG (the shape only in the alpha channel)
        root/images/web_*.png      palette PNG (mode P) photocopy_*.jpeg  grayscale JPEG
        root/images/.DS_Store, root/images/notes.txt   not images

    Classes ``MESSY_CLASSES`` with 20 sneakers, 10 bags and 5 trousers; one sneaker phone photo is
    truncated (it cannot be decoded, although its header opens). Sides vary from 48 to 640 pixels.
    Products come from FashionMNIST's test set, the phone photos' backgrounds from the photographs that
    ship with scikit-image and scikit-learn. The same ``seed`` writes the same pixels.
    The caller removes the folder when done (``shutil.rmtree(folder.root)``).

    Taught in lesson 01.
    """
    seed = _require_seed(seed)
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root: expected a folder path (str or pathlib.Path), got {describe(root)}")
    root = Path(root)
    if root.exists():
        raise FileExistsError(f"root: expected a path that does not exist yet, got {str(root)!r}, which exists")
    from .datasets import sample_photo

    items = _fashion_items(seed)
    backgrounds = [sample_photo(name) for name in _PHONE_BACKGROUNDS]
    rng = np.random.default_rng(seed + 1)
    image_dir = root / "images"
    image_dir.mkdir(parents=True)

    # Decide every file first, then number each kind in a shuffled order, so that names say nothing of labels.
    plan: list[tuple[str, str, int | None, np.ndarray]] = []  # (class, kind, orientation, item)
    for name in MESSY_CLASSES:
        phones = _PHONE_ORIENTATIONS[name]
        for k, gray in enumerate(items[name]):
            if k < len(phones):
                plan.append((name, "phone", phones[k], gray))
            else:
                plan.append((name, _SHOP_KINDS[(k - len(phones)) % len(_SHOP_KINDS)][0], None, gray))
    broken_index = max(i for i, (name, kind, _, _) in enumerate(plan) if name == _BROKEN_CLASS and kind == "phone")
    numbers: dict[int, int] = {}
    for kind in ("phone", *(k[0] for k in _SHOP_KINDS)):
        members = [i for i, entry in enumerate(plan) if entry[1] == kind]
        for number, i in enumerate(rng.permutation(len(members)).tolist(), start=1):
            numbers[members[i]] = number

    shop = {kind: (mode, fmt, pattern) for kind, mode, fmt, pattern in _SHOP_KINDS}
    files: list[MessyFile] = []
    for i, (name, kind, orientation, gray) in enumerate(plan):
        if kind == "phone":
            file_name = f"IMG_{numbers[i]:04d}.JPG"
            picture = _phone_picture(gray, backgrounds[i % len(backgrounds)], rng)
            path = write_phone_photo(picture, image_dir / file_name, orientation=orientation or 1, quality=88)
            stored = picture.shape[1::-1] if orientation in (1, 3) else picture.shape[:2]
            readable = i != broken_index
            if not readable:  # the copy stopped half-way: the header survives, the picture does not
                data = path.read_bytes()
                path.write_bytes(data[: int(len(data) * 0.4)])
            files.append(MessyFile(file_name, name, kind, "RGB", "JPEG", (int(stored[0]), int(stored[1])),
                                   orientation, readable))
            continue
        mode, fmt, pattern = shop[kind]
        file_name = pattern.format(numbers[i])
        image = _shop_image(gray, mode, rng)
        image.save(image_dir / file_name, format=fmt, **({"quality": 85} if fmt == "JPEG" else {}))
        files.append(MessyFile(file_name, name, kind, image.mode, fmt, image.size, None, True))

    (image_dir / ".DS_Store").write_bytes(_DS_STORE)
    (image_dir / "notes.txt").write_text(_NOTES, encoding="utf-8")
    files.append(MessyFile(".DS_Store", None, "non-image", None, None, None, None, False))
    files.append(MessyFile("notes.txt", None, "non-image", None, None, None, None, False))
    files.sort(key=lambda f: f.name)

    csv_path = root / "labels.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["filename", "label"])
        writer.writerows([f.name, f.label] for f in files if f.label is not None)
    return MessyFolder(root, image_dir, csv_path, tuple(files))
