"""Training and evaluation loops: ``train_step``, ``eval_step`` and ``fit`` (lesson 03).

The loops are the ones lesson 03 has learners write by hand, plus what makes them
fast and safe: the device and precision policy of ``batches`` (bf16 autocast on
capable CPUs and GPUs, fp16 with a GradScaler on older GPUs, ``channels_last`` for
conv nets), ``train()`` / ``eval()`` with the caller's mode restored,
``torch.inference_mode()``, loss and accuracy averaged over *samples* (not batches)
on one 0–1 scale, and a ``FloatingPointError`` for a non-finite loss. ``fit`` adds
schedulers stepped per batch or per epoch, no weight decay on biases and norm layers,
gradient clipping, the best epoch's weights kept and restored, early stopping and
resumable runs (``checkpoints``); it returns a ``History`` that serialises to JSON.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from ._validate import (
    describe,
    require_callable,
    require_choice,
    require_module,
    require_non_negative_float,
    require_nonempty,
    require_optimizer,
    require_positive_float,
    require_positive_int,
)
from .batches import BatchGuard, device_batches, model_mode, place_model
from .checkpoints import History, load_resumable, save_resumable
from .compiling import _compile_mode, compile_for_training, is_compiled
from .runtime import PrecisionPolicy, get_device

__all__ = ["decay_groups", "eval_step", "fit", "train_step"]

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


def _hard_labels(targets: torch.Tensor) -> torch.Tensor:
    """Class indices from integer labels or from soft (probability) targets such as MixUp's."""
    return targets.argmax(dim=1) if targets.ndim == 2 else targets


#: Seconds between two reads of the running loss for the progress bar (each read makes a GPU wait for the host).
PROGRESS_SECONDS = 1.0


class _SampleAverages:
    """Loss and accuracy summed per *sample* on the device (no host wait per batch), averaged at the end."""

    def __init__(self, device: torch.device) -> None:
        dtype = torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64
        self.loss_sum = torch.zeros((), device=device, dtype=dtype)
        self.correct = torch.zeros((), device=device, dtype=torch.int64)
        self.seen = 0

    def add(self, loss: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor) -> None:
        batch = targets.shape[0]
        self.seen += batch
        self.loss_sum += loss.detach().to(self.loss_sum.dtype) * batch  # a batch's mean loss counts once per sample
        self.correct += (logits.argmax(dim=1) == _hard_labels(targets)).sum()

    def result(self) -> dict[str, float]:
        return {"loss": self.loss_sum.item() / self.seen, "acc": self.correct.item() / self.seen}


def _require_targets(index: int, images: torch.Tensor, targets: torch.Tensor | None) -> torch.Tensor:
    """Labels of batch ``index``: one per image, class indices (integers) or soft labels (N×C floats)."""
    if targets is None:
        raise ValueError(f"loader: expected batches of (images, labels), got images alone as batch {index}")
    if targets.ndim == 0 or targets.shape[0] != images.shape[0]:
        raise ValueError(f"loader batch {index} labels: expected {images.shape[0]} labels (one per image), "
                         f"got {describe(targets)}")
    if targets.is_floating_point() != (targets.ndim == 2) or targets.ndim > 2:
        raise TypeError(f"loader batch {index} labels: expected integer class indices (N) or soft labels "
                        f"(N×C floats), got {describe(targets)}")
    return targets


def train_step(
    model: nn.Module,
    loader: Batches,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    device: torch.device | str | None = None,
    *,
    precision: PrecisionPolicy | None = None,
    scheduler: Any = None,
    grad_clip: float | None = None,
    scaler: torch.amp.GradScaler | None = None,
    check_finite: bool = True,
    progress: bool = False,
    description: str = "train",
) -> dict[str, float]:
    """Train ``model`` for one pass over ``loader``; return sample-averaged ``loss`` and ``acc``.

    Lesson 03 has learners write this loop themselves (Exercise 1) before using this one.
    ``scheduler`` (if given) is stepped after every batch, as OneCycle needs;
    step per-epoch schedulers yourself, or let ``fit`` do it. A non-finite loss raises a
    ``FloatingPointError`` at the end of the pass (``check_finite=False`` trains on).
    The model trains in ``train()`` mode; the caller's mode is restored afterwards. It runs where
    the model is, or on ``device`` (see ``course_utils.batches`` for the device and precision policy).
    """
    require_nonempty("loader", loader)
    require_module("model", model)
    require_callable("loss_fn", loss_fn, "nn.CrossEntropyLoss()")
    require_optimizer("optimizer", optimizer)
    if grad_clip is not None:
        require_positive_float("grad_clip", grad_clip)
    device, policy = place_model(model, device, precision)
    if policy.use_grad_scaler and scaler is None:
        scaler = torch.amp.GradScaler(device.type)
    guard = BatchGuard(device, "training loss")
    lrs: list[float] = []
    averages = _SampleAverages(device)
    bar = tqdm(loader, desc=description, leave=False, disable=not progress, mininterval=0.5)
    next_postfix = 0.0  # the running loss: after the first batch, then every PROGRESS_SECONDS at most
    with model_mode(model, True):
        for index, images, targets, label_max in device_batches(bar, device, policy):
            targets = _require_targets(index, images, targets)
            with policy.autocast():
                logits = model(images)
                guard.check_outputs(index, logits, targets, label_max)
                loss = loss_fn(logits, targets)
            optimizer.zero_grad(set_to_none=True)
            lrs.append(float(optimizer.param_groups[0]["lr"]))  # the rate this batch is trained with
            if scaler is not None:
                scaler.scale(loss).backward()
                if grad_clip is not None:
                    scaler.unscale_(optimizer)
                    nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                if grad_clip is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                optimizer.step()
            if scheduler is not None:
                scheduler.step()
            if check_finite:
                guard.record(index, loss)
            averages.add(loss, logits, targets)
            if progress and time.perf_counter() >= next_postfix:
                bar.set_postfix(loss=f"{averages.result()['loss']:.4f}")
                next_postfix = time.perf_counter() + PROGRESS_SECONDS
    guard.finish(lrs=lrs)
    return averages.result()


