"""Tests of course_utils.messy_images: the messy image folder of lesson 01 and phone photos with EXIF tags."""

from __future__ import annotations

import csv
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

import course_utils as cu
from course_utils.messy_images import EXIF_ORIENTATION


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> cu.messy_images.MessyFolder:
    return cu.make_messy_folder(tmp_path_factory.mktemp("messy") / "photos", seed=0)


def _csv_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _decodes(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            image.load()
    except (OSError, UnidentifiedImageError):
        return False
    return True


def test_layout_and_csv_rows_match_the_image_files_exactly(folder: cu.messy_images.MessyFolder) -> None:
    assert folder.csv_path == folder.root / "labels.csv" and folder.image_dir == folder.root / "images"
    assert sorted(p.name for p in folder.root.iterdir()) == ["images", "labels.csv"]
    on_disk = sorted(p.name for p in folder.image_dir.iterdir())
    assert on_disk == sorted(f.name for f in folder.files) and len(on_disk) == 37
    rows = _csv_rows(folder.csv_path)
    assert rows[0] == ["filename", "label"]
    names = [name for name, _ in rows[1:]]
    assert names == sorted(names) and len(set(names)) == 35
    assert set(names) == set(on_disk) - {".DS_Store", "notes.txt"}
    truth = {f.name: f.label for f in folder.files}
    assert all(truth[name] == label for name, label in rows[1:])


def test_class_counts_are_imbalanced_four_to_two_to_one(folder: cu.messy_images.MessyFolder) -> None:
    counts = Counter(label for _, label in _csv_rows(folder.csv_path)[1:])
    assert counts == {"sneaker": 20, "bag": 10, "trouser": 5}
    assert folder.counts() == dict(counts)
    assert cu.messy_images.MESSY_CLASSES == ("bag", "sneaker", "trouser") == tuple(sorted(counts))


def test_formats_modes_and_sizes_are_varied_and_recorded_truthfully(folder: cu.messy_images.MessyFolder) -> None:
    modes, formats, sizes = Counter(), Counter(), set()
    for f in folder.files:
        if f.label is None or not f.readable:
            continue
        with Image.open(folder.image_dir / f.name) as image:
            assert (image.mode, image.format, image.size) == (f.mode, f.format, f.size), f.name
            modes[image.mode] += 1
            formats[image.format] += 1
            sizes.add(image.size)
    assert modes == {"L": 11, "RGB": 12, "RGBA": 6, "P": 5}
    assert formats == {"PNG": 18, "JPEG": 16}
    assert len(sizes) >= 25
    sides = [side for size in sizes for side in size]
    assert min(sides) >= 48 and max(sides) == 640 and min(sides) < 80
    suffixes = Counter(Path(f.name).suffix for f in folder.files)
    assert suffixes == {".JPG": 6, ".png": 18, ".jpg": 7, ".jpeg": 4, "": 1, ".txt": 1}  # '.DS_Store' has no suffix


def test_phone_photos_carry_their_exif_orientation_and_turn_upright(folder: cu.messy_images.MessyFolder) -> None:
    phones = {f.name: f for f in folder.files if f.kind == "phone"}
    assert sorted(f.orientation for f in phones.values() if f.readable) == [1, 3, 6, 6, 8]
    for name, f in phones.items():
        if not f.readable:
            continue
        with Image.open(folder.image_dir / name) as image:
            assert image.getexif()[EXIF_ORIENTATION] == f.orientation
            stored = image.size
            upright = ImageOps.exif_transpose(image)
        assert stored == ((640, 480) if f.orientation in (6, 8) else (480, 640)), name
        assert upright.size == (480, 640), f"{name}: a portrait picture once the tag is applied"
    others = [f for f in folder.files if f.kind != "phone" and f.readable]
    for f in others:
        with Image.open(folder.image_dir / f.name) as image:
            assert EXIF_ORIENTATION not in image.getexif()


def test_the_broken_file_opens_but_fails_to_decode_and_non_images_fail_to_open(folder: cu.messy_images.MessyFolder) -> None:
    assert folder.broken == ("IMG_0001.JPG",) and folder.non_images == (".DS_Store", "notes.txt")
    broken = folder.image_dir / folder.broken[0]
    with Image.open(broken) as image:  # the header survived: opening is lazy and succeeds
        assert image.size == (640, 480) and image.format == "JPEG"
        with pytest.raises(OSError, match="truncated"):
            image.load()
    with pytest.raises(Exception):  # noqa: B017 - each image backend raises its own type
        cu.decode_image(broken)
    for name in folder.non_images:
        with pytest.raises(UnidentifiedImageError):
            Image.open(folder.image_dir / name)
    unreadable = sorted(p.name for p in folder.image_dir.iterdir() if not _decodes(p))
    assert unreadable == sorted([*folder.broken, *folder.non_images])
    assert all(f.readable == (f.name not in unreadable) for f in folder.files)


def test_rgba_cutouts_keep_their_shape_only_in_the_alpha_channel(folder: cu.messy_images.MessyFolder) -> None:
    cutouts = [f.name for f in folder.files if f.mode == "RGBA"]
    for name in cutouts:
        array = np.asarray(Image.open(folder.image_dir / name))
        assert (array[:, :, :3] == array[0, 0, :3]).all(), f"{name}: one colour under the alpha channel"
        assert array[:, :, 3].min() == 0 and array[:, :, 3].max() > 200


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path, folder: cu.messy_images.MessyFolder) -> None:
    start = time.perf_counter()
    again = cu.make_messy_folder(tmp_path / "again", seed=0)
    assert time.perf_counter() - start < 10
    for f in folder.files:
        assert (again.image_dir / f.name).read_bytes() == (folder.image_dir / f.name).read_bytes(), f.name
    assert again.csv_path.read_bytes() == folder.csv_path.read_bytes()
    other = cu.make_messy_folder(tmp_path / "other", seed=1)
    assert other.counts() == folder.counts()
    differing = [f.name for f in folder.files
                 if f.readable and (other.image_dir / f.name).read_bytes() != (folder.image_dir / f.name).read_bytes()]
    assert len(differing) == 34  # every readable image


