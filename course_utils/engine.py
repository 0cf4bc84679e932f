"""Training and evaluation loops: ``train_step``, ``eval_step`` and ``fit``.

The loops are the ones lesson 03 has learners write by hand, plus what makes them
fast and safe: the device's precision policy (bf16 autocast on capable CPUs and
GPUs, fp16 with a GradScaler on older GPUs), ``channels_last`` for conv nets,
``model.train()`` / ``model.eval()`` and ``torch.inference_mode()``, loss and
accuracy averaged over *samples* (not batches) on one 0–1 scale, schedulers
stepped per batch or per epoch, gradient clipping, best-checkpoint saving and
early stopping. ``fit`` returns a ``History`` that serialises to JSON.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from ._validate import describe, require_choice, require_nonempty, require_positive_float, require_positive_int
from .runtime import PrecisionPolicy, get_device, precision_policy

__all__ = ["History", "eval_step", "fit", "train_step"]

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


@dataclass
class History:
    """What happened during ``fit``, one entry per epoch (accuracies on a 0–1 scale)."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    device: str = ""
    precision: str = ""

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.train_loss)

    @property
    def wall_seconds(self) -> list[float]:
        """Seconds from the start of training to the end of each epoch."""
        return [sum(self.epoch_seconds[: i + 1]) for i in range(len(self.epoch_seconds))]

    def to_dict(self) -> dict[str, Any]:
        """A plain dictionary (JSON-serialisable)."""
        return asdict(self)

    def to_json(self, path: str | Path | None = None) -> str:
        """Serialise to JSON; also write it to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Rebuild a History from ``to_dict()`` output."""
        return cls(**data)

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> History:
        """Rebuild a History from a JSON string or a JSON file."""
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            text = Path(text_or_path).read_text(encoding="utf-8")
        return cls.from_dict(json.loads(text))


def _uses_convolutions(model: nn.Module) -> bool:
    return any(isinstance(module, nn.Conv2d) for module in model.modules())


def _prepare(
    model: nn.Module, device: torch.device | str | None, precision: PrecisionPolicy | None
) -> tuple[torch.device, PrecisionPolicy]:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {describe(model)}")
    device = torch.device(device) if device is not None else get_device()
    if precision is None:
        precision = precision_policy(device, channels_last=_uses_convolutions(model))
    model.to(device)
    if precision.channels_last and _uses_convolutions(model):
        model.to(memory_format=torch.channels_last)
    return device, precision


def _to_device(
    images: torch.Tensor, targets: torch.Tensor, device: torch.device, policy: PrecisionPolicy
) -> tuple[torch.Tensor, torch.Tensor]:
    non_blocking = device.type == "cuda"
    images = images.to(device, non_blocking=non_blocking)
    if policy.channels_last and images.ndim == 4:
        images = images.contiguous(memory_format=torch.channels_last)
    return images, targets.to(device, non_blocking=non_blocking)


def _hard_labels(targets: torch.Tensor) -> torch.Tensor:
    """Class indices from integer labels or from soft (probability) targets such as MixUp's."""
    return targets.argmax(dim=1) if targets.ndim == 2 else targets


def _check_outputs(logits: torch.Tensor, targets: torch.Tensor) -> None:
    if logits.ndim != 2:
        raise ValueError(f"model: expected outputs of shape (batch, classes), got {describe(logits)}")
    if targets.ndim == 2:
        if targets.shape != logits.shape:
            raise ValueError(
                f"targets: expected soft targets of shape {tuple(logits.shape)} to match the model outputs, "
                f"got {tuple(targets.shape)}"
            )
    elif targets.numel() and int(targets.max()) >= logits.shape[1]:
        raise ValueError(
            f"model: expected at least {int(targets.max()) + 1} outputs (labels go up to {int(targets.max())}), "
            f"got {logits.shape[1]} — does the model's last layer match the number of classes?"
        )


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
    progress: bool = False,
    description: str = "train",
) -> dict[str, float]:
    """Train ``model`` for one pass over ``loader``; return sample-averaged ``loss`` and ``acc``.

    ``scheduler`` (if given) is stepped after every batch, as OneCycle needs;
    step per-epoch schedulers yourself, or let ``fit`` do it.
    """
    require_nonempty("loader", loader)
    if grad_clip is not None:
        require_positive_float("grad_clip", grad_clip)
    device, policy = _prepare(model, device, precision)
    if policy.use_grad_scaler and scaler is None:
        scaler = torch.amp.GradScaler(device.type)
    model.train()
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    seen = 0
    bar = tqdm(loader, desc=description, leave=False, disable=not progress, mininterval=0.5)
    for batch_index, (images, targets) in enumerate(bar):
        images, targets = _to_device(images, targets, device, policy)
        with policy.autocast():
            logits = model(images)
            if batch_index == 0:
                _check_outputs(logits, targets)
            loss = loss_fn(logits, targets)
        optimizer.zero_grad(set_to_none=True)
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
        batch = targets.shape[0]
        seen += batch
        loss_sum += loss.detach().double() * batch
        correct += (logits.argmax(dim=1) == _hard_labels(targets)).sum()
        if progress and batch_index % 20 == 0:
            bar.set_postfix(loss=f"{loss_sum.item() / seen:.4f}")
    return {"loss": loss_sum.item() / seen, "acc": correct.item() / seen}


