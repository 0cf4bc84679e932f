"""Tests of datasets (digits, faces), splits, image_folders and hygiene (no download: torchvision's Pet data set is faked)
and of course_utils.evaluation.macro_scores_from_confusion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import precision_recall_fscore_support
from torchvision import datasets as tv_datasets
from torchvision.datasets import ImageFolder

import course_utils as cu
from course_utils import image_folders

STANDINS_ENV = "COURSE_ALLOW_STANDINS"


# ---------------------------------------------------------------- digits and faces


def test_digits_tensors_are_fashion_mnist_shaped_real_digits():
    images, labels = cu.digits_tensors()
    assert images.shape == (1797, 1, 28, 28) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64 and labels[:10].tolist() == list(range(10))
    assert int(images.max()) == 255 and int(images.min()) == 0
    assert torch.bincount(labels).min() >= 174
    small, _ = cu.digits_tensors(size=8)
    from sklearn.datasets import load_digits

    original = torch.from_numpy(load_digits().images * (255 / 16)).round()
    assert torch.allclose(small[:, 0].float(), original.float(), atol=1)  # size 8 = the originals rescaled


def test_faces_tensors_has_100_faces_then_100_non_faces():
    images, labels = cu.faces_tensors(size=32)
    assert images.shape == (200, 1, 32, 32) and images.dtype == torch.uint8
    assert labels.tolist() == [0] * 100 + [1] * 100
    assert cu.FACE_CLASSES == ("face", "not a face")
    assert images.float().std() > 20  # real pictures, not a constant


def test_faces_tensors_accepts_uint8_arrays(monkeypatch):
    from skimage import data as skimage_data

    monkeypatch.setattr(skimage_data, "lfw_subset", lambda: np.full((200, 25, 25), 255, dtype=np.uint8))
    images, _ = cu.faces_tensors()
    assert int(images.min()) == 255


@pytest.mark.parametrize("function", [cu.digits_tensors, cu.faces_tensors])
def test_small_sets_reject_bad_sizes(function):
    with pytest.raises(ValueError, match="size: expected an integer >= 1, got int 0"):
        function(size=0)


# ---------------------------------------------------------------- splits


def test_stratified_split_is_disjoint_complete_per_class_and_seeded():
    labels = torch.tensor([0] * 10 + [1] * 20 + [2] * 7)
    train, val, test = cu.stratified_split(labels, (0.6, 0.2, 0.2), seed=3)
    joined = torch.cat([train, val, test])
    assert sorted(joined.tolist()) == list(range(len(labels)))  # every index exactly once
    assert torch.bincount(labels[train]).tolist() == [6, 12, 4]
    assert torch.bincount(labels[val]).tolist() == [2, 4, 1]
    assert torch.bincount(labels[test]).tolist() == [2, 4, 2]
    assert all(torch.equal(part, part.sort().values) for part in (train, val, test))
    again = cu.stratified_split(labels, (0.6, 0.2, 0.2), seed=3)
    assert all(torch.equal(a, b) for a, b in zip((train, val, test), again))
    other = cu.stratified_split(labels, (0.6, 0.2, 0.2), seed=4)
    assert not torch.equal(train, other[0])


def test_stratified_split_fractions_below_one_leave_the_rest_out():
    labels = torch.arange(100) % 4
    first, second = cu.stratified_split(labels, (0.5, 0.1))
    assert len(first) == 48 and len(second) == 8  # per class round(12.5) = 12 and round(2.5) = 2 (half to even)
    assert not set(first.tolist()) & set(second.tolist())


@pytest.mark.parametrize(
    ("fractions", "error", "message"),
    [
        ("0.5", TypeError, "fractions: expected a sequence of fractions"),
        ((), TypeError, "fractions: expected a sequence of fractions"),
        ((0.5, 0.0), ValueError, r"fractions: expected numbers in \(0, 1\]"),
        ((0.5, True), ValueError, r"fractions: expected numbers in \(0, 1\]"),
        ((0.7, 0.7), ValueError, "fractions: expected a sum of at most 1, got 1.4"),
    ],
)
def test_stratified_split_rejects_bad_fractions(fractions, error, message):
    with pytest.raises(error, match=message):
        cu.stratified_split(torch.tensor([0, 1, 0, 1]), fractions)


def test_stratified_split_rejects_bad_labels_and_seed():
    with pytest.raises(ValueError, match="labels: expected class indices >= 0"):
        cu.stratified_split(torch.tensor([0, -1]), (0.5, 0.5))
    with pytest.raises(TypeError, match="labels: expected dtype"):
        cu.stratified_split(torch.tensor([0.0, 1.0]), (0.5, 0.5))
    with pytest.raises(ValueError, match="seed: expected an integer >= 0"):
        cu.stratified_split(torch.tensor([0, 1]), (0.5, 0.5), seed=-1)


def test_per_class_subset_draws_k_of_each_class_from_the_pool():
    labels = torch.arange(60) % 3
    pool = torch.arange(30)
    chosen = cu.per_class_subset(labels, 4, seed=1, pool=pool)
    assert len(chosen) == 12
    assert labels[chosen].tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert int(chosen.max()) < 30 and len(set(chosen.tolist())) == 12
    assert torch.equal(chosen, cu.per_class_subset(labels, 4, seed=1, pool=pool))
    assert not torch.equal(chosen, cu.per_class_subset(labels, 4, seed=2, pool=pool))
    assert len(cu.per_class_subset(labels, 20)) == 60  # default pool: everything


def test_per_class_subset_errors():
    labels = torch.tensor([0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match="k: expected at most 2 \\(the examples of class 0 in the pool\\), got 3"):
        cu.per_class_subset(labels, 3)
    with pytest.raises(ValueError, match="k: expected an integer >= 1"):
        cu.per_class_subset(labels, 0)
    with pytest.raises(ValueError, match="pool: expected indices into labels \\(0 to 4\\)"):
        cu.per_class_subset(labels, 1, pool=torch.tensor([0, 7]))


# ---------------------------------------------------------------- the stand-in ImageFolder tree


def test_photo_standin_folder_is_an_image_folder_with_three_disjoint_splits(tmp_path):
    splits = cu.image_folders.photo_standin_folder(tmp_path / "tree", per_class=(3, 1, 2), image_size=32, seed=5)
    assert splits.is_standin and "NOT Oxford-IIIT Pet" in splits.source
    assert splits.class_names == ("astronaut", "chelsea", "china", "coffee", "flower", "rocket")
    assert splits.counts == {"train": [3] * 6, "val": [1] * 6, "test": [2] * 6}
    for split, folder in (("train", splits.train), ("val", splits.val), ("test", splits.test)):
        dataset = ImageFolder(folder)
        assert tuple(dataset.classes) == splits.class_names
        assert len(dataset) == 6 * {"train": 3, "val": 1, "test": 2}[split]
        image, _ = dataset[0]
        assert image.size == (32, 32)
    text = splits.describe()
    assert text.startswith("STAND-IN DATA: crops of 6 photographs")
    assert "train:   18 images (astronaut 3," in text
    assert cu.find_duplicate_files(cu.image_files(splits.test), cu.image_files(splits.train)) == []
    # seeded: the same seed gives the same bytes
    again = cu.image_folders.photo_standin_folder(tmp_path / "again", per_class=(3, 1, 2), image_size=32, seed=5)
    first = [cu.hygiene.file_digest(p) for p in cu.image_files(splits.root)]
    assert first == [cu.hygiene.file_digest(p) for p in cu.image_files(again.root)]


def test_photo_standin_folder_defaults_to_a_temporary_folder():
    splits = cu.image_folders.photo_standin_folder(per_class=(1, 1, 1), image_size=16)
    assert splits.root.is_dir() and "standin-folder-" in splits.root.name
    assert len(cu.image_files(splits.root)) == 18


def test_the_temporary_standin_folder_is_deleted_when_python_exits(tmp_path):
    """A notebook cut off before its clean-up cell (a grader's time limit) still leaves nothing in TMPDIR."""
    code = ("import course_utils as cu, sys; f = cu.image_folders.photo_standin_folder; "
            "print(f(per_class=(1, 1, 1), image_size=16).root); "
            "print(f(sys.argv[1], per_class=(1, 1, 1), image_size=16).root)")
    kept = tmp_path / "kept"
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp"), "PYTHONPATH": str(Path(cu.__file__).parents[1])}
    (tmp_path / "tmp").mkdir()
    result = subprocess.run([sys.executable, "-c", code, str(kept)], capture_output=True, text=True, env=env,
                            check=True, timeout=120)
    temporary, given = (Path(line) for line in result.stdout.split())
    assert temporary.parent == tmp_path / "tmp" and "standin-folder-" in temporary.name
    assert not temporary.exists() and list((tmp_path / "tmp").iterdir()) == []  # gone with the process
    assert given == kept and len(cu.image_files(kept)) == 18  # a folder the caller named is the caller's


def test_photo_standin_folder_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"per_class: expected None or \(train, val, test\) counts"):
        cu.image_folders.photo_standin_folder(tmp_path, per_class=(3, 1))
    with pytest.raises(ValueError, match="per_class: expected an integer >= 1"):
        cu.image_folders.photo_standin_folder(tmp_path, per_class=(3, 0, 1))
    with pytest.raises(ValueError, match="image_size: expected at least 16 pixels, got 8"):
        cu.image_folders.photo_standin_folder(tmp_path, image_size=8)


