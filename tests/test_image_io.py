"""course_utils.image_io: every backend reads and writes the same pixels; a broken one is skipped."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import course_utils as cu
from course_utils import image_io

#: The backends that work in this environment (TorchCodec only where it is installed and loads).
WORKING = [name for name in cu.image_io.IMAGE_BACKENDS if not isinstance(image_io._works(name, image_io._FACTORIES[name]), str)]


@pytest.fixture(autouse=True)
def _fresh_backend_choice(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(image_io.BACKEND_ENV, raising=False)
    image_io._backend.cache_clear()
    yield
    image_io._backend.cache_clear()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | np.ndarray]:
    """PNG files in grey, RGB and RGBA, and a JPEG, written by PIL, with the arrays they hold."""
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    arrays = {
        "gray": rng.integers(0, 256, (7, 5), dtype=np.uint8),
        "rgb": rng.integers(0, 256, (6, 9, 3), dtype=np.uint8),
        "rgba": rng.integers(0, 256, (4, 3, 4), dtype=np.uint8),
    }
    out: dict[str, Path | np.ndarray] = {}
    for name, array in arrays.items():
        Image.fromarray(array).save(folder / f"{name}.png")
        out[name] = folder / f"{name}.png"
        out[f"{name}_array"] = array
    x, y = np.meshgrid(np.arange(64) * 3, np.arange(48) * 5)  # smooth gradients, as JPEG expects
    photo = np.stack([x, y, np.full_like(x, 128)], axis=-1).astype(np.uint8)
    Image.fromarray(photo).save(folder / "photo.jpg", quality=90)
    out["jpg"] = folder / "photo.jpg"
    out["jpg_array"] = photo
    return out


def use(monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    monkeypatch.setenv(image_io.BACKEND_ENV, backend)


@pytest.mark.parametrize("backend", WORKING)
def test_png_decodes_to_the_exact_pixels_in_every_mode(backend: str, files, monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, backend)
    gray, rgb, rgba = files["gray_array"], files["rgb_array"], files["rgba_array"]
    expected = {
        ("gray", "UNCHANGED"): torch.from_numpy(gray)[None],
        ("gray", "GRAY"): torch.from_numpy(gray)[None],
        ("gray", "RGB"): torch.from_numpy(gray)[None].expand(3, -1, -1),
        ("rgb", "UNCHANGED"): torch.from_numpy(rgb).permute(2, 0, 1),
        ("rgb", "RGB"): torch.from_numpy(rgb).permute(2, 0, 1),
        ("rgba", "UNCHANGED"): torch.from_numpy(rgba).permute(2, 0, 1),
        ("rgba", "RGB"): torch.from_numpy(rgba[:, :, :3]).permute(2, 0, 1),
    }
    for (name, mode), want in expected.items():
        got = cu.decode_image(files[name], mode=mode)
        assert got.dtype == torch.uint8, (backend, name, mode, got.dtype)
        assert torch.equal(got, want), f"{backend}: {name}.png read with mode={mode} gave {tuple(got.shape)} != {tuple(want.shape)}"
    # RGB to GRAY: every backend uses the ITU-R 601 luma weights, to within rounding
    got = cu.decode_image(files["rgb"], mode="GRAY").float()
    luma = torch.from_numpy(rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[None]
    assert got.shape == (1, 6, 9) and (got - luma).abs().max() <= 1.5


def test_backends_agree_on_a_jpeg(files, monkeypatch: pytest.MonkeyPatch) -> None:
    """JPEG decoders may round differently, but only by a few levels; all are close to the original."""
    decoded = {}
    for backend in WORKING:
        use(monkeypatch, backend)
        decoded[backend] = cu.decode_image(str(files["jpg"])).int()
    original = torch.from_numpy(files["jpg_array"]).permute(2, 0, 1).int()
    for backend, image in decoded.items():
        assert image.shape == (3, 48, 64)
        assert (image - original).abs().float().mean() < 3, backend
        assert (image - decoded["pil"]).abs().max() <= 4, f"{backend} vs PIL"


@pytest.mark.parametrize("writer", WORKING)
@pytest.mark.parametrize("channels", [1, 3])
def test_encode_png_round_trips_through_every_reader(writer: str, channels: int, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    image = torch.randint(0, 256, (channels, 11, 13), dtype=torch.uint8, generator=torch.Generator().manual_seed(channels))
    use(monkeypatch, writer)
    cu.encode_png(image, tmp_path / "x.png")
    cu.encode_png(image[:, :, :5].contiguous(), str(tmp_path / "y.png"))  # a str path works too
    with Image.open(tmp_path / "x.png") as written:
        assert written.format == "PNG" and written.size == (13, 11)
    for reader in WORKING:
        use(monkeypatch, reader)
        assert torch.equal(cu.decode_image(tmp_path / "x.png", mode="UNCHANGED"), image), (writer, reader)
        assert torch.equal(cu.decode_image(tmp_path / "y.png", mode="UNCHANGED"), image[:, :, :5]), (writer, reader)


def test_encode_png_takes_non_contiguous_and_gradient_free_copies(tmp_path: Path) -> None:
    image = torch.randint(0, 256, (8, 6, 3), dtype=torch.uint8).permute(2, 0, 1)  # a C×H×W view, not contiguous
    cu.encode_png(image, tmp_path / "v.png")
    assert torch.equal(cu.decode_image(tmp_path / "v.png"), image)


def test_installed_torchcodec_must_work() -> None:
    """Where TorchCodec is installed (the maintainers' lock pins it with a matching torch) it is the backend."""
    if importlib.util.find_spec("torchcodec") is not None:
        assert cu.image_io.image_backend().startswith("torchcodec "), cu.image_io.image_backend()
        assert WORKING == ["torchcodec", "torchvision", "pil"]
    else:  # the oldest supported stack: no TorchCodec, torchvision reads the files
        assert cu.image_io.image_backend().startswith("torchvision "), cu.image_io.image_backend()
        assert "torchcodec" not in WORKING and "not usable" not in cu.image_io.image_backend()  # not installed: no alarm


def test_a_torchcodec_that_cannot_load_falls_back_to_torchvision(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Colab with torch 2.9 and TorchCodec 0.17: the import raises OSError, not ImportError."""
    def broken():
        raise OSError("Could not load this library: libtorchcodec_image.so (libnvrtc.so.13: cannot open shared object file)")
    monkeypatch.setitem(image_io._FACTORIES, "torchcodec", broken)
    backend = cu.image_io.image_backend()
    assert backend.startswith("torchvision "), backend
    assert "(installed but not usable here: torchcodec (OSError: Could not load this library: libtorchcodec_image.so" in backend
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torchvision's deprecation warning is not passed on to learners
        Image.fromarray(np.zeros((2, 2), dtype=np.uint8)).save(tmp_path / "grey.png")
        assert cu.decode_image(tmp_path / "grey.png").shape == (3, 2, 2)
        cu.encode_png(torch.zeros(1, 2, 2, dtype=torch.uint8), tmp_path / "written.png")
    assert "image files: torchvision" in cu.runtime.setup_text("cpu")


def test_a_backend_that_decodes_wrongly_is_skipped_and_pil_is_the_last_resort(monkeypatch: pytest.MonkeyPatch) -> None:
    def wrong():
        return (lambda path, mode: torch.zeros(3, 2, 3, dtype=torch.uint8)), (lambda image, path: None)
    def missing():
        raise ImportError("No module named 'torchcodec'")
    monkeypatch.setitem(image_io._FACTORIES, "torchcodec", missing)
    monkeypatch.setitem(image_io._FACTORIES, "torchvision", wrong)
    backend = cu.image_io.image_backend()
    assert backend.startswith("pil "), backend
    assert "torchvision (decoded a test image wrongly" in backend and "torchcodec (ImportError" in backend


def test_choosing_a_backend_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, "PIL")
    assert cu.image_io.image_backend().startswith("pil ")
    use(monkeypatch, "jpeg-turbo")
    with pytest.raises(ValueError, match="COURSE_IMAGE_BACKEND"):
        cu.image_io.image_backend()
    monkeypatch.setitem(image_io._FACTORIES, "torchvision", lambda: (_ for _ in ()).throw(RuntimeError("no ops")))
    use(monkeypatch, "torchvision")
    with pytest.raises(RuntimeError, match=r"COURSE_IMAGE_BACKEND='torchvision'.*RuntimeError: no ops"):
        cu.image_io.image_backend()


def test_bad_arguments_get_clear_errors(tmp_path: Path, files) -> None:
    with pytest.raises(ValueError, match="mode"):
        cu.decode_image(files["rgb"], mode="rgb")
    with pytest.raises(FileNotFoundError, match=r"path: .*does not exist"):
        cu.decode_image(tmp_path / "nope.png")
    with pytest.raises(FileNotFoundError, match="is a directory"):
        cu.decode_image(tmp_path)
    with pytest.raises(TypeError, match="path: expected a file path"):
        cu.decode_image(b"\x89PNG")
    with pytest.raises(ValueError, match=r"image: expected a uint8 tensor of shape \(C, H, W\) with C = 1 or 3"):
        cu.encode_png(torch.zeros(3, 4, 4), tmp_path / "f.png")
    with pytest.raises(ValueError, match="C = 1 or 3"):
        cu.encode_png(torch.zeros(4, 4, 3, dtype=torch.uint8), tmp_path / "hwc.png")
    with pytest.raises(TypeError, match="image: expected a uint8 tensor"):
        cu.encode_png(np.zeros((3, 4, 4), dtype=np.uint8), tmp_path / "n.png")
    with pytest.raises(FileNotFoundError, match="does not exist; create it first"):
        cu.encode_png(torch.zeros(1, 4, 4, dtype=torch.uint8), tmp_path / "no" / "folder.png")
    with pytest.raises(TypeError, match="path: expected a file path"):
        cu.encode_png(torch.zeros(1, 4, 4, dtype=torch.uint8), 42)


def test_show_setup_prints_every_time(capsys: pytest.CaptureFixture[str]) -> None:
    text = cu.runtime.setup_text("cpu")
    assert "image files: " + cu.image_io.image_backend() in text
    assert cu.show_setup("cpu") is None
    cu.show_setup("cpu")
    assert capsys.readouterr().out == (text + "\n") * 2


def test_pil_reads_palette_images_as_rgb_when_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A palette PNG has no 'channels' a tensor could keep: the PIL backend expands it to RGB."""
    rgb = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [255, 0, 0]]], dtype=np.uint8)
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(tmp_path / "p.png")
    use(monkeypatch, "pil")
    got = cu.decode_image(tmp_path / "p.png", mode="UNCHANGED")
    assert torch.equal(got, torch.from_numpy(rgb).permute(2, 0, 1))


@pytest.mark.parametrize("backend", WORKING)
@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_every_backend_returns_a_phone_photo_upright(backend: str, orientation: int, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A phone stores pixels as the sensor saw them and an EXIF tag that says how to turn them upright."""
    upright = np.zeros((32, 48, 3), np.uint8)
    upright[:16, :24] = 255  # a white top-left quarter marks which way is up
    stored = {1: upright, 3: np.rot90(upright, 2), 6: np.rot90(upright, 1), 8: np.rot90(upright, -1)}[orientation]
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(np.ascontiguousarray(stored)).save(tmp_path / "phone.png", exif=exif.tobytes())
    use(monkeypatch, backend)
    got = cu.decode_image(tmp_path / "phone.png")
    assert torch.equal(got, torch.from_numpy(upright).permute(2, 0, 1))


@pytest.mark.parametrize("backend", WORKING)
def test_every_backend_expands_a_palette_image_when_unchanged(backend: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    rgb = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [255, 0, 0]]], dtype=np.uint8)
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(tmp_path / "p.png")
    use(monkeypatch, backend)
    assert torch.equal(cu.decode_image(tmp_path / "p.png", mode="UNCHANGED"), torch.from_numpy(rgb).permute(2, 0, 1))
