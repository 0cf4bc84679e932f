"""What a training run leaves behind: its ``History``, and the resumable checkpoint of ``fit``.

``History`` records one entry per epoch and serialises to JSON. ``fit(resume_path=...)`` saves,
after every epoch, everything needed to continue the run after a crash or a Colab disconnect
(model, optimizer, scheduler, gradient scaler, loss module, epoch, history, best weights), as
torchvision's reference scripts do; ``load_resumable`` puts it back, but only into a run with the
same settings. A plain ``checkpoint_path`` file is different: it holds the best weights only.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["History", "load_resumable", "save_resumable"]


@dataclass
class History:
    """What happened during ``fit``, one entry per epoch (accuracies on a 0–1 scale). Behind ``fit(resume_path=...)`` (lesson 03)."""

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


def save_resumable(path: str | Path, **state: Any) -> None:
    """Write fit's resumable state to ``path`` atomically (a crash mid-write never leaves a half-written file).

    ``state`` holds ``model``, ``optimizer``, ``scheduler``, ``scaler`` and ``loss_fn`` (saved as their
    state dicts), ``history`` and plain values (``epoch``, ``best_value``, ``best_state``,
    ``stale_epochs``, ``settings``). Behind ``fit(resume_path=...)`` (lesson 03).
    """
    state["model"] = state["model"].state_dict()
    state["optimizer"] = state["optimizer"].state_dict()
    state["scheduler"] = state["scheduler"].state_dict() if state["scheduler"] is not None else None
    state["scaler"] = state["scaler"].state_dict() if state["scaler"] is not None else None
    state["loss_fn"] = state["loss_fn"].state_dict() if isinstance(state["loss_fn"], nn.Module) else None
    state["history"] = state["history"].to_dict()
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    torch.save(state, partial)
    partial.replace(path)


def load_resumable(
    path: str | Path, settings: dict[str, Any], *, model: nn.Module, loss_fn: Any,
    optimizer: torch.optim.Optimizer, scheduler: Any, scaler: Any,
) -> dict[str, Any]:
    """Load a ``save_resumable`` file into the run's objects; return its epoch, history and best-so-far.

    Raises ``ValueError`` for a file that ``fit(resume_path=...)`` did not write, or one written
    with other ``settings`` (epochs, steps per epoch, monitor, optimizer): continuing such a run
    would silently mix two schedules. Behind ``fit(resume_path=...)`` (lesson 03).
    """
    # read onto the CPU: load_state_dict puts each piece where its owner lives (and keeps a non-fused optimizer's
    # step counters on the CPU, where reading them costs a GPU nothing)
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(saved, dict) or "settings" not in saved:
        raise ValueError(f"resume_path: expected a file that fit(resume_path=...) wrote, got {str(path)!r} "
                         "(a checkpoint_path file holds weights only)")
    changed = {k: (saved["settings"].get(k), v) for k, v in settings.items() if saved["settings"].get(k) != v}
    if changed:
        raise ValueError(
            "resume_path: expected the settings of the run that wrote it, got other "
            + ", ".join(f"{k} (saved {old!r}, now {new!r})" for k, (old, new) in changed.items())
            + " — delete the file to start afresh"
        )
    model.load_state_dict(saved["model"])
    if isinstance(loss_fn, nn.Module) and saved["loss_fn"] is not None:
        loss_fn.load_state_dict(saved["loss_fn"])
    # Whether the update runs fused is this machine's choice (fit fuses on a GPU), not the file's: a run saved on a
    # CPU and resumed on a GPU keeps the optimizer it was given, which a GradScaler has already been set up for.
    for saved_group, group in zip(saved["optimizer"]["param_groups"], optimizer.param_groups):
        if "fused" in group:
            saved_group["fused"] = group["fused"]
    optimizer.load_state_dict(saved["optimizer"])
    if scheduler is not None and saved["scheduler"] is not None:
        scheduler.load_state_dict(saved["scheduler"])
    if scaler is not None and saved["scaler"] is not None:
        scaler.load_state_dict(saved["scaler"])
    return {"epoch": saved["epoch"], "history": History.from_dict(saved["history"]), "best_value": saved["best_value"],
            "best_state": saved["best_state"], "stale_epochs": saved["stale_epochs"]}
