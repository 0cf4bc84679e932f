"""Tests of course_utils.model_files: save with a card, load back, classify a file you bring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from course_utils import model_files as mf
from course_utils.models import TinyVGG

CLASSES = ("dark", "light")


def _card(**changes) -> mf.ModelCard:  # noqa: ANN003
    base = dict(architecture="TinyVGG", class_names=CLASSES, image_size=(28, 28), channels=1, mean=(0.5,), std=(0.25,),
                arguments={"in_channels": 1, "hidden_channels": 4, "num_classes": 2, "image_size": 28}, resize="pad")
    return mf.ModelCard(**{**base, **changes})


def _model(seed: int = 0) -> TinyVGG:
    torch.manual_seed(seed)
    return TinyVGG(in_channels=1, hidden_channels=4, num_classes=2, image_size=28)


def test_save_and_load_give_the_same_outputs_and_card(tmp_path: Path) -> None:
    model = _model().eval()
    path = mf.save_classifier(tmp_path / "tinyvgg.pt", model, _card())
    loaded, card = mf.load_classifier(path)
    assert card == _card() and not loaded.training
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def test_a_card_that_does_not_fit_the_weights_fails_when_saving(tmp_path: Path) -> None:
    wrong = _card(arguments={"in_channels": 1, "hidden_channels": 8, "num_classes": 2, "image_size": 28})
    with pytest.raises(ValueError, match=r"^card: expected the architecture and arguments of this model"):
        mf.save_classifier(tmp_path / "m.pt", _model(), wrong)
    assert not (tmp_path / "m.pt").exists()


def test_a_bare_state_dict_is_refused_with_a_reason(tmp_path: Path) -> None:
    torch.save(_model().state_dict(), tmp_path / "bare.pt")
    with pytest.raises(ValueError, match="a bare state_dict cannot be rebuilt"):
        mf.load_classifier(tmp_path / "bare.pt")


def test_preprocess_pads_inverts_and_normalises(tmp_path: Path) -> None:
    # a black square on a white 60×30 background: inverted it becomes light on dark, padded to a square
    pixels = np.full((30, 60), 255, np.uint8)
    pixels[5:25, 20:40] = 0
    Image.fromarray(pixels).save(tmp_path / "photo.png")
    batch = mf.preprocess_file(tmp_path / "photo.png", _card(invert=True, mean=(0.0,), std=(1.0,)))
    assert batch.shape == (1, 1, 28, 28) and batch.dtype == torch.float32
    assert batch[0, 0, 14, 14].item() == pytest.approx(1.0, abs=0.02)  # the square, now light, in the centre
    assert batch[0, 0, 0, 0].item() == pytest.approx(0.0, abs=0.02)  # the padding takes the background's value
    normalised = mf.preprocess_file(tmp_path / "photo.png", _card(invert=True))
    torch.testing.assert_close(normalised, (batch - 0.5) / 0.25)


def test_preprocess_applies_the_exif_orientation(tmp_path: Path) -> None:
    # stored 40 wide × 20 high with the left half white; orientation 6 means "rotate 90° clockwise to view"
    pixels = np.zeros((20, 40), np.uint8)
    pixels[:, :20] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(pixels).convert("RGB").save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)
    card = _card(channels=3, mean=(0.0,) * 3, std=(1.0,) * 3, resize="crop", image_size=(40, 20))
    upright = mf.preprocess_file(tmp_path / "phone.jpg", card)[0, 0]
    assert upright.shape == (40, 20)
    assert upright[:20].mean() > 0.9 and upright[20:].mean() < 0.1  # white on top once turned upright


def test_classify_file_returns_the_top_k_in_order(tmp_path: Path) -> None:
    Image.fromarray(np.full((28, 28), 200, np.uint8)).save(tmp_path / "grey.png")
    model = _model()
    top = mf.classify_file(tmp_path / "grey.png", model, _card(), k=2)
    assert [name for name, _ in top] in (["dark", "light"], ["light", "dark"])
    assert top[0][1] >= top[1][1] and sum(p for _, p in top) == pytest.approx(1.0, abs=1e-6)
    logits = model.eval()(mf.preprocess_file(tmp_path / "grey.png", _card()))
    assert top[0][0] == CLASSES[int(logits.argmax())]


def test_bad_input_names_the_argument(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match=r"^path: expected an image file"):
        mf.preprocess_file(tmp_path / "notes.txt", _card())
    with pytest.raises(FileNotFoundError, match=r"^path: expected an existing file"):
        mf.preprocess_file(tmp_path / "missing.jpg", _card())
    with pytest.raises(ValueError, match=r"^k: expected at most 2"):
        Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "x.png")
        mf.classify_file(tmp_path / "x.png", _model(), _card(), k=3)
    with pytest.raises(ValueError, match=r"^mean: expected 1 numbers"):
        _card(mean=(0.5, 0.5))
    with pytest.raises(ValueError, match=r"^resize: expected one of"):
        _card(resize="stretch")
    with pytest.raises(ValueError, match=r"^class_names: expected at least two"):
        _card(class_names=("only",))
    with pytest.raises(FileNotFoundError, match=r"^path: expected a file in an existing folder"):
        mf.save_classifier(tmp_path / "no" / "m.pt", _model(), _card())
    with pytest.raises(TypeError, match=r"^card: expected a ModelCard"):
        mf.save_classifier(tmp_path / "m.pt", _model(), {"architecture": "TinyVGG"})


def test_a_pretrained_architecture_is_rebuilt_by_name(tmp_path: Path) -> None:
    from course_utils.pretrained import load_pretrained

    model = load_pretrained("resnet18", num_classes=3, weights=None).model.eval()
    card = mf.ModelCard(architecture="resnet18", class_names=("a", "b", "c"), image_size=(64, 64), channels=3,
                        mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    loaded, _ = mf.load_classifier(mf.save_classifier(tmp_path / "r18.pt", model, card))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def test_a_card_with_the_wrong_classes_or_image_size_fails_when_saving(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^card: expected 2 class names \(one per output of the model\), got 3"):
        mf.save_classifier(tmp_path / "m.pt", _model(), _card(class_names=("a", "b", "c")))
    with pytest.raises(ValueError, match=r"^card: expected the image size and channels this model takes"):
        mf.save_classifier(tmp_path / "m.pt", _model(), _card(image_size=(32, 32)))
    assert not (tmp_path / "m.pt").exists()


def test_a_transparent_background_counts_as_white_paper(tmp_path: Path) -> None:
    pixels = np.zeros((28, 28, 4), np.uint8)  # fully transparent ...
    pixels[8:20, 8:20] = (0, 0, 0, 255)  # ... around an opaque black square
    Image.fromarray(pixels, "RGBA").save(tmp_path / "cutout.png")
    batch = mf.preprocess_file(tmp_path / "cutout.png", _card(invert=True, mean=(0.0,), std=(1.0,)))
    assert batch[0, 0, 0, 0].item() == pytest.approx(0.0, abs=1e-6)  # white paper, inverted: dark
    assert batch[0, 0, 14, 14].item() == pytest.approx(1.0, abs=1e-6)  # the black object, inverted: light


def test_trim_crops_the_margins_so_the_object_fills_the_picture(tmp_path: Path) -> None:
    # a dark 10×20 (h×w) bar off-centre on a white 60×100 photo: trimmed, it spans the padded picture's full width
    pixels = np.full((60, 100), 255, np.uint8)
    pixels[5:15, 60:80] = 0
    Image.fromarray(pixels).convert("RGB").save(tmp_path / "shop.png")
    small = mf.preprocess_file(tmp_path / "shop.png", _card(invert=True, mean=(0.0,), std=(1.0,)))[0, 0]
    large = mf.preprocess_file(tmp_path / "shop.png", _card(invert=True, mean=(0.0,), std=(1.0,), trim=True))[0, 0]
    assert 8 <= (small > 0.5).sum().item() <= 30  # untrimmed: 10×20 of 60×100 pixels shrink to about 3×6 of 28×28
    assert (large > 0.5).sum(dim=1).max().item() == 28  # a full row of bar: it fills the width
    assert (large > 0.5).sum().item() == pytest.approx(28 * 14, abs=28)  # 20×10 scaled to 28×14, centred
    # the padding takes the corners' colour (inverted: dark), not the median of the trimmed picture (the bar)
    assert large[0, 0].item() == pytest.approx(0.0, abs=0.02) and large[14, 14].item() == pytest.approx(1.0, abs=0.02)


def test_trim_keeps_a_picture_of_background_only_and_survives_saving(tmp_path: Path) -> None:
    blank = torch.full((3, 20, 30), 0.8)
    assert mf._trim_margins(blank)[0].shape == (3, 20, 30)
    grain = blank.clone()
    grain[0, 10, 12] += 0.04  # closer to the corners' colour than the 5% tolerance: still background
    assert mf._trim_margins(grain)[0].shape == (3, 20, 30)
    grain[0, 10, 12] += 0.02
    cropped, background = mf._trim_margins(grain)
    assert cropped.shape == (3, 1, 1) and torch.equal(background, torch.full((3,), 0.8))
    path = mf.save_classifier(tmp_path / "m.pt", _model(), _card(trim=True, invert=True))
    assert mf.load_classifier(path)[1] == _card(trim=True, invert=True)
    saved = torch.load(path, weights_only=True)
    del saved["card"]["trim"]  # a file written before the card had `trim` loads with trim=False
    torch.save(saved, tmp_path / "old.pt")
    assert mf.load_classifier(tmp_path / "old.pt")[1].trim is False


def test_trim_and_invert_must_be_booleans() -> None:
    with pytest.raises(TypeError, match=r"^trim: expected True or False"):
        _card(trim="yes")
    with pytest.raises(TypeError, match=r"^invert: expected True or False"):
        _card(invert=1)
    with pytest.raises(TypeError, match=r"^pixels: expected a float tensor"):
        mf._trim_margins(torch.zeros(20, 30, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"^tolerance: expected a number in \[0, 1\)"):
        mf._trim_margins(torch.zeros(1, 4, 4), tolerance=1.5)


def test_resize_to_prepares_a_file_as_torchvisions_resize_and_center_crop(tmp_path: Path) -> None:
    """ImageNet presets resize the shorter side to 256, then crop 224: a card with resize_to does the same."""
    from torchvision.transforms import v2

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (90, 130, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    for interpolation, mode in (("bilinear", v2.InterpolationMode.BILINEAR), ("bicubic", v2.InterpolationMode.BICUBIC)):
        card = mf.ModelCard(architecture="resnet18", class_names=CLASSES, image_size=(56, 56), channels=3, mean=mean,
                            std=std, resize="crop", resize_to=64, interpolation=interpolation)
        ours = mf.preprocess_file(tmp_path / "wide.png", card)
        image = torch.from_numpy(pixels).permute(2, 0, 1).float() / 255
        reference = v2.Compose([v2.Resize(64, interpolation=mode, antialias=True), v2.CenterCrop(56)])(image)
        reference = v2.functional.normalize(reference.clamp(0, 1), list(mean), list(std))
        assert ours.shape == (1, 3, 56, 56)
        torch.testing.assert_close(ours[0], reference, atol=1e-5, rtol=0)
    bilinear = mf.ModelCard(architecture="resnet18", class_names=CLASSES, image_size=(56, 56), channels=3, mean=mean,
                            std=std, resize="crop", resize_to=64)
    without = mf.ModelCard(architecture="resnet18", class_names=CLASSES, image_size=(56, 56), channels=3, mean=mean,
                           std=std, resize="crop")  # the shorter side straight to 56, same interpolation: another picture
    difference = mf.preprocess_file(tmp_path / "wide.png", without) - mf.preprocess_file(tmp_path / "wide.png", bilinear)
    assert difference.abs().max() > 0.1


def test_resize_to_interpolation_and_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^resize_to: expected None, or with resize='crop' a size >= the crop 28"):
        _card(resize="crop", resize_to=20)
    with pytest.raises(ValueError, match=r"^resize_to: expected None, or with resize='crop'"):
        _card(resize="pad", resize_to=32)
    with pytest.raises(ValueError, match=r"^interpolation: expected one of"):
        _card(interpolation="nearest")
    with pytest.raises(TypeError, match=r"^arguments: expected plain values only"):
        _card(arguments={"in_channels": 1, "dtype": torch.float32})
    from collections import namedtuple

    with pytest.raises(TypeError, match=r"^arguments: expected plain values only"):  # weights_only cannot read it
        _card(arguments={"image_size": namedtuple("Size", "h w")(28, 28)})
    path = mf.save_classifier(tmp_path / "m.pt", _model(), _card())
    saved = torch.load(path, weights_only=True)
    del saved["card"]["channels"]
    torch.save(saved, tmp_path / "broken.pt")
    with pytest.raises(ValueError, match=r"^path: expected a valid model card in .*broken.pt.*TypeError"):
        mf.load_classifier(tmp_path / "broken.pt")