def test_make_messy_folder_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(FileExistsError, match="root: expected a path that does not exist yet"):
        cu.make_messy_folder(tmp_path)
    with pytest.raises(ValueError, match="seed: expected an integer >= 0, got int -1"):
        cu.make_messy_folder(tmp_path / "x", seed=-1)
    with pytest.raises(ValueError, match="seed: expected an integer >= 0, got bool True"):
        cu.make_messy_folder(tmp_path / "x", seed=True)
    with pytest.raises(TypeError, match="root: expected a folder path"):
        cu.make_messy_folder(3)  # type: ignore[arg-type]
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_write_phone_photo_stores_pixels_turned_and_the_tag_turns_them_back(tmp_path: Path, orientation: int) -> None:
    picture = cu.sample_photo("chelsea")  # 300×451, landscape
    path = cu.write_phone_photo(picture, tmp_path / "cat.jpg", orientation=orientation)
    with Image.open(path) as image:
        assert image.getexif()[EXIF_ORIENTATION] == orientation
        assert image.size == ((451, 300) if orientation in (1, 3) else (300, 451))
        upright = np.asarray(ImageOps.exif_transpose(image), dtype=np.float32)
    assert upright.shape == picture.shape
    assert np.abs(upright - picture).mean() < 4, "JPEG changes pixels a little, a wrong rotation a lot"
    # from a tensor too
    tensor_path = cu.write_phone_photo(torch.from_numpy(picture).permute(2, 0, 1), tmp_path / "t.jpg", orientation)
    assert Image.open(tensor_path).size == Image.open(path).size


def test_write_phone_photo_rejects_bad_input(tmp_path: Path) -> None:
    picture = np.zeros((4, 6, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"orientation: expected one of \[1, 3, 6, 8\], got 5"):
        cu.write_phone_photo(picture, tmp_path / "a.jpg", orientation=5)
    with pytest.raises(ValueError, match=r"pixels: expected a uint8 array of shape \(H, W, 3\)"):
        cu.write_phone_photo(picture[:, :, 0], tmp_path / "a.jpg")
    with pytest.raises(ValueError, match=r"pixels: expected a uint8 tensor of shape \(3, H, W\)"):
        cu.write_phone_photo(torch.zeros(4, 6, 3, dtype=torch.uint8), tmp_path / "a.jpg")
    with pytest.raises(ValueError, match="quality: expected an integer JPEG quality from 1 to 95"):
        cu.write_phone_photo(picture, tmp_path / "a.jpg", quality=100)
    with pytest.raises(FileNotFoundError, match="path: the folder .* does not exist"):
        cu.write_phone_photo(picture, tmp_path / "missing" / "a.jpg")
    assert list(tmp_path.iterdir()) == []
