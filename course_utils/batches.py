"""How every loop of the course walks through batches: one device and precision policy, one set of checks.

``train_step`` and ``eval_step`` (lesson 03), ``predict`` and ``evaluate`` (lessons 03–04),
``extract_features`` (lesson 04) and ``encode_images`` (lesson 05) all run through this module,
so they agree on four things:

* **Device and precision** (``place_model``): a loop runs where the model already is, unless it is
  given a ``device`` (then the model is moved there). Its precision is ``precision_policy(device)``
  unless it is given one: bf16 autocast on capable CPUs and GPUs, fp16 with a GradScaler on older
  GPUs, and ``channels_last`` for conv nets. (``fit`` alone starts on ``get_device()``.)
* **Mode** (``model_mode``): the loop sets ``train()`` or ``eval()`` and gives every submodule its
  previous mode back afterwards.
* **Batches** (``device_batches``): each batch is an ``(images, labels)`` pair or images alone,
  moved to the device in the policy's memory layout.
* **Checks** (``BatchGuard``): labels against the model's outputs on every batch, and non-finite
  losses or outputs, without making a GPU wait for the host in the middle of a pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from ._validate import describe, require_batch, require_device
from .runtime import PrecisionPolicy, precision_policy

__all__ = ["BatchGuard", "device_batches", "model_device", "model_mode", "place_model"]


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer (the CPU for a model without any).

    Behind the loops taught in lessons 03–05 (train_step, eval_step, predict, extract_features, encode_images).
    """
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def uses_convolutions(model: nn.Module) -> bool:
    """Whether ``model`` contains a 2-D convolution (then ``channels_last`` pays off)."""
    return any(isinstance(module, nn.Conv2d) for module in model.modules())