# ---------------------------------------------------------------- pet_image_folder: offline


def _no_network(*args, **kwargs):
    raise urllib.error.URLError("[Errno -2] Name or service not known")


def test_pet_image_folder_offline_without_permission_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.delenv(STANDINS_ENV, raising=False)
    monkeypatch.setattr(tv_datasets, "OxfordIIITPet", _no_network)
    with pytest.raises(RuntimeError, match="Oxford-IIIT Pet could not be downloaded.*COURSE_ALLOW_STANDINS=1"):
        cu.pet_image_folder(tmp_path / "tree", download_root=tmp_path / "dl")


def test_pet_image_folder_offline_with_permission_builds_the_labelled_standin(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(STANDINS_ENV, "1")
    monkeypatch.setattr(tv_datasets, "OxfordIIITPet", _no_network)
    splits = cu.pet_image_folder(tmp_path / "tree", per_class=(2, 1, 1), image_size=24, download_root=tmp_path / "dl")
    out = capsys.readouterr().out
    assert ("STAND-IN DATA: crops of six photographs shipped with scikit-image and scikit-learn (one class per photo), "
            "NOT Oxford-IIIT Pet images.\nWhy: the download failed (URLError") in out
    assert splits.is_standin and splits.counts["train"] == [2] * 6
    assert len(ImageFolder(splits.train)) == 12


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"classes": "Pug"}, ValueError, "classes: expected at least two breed names"),
        ({"classes": ["Pug"]}, ValueError, "classes: expected at least two breed names"),
        ({"classes": ["Pug", "Poodle"]}, ValueError, r"expected names from PET_BREEDS, got unknown \['Poodle'\]"),
        ({"classes": ["Pug", "Pug"]}, ValueError, "classes: expected each breed once"),
        ({"val_fraction": 1.0}, ValueError, "val_fraction: expected a number between 0 and 1"),
        ({"image_size": 0}, ValueError, "image_size: expected an integer >= 1"),
        ({"per_class": 5}, ValueError, r"per_class: expected None or \(train, val, test\)"),
    ],
)
def test_pet_image_folder_rejects_bad_arguments_before_downloading(monkeypatch, tmp_path, kwargs, error, message):
    monkeypatch.setattr(tv_datasets, "OxfordIIITPet", lambda *a, **k: pytest.fail("must not download"))
    with pytest.raises(error, match=message):
        cu.pet_image_folder(tmp_path, **kwargs)


