"""Transfer learning: reuse a pretrained network, retrain only what the new task needs.

The usual recipe is: load a model pretrained on ImageNet (``load_pretrained``, in
``pretrained.py``), swap its last Linear layer for one with as many outputs as our
classes (``replace_head``), first train only that head (``freeze_backbone``), then
optionally unfreeze everything and fine-tune with a smaller learning rate for the
pretrained part (``param_groups``, ``discriminative_param_groups``).
``extract_features`` computes what the head sees, once, for a frozen backbone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn

from ._validate import describe, require_non_negative_float, require_positive_float, require_positive_int
from .batches import BatchGuard, device_batches, model_mode, place_model

__all__ = [
    "discriminative_param_groups",
    "extract_features",
    "find_head",
    "freeze",
    "freeze_backbone",
    "param_groups",
    "replace_head",
    "unfreeze",
]


def _require_module(name: str, value: Any) -> nn.Module:
    if not isinstance(value, nn.Module):
        raise TypeError(f"{name}: expected a torch.nn.Module, got {describe(value)}")
    return value


def freeze(module: nn.Module) -> nn.Module:
    """Stop training ``module``: set ``requires_grad=False`` on all its parameters; return it.

    Frozen parameters get no gradients, so the optimizer leaves them unchanged.
    Batch-norm layers still update their running statistics in ``train()`` mode;
    call ``.eval()`` on them as well to keep those fixed.

    Taught in lesson 04.
    """
    _require_module("module", module)
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module


def unfreeze(module: nn.Module) -> nn.Module:
    """Make every parameter of ``module`` trainable again (``requires_grad=True``); return it. Taught in lesson 04."""
    _require_module("module", module)
    for parameter in module.parameters():
        parameter.requires_grad_(True)
    return module


def _last_linear(container: nn.Module) -> tuple[str, nn.Linear] | None:
    """The last ``nn.Linear`` among a container's direct children (or the container itself)."""
    if isinstance(container, nn.Linear):
        return "", container
    for child_name, child in reversed(list(container.named_children())):
        if isinstance(child, nn.Linear):
            return child_name, child
    return None


def find_head(model: nn.Module) -> tuple[str, nn.Linear]:
    """Find the classifier head of ``model``: return its dotted name and the ``nn.Linear`` itself.

    Looked for, in this order: ``heads.head`` (torchvision ViT), ``fc`` (ResNet,
    RegNet, GoogLeNet, ShuffleNet), the last Linear of ``classifier``
    (EfficientNet, MobileNet, VGG, ConvNeXt, DenseNet and this course's models),
    and ``head`` (Swin and many timm models).

    Taught in lesson 04.
    """
    _require_module("model", model)
    heads = getattr(model, "heads", None)
    if isinstance(heads, nn.Module) and isinstance(getattr(heads, "head", None), nn.Linear):
        return "heads.head", heads.head
    for attribute in ("fc", "classifier", "head"):
        container = getattr(model, attribute, None)
        if isinstance(container, nn.Module):
            found = _last_linear(container)
            if found is not None:
                child_name, linear = found
                return (f"{attribute}.{child_name}" if child_name else attribute), linear
    raise ValueError(
        "model: expected a classifier whose head is an nn.Linear at `heads.head`, `fc`, `classifier` "
        f"(last Linear) or `head`, got a {type(model).__name__} without one"
    )


def replace_head(model: nn.Module, num_classes: int) -> nn.Module:
    """Replace the classifier head by a new, randomly initialised ``nn.Linear`` with ``num_classes`` outputs.

    The new layer keeps the old one's input size, bias setting, device and dtype,
    and is trainable. The model is changed in place and also returned. Its
    ``num_classes`` attribute, where it has one, is updated.

    Taught in lesson 04.
    """
    require_positive_int("num_classes", num_classes)
    name, old = find_head(model)
    new = nn.Linear(
        old.in_features,
        num_classes,
        bias=old.bias is not None,
        device=old.weight.device,
        dtype=old.weight.dtype,
    )
    parent_name, _, child_name = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child_name, new)
    if isinstance(getattr(model, "num_classes", None), int):
        model.num_classes = num_classes
    return model


def freeze_backbone(model: nn.Module) -> nn.Module:
    """Freeze every parameter except the classifier head's (see ``find_head``); return the model.

    Taught in lesson 04.
    """
    _, head = find_head(model)
    freeze(model)
    unfreeze(head)
    return model


def _decay_setting(weight_decay: float | None) -> dict[str, float]:
    """``{"weight_decay": value}`` for a group, or ``{}`` to leave the optimizer's own setting in force."""
    if weight_decay is None:
        return {}
    return {"weight_decay": require_non_negative_float("weight_decay", weight_decay)}


def param_groups(
    model: nn.Module,
    head_lr: float,
    backbone_lr: float,
    *,
    weight_decay: float | None = None,
) -> list[dict[str, Any]]:
    """Optimizer parameter groups for discriminative learning rates (taught in lesson 04).

    Returns ``[{"name": "head", "params": [...], "lr": head_lr, ...},
    {"name": "backbone", "params": [...], "lr": backbone_lr, ...}]`` for
    ``torch.optim.AdamW(param_groups(...))``. Only trainable parameters are
    included and each appears in exactly one group; the backbone group is left
    out when the whole backbone is frozen. ``weight_decay`` (if given) is written into
    every group; by default the groups leave it to the optimizer's own ``weight_decay=``.
    """
    _require_module("model", model)
    require_positive_float("head_lr", head_lr)
    require_positive_float("backbone_lr", backbone_lr)
    decay = _decay_setting(weight_decay)
    _, head = find_head(model)
    head_ids = {id(p) for p in head.parameters()}
    head_params: list[nn.Parameter] = []
    backbone_params: list[nn.Parameter] = []
    for parameter in model.parameters():  # parameters() yields each shared parameter once
        if not parameter.requires_grad:
            continue
        (head_params if id(parameter) in head_ids else backbone_params).append(parameter)
    if not head_params:
        raise ValueError(
            "model: expected a trainable classifier head, got one whose parameters are all frozen "
            "(call unfreeze(...) on the head or use freeze_backbone(model))"
        )
    groups = [{"name": "head", "params": head_params, "lr": float(head_lr), **decay}]
    if backbone_params:
        groups.append({"name": "backbone", "params": backbone_params, "lr": float(backbone_lr), **decay})
    return groups