def place_model(
    model: nn.Module, device: torch.device | str | None, precision: PrecisionPolicy | None
) -> tuple[torch.device, PrecisionPolicy]:
    """Put ``model`` where the loop runs and return ``(device, precision policy)``; the one policy of the loops.

    ``device=None`` keeps the model where it is (or moves it to ``precision.device`` when a
    policy is given). ``precision=None`` takes the device's policy; a given policy must be for
    the same kind of device.
    The model is moved to the device and, for conv nets under a ``channels_last`` policy, laid out
    channels-last, which is what its input batches will be.

    Behind the loops taught in lessons 03–05 (train_step, eval_step, predict, extract_features, encode_images).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {describe(model)}")
    if precision is not None and not isinstance(precision, PrecisionPolicy):
        raise TypeError(
            f"precision: expected a PrecisionPolicy (from precision_policy()) or None, got {describe(precision)}"
        )
    if device is not None:
        device = require_device("device", device)
    else:
        device = precision.device if precision is not None else model_device(model)
    if precision is not None and precision.device.type != device.type:
        raise ValueError(
            f"precision: expected a policy for the {device.type} device the loop runs on, got one for "
            f"{precision.device.type} (make it with precision_policy({str(device)!r}))"
        )
    if precision is None:
        precision = precision_policy(device, channels_last=uses_convolutions(model))
    model.to(device)
    if precision.channels_last and uses_convolutions(model):
        model.to(memory_format=torch.channels_last)
    return device, precision


@contextmanager
def model_mode(model: nn.Module, training: bool) -> Iterator[None]:
    """Run a block with ``model`` in training (or evaluation) mode, then give every submodule its old mode back.

    Restoring module by module gives a caller's deliberate mix (say, batch-norm layers held in
    ``eval()`` inside a model that is otherwise training) back after the block; inside the block
    every submodule is in the requested mode.

    Behind the loops taught in lessons 03–05 (train_step, eval_step, predict, extract_features, encode_images).
    """
    modes = [(module, module.training) for module in model.modules()]
    model.train(training)
    try:
        yield
    finally:
        for module, was_training in modes:
            module.training = was_training


class BatchGuard:
    """The checks a pass makes on every batch, in one place; ``finish()`` reports what was only recorded.

    Labels are checked against the model's outputs on every batch. Labels that arrive from the
    host are checked at once, which costs no device synchronisation. Labels that already live on a
    GPU are checked at once in the first batch (one wait per pass, so a head that is too small is
    named before the loss fails) and after that folded into a running maximum checked at the end.
    Non-finite losses or outputs are recorded on the device (the first bad batch and its value)
    and reported once at the end, so a GPU never waits for the host in the middle of a pass.

    Behind the loops taught in lessons 03–05 (train_step, eval_step, predict, extract_features, encode_images).
    """

    def __init__(self, device: torch.device, what: str) -> None:
        """``what`` names the checked values in messages, e.g. "training loss" or "model outputs"."""
        self.what = what
        self.first_bad = torch.full((), -1, dtype=torch.int64, device=device)
        self.bad_value = torch.zeros((), dtype=torch.float32, device=device)
        self.device_label_max: torch.Tensor | None = None
        self.num_outputs = 0

    def check_outputs(self, index: int, logits: torch.Tensor, targets: torch.Tensor, label_max: int | None) -> None:
        """Outputs of shape (batch, classes) that cover every label (or soft targets of the same shape)."""
        if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
            raise ValueError(f"model: expected outputs of shape (batch, classes), got {describe(logits)}")
        if logits.shape[0] != targets.shape[0]:
            raise ValueError(
                f"model: expected one row of outputs per image ({targets.shape[0]}) in batch {index}, "
                f"got {logits.shape[0]}"
            )
        self.num_outputs = logits.shape[1]
        if targets.ndim == 2:
            if targets.shape != logits.shape:
                raise ValueError(
                    f"targets: expected soft targets of shape {tuple(logits.shape)} to match the model outputs, "
                    f"got {tuple(targets.shape)} in batch {index}"
                )
            return
        if label_max is None and targets.numel() and index == 0:
            label_max = int(targets.max())  # one wait per pass: a wrong head shows before the first loss
        if label_max is None and targets.numel():
            batch_max = targets.max()
            self.device_label_max = batch_max if self.device_label_max is None else torch.maximum(
                self.device_label_max, batch_max)
        elif label_max is not None and label_max >= logits.shape[1]:
            raise ValueError(
                f"model: expected at least {label_max + 1} outputs (labels go up to {label_max} in batch {index}), "
                f"got {logits.shape[1]} — does the model's last layer match the number of classes?"
            )

    def record(self, index: int, value: torch.Tensor) -> None:
        """Remember the first batch whose ``value`` (a loss, outputs, features) is not finite."""
        value = value.detach()
        if value.numel() == 0:
            return
        finite = torch.isfinite(value).all()
        bad = ~finite & (self.first_bad < 0)
        flat = value.flatten()
        first = flat.take(torch.isfinite(flat).to(torch.uint8).argmin()).float()  # take(): no wait for the GPU
        self.first_bad = torch.where(bad, index, self.first_bad)
        self.bad_value = torch.where(bad, first, self.bad_value)

    def finish(self, lrs: list[float] | None = None) -> None:
        """Raise now for what was only recorded during the pass (one host synchronisation).

        ``lrs``: the learning rate used for each batch of a training pass, to name the bad batch's.
        """
        if self.device_label_max is not None and int(self.device_label_max) >= self.num_outputs:
            top = int(self.device_label_max)
            raise ValueError(
                f"model: expected at least {top + 1} outputs (labels go up to {top}), got {self.num_outputs} — "
                "does the model's last layer match the number of classes?"
            )
        first_bad = int(self.first_bad)
        if first_bad < 0:
            return
        where = f"got {float(self.bad_value)} at batch {first_bad}"
        if lrs:
            raise FloatingPointError(
                f"{self.what}: expected finite values, {where} (learning rate {lrs[first_bad]:g}). Hint: lower the "
                "learning "
                "rate, clip gradients (grad_clip=1.0), or look for NaN/inf in the inputs; pass check_finite=False "
                "to train on regardless."
            )
        raise FloatingPointError(
            f"{self.what}: expected finite values, {where}. Hint: the model's weights or the inputs "
            "contain NaN/inf (did an earlier training run diverge?)."
        )


def device_batches(
    loader: Iterable[Any], device: torch.device, policy: PrecisionPolicy
) -> Iterator[tuple[int, torch.Tensor, torch.Tensor | None, int | None]]:
    """Every batch of ``loader`` on ``device``: ``(index, images, labels, label_max)``.

    A batch is an ``(images, labels)`` pair, or a tensor of images alone (then ``labels`` is
    ``None``). Images are moved in the policy's memory layout. ``label_max`` is the largest integer
    label, read while the labels are still on the host (``None`` for soft labels, labels already on
    a GPU, or no labels).

    Behind the loops taught in lessons 03–05 (train_step, eval_step, predict, extract_features, encode_images).
    """
    non_blocking = device.type == "cuda"
    for index, batch in enumerate(loader):
        if isinstance(batch, torch.Tensor):
            images, labels = batch, None
        else:
            images, labels = require_batch(index, batch)
            if not isinstance(labels, torch.Tensor):
                raise TypeError(f"loader: expected labels as a tensor, got {describe(labels)} in batch {index}")
        if not isinstance(images, torch.Tensor):
            raise TypeError(f"loader: expected images as a tensor, got {describe(images)} in batch {index}")
        label_max = None
        if labels is not None and labels.ndim == 1 and labels.device.type == "cpu" and labels.numel():
            label_max = int(labels.max())
        images = images.to(device, non_blocking=non_blocking)
        if policy.channels_last and images.ndim == 4:
            images = images.contiguous(memory_format=torch.channels_last)
        if labels is not None:
            labels = labels.to(device, non_blocking=non_blocking)
        yield index, images, labels, label_max
