"""The code paths a learner WITH internet runs, driven offline through the libraries' own code.

Each test builds, in a temporary folder, the files a real download would have left behind, in the
libraries' own on-disk formats: the Oxford-IIIT Pet folder torchvision extracts, the ResNet-18
checkpoint torch.hub caches, the Hugging Face cache entry open_clip downloads into, and CIFAR-10's
python-pickle batches. Then the course's functions run unchanged through torchvision, torch.hub,
huggingface_hub and open_clip, which must find those files and download nothing (every test runs
with internet connections refused, see ``_refuse_network``).

The fixture weights and pixels are random: these tests check plumbing (class order, splits, file
layout, shapes, caching, banners), not accuracy. Where a library verifies a checksum of a cached
file, the narrowest public seam is patched and the test says so.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import socket
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import huggingface_hub
import numpy as np
import open_clip
import pytest
import safetensors.torch
import torch
import torchvision
from PIL import Image
from torchvision import datasets as tv_datasets
from torchvision.datasets import ImageFolder

import course_utils as cu
from course_utils import pretrained_clip as cc
from course_utils import image_folders

STANDINS_ENV = "COURSE_ALLOW_STANDINS"


@pytest.fixture(autouse=True)
def _refuse_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to reach the internet fails the test (pytest.fail is not an Exception: nothing swallows it)."""
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            pytest.fail(f"the test tried to open a network connection to {address}")
        return real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        pytest.fail(f"the test tried to look up the host name {host!r}")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.delenv(STANDINS_ENV, raising=False)  # a failed "download" must raise, not fall back


def _file_states(folder: Path) -> dict[Path, tuple[int, int, int]]:
    """(inode, mtime in ns, size) of every file below ``folder``: unchanged means nothing was rewritten."""
    return {path: (path.stat().st_ino, path.stat().st_mtime_ns, path.stat().st_size)
            for path in sorted(folder.rglob("*")) if path.is_file()}


# ---------------------------------------------------------------- Oxford-IIIT Pet, as torchvision extracts it

PET_CATS = frozenset({"Abyssinian", "Bengal", "Birman", "Bombay", "British Shorthair", "Egyptian Mau",
                      "Maine Coon", "Persian", "Ragdoll", "Russian Blue", "Siamese", "Sphynx"})
PET_TRAINVAL_PER_BREED = 8  # for the lesson's breeds; every other breed has one image per split
PET_TEST_PER_BREED = 4
PET_TRAINVAL_SIZE = (80, 60)  # landscape (width, height)
PET_TEST_SIZE = (60, 80)  # portrait: the shorter side is the width


def _pet_file_stem(breed: str, number: int) -> str:
    """The data set's image names: cats capitalised ("Russian_Blue_7"), dogs in lower case ("saint_bernard_7")."""
    stem = breed.replace(" ", "_")
    return f"{stem if breed in PET_CATS else stem.lower()}_{number}"


def write_pet_download(download_root: Path, rich_breeds: tuple[str, ...] = cu.image_folders.PET_CLASSES) -> dict[str, list[str]]:
    """The folder ``OxfordIIITPet(download_root, download=True)`` leaves: ``oxford-iiit-pet/{images,annotations}``.

    ``images/<name>.jpg`` are real (small) JPEGs; ``annotations/trainval.txt`` and ``annotations/test.txt``
    use the official line format ``Image CLASS-ID SPECIES BREED-ID`` (class ids 1-37 in alphabetical
    order, species 1 = cat and 2 = dog, breed ids counted within a species). All 37 breeds appear in
    both splits, as in the real data (torchvision derives ``classes`` from the names in the split
    file); ``rich_breeds`` get more images. torchvision's ``_check_exists`` only asks for the two
    folders. Returns the image names of each split.
    """
    base = download_root / "oxford-iiit-pet"
    (base / "images").mkdir(parents=True)
    (base / "annotations").mkdir()
    species_count = {1: 0, 2: 0}
    lines: dict[str, list[str]] = {"trainval": [], "test": []}
    names: dict[str, list[str]] = {"trainval": [], "test": []}
    for class_id, breed in enumerate(cu.image_folders.PET_BREEDS, start=1):
        species = 1 if breed in PET_CATS else 2
        species_count[species] += 1
        rich = breed in rich_breeds
        for split, count, first, size in (("trainval", PET_TRAINVAL_PER_BREED if rich else 1, 1, PET_TRAINVAL_SIZE),
                                          ("test", PET_TEST_PER_BREED if rich else 1, 101, PET_TEST_SIZE)):
            for number in range(first, first + count):
                stem = _pet_file_stem(breed, number)
                shade = np.linspace(0, 255, size[0], dtype=np.float32)[None, :, None]
                pixels = np.broadcast_to(shade, (size[1], size[0], 3)).copy()
                pixels[..., 1] = (class_id * 7) % 256
                pixels[..., 2] = (number * 29) % 256
                Image.fromarray(pixels.astype(np.uint8)).save(base / "images" / f"{stem}.jpg", quality=90)
                lines[split].append(f"{stem} {class_id} {species} {species_count[species]}")
                names[split].append(stem)
    for split, split_lines in lines.items():
        (base / "annotations" / f"{split}.txt").write_text("\n".join(split_lines) + "\n")
    return names