# ---------------------------------------------------------------- pet_image_folder: a faked download


class FakePets:
    """Mimics torchvision's OxfordIIITPet: classes, _labels, _images and (PIL image, label) items."""

    calls: list[tuple[str, bool]] = []

    def __init__(self, root, split="trainval", download=False, **kwargs):
        FakePets.calls.append((split, download))
        self.classes = list(cu.image_folders.PET_BREEDS)
        per_class = 10 if split == "trainval" else 4
        wanted = [cu.image_folders.PET_BREEDS.index(name) for name in ("Beagle", "Pug", "Siamese", "Abyssinian")]
        self._labels = [label for label in wanted for _ in range(per_class)]
        self._images = [Path(root) / f"{self.classes[label].replace(' ', '_')}_{split}_{i}.jpg"
                        for i, label in enumerate(self._labels)]
        self.split = split

    def __len__(self):
        return len(self._labels)

    def __getitem__(self, index):
        shade = (index * 37) % 256
        colour = (shade, 255 - shade, 90 if self.split == "test" else 10)
        return Image.new("RGB", (400, 300), colour), self._labels[index]


def test_pet_image_folder_exports_the_splits_and_caches_them(monkeypatch, tmp_path, capsys):
    FakePets.calls = []
    monkeypatch.setattr(tv_datasets, "OxfordIIITPet", FakePets)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    splits = cu.pet_image_folder(classes=("Pug", "Beagle", "Siamese"), image_size=64, val_fraction=0.2, seed=1)
    assert not splits.is_standin and "STAND-IN" not in capsys.readouterr().out
    assert splits.root.parent == tmp_path / "data" and splits.root.name.startswith("pets-subset-")
    assert splits.class_names == ("Beagle", "Pug", "Siamese")  # ImageFolder's sorted order
    assert splits.counts == {"train": [8, 8, 8], "val": [2, 2, 2], "test": [4, 4, 4]}
    assert ("trainval", True) in FakePets.calls and ("test", True) in FakePets.calls
    train = ImageFolder(splits.train)
    assert tuple(train.classes) == splits.class_names and len(train) == 24
    assert Image.open(cu.image_files(splits.train)[0]).size == (85, 64)  # shorter side shrunk to 64
    assert {p.name for p in cu.image_files(splits.test / "Pug")} == {f"Pug_test_{i}.jpg" for i in range(4, 8)}
    saved = json.loads((splits.root / "split.json").read_text())
    assert saved["settings"]["classes"] == ["Pug", "Beagle", "Siamese"]
    train_names = {p.name for p in cu.image_files(splits.train)}
    val_names = {p.name for p in cu.image_files(splits.val)}
    assert not train_names & val_names  # the split is disjoint
    # the second call reuses the cached tree
    FakePets.calls = []
    monkeypatch.setattr(image_folders, "_write_jpeg", lambda *a, **k: pytest.fail("must reuse the cache"))
    again = cu.pet_image_folder(classes=("Pug", "Beagle", "Siamese"), image_size=64, val_fraction=0.2, seed=1)
    assert again == splits
    assert "Oxford-IIIT Pet, 3 breeds" in again.describe()