def eval_step(
    model: nn.Module,
    loader: Batches,
    loss_fn: nn.Module,
    device: torch.device | str | None = None,
    *,
    precision: PrecisionPolicy | None = None,
    check_finite: bool = True,
) -> dict[str, float]:
    """Evaluate ``model`` on ``loader`` without gradients; return sample-averaged ``loss`` and ``acc``.

    Lesson 03 has learners write this loop themselves (Exercise 2). The model runs in ``eval()``
    mode under ``torch.inference_mode()`` (``torch.no_grad()`` for a ``torch.compile``d model, which
    does not yet mix well with inference tensors); the caller's mode is restored afterwards. A non-finite
    loss raises a ``FloatingPointError`` (``check_finite=False`` reports it instead). It runs where
    the model is, or on ``device``.
    """
    require_nonempty("loader", loader)
    require_module("model", model)
    require_callable("loss_fn", loss_fn, "nn.CrossEntropyLoss()")
    device, policy = place_model(model, device, precision)
    guard = BatchGuard(device, "evaluation loss")
    averages = _SampleAverages(device)
    no_gradients = torch.no_grad() if is_compiled(model) else torch.inference_mode()
    with model_mode(model, False), no_gradients:
        for index, images, targets, label_max in device_batches(loader, device, policy):
            targets = _require_targets(index, images, targets)
            with policy.autocast():
                logits = model(images)
                guard.check_outputs(index, logits, targets, label_max)
                loss = loss_fn(logits, targets)
            if check_finite:
                guard.record(index, loss)
            averages.add(loss, logits, targets)
    guard.finish()
    return averages.result()


def decay_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """The trainable parameters of ``model`` in two optimizer groups: decayed, and not decayed.

    Weight decay pulls weights towards zero to keep a model simple; on biases and on the scale and
    shift of normalisation layers that pull only fights the layer's job, so (like torchvision's
    references and nanoGPT) every parameter with fewer than two dimensions gets no decay.
    Empty groups are left out.

    Taught in lesson 05.
    """
    require_module("model", model)
    require_non_negative_float("weight_decay", weight_decay)
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [group for group in groups if group["params"]]


def _make_optimizer(
    model: nn.Module, optimizer: Any, lr: float, weight_decay: float, decay_norm_and_bias: bool
) -> torch.optim.Optimizer:
    if isinstance(optimizer, torch.optim.Optimizer):
        return optimizer
    require_choice("optimizer", optimizer, ("adamw", "sgd"))
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model: expected at least one trainable parameter, got none (is everything frozen?)")
    groups: Any = [{"params": params}] if decay_norm_and_bias else decay_groups(model, weight_decay)
    # On a GPU the fused update is one kernel per parameter group instead of several per parameter, and it takes
    # a GradScaler's checks without reading them on the host (as nanoGPT does); elsewhere torch's default.
    fused = True if all(p.is_cuda for p in params) else None
    if optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay, fused=fused)
    return torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay, fused=fused)


def _require_owned_by(optimizer: torch.optim.Optimizer, model: nn.Module, loss_fn: Any) -> None:
    """A ready-made optimizer must update this model: no foreign parameters, at least one trainable of ours."""
    ours = {id(p) for p in model.parameters()}
    if isinstance(loss_fn, nn.Module):
        ours |= {id(p) for p in loss_fn.parameters()}
    given = [p for group in optimizer.param_groups for p in group["params"]]
    foreign = sum(id(p) not in ours for p in given)
    if foreign:
        raise ValueError(
            f"optimizer: expected the parameters of the model being trained, got {foreign} of {len(given)} "
            "parameters that belong to another model (was the optimizer built before the model was "
            "rebuilt or its head replaced?)"
        )
    if not any(p.requires_grad for p in given):
        raise ValueError("optimizer: expected at least one trainable parameter (requires_grad=True), got none")