@pytest.fixture(scope="module")
def pet_download(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[str]]]:
    """A download root holding the fake-but-format-faithful Oxford-IIIT Pet (read-only for the tests)."""
    root = tmp_path_factory.mktemp("pet-download")
    return root, write_pet_download(root)


@pytest.fixture()
def pet_never_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tripwire: torchvision's Pet class must find the files and never start its downloader."""
    from torchvision.datasets import oxford_iiit_pet

    monkeypatch.setattr(oxford_iiit_pet, "download_and_extract_archive",
                        lambda *args, **kwargs: pytest.fail("OxfordIIITPet tried to download"))


def test_pet_fixture_is_read_by_torchvisions_own_class(pet_download, pet_never_downloads):
    download_root, names = pet_download
    trainval = tv_datasets.OxfordIIITPet(download_root, split="trainval", download=True)
    test = tv_datasets.OxfordIIITPet(download_root, split="test", download=True)
    assert trainval.classes == list(cu.image_folders.PET_BREEDS) == test.classes  # the fixture's names give the real classes
    assert len(trainval) == len(names["trainval"]) == 31 + 6 * PET_TRAINVAL_PER_BREED
    assert len(test) == len(names["test"]) == 31 + 6 * PET_TEST_PER_BREED
    image, label = test[0]
    assert image.size == PET_TEST_SIZE and trainval.classes[label] == "Abyssinian"


PET_KWARGS: dict[str, Any] = {"classes": cu.image_folders.PET_CLASSES, "per_class": (5, 2, 3), "image_size": 30,
                              "val_fraction": 0.25}


def test_pet_image_folder_online_path_exports_the_official_splits_and_reuses_them(
    pet_download, pet_never_downloads, monkeypatch, tmp_path, capsys
):
    download_root, names = pet_download
    root = tmp_path / "pets"
    splits = cu.pet_image_folder(root=root, download_root=download_root, **PET_KWARGS)
    out = capsys.readouterr().out
    assert splits.is_standin is False and "STAND-IN" not in out and "STAND-IN" not in splits.describe()
    assert splits.root == root
    ordered = ("Beagle", "British Shorthair", "Pug", "Russian Blue", "Samoyed", "Siamese")
    assert splits.class_names == ordered  # ImageFolder's sorted order, not the order of PET_CLASSES
    assert splits.counts == {"train": [5] * 6, "val": [2] * 6, "test": [3] * 6}
    stems: dict[str, set[str]] = {}
    for split, folder in (("train", splits.train), ("val", splits.val), ("test", splits.test)):
        dataset = ImageFolder(folder)
        assert tuple(dataset.classes) == ordered
        assert torch.bincount(torch.tensor(dataset.targets)).tolist() == splits.counts[split]  # stratified
        stems[split] = set()
        for path, label in dataset.samples:
            stem = Path(path).stem
            assert stem.rsplit("_", 1)[0].replace("_", " ").lower() == ordered[label].lower()  # in its breed's folder
            with Image.open(path) as image:  # shorter side shrunk from 60 to image_size 30
                assert image.size == ((40, 30) if split != "test" else (30, 40)) and image.format == "JPEG"
            stems[split].add(stem)
    assert stems["test"] <= set(names["test"])  # the official test split is the test folder
    assert stems["train"] | stems["val"] <= set(names["trainval"])
    assert not stems["train"] & stems["val"]  # train/val disjoint
    saved = json.loads((root / "split.json").read_text(encoding="utf-8"))
    assert saved == {
        "settings": {"classes": list(cu.image_folders.PET_CLASSES), "per_class": [5, 2, 3], "image_size": 30,
                     "val_fraction": 0.25, "seed": 0},
        "counts": splits.counts,
        "source": "Oxford-IIIT Pet, 6 breeds (official test split; trainval split into train/val, seed 0)",
    }
    # The same call again (per_class still a tuple) reuses the tree: no image is written or touched.
    before = _file_states(root)
    monkeypatch.setattr(image_folders, "_write_jpeg", lambda *args, **kwargs: pytest.fail("must reuse the cache"))
    again = cu.pet_image_folder(root=root, download_root=download_root, **PET_KWARGS)
    assert again == splits and again.counts == splits.counts
    assert _file_states(root) == before
    # Other settings with the same explicit root: the clear error, and the tree is left alone.
    with pytest.raises(FileExistsError, match=r"root: expected an empty folder or one made with the same settings, "
                                              r"got .*pets made with \{'classes'"):
        cu.pet_image_folder(root=root, download_root=download_root, **{**PET_KWARGS, "per_class": (4, 2, 3)})
    assert _file_states(root) == before
    assert "STAND-IN" not in capsys.readouterr().out