def test_pet_image_folder_caps_per_class_and_refuses_a_foreign_tree(monkeypatch, tmp_path):
    monkeypatch.setattr(tv_datasets, "OxfordIIITPet", FakePets)
    root = tmp_path / "tree"
    splits = cu.pet_image_folder(root, classes=("Pug", "Beagle"), per_class=(3, 1, 2), image_size=500,
                                 download_root=tmp_path / "dl")
    assert splits.root == root and splits.counts == {"train": [3, 3], "val": [1, 1], "test": [2, 2]}
    assert Image.open(cu.image_files(splits.train)[0]).size == (400, 300)  # never enlarged
    with pytest.raises(FileExistsError, match="root: expected an empty folder or one made with the same settings"):
        cu.pet_image_folder(root, classes=("Pug", "Siamese"), download_root=tmp_path / "dl")


def test_finish_keeps_a_tree_finished_by_another_process(tmp_path):
    done = tmp_path / "tree"
    done.mkdir()
    (done / "split.json").write_text("{}")
    (done / "other").write_text("theirs")
    tmp = tmp_path / ".tree-mine"
    tmp.mkdir()
    (tmp / "split.json").write_text("{}")
    image_folders._finish(tmp, done)
    assert not tmp.exists() and (done / "other").read_text() == "theirs"
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "junk").write_text("x")
    tmp.mkdir()
    with pytest.raises(OSError):
        image_folders._finish(tmp, broken)


