"""Use your model: save a trained classifier with what it needs, load it back, classify a photo you bring.

A ``state_dict`` alone is not a usable model: rebuilding the network needs its architecture and
arguments, and feeding it a new photo needs the exact preprocessing it was trained with (size,
channels, normalisation statistics, and for FashionMNIST-style data the light-on-dark convention).
``ModelCard`` holds all of that; ``save_classifier`` writes the weights and the card into one file,
``load_classifier`` rebuilds the model from it, and ``classify_file`` turns any image file (JPEG,
PNG, a phone photo with an EXIF rotation) into the model's top-k classes with probabilities.

Rebuilding never runs pickled code: the file holds tensors and plain values only (``torch.load``
with ``weights_only=True``), and the architecture is a name looked up in ``course_utils.models``
or passed to ``course_utils.pretrained.load_pretrained``.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torch import nn

from ._validate import describe, require_choice, require_file, require_module, require_positive_int

__all__ = ["ModelCard", "classify_file", "load_classifier", "preprocess_file", "save_classifier"]

_FORMAT = "course_utils classifier v1"


@dataclass(frozen=True)
class ModelCard:
    """What it takes to rebuild a trained classifier and to feed it a new image. Taught in lesson 03.

    ``architecture`` is a class of ``course_utils.models`` ("TinyVGG") built with ``arguments``, or
    an architecture name for ``load_pretrained`` ("resnet18", "tf_efficientnet_lite0"), rebuilt with
    a head of ``len(class_names)`` outputs. ``image_size`` is (height, width); ``channels`` 1 or 3;
    ``mean``/``std`` the per-channel statistics on a 0–1 scale used in training. ``resize`` is
    "pad" (fit the whole picture, pad the short side: for centred objects, like FashionMNIST) or
    "crop" (shorter side to ``resize_to``, then a centre crop of ``image_size``; ``resize_to=None``
    resizes the shorter side straight to the crop). torchvision's ImageNet presets resize to a larger
    size first, e.g. ``resize_to=256`` then crop 224: copy their ``resize_size[0]`` and ``interpolation.value``
    ("bilinear" or "bicubic") into the card so that a file is prepared as the evaluation images were.
    ``invert`` makes a dark object on a light background light on dark, the way FashionMNIST's garments look.
    ``trim`` first crops away the margins that have the colour of the corners, as FashionMNIST's conversion did before
    it resized each product photo, so that the object fills the picture the way it did in training.
    """

    architecture: str
    class_names: tuple[str, ...]
    image_size: tuple[int, int]
    channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    arguments: dict[str, Any] = field(default_factory=dict)
    resize: str = "crop"
    invert: bool = False
    trim: bool = False
    resize_to: int | None = None
    interpolation: str = "bilinear"

    def __post_init__(self) -> None:
        if not isinstance(self.architecture, str) or not self.architecture:
            raise TypeError(f"architecture: expected a name such as 'TinyVGG', got {describe(self.architecture)}")
        names = self.class_names
        if isinstance(names, str) or not isinstance(names, (tuple, list)) or len(names) < 2 or \
                not all(isinstance(n, str) for n in names):
            raise ValueError(f"class_names: expected at least two class names, got {describe(names)}")
        object.__setattr__(self, "class_names", tuple(names))
        size = self.image_size
        if not (isinstance(size, (tuple, list)) and len(size) == 2):
            raise ValueError(f"image_size: expected (height, width), got {describe(size)}")
        for side in size:
            require_positive_int("image_size", side)
        object.__setattr__(self, "image_size", (int(size[0]), int(size[1])))
        require_choice("channels", self.channels, (1, 3))
        for name in ("mean", "std"):
            values = getattr(self, name)
            if not (isinstance(values, (tuple, list)) and len(values) == self.channels):
                raise ValueError(f"{name}: expected {self.channels} numbers (one per channel), got {describe(values)}")
            object.__setattr__(self, name, tuple(float(v) for v in values))
        if min(self.std) <= 0:
            raise ValueError(f"std: expected numbers > 0, got {self.std}")
        require_choice("resize", self.resize, ("crop", "pad"))
        require_choice("interpolation", self.interpolation, ("bilinear", "bicubic"))
        if self.resize_to is not None:
            require_positive_int("resize_to", self.resize_to)
            if self.resize != "crop" or self.resize_to < max(self.image_size):
                raise ValueError(f"resize_to: expected None, or with resize='crop' a size >= the crop "
                                 f"{max(self.image_size)}, got {self.resize_to} (resize={self.resize!r})")
        for name in ("invert", "trim"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name}: expected True or False, got {describe(getattr(self, name))}")
        if not isinstance(self.arguments, dict):
            raise TypeError(f"arguments: expected a dict of the architecture's arguments, "
                            f"got {describe(self.arguments)}")
        if not _plain(self.arguments):  # what torch.load(weights_only=True) can read back
            raise TypeError(f"arguments: expected plain values only (str, int, float, bool, None, and lists, tuples "
                            f"and dicts of them), got {self.arguments!r:.200}")


def _plain(value: Any) -> bool:
    """Whether ``value`` is made of str, int, float, bool, None, lists, tuples and str-keyed dicts only.

    Exact types: a subclass (a namedtuple, a str enum) is saved by ``torch.save`` but refused by
    ``torch.load(weights_only=True)``.
    """
    if value is None or type(value) in (str, int, float, bool):
        return True
    if type(value) in (list, tuple):
        return all(_plain(item) for item in value)
    if type(value) is dict:
        return all(type(key) is str and _plain(item) for key, item in value.items())
    return False


def save_classifier(path: str | os.PathLike[str], model: nn.Module, card: ModelCard) -> Path:
    """Write ``model``'s weights and its ``card`` into one file; return its path. Taught in lesson 03.

    The model must rebuild from the card: it is rebuilt from the card right away, loads the weights and
    runs one image of the card's size, so a card that does not match the model (another architecture or
    argument, another number of classes) fails here, when it can still be fixed, not later on someone
    else's machine.
    """
    require_module("model", model)
    if not isinstance(card, ModelCard):
        raise TypeError(f"card: expected a ModelCard, got {describe(card)}")
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"path: expected a file in an existing folder, got {str(path)!r} (the folder "
                                f"{str(path.parent)!r} does not exist; create it first)")
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    rebuilt = _build(card)
    try:
        rebuilt.load_state_dict(state)
    except RuntimeError as error:
        raise ValueError(f"card: expected the architecture and arguments of this model, got a card whose "
                         f"{card.architecture}({card.arguments}) does not fit its weights: "
                         f"{str(error)[:300]}") from None
    with torch.inference_mode():  # the card's image size, channels and classes must fit the network too
        try:
            out = rebuilt.eval()(torch.zeros(1, card.channels, *card.image_size))
        except (RuntimeError, ValueError) as error:
            raise ValueError(f"card: expected the image size and channels this model takes, got "
                             f"{card.channels}×{card.image_size[0]}×{card.image_size[1]}: "
                             f"{str(error)[:300]}") from None
    if tuple(out.shape) != (1, len(card.class_names)):
        raise ValueError(f"card: expected {out.shape[-1]} class names (one per output of the model), "
                         f"got {len(card.class_names)}")
    torch.save({"format": _FORMAT, "card": dataclasses.asdict(card), "state_dict": state}, path)
    return path


def load_classifier(path: str | os.PathLike[str], device: torch.device | str = "cpu") -> tuple[nn.Module, ModelCard]:
    """Rebuild the classifier saved by ``save_classifier``: ``(model in eval() mode on device, card)``.

    Taught in lesson 03.
    """
    path = require_file("path", path)
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError):
        saved = None  # not a torch file at all (an image, a text file, a truncated download)
    if not isinstance(saved, dict) or saved.get("format") != _FORMAT:
        raise ValueError(f"path: expected a file written by save_classifier, got {str(path)!r} (a bare state_dict "
                         "cannot be rebuilt: save it with save_classifier and a ModelCard)")
    try:
        card_fields = saved["card"]
        card = ModelCard(**{**card_fields, "class_names": tuple(card_fields["class_names"]),
                            "image_size": tuple(card_fields["image_size"])})
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"path: expected a valid model card in {str(path)!r}, got one that fails: "
                         f"{type(error).__name__}: {error}") from None
    model = _build(card)
    model.load_state_dict(saved["state_dict"])
    return model.to(device).eval(), card


def _build(card: ModelCard) -> nn.Module:
    """The untrained network the card describes."""
    from . import models

    if card.architecture in models.__all__ and isinstance(getattr(models, card.architecture), type):
        return getattr(models, card.architecture)(**card.arguments)
    from .pretrained import load_pretrained

    return load_pretrained(card.architecture, num_classes=len(card.class_names), weights=None).model


def preprocess_file(path: str | os.PathLike[str], card: ModelCard) -> torch.Tensor:
    """An image file as the 1×C×H×W float batch the card's model expects. Taught in lesson 03.

    The file is decoded with Pillow and turned upright by its EXIF orientation (phone photos are
    often stored sideways with a tag saying so), converted to grey or RGB, trimmed and inverted if
    the card says so, resized ("pad" or "crop", antialiased) and normalised with the card's statistics.
    """
    path = require_file("path", path)
    if not isinstance(card, ModelCard):
        raise TypeError(f"card: expected a ModelCard, got {describe(card)}")
    try:
        with Image.open(path) as opened:
            picture = ImageOps.exif_transpose(opened)
            if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
                background = Image.new("RGBA", picture.size, (255, 255, 255, 255))  # see-through is paper-white
                picture = Image.alpha_composite(background, picture.convert("RGBA"))
            picture = picture.convert("L" if card.channels == 1 else "RGB")
    except OSError as error:  # Pillow's "cannot identify image file", truncated files, ...
        raise ValueError(f"path: expected an image file, got {str(path)!r} ({error})") from None
    pixels = torch.from_numpy(np.asarray(picture).copy()).float().div(255)
    pixels = pixels.unsqueeze(0) if pixels.ndim == 2 else pixels.permute(2, 0, 1)
    background = None  # when trimming: the corners' colour, for the padding (the object may fill the median)
    if card.trim:
        pixels, background = _trim_margins(pixels)
    if card.invert:
        pixels = 1.0 - pixels
        background = None if background is None else 1.0 - background
    height, width = card.image_size
    _, h, w = pixels.shape
    if card.resize == "pad":
        scale = min(height / h, width / w)
        new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
        resized = F.interpolate(pixels[None], size=(new_h, new_w), mode=card.interpolation, antialias=True)[0]
        fill = torch.tensor([resized[c].flatten().median() for c in range(resized.shape[0])])  # the background
        fill = fill if background is None else background
        canvas = fill.view(-1, 1, 1).expand(pixels.shape[0], height, width).clone()
        top, left = (height - new_h) // 2, (width - new_w) // 2
        canvas[:, top:top + new_h, left:left + new_w] = resized
        batch = canvas
    elif card.resize_to is not None:  # as torchvision's Resize(resize_to): the shorter side, the longer truncated
        short, long = (h, w) if h <= w else (w, h)
        new_short, new_long = card.resize_to, int(card.resize_to * long / short)
        new_h, new_w = (new_short, new_long) if h <= w else (new_long, new_short)
        resized = F.interpolate(pixels[None], size=(new_h, new_w), mode=card.interpolation, antialias=True)[0]
        top, left = int(round((new_h - height) / 2.0)), int(round((new_w - width) / 2.0))  # as CenterCrop
        batch = resized[:, top:top + height, left:left + width]
    else:
        scale = max(height / h, width / w)
        new_h, new_w = max(height, round(h * scale)), max(width, round(w * scale))
        resized = F.interpolate(pixels[None], size=(new_h, new_w), mode=card.interpolation, antialias=True)[0]
        top, left = (new_h - height) // 2, (new_w - width) // 2
        batch = resized[:, top:top + height, left:left + width]
    batch = batch.clamp(0, 1)
    mean = torch.tensor(card.mean).view(-1, 1, 1)
    std = torch.tensor(card.std).view(-1, 1, 1)
    return ((batch - mean) / std).unsqueeze(0).contiguous()


def classify_file(
    path: str | os.PathLike[str], model: nn.Module, card: ModelCard, k: int | None = None
) -> list[tuple[str, float]]:
    """The ``k`` most probable classes of an image file, as ``(class name, probability)``, best first.

    ``k`` defaults to 3, or to the number of classes when there are fewer. Taught in lesson 03.
    """
    require_module("model", model)
    if not isinstance(card, ModelCard):
        raise TypeError(f"card: expected a ModelCard, got {describe(card)}")
    k = min(3, len(card.class_names)) if k is None else require_positive_int("k", k)
    if k > len(card.class_names):
        raise ValueError(f"k: expected at most {len(card.class_names)} (the number of classes), got {k}")
    batch = preprocess_file(path, card)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            logits = model(batch.to(device))
    finally:
        model.train(was_training)
    if logits.ndim != 2 or logits.shape[1] != len(card.class_names):
        raise ValueError(f"model: expected {len(card.class_names)} outputs (one per class name), got "
                         f"{describe(logits)}")
    probs = logits.float().softmax(dim=1)[0].cpu()
    top = probs.topk(k)
    return [(card.class_names[i], float(p)) for p, i in zip(top.values.tolist(), top.indices.tolist())]


def _trim_margins(pixels: torch.Tensor, tolerance: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop C×H×W pixels (0–1) to the smallest box holding every pixel unlike the corners (``ModelCard.trim``).

    Returns the cropped pixels and the corners' colour (C values: the background, for the padding).
    FashionMNIST's conversion of Zalando's product photos began this way: "trimming any edges that
    are close to the color of the corner pixels", close meaning within 5% of the maximum intensity
    (``tolerance``, as a Euclidean distance in colour space). A product photographed with wide
    margins would otherwise end up small in the 28×28 picture, unlike every training image. A
    picture with nothing but background is returned whole.
    """
    if not isinstance(pixels, torch.Tensor) or pixels.ndim != 3 or not pixels.is_floating_point():
        raise TypeError(f"pixels: expected a float tensor C×H×W with values 0-1, got {describe(pixels)}")
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 <= tolerance < 1:
        raise ValueError(f"tolerance: expected a number in [0, 1), got {describe(tolerance)}")
    corners = torch.stack([pixels[:, 0, 0], pixels[:, 0, -1], pixels[:, -1, 0], pixels[:, -1, -1]])  # 4×C
    background = corners.median(dim=0).values
    different = (pixels - background.view(-1, 1, 1)).square().sum(dim=0).sqrt() > tolerance  # H×W
    rows, cols = torch.nonzero(different.any(dim=1)).flatten(), torch.nonzero(different.any(dim=0)).flatten()
    if len(rows) == 0:
        return pixels, background
    return pixels[:, int(rows[0]):int(rows[-1]) + 1, int(cols[0]):int(cols[-1]) + 1], background