def test_pet_image_folder_default_root_is_keyed_by_the_settings_and_reused(
    pet_download, pet_never_downloads, monkeypatch, tmp_path
):
    download_root, _ = pet_download
    data = tmp_path / "data"
    monkeypatch.setenv("COURSE_DATA_DIR", str(data))
    splits = cu.pet_image_folder(download_root=download_root, **PET_KWARGS)
    assert splits.root.parent == data and splits.root.name.startswith("pets-subset-")
    before = _file_states(splits.root)
    monkeypatch.setattr(image_folders, "_write_jpeg", lambda *args, **kwargs: pytest.fail("must reuse the cache"))
    for per_class in ((5, 2, 3), [5, 2, 3]):  # a tuple (what a learner types) or a list: the same settings
        again = cu.pet_image_folder(download_root=download_root, **{**PET_KWARGS, "per_class": per_class})
        assert again == splits
    assert _file_states(splits.root) == before
    assert [path.name for path in data.iterdir()] == [splits.root.name]  # one tree, no temporary leftovers


def test_pet_image_folder_interrupted_export_leaves_no_half_written_folder(
    pet_download, pet_never_downloads, monkeypatch, tmp_path
):
    download_root, _ = pet_download
    write_jpeg = image_folders._write_jpeg
    written = []

    def write_then_stop(image, path, image_size):
        if written:
            raise KeyboardInterrupt  # the learner presses Stop during the export
        written.append(path)
        write_jpeg(image, path, image_size)

    monkeypatch.setattr(image_folders, "_write_jpeg", write_then_stop)
    with pytest.raises(KeyboardInterrupt):
        cu.pet_image_folder(root=tmp_path / "pets", download_root=download_root, **PET_KWARGS)
    assert len(written) == 1 and list(tmp_path.iterdir()) == []  # neither the tree nor its hidden work folder


# ---------------------------------------------------------------- ResNet-18 weights through torch.hub's cache


