"""Tests of course_utils.batches: the one batch-iteration core behind every loop of the course.

Each property is checked on all five loops that share it (train_step, eval_step, predict,
extract_features, encode_images): the caller's mode comes back module by module, non-finite
values raise one kind of error naming the batch, and the model stays where it is unless a
device is given.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

import course_utils as cu
from course_utils import pretrained_clip as cc
from course_utils.batches import BatchGuard, device_batches, model_device, model_mode, place_model

FP32 = cu.runtime.PrecisionPolicy(torch.device("cpu"), None, False, False)


class Classifier(nn.Module):
    """A backbone with a batch-norm layer and an ``fc`` head (where extract_features looks)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU())
        self.fc = nn.Linear(5, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x))


def _classifier() -> Classifier:
    torch.manual_seed(0)
    return Classifier()


def _loader(n: int = 12, nan_at: int | None = None) -> cu.TensorLoader:
    images = torch.randn(n, 1, 2, 2, generator=torch.Generator().manual_seed(1))
    if nan_at is not None:
        images[nan_at] = float("nan")
    return cu.TensorLoader(images, torch.arange(n) % 3, 4)


LOOPS: dict[str, Callable[[nn.Module, cu.TensorLoader], object]] = {
    "train_step": lambda m, loader: cu.train_step(m, loader, nn.CrossEntropyLoss(),
                                                  torch.optim.SGD(m.parameters(), lr=0.01), precision=FP32),
    "eval_step": lambda m, loader: cu.eval_step(m, loader, nn.CrossEntropyLoss(), precision=FP32),
    "predict": lambda m, loader: cu.evaluation.predict(m, loader, precision=FP32),
    "extract_features": lambda m, loader: cu.extract_features(m, loader),
}


@pytest.mark.parametrize("loop", LOOPS)
def test_every_loop_gives_each_submodule_its_mode_back(loop: str) -> None:
    model = _classifier()
    for start in ("train", "eval", "mixed"):
        model.train(start != "eval")
        if start == "mixed":
            model.body[2].eval()  # batch norm frozen inside a training model
        before = [m.training for m in model.modules()]
        LOOPS[loop](model, _loader())
        assert [m.training for m in model.modules()] == before, f"{loop} changed the modes of a {start} model"


@pytest.mark.parametrize("loop", LOOPS)
def test_every_loop_raises_on_non_finite_values_naming_the_batch(loop: str) -> None:
    with pytest.raises(FloatingPointError, match=r"expected finite values, got nan at batch 2\b"):
        LOOPS[loop](_classifier(), _loader(nan_at=9))


@pytest.mark.parametrize("loop", LOOPS)
def test_every_loop_runs_where_the_model_is_without_a_device(loop: str) -> None:
    model = _classifier().to("meta")
    with pytest.raises((NotImplementedError, RuntimeError)):  # meta tensors cannot be computed on
        LOOPS[loop](model, _loader())
    assert model_device(model).type == "meta"  # ... and the model was not moved to the CPU first


def test_encode_images_uses_the_same_core() -> None:
    torch.manual_seed(0)
    clip = cc.load_clip("ViT-S-32-alt", None, device="cpu")  # the smallest built-in open_clip ViT, random weights
    clip.model.train()
    images = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    cc.encode_images(clip, images, batch_size=2)
    assert clip.model.training  # the caller's mode is back
    with torch.no_grad():
        next(clip.model.visual.parameters()).fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="image embeddings: expected finite values, got nan at batch 0"):
        cc.encode_images(clip, images, batch_size=2)


def test_place_model_moves_only_when_asked_and_takes_the_devices_policy() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten())
    device, policy = place_model(model, None, None)
    assert device == torch.device("cpu") and policy == cu.precision_policy(device, channels_last=True)
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last) == policy.channels_last
    device, policy = place_model(nn.Linear(2, 2), "cpu", FP32)
    assert policy is FP32
    device, _ = place_model(nn.Linear(2, 2), None, FP32)  # a given policy says where to run
    assert device == FP32.device
    meta_policy = cu.runtime.PrecisionPolicy(torch.device("meta"), None, False, False)
    with pytest.raises(ValueError, match="precision: expected a policy for the cpu device the loop runs on, got one "
                                         "for meta"):
        place_model(nn.Linear(2, 2), "cpu", meta_policy)
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module, got function"):
        place_model(lambda x: x, None, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="precision: expected a PrecisionPolicy"):
        place_model(nn.Linear(2, 2), None, "bf16")  # type: ignore[arg-type]


def test_device_batches_accepts_pairs_or_images_alone_and_names_bad_batches() -> None:
    policy = cu.runtime.PrecisionPolicy(torch.device("cpu"), None, False, True)
    pair = (torch.zeros(2, 1, 3, 3), torch.tensor([4, 1]))
    alone = torch.zeros(2, 1, 3, 3)
    (i, images, labels, top), (j, images2, none, no_top) = device_batches([pair, alone], torch.device("cpu"), policy)
    assert (i, j, top, none, no_top) == (0, 1, 4, None, None)
    assert images.is_contiguous(memory_format=torch.channels_last)
    soft = (torch.zeros(2, 1, 3, 3), torch.full((2, 3), 1 / 3))
    assert list(device_batches([soft], torch.device("cpu"), policy))[0][3] is None
    for bad, message in (((torch.zeros(2), [0, 1]), r"loader: expected labels as a tensor, got list \[0, 1\] in batch 0"),
                         (([0.0], torch.tensor([0])), r"loader: expected images as a tensor, got list \[0.0\] in batch 0")):
        with pytest.raises(TypeError, match=message):
            list(device_batches([bad], torch.device("cpu"), policy))
    with pytest.raises(ValueError, match=r"loader: expected batches of \(images, labels\), got a tuple of 3: a tensor of shape \(2, 1, 3, 3\)"):
        list(device_batches([(alone, alone, alone)], torch.device("cpu"), policy))


def test_batch_guard_checks_shapes_labels_and_reports_the_first_bad_batch() -> None:
    guard = BatchGuard(torch.device("cpu"), "model outputs")
    with pytest.raises(ValueError, match=r"model: expected one row of outputs per image \(4\) in batch 0, got 3"):
        guard.check_outputs(0, torch.zeros(3, 2), torch.zeros(4, dtype=torch.long), label_max=0)
    with pytest.raises(ValueError, match=r"targets: expected soft targets of shape \(2, 3\)"):
        guard.check_outputs(1, torch.zeros(2, 3), torch.zeros(2, 4), label_max=None)
    guard.record(0, torch.ones(3))
    guard.record(0, torch.ones(0, 3))  # an empty batch has nothing to report
    guard.record(1, torch.tensor([1.0, float("inf"), float("nan")]))
    guard.record(2, torch.tensor([float("nan")]))
    with pytest.raises(FloatingPointError, match="model outputs: expected finite values, got inf at batch 1"):
        guard.finish()


def test_model_mode_restores_even_after_an_error() -> None:
    model = _classifier().eval()
    with pytest.raises(RuntimeError, match="boom"), model_mode(model, True):
        assert model.training
        raise RuntimeError("boom")
    assert not any(m.training for m in model.modules())