def eval_step(
    model: nn.Module,
    loader: Batches,
    loss_fn: nn.Module,
    device: torch.device | str | None = None,
    *,
    precision: PrecisionPolicy | None = None,
) -> dict[str, float]:
    """Evaluate ``model`` on ``loader`` without gradients; return sample-averaged ``loss`` and ``acc``."""
    require_nonempty("loader", loader)
    device, policy = _prepare(model, device, precision)
    model.eval()
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    seen = 0
    with torch.inference_mode():
        for batch_index, (images, targets) in enumerate(loader):
            images, targets = _to_device(images, targets, device, policy)
            with policy.autocast():
                logits = model(images)
                if batch_index == 0:
                    _check_outputs(logits, targets)
                loss = loss_fn(logits, targets)
            batch = targets.shape[0]
            seen += batch
            loss_sum += loss.double() * batch
            correct += (logits.argmax(dim=1) == _hard_labels(targets)).sum()
    return {"loss": loss_sum.item() / seen, "acc": correct.item() / seen}


def _make_optimizer(model: nn.Module, optimizer: Any, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    if isinstance(optimizer, torch.optim.Optimizer):
        return optimizer
    require_choice("optimizer", optimizer, ("adamw", "sgd"))
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model: expected at least one trainable parameter, got none (is everything frozen?)")
    if optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)


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
    raise TypeError(f"scheduler: expected 'onecycle', 'cosine', None or a torch LR scheduler, got {describe(scheduler)}")


def fit(
    model: nn.Module,
    train_loader: Batches,
    val_loader: Batches | None = None,
    *,
    epochs: int = 5,
    lr: float = 3e-3,
    optimizer: str | torch.optim.Optimizer = "adamw",
    weight_decay: float = 0.05,
    scheduler: Any = "onecycle",
    loss_fn: nn.Module | None = None,
    label_smoothing: float = 0.0,
    device: torch.device | str | None = None,
    precision: PrecisionPolicy | None = None,
    grad_clip: float | None = None,
    checkpoint_path: str | Path | None = None,
    monitor: str = "val_acc",
    early_stopping_patience: int | None = None,
    restore_best: bool = True,
    progress: bool = True,
    verbose: bool = True,
) -> History:
    """Train ``model`` for ``epochs`` epochs, evaluating on ``val_loader`` after each.

    Defaults are the course's fast recipe: AdamW, a OneCycle schedule stepped every
    batch, the device's precision policy and ``channels_last`` for conv nets.
    ``optimizer`` and ``scheduler`` also accept ready-made torch objects (a
    ``ReduceLROnPlateau`` is stepped with the monitored value). With
    ``checkpoint_path`` the best epoch's weights (by ``monitor``) are saved there and,
    with ``restore_best``, loaded back at the end. ``early_stopping_patience`` stops
    after that many epochs without improvement.
    """
    epochs = require_positive_int("epochs", epochs)
    lr = require_positive_float("lr", lr)
    require_nonempty("train_loader", train_loader)
    require_choice("monitor", monitor, ("val_acc", "val_loss", "train_loss"))
    if monitor != "train_loss" and val_loader is None:
        monitor = "train_loss"
    if early_stopping_patience is not None:
        require_positive_int("early_stopping_patience", early_stopping_patience)
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing: expected a value in [0, 1), got {label_smoothing!r}")
    device, policy = _prepare(model, device, precision)
    loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    optimizer_ = _make_optimizer(model, optimizer, lr, weight_decay)
    steps_per_epoch = len(train_loader)  # type: ignore[arg-type]
    scheduler_, when = _make_scheduler(scheduler, optimizer_, epochs, steps_per_epoch)
    scaler = torch.amp.GradScaler(device.type) if policy.use_grad_scaler else None
    history = History(device=str(device), precision=policy.name)
    best_value = math.inf if monitor.endswith("loss") else -math.inf
    best_state: dict[str, torch.Tensor] | None = None
    stale_epochs = 0
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        train = train_step(
            model, train_loader, loss_fn, optimizer_, device, precision=policy,
            scheduler=scheduler_ if when == "batch" else None, grad_clip=grad_clip, scaler=scaler,
            progress=progress, description=f"epoch {epoch}/{epochs}",
        )
        val = eval_step(model, val_loader, loss_fn, device, precision=policy) if val_loader is not None else None
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
            if checkpoint_path is not None:
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
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
            break
    if restore_best and best_state is not None:
        model.load_state_dict(best_state)
    return history