def discriminative_param_groups(
    model: nn.Module,
    groups: Sequence[Sequence[str]],
    head_lr: float,
    factor: float = 10.0,
    *,
    weight_decay: float | None = None,
) -> list[dict[str, Any]]:
    """Parameter groups whose learning rate shrinks by ``factor`` per group, from the head towards the input.

    ``groups`` lists layer groups ordered from the input side to the head, each a
    list of submodule names of ``model`` (dotted names allowed), e.g. for a ResNet
    ``[["conv1", "bn1", "layer1"], ["layer2"], ["layer3"], ["layer4"], ["fc"]]``.
    Group ``i`` of ``n`` gets ``lr = head_lr / factor ** (n - 1 - i)``: the head
    ``head_lr``, the group before it ten times less (with the default factor), and
    so on — early layers hold general features that need little change. Only
    trainable parameters are included; a group without any is left out. Every
    trainable parameter must belong to exactly one group, otherwise a ``ValueError``
    names the ones that are missing or repeated. Returns dicts with ``name``,
    ``params`` and ``lr`` (and ``weight_decay`` when given; otherwise the optimizer's own
    ``weight_decay=`` applies) for ``torch.optim.AdamW(...)``. Taught in lesson 04.
    """
    _require_module("model", model)
    lr = require_positive_float("head_lr", head_lr)
    step = require_positive_float("factor", factor)
    decay = _decay_setting(weight_decay)
    if isinstance(groups, (str, bytes)) or not isinstance(groups, Sequence) or not groups:
        raise TypeError(
            f"groups: expected a list of lists of module names such as [['layer1'], ['fc']], got {describe(groups)}"
        )
    names_of = {id(p): name for name, p in model.named_parameters()}
    owner: dict[int, str] = {}
    result: list[dict[str, Any]] = []
    for index, group in enumerate(groups):
        if isinstance(group, (str, bytes)) or not isinstance(group, Sequence) or not group:
            raise TypeError(f"groups[{index}]: expected a non-empty list of module names, got {describe(group)}")
        params: list[nn.Parameter] = []
        label = "+".join(str(name) for name in group)
        for name in group:
            try:
                module = model.get_submodule(name)
            except AttributeError:
                children = [child for child, _ in model.named_children()]
                raise ValueError(
                    f"groups[{index}]: expected names of submodules such as {children}, got {name!r}"
                ) from None
            for parameter in module.parameters():
                if not parameter.requires_grad:
                    continue
                if id(parameter) in owner:
                    raise ValueError(
                        f"groups: expected every parameter in one group only, got {names_of.get(id(parameter))!r} "
                        f"in {owner[id(parameter)]!r} and again in {label!r}"
                    )
                owner[id(parameter)] = label
                params.append(parameter)
        if params:
            result.append({"name": label, "params": params, "lr": lr / step ** (len(groups) - 1 - index), **decay})
    missing = [name for name, p in model.named_parameters() if p.requires_grad and id(p) not in owner]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise ValueError(f"groups: expected every trainable parameter in a group, got {len(missing)} left out: {shown}")
    if not result:
        raise ValueError("model: expected at least one trainable parameter, got none (is everything frozen?)")
    return result


def extract_features(
    model: nn.Module,
    loader: Iterable[Any],
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """What the classifier head of ``model`` receives, for every batch of ``loader``: ``(features, labels)``.

    With a frozen backbone the features never change, so feature extraction can
    compute them once and train only a linear classifier on them. A forward hook
    on the head (``find_head``) captures its input; the model runs in ``eval()``
    mode under ``torch.inference_mode()`` and its mode is restored afterwards, where the
    model is or on ``device``, with the device's precision policy (``course_utils.batches``).
    Returns float32 features N×D and int64 labels N, on the CPU. Taught in lesson 04.
    """
    _, head = find_head(model)
    device, policy = place_model(model, device, None)
    guard = BatchGuard(device, "features")
    captured: list[torch.Tensor] = []
    labels: list[torch.Tensor] = []

    def hook(_module: nn.Module, inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> None:
        captured.append(inputs[0].detach().float().flatten(1))

    handle = head.register_forward_hook(hook)
    try:
        with model_mode(model, False), torch.inference_mode():
            for index, images, batch_labels, _ in device_batches(loader, device, policy):
                if batch_labels is None:
                    raise ValueError(
                        f"loader: expected batches of (images, labels), got images alone as batch {index}"
                    )
                with policy.autocast():
                    model(images)
                if len(captured) != index + 1:
                    raise ValueError(f"model: expected its head to run once per batch, got {len(captured) - index} "
                                     f"calls in batch {index} (does forward() use the head found by find_head?)")
                guard.record(index, captured[-1])
                labels.append(batch_labels.to(torch.int64))
    finally:
        handle.remove()
    guard.finish()
    if not captured:
        raise ValueError(f"loader: expected at least one batch, got an empty {type(loader).__name__}")
    return torch.cat(captured).cpu(), torch.cat(labels).cpu()