def place_resnet18_checkpoint(torch_home: Path, seed: int = 0) -> dict[str, torch.Tensor]:
    """Put a randomly initialised ResNet-18 where torchvision's IMAGENET1K_V1 weights are cached; return its state.

    The file goes to ``<torch_home>/hub/checkpoints/<the file name of ResNet18_Weights.IMAGENET1K_V1.url>``
    (``resnet18-f37072fd.pth``), in the format of the real file (``torch.save`` of a state dict).
    torch.hub checks the hash in the file name only while downloading, never for a cached file
    (``torch.hub.load_state_dict_from_url``), so this file is accepted although its SHA-256 does not
    start with ``f37072fd``. Point ``TORCH_HOME`` at ``torch_home`` (read at call time) to use it.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        state = torchvision.models.resnet18(weights=None).state_dict()
    url = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url
    folder = torch_home / "hub" / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(state, folder / Path(urlparse(url).path).name)
    return state


def test_resnet18_imagenet_weights_load_from_torch_hubs_cache(monkeypatch, tmp_path, capsys):
    torch_home = tmp_path / "torch"
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    assert torch.hub.get_dir() == str(torch_home / "hub")  # read at call time (and no torch.hub.set_dir in force)
    state = place_resnet18_checkpoint(torch_home)
    checkpoint = torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    assert checkpoint.is_file()
    assert not hashlib.sha256(checkpoint.read_bytes()).hexdigest().startswith("f37072fd")  # accepted anyway
    monkeypatch.setattr(torch.hub, "download_url_to_file",
                        lambda *args, **kwargs: pytest.fail("torch.hub tried to download"))
    model = torchvision.models.resnet18(weights=torchvision.models.ResNet18_Weights.IMAGENET1K_V1)
    assert "Downloading" not in capsys.readouterr().out
    loaded = model.state_dict()
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[key], state[key]) for key in state)
    assert model.fc.out_features == len(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"]) == 1000
    with torch.inference_mode():
        assert model.eval()(torch.zeros(2, 3, 64, 64)).shape == (2, 1000)


def test_load_pretrained_online_path_is_torchvisions_resnet18_with_its_metadata(monkeypatch, tmp_path, capsys):
    torch_home = tmp_path / "torch"
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    state = place_resnet18_checkpoint(torch_home, seed=3)
    monkeypatch.setattr(torch.hub, "download_url_to_file",
                        lambda *args, **kwargs: pytest.fail("torch.hub tried to download"))
    pretrained = cu.load_pretrained("resnet18", num_classes=6)
    assert capsys.readouterr().out == ""  # no banner: this is the network that was asked for
    assert pretrained.is_pretrained and pretrained.substitute_for is None and pretrained.arch == "resnet18"
    assert pretrained.weights == "ResNet18_Weights.IMAGENET1K_V1"
    assert pretrained.label == "resnet18 with ImageNet weights ResNet18_Weights.IMAGENET1K_V1"
    loaded = pretrained.model.state_dict()
    assert all(torch.equal(loaded[key], state[key]) for key in state if not key.startswith("fc."))
    assert pretrained.model.fc.out_features == 6  # the new head
    assert pretrained.categories == tuple(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"])
    t = pretrained.transforms
    assert (t.crop_size, t.resize_size, t.mean, t.std) == ([224], [256], [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    assert cu.find_head(pretrained.untrained(6))[1].out_features == 6


# ---------------------------------------------------------------- open_clip ViT-B-32 from the Hugging Face cache

CLIP_COMMIT = "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"  # any 40 hex digits: refs/main names the snapshot


def place_open_clip_checkpoint(
    hub_cache: Path, model_name: str = cc.DEFAULT_CLIP_MODEL, pretrained: str = cc.DEFAULT_CLIP_PRETRAINED,
    seed: int = 0,
) -> tuple[Path, dict[str, torch.Tensor]]:
    """Put a randomly initialised open_clip model where a download of ``(model_name, pretrained)`` would be.

    open_clip's pretrained config names a Hugging Face repository (``hf_hub``, here with no file name,
    so open_clip's default names apply) and prefers the safetensors file ``HF_SAFE_WEIGHTS_NAME``. The
    file is stored (as float16, half the size; open_clip casts it when loading) in the cache layout
    huggingface_hub writes: ``models--<org>--<name>/blobs/<sha256>``, a relative symlink to it from
    ``snapshots/<commit>/<file>``, and ``refs/main`` holding the commit. Returns the snapshot path and
    the saved tensors.
    """
    config = open_clip.get_pretrained_cfg(model_name, pretrained)
    repo_id, filename = os.path.split(config["hf_hub"])
    assert filename == "", f"expected open_clip's default file names for {config['hf_hub']}"
    filename = open_clip.constants.HF_SAFE_WEIGHTS_NAME  # "open_clip_model.safetensors", tried first
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = open_clip.create_model(model_name, pretrained=None)
    state = {key: value.detach().to(torch.float16).contiguous() for key, value in model.state_dict().items()}
    payload = safetensors.torch.save(state, metadata={"format": "pt"})
    repo = hub_cache / ("models--" + repo_id.replace("/", "--"))
    blob = repo / "blobs" / hashlib.sha256(payload).hexdigest()
    blob.parent.mkdir(parents=True)
    blob.write_bytes(payload)
    snapshot = repo / "snapshots" / CLIP_COMMIT / filename
    snapshot.parent.mkdir(parents=True)
    snapshot.symlink_to(os.path.relpath(blob, snapshot.parent))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(CLIP_COMMIT)  # huggingface_hub writes the hash without a newline
    return snapshot, state


@pytest.fixture()
def hub_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """An empty Hugging Face hub cache in tmp_path that huggingface_hub uses by default.

    HF_HOME / HF_HUB_CACHE are read once, when ``huggingface_hub.constants`` is imported (long before
    any test), so setting the variables now would change nothing; ``hf_hub_download(cache_dir=None)``
    reads ``constants.HF_HUB_CACHE`` at call time, so that module attribute is the narrowest seam.
    huggingface_hub 2.4 (the locked version) builds telemetry request headers even with
    ``local_files_only=True`` and, for that, fetches a registry from huggingface.co; ``course_utils.pretrained_clip``
    switches telemetry off around its look-ups and downloads. The fixture proves it: any attempt to open
    a network connection during the test fails it.
    """
    cache = (tmp_path / "hf-hub").resolve()
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_TELEMETRY", False)  # the learner's default

    attempts: list[object] = []  # recorded, not raised: huggingface_hub swallows errors of its telemetry fetch

    def no_network(self, address, *args, **kwargs):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(address)
            raise OSError(f"the test forbids network connections (to {address})")
        return real_connect(self, address, *args, **kwargs)

    real_connect = socket.socket.connect
    monkeypatch.setattr(socket.socket, "connect", no_network)
    real_download = open_clip.pretrained.hf_hub_download
    telemetry_during_calls: list[bool] = []

    def watched_download(*args, **kwargs):  # every look-up and download must run with telemetry off
        telemetry_during_calls.append(not huggingface_hub.constants.HF_HUB_DISABLE_TELEMETRY)
        return real_download(*args, **kwargs)

    monkeypatch.setattr(open_clip.pretrained, "hf_hub_download", watched_download)
    yield cache
    assert telemetry_during_calls and not any(telemetry_during_calls), \
        f"huggingface_hub called with telemetry on: {telemetry_during_calls}"
    assert not attempts, f"the test tried to open network connections to {attempts}"


def test_load_clip_online_path_loads_vit_b_32_from_the_hugging_face_cache(hub_cache, monkeypatch, capsys):
    snapshot, state = place_open_clip_checkpoint(hub_cache)
    report = huggingface_hub.scan_cache_dir(hub_cache)  # huggingface_hub's own reading of the layout
    assert not report.warnings
    [repo] = report.repos
    [revision] = repo.revisions
    assert repo.repo_id == "laion/CLIP-ViT-B-32-laion2B-s34B-b79K" and set(repo.refs) == {"main"}
    assert revision.commit_hash == CLIP_COMMIT and [f.file_name for f in revision.files] == [snapshot.name]
    monkeypatch.setattr(cc, "hub_reachable", lambda *args, **kwargs: pytest.fail("a cached model needs no network"))
    assert cc.cached_clip_checkpoint("ViT-B-32", "laion2b_s34b_b79k") == str(snapshot)

    clip = cu.load_clip()
    out = capsys.readouterr().out
    assert clip.is_pretrained is True and "STAND-IN" not in out and "STAND-IN" not in clip.label
    assert clip.label == "ViT-B-32 (laion2b_s34b_b79k)"
    config = open_clip.get_pretrained_cfg("ViT-B-32", "laion2b_s34b_b79k")
    assert clip.image_size == 224 and clip.mean == config["mean"] and clip.std == config["std"]
    assert clip.embed_dim == 512 and not clip.model.training
    loaded = clip.model.state_dict()
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[key].cpu(), state[key].to(loaded[key].dtype)) for key in state)
    # open_clip's own preprocessing and a zero-shot pass: two images, two prompts.
    photos = [Image.fromarray(cu.sample_photo(name)) for name in ("chelsea", "rocket")]
    assert clip.preprocess(photos[0]).shape == (3, 224, 224)
    images = torch.stack([torch.from_numpy(np.array(photo)).permute(2, 0, 1) for photo in
                          (photos[0].resize((300, 200)), photos[1].resize((300, 200)))])
    image_embeddings = cc.encode_images(clip, images)
    text_embeddings = cc.encode_texts(clip, ["a photo of a cat", "a photo of a rocket"])
    assert image_embeddings.shape == text_embeddings.shape == (2, 512)
    torch.testing.assert_close(image_embeddings.norm(dim=1), torch.ones(2))
    probs, preds = cu.zero_shot_classify(image_embeddings, text_embeddings, clip.logit_scale)
    assert probs.shape == (2, 2) and preds.shape == (2,) and preds.dtype == torch.int64
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(2))


def test_cached_clip_checkpoint_is_none_for_an_empty_hugging_face_cache(hub_cache, tmp_path):
    other = tmp_path / "other-hub"
    other.mkdir()
    assert cc.cached_clip_checkpoint("ViT-B-32", "laion2b_s34b_b79k", cache_dir=other) is None
    assert cu.pretrained_clip.cached_clip_checkpoint("ViT-B-32", "laion2b_s34b_b79k") is None  # the default cache, empty
    assert list(other.iterdir()) == [] and list(hub_cache.iterdir()) == []  # looking writes nothing


# ---------------------------------------------------------------- CIFAR-10 in its python-pickle batches


class _Python2Pickler(pickle._Pickler):  # type: ignore[misc, name-defined]  # the pure-Python pickler
    """Pickles ``bytes`` as Python 2 ``str`` (opcodes SHORT_BINSTRING / BINSTRING), as cPickle did.

    CIFAR-10's batches were written by Python 2, so its keys, strings and pixel buffers are Python 2
    ``str``: ``pickle.load(f, encoding="bytes")`` (the data set's own recipe) reads them as bytes
    (``b"data"``), ``encoding="latin1"`` (what torchvision uses) as text (``"data"``).
    """

    dispatch = pickle._Pickler.dispatch.copy()  # type: ignore[attr-defined]

    def save_python2_str(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_python2_str


def _python2_pickle(obj: Any) -> bytes:
    buffer = io.BytesIO()
    _Python2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


CIFAR_TRAIN_PER_BATCH = 4
CIFAR_TEST_SIZE = 6


def write_cifar10_batches(data_root: Path, seed: int = 0) -> dict[str, tuple[np.ndarray, list[int]]]:
    """``<data_root>/cifar-10-batches-py/`` as the official archive unpacks: data_batch_1-5, test_batch, batches.meta.

    Each batch is a pickled dict with ``b"batch_label"``, ``b"labels"`` (ints), ``b"data"`` (uint8
    N×3072: the 1,024 red values row by row, then green, then blue) and ``b"filenames"``;
    ``batches.meta`` has ``b"label_names"``, ``b"num_cases_per_batch"`` and ``b"num_vis"`` (3072).
    Returns each batch's pixels and labels.
    """
    folder = data_root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    generator = np.random.default_rng(seed)
    batches: dict[str, tuple[np.ndarray, list[int]]] = {}
    specs = [(f"data_batch_{n}", f"training batch {n} of 5", CIFAR_TRAIN_PER_BATCH, (n - 1) * 3) for n in range(1, 6)]
    for name, batch_label, count, first_label in [*specs, ("test_batch", "testing batch 1 of 1", CIFAR_TEST_SIZE, 7)]:
        data = generator.integers(0, 256, size=(count, 3072), dtype=np.uint8)
        labels = [(first_label + i) % 10 for i in range(count)]
        filenames = [f"{cu.CIFAR10_CLASSES[label]}_s_{1000 + len(batches) * 10 + i:06d}.png".encode()
                     for i, label in enumerate(labels)]
        entry = {b"batch_label": batch_label.encode(), b"labels": labels, b"data": data, b"filenames": filenames}
        (folder / name).write_bytes(_python2_pickle(entry))
        batches[name] = (data, labels)
    meta = {b"num_cases_per_batch": CIFAR_TRAIN_PER_BATCH, b"label_names": [n.encode() for n in cu.CIFAR10_CLASSES],
            b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(_python2_pickle(meta))
    return batches


def accept_cifar10_fixture(monkeypatch: pytest.MonkeyPatch, data_root: Path) -> None:
    """Give torchvision's CIFAR10 the fixture files' md5s (the class attributes its integrity check reads).

    The md5 values in ``CIFAR10.train_list``, ``test_list`` and ``meta`` are those of the real files;
    replacing just these values lets torchvision's own ``check_integrity`` run on the fixture (a
    changed byte is still rejected). A tripwire makes sure its downloader is never started.
    """
    from torchvision.datasets import cifar

    folder = data_root / tv_datasets.CIFAR10.base_folder

    def md5(name: str) -> str:
        return hashlib.md5((folder / name).read_bytes()).hexdigest()

    cls = tv_datasets.CIFAR10
    monkeypatch.setattr(cls, "train_list", [[name, md5(name)] for name, _ in cls.train_list])
    monkeypatch.setattr(cls, "test_list", [[name, md5(name)] for name, _ in cls.test_list])
    monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": md5(cls.meta["filename"])})
    monkeypatch.setattr(cifar, "download_and_extract_archive",
                        lambda *args, **kwargs: pytest.fail("CIFAR10 tried to download"))


def test_cifar10_fixture_matches_the_official_python_format(tmp_path):
    write_cifar10_batches(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    assert sorted(p.name for p in folder.iterdir()) == ["batches.meta", *[f"data_batch_{n}" for n in range(1, 6)],
                                                        "test_batch"]
    with open(folder / "data_batch_1", "rb") as handle:  # the recipe on the CIFAR-10 web page
        entry = pickle.load(handle, encoding="bytes")
    assert sorted(entry) == [b"batch_label", b"data", b"filenames", b"labels"]
    assert entry[b"data"].dtype == np.uint8 and entry[b"data"].shape == (CIFAR_TRAIN_PER_BATCH, 3072)
    assert entry[b"batch_label"] == b"training batch 1 of 5" and entry[b"filenames"][0].endswith(b".png")
    with open(folder / "batches.meta", "rb") as handle:
        meta = pickle.load(handle, encoding="latin1")  # torchvision's way: Python 2 strings become text
    assert meta == {"num_cases_per_batch": CIFAR_TRAIN_PER_BATCH, "label_names": list(cu.CIFAR10_CLASSES),
                    "num_vis": 3072}


def test_cifar10_online_path_reads_the_python_batches(monkeypatch, tmp_path, capsys):
    data = tmp_path / "data"
    batches = write_cifar10_batches(data)
    accept_cifar10_fixture(monkeypatch, data)
    monkeypatch.setenv("COURSE_DATA_DIR", str(data))
    images, labels, is_standin = cu.cifar10_tensors(train=True)
    assert is_standin is False and "STAND-IN" not in capsys.readouterr().out
    assert images.shape == (5 * CIFAR_TRAIN_PER_BATCH, 3, 32, 32) and images.dtype == torch.uint8
    train_pixels = np.concatenate([batches[f"data_batch_{n}"][0] for n in range(1, 6)])
    # A value written at channel c, row y, column x of image i (offset c*1024 + y*32 + x) comes back there.
    for i, c, y, x in ((0, 0, 0, 0), (5, 1, 7, 30), (19, 2, 31, 31), (12, 2, 4, 9)):
        assert int(images[i, c, y, x]) == int(train_pixels[i, c * 1024 + y * 32 + x])
    assert torch.equal(images, torch.from_numpy(train_pixels.reshape(-1, 3, 32, 32)))
    assert labels.dtype == torch.int64
    assert labels.tolist() == [label for n in range(1, 6) for label in batches[f"data_batch_{n}"][1]]

    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "elsewhere"))  # the root argument wins
    test = cu.load_cifar10(train=False, root=data)
    assert isinstance(test, tv_datasets.CIFAR10) and test.is_standin is False
    assert test.classes == list(cu.CIFAR10_CLASSES)
    assert len(test) == CIFAR_TEST_SIZE and test.targets == batches["test_batch"][1]
    test_pixels = batches["test_batch"][0]
    image, label = test[3]
    assert image.size == (32, 32) and label == batches["test_batch"][1][3]
    assert image.getpixel((9, 4)) == tuple(int(test_pixels[3, c * 1024 + 4 * 32 + 9]) for c in range(3))
    test_images, test_labels, test_standin = cu.cifar10_tensors(train=False, root=data)
    assert test_images.shape == (CIFAR_TEST_SIZE, 3, 32, 32) and test_standin is False
    assert test_labels.tolist() == batches["test_batch"][1]
    # torchvision's own integrity check really runs on these files: one changed byte and they are refused.
    batch = data / "cifar-10-batches-py" / "data_batch_3"
    raw = bytearray(batch.read_bytes())
    raw[-40] ^= 0xFF
    batch.write_bytes(bytes(raw))
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        tv_datasets.CIFAR10(data, train=True, download=False)