# ---------------------------------------------------------------- duplicates


def test_find_duplicate_files_compares_contents_not_names(tmp_path):
    def write(relative, data):
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    train = [write("train/a/0001.jpg", b"A" * 100), write("train/b/0002.jpg", b"B" * 100)]
    test = [write("test/a/0001.jpg", b"not A" * 20), write("test/b/copy.jpg", b"B" * 100),
            write("test/c/x.png", b"A" * 100)]
    pairs = cu.find_duplicate_files(test, train)
    assert pairs == [(test[1], train[1]), (test[2], train[0])]
    assert cu.find_duplicate_files([str(p) for p in test], []) == []
    assert cu.hygiene.file_digest(train[0]) == cu.hygiene.file_digest(test[2]) != cu.hygiene.file_digest(test[0])
    assert len(cu.hygiene.file_digest(train[0])) == 64


def test_image_files_lists_images_recursively_and_sorted(tmp_path):
    for name in ("b/2.JPG", "a/1.png", "a/notes.txt", "c/d/3.jpeg"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in cu.image_files(tmp_path)]
    assert found == ["a/1.png", "b/2.JPG", "c/d/3.jpeg"]
    with pytest.raises(FileNotFoundError, match="folder: expected an existing directory"):
        cu.image_files(tmp_path / "missing")


# ---------------------------------------------------------------- macro scores from a confusion matrix


def _expected(confusion: torch.Tensor) -> tuple[float, float, float]:
    true, pred = [], []
    for i in range(confusion.shape[0]):
        for j in range(confusion.shape[1]):
            true += [i] * int(confusion[i, j])
            pred += [j] * int(confusion[i, j])
    p, r, f, _ = precision_recall_fscore_support(true, pred, average="macro", zero_division=0)  # classes that occur
    return float(p), float(r), float(f)


@pytest.mark.parametrize(
    "confusion",
    [
        [[5, 1, 0], [2, 3, 1], [0, 0, 4]],
        [[8, 2, 0], [1, 9, 0], [3, 4, 0]],  # class 2 never predicted
        [[6, 1, 0, 0], [2, 7, 0, 1], [0, 0, 0, 0], [0, 1, 0, 5]],  # class 2 absent everywhere
        [[50, 0], [40, 10]],
        [[0, 3], [0, 0]],  # nothing right
    ],
)
def test_macro_scores_from_confusion_match_scikit_learn(confusion):
    matrix = torch.tensor(confusion)
    scores = cu.evaluation.macro_scores_from_confusion(matrix)
    assert isinstance(scores, cu.evaluation.MacroScores) and all(isinstance(v, float) for v in scores)
    assert scores == pytest.approx(_expected(matrix), abs=1e-12)
    assert scores.f1 == pytest.approx(_expected(matrix)[2])


def test_macro_scores_from_confusion_agree_with_the_classification_report():
    generator = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(300, 5, generator=generator), dim=1)
    targets = torch.randint(0, 5, (300,), generator=generator)
    report = cu.classification_report(probs, targets)
    scores = cu.evaluation.macro_scores_from_confusion(report.confusion)
    assert scores == pytest.approx((report.precision, report.recall, report.f1), abs=1e-6)


def test_macro_scores_from_confusion_reject_bad_matrices():
    with pytest.raises(ValueError, match="confusion: expected a square C×C matrix"):
        cu.evaluation.macro_scores_from_confusion(torch.ones(2, 3))
    with pytest.raises(ValueError, match="confusion: expected counts >= 0, got a smallest value of -1"):
        cu.evaluation.macro_scores_from_confusion(torch.tensor([[1, -1], [0, 2]]))
    with pytest.raises(ValueError, match="confusion: expected at least one count"):
        cu.evaluation.macro_scores_from_confusion(torch.zeros(3, 3))
    with pytest.raises(TypeError, match="confusion: expected a torch.Tensor"):
        cu.evaluation.macro_scores_from_confusion([[1, 0], [0, 1]])  # type: ignore[arg-type]