def _make_scheduler(
    scheduler: Any, optimizer: torch.optim.Optimizer, epochs: int, steps_per_epoch: int
) -> tuple[Any, str | None]:
    """Return ``(scheduler, when)`` with ``when`` in {"batch", "epoch", None}."""
    if scheduler is None:
        return None, None
    if isinstance(scheduler, str):
        require_choice("scheduler", scheduler, ("onecycle", "cosine"))
        max_lrs = [group["lr"] for group in optimizer.param_groups]
        if scheduler == "onecycle":
            return (
                torch.optim.lr_scheduler.OneCycleLR(
                    optimizer, max_lr=max_lrs, epochs=epochs, steps_per_epoch=steps_per_epoch
                ),
                "batch",
            )
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch), "batch"
    if isinstance(scheduler, torch.optim.lr_scheduler.OneCycleLR):
        return scheduler, "batch"
    if isinstance(scheduler, (torch.optim.lr_scheduler.LRScheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)):
        return scheduler, "epoch"
    raise TypeError(
        f"scheduler: expected 'onecycle', 'cosine', None or a torch LR scheduler, got {describe(scheduler)}"
    )


def fit(
    model: nn.Module,
    train_loader: Batches,
    val_loader: Batches | None = None,
    *,
    epochs: int = 5,
    lr: float = 3e-3,
    optimizer: str | torch.optim.Optimizer = "adamw",
    weight_decay: float = 0.05,
    decay_norm_and_bias: bool = False,
    scheduler: Any = "onecycle",
    loss_fn: nn.Module | None = None,
    label_smoothing: float = 0.0,
    device: torch.device | str | None = None,
    precision: PrecisionPolicy | None = None,
    compile: bool | str = False,  # noqa: A002 - the name torch uses for the same idea
    grad_clip: float | None = None,
    checkpoint_path: str | Path | None = None,
    resume_path: str | Path | None = None,
    monitor: str = "val_acc",
    early_stopping_patience: int | None = None,
    restore_best: bool = True,
    check_finite: bool = True,
    progress: bool = True,
    verbose: bool = True,
) -> History:
    """Train ``model`` for ``epochs`` epochs, evaluating on ``val_loader`` after each (taught in lesson 03).

    Defaults are the course's fast recipe: AdamW without weight decay on biases and normalisation
    parameters (``decay_norm_and_bias=True`` decays everything), a OneCycle schedule stepped every
    batch, the device's precision policy and ``channels_last`` for conv nets. ``optimizer`` and
    ``scheduler`` also accept ready-made torch objects (a ``ReduceLROnPlateau`` is stepped with the
    monitored value); a ready-made optimizer must hold this model's parameters.

    The best epoch (by ``monitor``) is remembered in memory: with ``restore_best`` its weights are
    loaded back at the end, and with ``checkpoint_path`` they are also saved there (a plain
    ``state_dict``). ``early_stopping_patience`` stops after that many epochs without improvement.
    ``resume_path`` makes a run resumable, as torchvision's references do: after every epoch the
    model, optimizer, scheduler, loss module, epoch, history and best weights are saved there, and a
    later call with the same file and settings continues after the last saved epoch (for Colab
    sessions that disconnect). A non-finite loss stops training with a ``FloatingPointError``, after
    the best weights so far are put back (``check_finite=False`` trains on).
    ``compile=True`` (or a ``torch.compile`` mode such as ``"reduce-overhead"``) trains through
    ``torch.compile(model)`` where that can help, a recent NVIDIA GPU, and runs the model as it is
    elsewhere (see ``course_utils.compiling``); ``verbose`` says which. On a GPU the built-in
    optimizers use torch's fused implementation.
    Every argument is checked before the first batch. The model is moved to ``device``
    (default: ``get_device()``, the GPU when there is one).
    """
    epochs = require_positive_int("epochs", epochs)
    lr = require_positive_float("lr", lr)
    require_nonempty("train_loader", train_loader)
    if val_loader is not None:
        require_nonempty("val_loader", val_loader)
    require_choice("monitor", monitor, ("val_acc", "val_loss", "train_loss"))
    if monitor != "train_loss" and val_loader is None:
        monitor = "train_loss"
    if early_stopping_patience is not None:
        require_positive_int("early_stopping_patience", early_stopping_patience)
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing: expected a value in [0, 1), got {label_smoothing!r}")
    require_non_negative_float("weight_decay", weight_decay)
    _compile_mode(compile)
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"loss_fn: expected a loss such as nn.CrossEntropyLoss(), got {describe(loss_fn)}")
    for name, path in (("checkpoint_path", checkpoint_path), ("resume_path", resume_path)):
        if path is not None and not Path(path).parent.is_dir():
            raise FileNotFoundError(
                f"{name}: expected a file in an existing folder, got {str(path)!r} (folder "
                f"{str(Path(path).parent)!r} not found; create it with Path(...).mkdir(parents=True))"
            )
    device, policy = place_model(model, device if device is not None else get_device(), precision)
    step_model, how_it_runs = compile_for_training(model, device, compile)  # shares model's parameters
    if verbose and compile is not False:
        print(how_it_runs)
    loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    if isinstance(loss_fn, nn.Module):
        loss_fn.to(device)  # class weights or a learnable temperature live where the logits are
    if isinstance(optimizer, torch.optim.Optimizer):
        _require_owned_by(optimizer, model, loss_fn)
    optimizer_ = _make_optimizer(model, optimizer, lr, weight_decay, decay_norm_and_bias)
    steps_per_epoch = len(train_loader)  # type: ignore[arg-type]
    scheduler_, when = _make_scheduler(scheduler, optimizer_, epochs, steps_per_epoch)
    scaler = torch.amp.GradScaler(device.type) if policy.use_grad_scaler else None
    history = History(device=str(device), precision=policy.name)
    best_value = math.inf if monitor.endswith("loss") else -math.inf
    best_state: dict[str, torch.Tensor] | None = None
    stale_epochs = 0
    first_epoch = 1
    settings = {"epochs": epochs, "steps_per_epoch": steps_per_epoch, "monitor": monitor,
                "optimizer": type(optimizer_).__name__}
    if resume_path is not None and Path(resume_path).is_file():
        restored = load_resumable(resume_path, settings, model=model, loss_fn=loss_fn, optimizer=optimizer_,
                                  scheduler=scheduler_, scaler=scaler)
        history, best_value, best_state = restored["history"], restored["best_value"], restored["best_state"]
        stale_epochs, first_epoch = restored["stale_epochs"], restored["epoch"] + 1
        if verbose:
            print(f"resumed from {resume_path} after epoch {restored['epoch']}")
    for epoch in range(first_epoch, epochs + 1):
        if history.stopped_early:
            break
        start = time.perf_counter()
        try:
            train = train_step(
                step_model, train_loader, loss_fn, optimizer_, device, precision=policy,
                scheduler=scheduler_ if when == "batch" else None, grad_clip=grad_clip, scaler=scaler,
                check_finite=check_finite, progress=progress, description=f"epoch {epoch}/{epochs}",
            )
            val = None
            if val_loader is not None:
                val = eval_step(step_model, val_loader, loss_fn, device, precision=policy, check_finite=check_finite)
        except FloatingPointError:
            if restore_best and best_state is not None:
                model.load_state_dict(best_state)  # hand back the best weights so far, not NaN ones
            raise
        history.epoch_seconds.append(time.perf_counter() - start)
        history.train_loss.append(train["loss"])
        history.train_acc.append(train["acc"])
        if val is not None:
            history.val_loss.append(val["loss"])
            history.val_acc.append(val["acc"])
        history.lr.append(float(optimizer_.param_groups[0]["lr"]))
        current = {"val_acc": val and val["acc"], "val_loss": val and val["loss"], "train_loss": train["loss"]}[monitor]
        if when == "epoch":
            if isinstance(scheduler_, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler_.step(current)
            else:
                scheduler_.step()
        improved = current < best_value if monitor.endswith("loss") else current > best_value
        if improved:
            best_value, history.best_epoch, stale_epochs = current, epoch, 0
            if restore_best or checkpoint_path is not None:
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if checkpoint_path is not None:
                torch.save(best_state, checkpoint_path)
        else:
            stale_epochs += 1
        if verbose:
            line = f"epoch {epoch:>2}/{epochs} | train loss {train['loss']:.4f} acc {train['acc']:.4f}"
            if val is not None:
                line += f" | val loss {val['loss']:.4f} acc {val['acc']:.4f}"
            print(line + f" | {history.epoch_seconds[-1]:.1f} s")
        if early_stopping_patience is not None and stale_epochs >= early_stopping_patience:
            history.stopped_early = True
            if verbose:
                print(f"early stopping: no improvement in {monitor} for {stale_epochs} epochs")
        if resume_path is not None:
            save_resumable(resume_path, epoch=epoch, model=model, optimizer=optimizer_, scheduler=scheduler_,
                            scaler=scaler, loss_fn=loss_fn, history=history, best_value=best_value,
                            best_state=best_state, stale_epochs=stale_epochs, settings=settings)
    if restore_best and best_state is not None:
        model.load_state_dict(best_state)
    return history

