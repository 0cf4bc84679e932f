"""Figures of images: grids, batches with their labels, augmentations, predictions.

Every function returns a ``matplotlib.figure.Figure`` and never calls
``plt.show()``, so it works the same in a notebook, a script and headless CI.
The figure is closed in pyplot before it is returned: in a notebook it appears
once, when it is the value of the cell (the last line) or passed to
``display(fig)``; in a script save it with ``fig.savefig("name.png")``.

Images may be given as N×C×H×W tensors (uint8 0–255 or float 0–1), a single
C×H×W tensor, or a list of H×W×C NumPy arrays / PIL images. Pass ``mean`` and
``std`` to undo a ``Normalize`` so the pictures look like photographs again.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from ._validate import describe, require_labels, require_positive_int, require_tensor

__all__ = [
    "show_augmentations",
    "show_batch",
    "show_images",
    "show_predictions",
    "describe_image",
    "unnormalize",
    "show_rows",
]

RIGHT_COLOR = "#1a7f37"  # green
WRONG_COLOR = "#cf222e"  # red
_IMAGE_INCHES = 1.6


def _as_chw_float(image: Any, name: str) -> torch.Tensor:
    """One image (tensor C×H×W, array H×W[×C], PIL image) as a float32 C×H×W tensor on the 0–1 scale."""
    if hasattr(image, "getbands") and not isinstance(image, (torch.Tensor, np.ndarray)):  # a PIL image
        image = np.asarray(image)
    if isinstance(image, np.ndarray):
        if image.ndim == 2:
            image = image[:, :, None]
        if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
            raise ValueError(f"{name}: expected an H×W or H×W×C array with 1, 3 or 4 channels, got {describe(image)}")
        if not (
            np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating) or image.dtype == bool
        ):
            raise TypeError(f"{name}: expected an integer or floating-point array, got {describe(image)}")
        image = torch.from_numpy(np.array(image[:, :, :3])).permute(2, 0, 1)  # a copy: arrays may be read-only
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"{name}: expected a tensor C×H×W, a NumPy array H×W×C or a PIL image, got {describe(image)}")
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"{name}: expected an image C×H×W with 1 or 3 channels, got {describe(image)}")
    image = image.detach().cpu()
    if image.dtype == torch.uint8:
        return image.float() / 255
    if image.dtype == torch.bool:
        return image.float()
    if image.is_floating_point():
        return image.float()
    raise TypeError(f"{name}: expected uint8 or floating-point pixels, got {describe(image)}")


def _as_image_list(images: Any, name: str) -> list[torch.Tensor]:
    """Accept a batch tensor, one C×H×W tensor, an N×H×W×C array or a list of images; return a list of C×H×W floats."""
    if isinstance(images, torch.Tensor):
        if images.ndim == 4:
            require_tensor(name, images, ndim=4, channels=(1, 3))
            return [_as_chw_float(image, name) for image in images]
        if images.ndim == 3 and images.shape[0] in (1, 3):
            return [_as_chw_float(images, name)]
        raise ValueError(
            f"{name}: expected a batch N×C×H×W or one image C×H×W with 1 or 3 channels "
            f"(for N×H×W grayscale use images.unsqueeze(1)), got {describe(images)}"
        )
    if isinstance(images, np.ndarray) and images.ndim == 4:
        return [_as_chw_float(image, name) for image in images]
    if isinstance(images, np.ndarray):
        return [_as_chw_float(images, name)]
    if isinstance(images, (list, tuple)):
        if not images:
            raise ValueError(f"{name}: expected at least one image, got an empty {type(images).__name__}")
        return [_as_chw_float(image, f"{name}[{i}]") for i, image in enumerate(images)]
    raise TypeError(f"{name}: expected a tensor N×C×H×W or a list of images, got {describe(images)}")


def _channel_vector(name: str, value: Any, channels: int) -> torch.Tensor:
    vector = torch.as_tensor(value, dtype=torch.float32).flatten()
    if vector.numel() not in (1, channels):
        raise ValueError(f"{name}: expected 1 or {channels} values (one per channel), got {vector.numel()}")
    return vector.reshape(-1, 1, 1)


def _prepare(images: list[torch.Tensor], mean: Any, std: Any, name: str) -> list[np.ndarray]:
    """Undo normalisation, clip to [0, 1] and lay out for ``imshow`` (H×W or H×W×3)."""
    if (mean is None) != (std is None):
        raise ValueError(f"mean/std: expected both or neither, got mean={mean!r} and std={std!r}")
    prepared = []
    clipped = False
    for image in images:
        if mean is not None:
            image = image * _channel_vector("std", std, image.shape[0]) + _channel_vector("mean", mean, image.shape[0])
        if image.numel() and (float(image.min()) < -0.01 or float(image.max()) > 1.01):
            clipped = True
        image = image.clamp(0, 1)
        prepared.append(image[0].numpy() if image.shape[0] == 1 else image.permute(1, 2, 0).numpy())
    if clipped:
        warnings.warn(
            f"{name}: some pixel values were outside [0, 1] and were clipped for display; "
            "if the images are normalised, pass mean= and std= to undo it",
            stacklevel=3,
        )
    return prepared


def _image_grid(
    images: list[np.ndarray],
    titles: Sequence[str] | None,
    ncols: int,
    colors: Sequence[str] | None = None,
    suptitle: str | None = None,
) -> Figure:
    count = len(images)
    ncols = min(ncols, count)
    nrows = math.ceil(count / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(ncols * _IMAGE_INCHES, nrows * (_IMAGE_INCHES + 0.3)), squeeze=False
    )
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= count:
            continue
        image = images[index]
        if image.ndim == 2:
            ax.imshow(image, cmap="gray", vmin=0, vmax=1)
        else:
            ax.imshow(image)
        if titles is not None:
            color = colors[index] if colors is not None else "black"
            ax.set_title(str(titles[index]), fontsize=8, color=color)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    plt.close(fig)
    return fig


def _limit(count: int, max_images: int) -> tuple[int, str | None]:
    require_positive_int("max_images", max_images)
    if count > max_images:
        return max_images, f"showing the first {max_images} of {count} images"
    return count, None


def _check_titles(name: str, titles: Sequence[Any] | None, count: int) -> None:
    if titles is None:
        return
    if isinstance(titles, str) or not isinstance(titles, Sequence):
        raise TypeError(f"{name}: expected a sequence of {count} titles, got {describe(titles)}")
    if len(titles) != count:
        raise ValueError(f"{name}: expected {count} titles (one per image), got {len(titles)}")


def show_images(
    images: Any,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    mean: Sequence[float] | torch.Tensor | None = None,
    std: Sequence[float] | torch.Tensor | None = None,
    *,
    max_images: int = 64,
) -> Figure:
    """Show images in a grid with ``ncols`` columns, optionally with one title each.

    ``images``: N×C×H×W tensor (uint8 or float), one C×H×W tensor, or a list of
    H×W×C arrays / PIL images. ``mean``/``std`` undo a normalisation. Only the
    first ``max_images`` are drawn.

    Taught in lesson 00.
    """
    require_positive_int("ncols", ncols)
    image_list = _as_image_list(images, "images")
    _check_titles("titles", titles, len(image_list))
    count, note = _limit(len(image_list), max_images)
    prepared = _prepare(image_list[:count], mean, std, "images")
    return _image_grid(prepared, None if titles is None else list(titles)[:count], ncols, suptitle=note)


def _names_for(labels: torch.Tensor, class_names: Sequence[str] | None) -> list[str]:
    return [str(class_names[i]) if class_names is not None else str(i) for i in labels.tolist()]


def _check_class_names(class_names: Sequence[str] | None) -> int | None:
    if class_names is None:
        return None
    if isinstance(class_names, str) or not isinstance(class_names, Sequence) or not class_names:
        raise TypeError(f"class_names: expected a non-empty sequence of names, got {describe(class_names)}")
    return len(class_names)


def show_batch(
    images: Any,
    labels: torch.Tensor,
    class_names: Sequence[str] | None,
    ncols: int = 8,
    mean: Sequence[float] | torch.Tensor | None = None,
    std: Sequence[float] | torch.Tensor | None = None,
    *,
    max_images: int = 32,
) -> Figure:
    """Show a batch of images titled with their class names (``class_names[label]``). Taught in lesson 01."""
    image_list = _as_image_list(images, "images")
    num_classes = _check_class_names(class_names)
    labels = require_labels("labels", labels, n=len(image_list), num_classes=num_classes)
    return show_images(
        image_list, _names_for(labels, class_names), ncols=ncols, mean=mean, std=std, max_images=max_images
    )


def show_augmentations(
    image: Any,
    transform: Callable[[Any], Any],
    n: int = 8,
    ncols: int = 9,
    mean: Sequence[float] | torch.Tensor | None = None,
    std: Sequence[float] | torch.Tensor | None = None,
) -> Figure:
    """Show ``image`` and ``n`` results of applying the random ``transform`` to it.

    ``image`` is a C×H×W tensor (uint8 or float), an H×W×C array (passed to the
    transform as a uint8/float C×H×W tensor) or a PIL image (passed as is).
    ``mean``/``std`` undo a ``Normalize`` at the end of ``transform``; they apply
    to the augmented images only, not to the original.

    Taught in lesson 00.
    """
    require_positive_int("n", n)
    require_positive_int("ncols", ncols)
    if not callable(transform):
        raise TypeError(f"transform: expected a callable such as a torchvision transform, got {describe(transform)}")
    if isinstance(image, np.ndarray):
        _as_chw_float(image, "image")  # validates the array
        array = image[:, :, None] if image.ndim == 2 else image[:, :, :3]
        image = torch.from_numpy(np.array(array)).permute(2, 0, 1)
    original = _as_chw_float(image, "image")
    augmented = []
    for i in range(n):
        result = transform(image)
        augmented.append(_as_chw_float(result, f"transform(image) result {i}"))
    shown = _prepare([original], None, None, "image") + _prepare(augmented, mean, std, "transform(image)")
    titles = ["original"] + [f"augmented {i + 1}" for i in range(n)]
    return _image_grid(shown, titles, ncols)


def show_predictions(
    images: Any,
    preds: torch.Tensor,
    targets: torch.Tensor,
    class_names: Sequence[str] | None,
    probs: torch.Tensor | None = None,
    ncols: int = 8,
    mean: Sequence[float] | torch.Tensor | None = None,
    std: Sequence[float] | torch.Tensor | None = None,
    *,
    max_images: int = 32,
) -> Figure:
    """Show images titled "pred: … / true: …", green when right and red when wrong.

    ``probs`` (optional) is either N×C class probabilities or N confidences; the
    probability of the predicted class is then added to its title.

    Taught in lesson 03.
    """
    require_positive_int("ncols", ncols)
    image_list = _as_image_list(images, "images")
    count = len(image_list)
    num_classes = _check_class_names(class_names)
    preds = require_labels("preds", preds, n=count, num_classes=num_classes)
    targets = require_labels("targets", targets, n=count, num_classes=num_classes)
    confidence: list[float] | None = None
    if probs is not None:
        probs = require_tensor(
            "probs", probs, ndim=(1, 2), dtypes=(torch.float32, torch.float64, torch.float16, torch.bfloat16)
        )
        if probs.shape[0] != count:
            raise ValueError(f"probs: expected {count} rows (one per image), got {probs.shape[0]}")
        if probs.ndim == 2:
            if num_classes is not None and probs.shape[1] != num_classes:
                raise ValueError(f"probs: expected {num_classes} columns (one per class), got {probs.shape[1]}")
            if int(preds.max()) >= probs.shape[1]:
                raise ValueError(
                    f"preds: expected class indices below {probs.shape[1]} (the columns of probs), got {int(preds.max())}"
                )
            confidence = probs.detach().float().cpu().gather(1, preds.cpu().long().unsqueeze(1)).squeeze(1).tolist()
        else:
            confidence = probs.detach().float().cpu().tolist()
    pred_names = _names_for(preds, class_names)
    true_names = _names_for(targets, class_names)
    titles, colors = [], []
    for i in range(count):
        extra = f" ({confidence[i]:.0%})" if confidence is not None else ""
        titles.append(f"pred: {pred_names[i]}{extra}\ntrue: {true_names[i]}")
        colors.append(RIGHT_COLOR if int(preds[i]) == int(targets[i]) else WRONG_COLOR)
    shown, note = _limit(count, max_images)
    prepared = _prepare(image_list[:shown], mean, std, "images")
    return _image_grid(prepared, titles[:shown], ncols, colors=colors[:shown], suptitle=note)


def describe_image(image: Any) -> str:
    """One line about an image: its type, shape (or size and mode), dtype and value range.

    For a PIL image: "PIL.Image W×H (W×H), mode RGB"; for a tensor or NumPy array: its type, shape,
    dtype and smallest … largest value. Used to watch an image change step by step through a
    preprocessing pipeline. Taught in lesson 02.
    """
    if hasattr(image, "getbands") and hasattr(image, "size") and hasattr(image, "mode"):  # a PIL image
        return f"PIL.Image {image.size[0]}×{image.size[1]} (W×H), mode {image.mode}"
    if not isinstance(image, (torch.Tensor, np.ndarray)):
        raise TypeError(f"image: expected a PIL image, a tensor or a NumPy array, got {describe(image)}")
    empty = image.size == 0 if isinstance(image, np.ndarray) else image.numel() == 0
    if empty:
        raise ValueError(f"image: expected a non-empty image, got {describe(image)}")
    low, high = (float(image.min()), float(image.max()))
    return f"{type(image).__name__} {tuple(image.shape)} {image.dtype}, values {low:.3g} … {high:.3g}"


def unnormalize(
    images: torch.Tensor, mean: Sequence[float] | torch.Tensor, std: Sequence[float] | torch.Tensor
) -> torch.Tensor:
    """Undo ``v2.Normalize(mean, std)``: ``images * std + mean`` per channel, for display.

    ``images``: one floating-point image C×H×W or a batch N×C×H×W, on any device; ``mean`` and
    ``std`` hold one value per channel (or one value for all), ``std`` > 0. Returns a new tensor
    of the same shape, dtype and device (values are not clipped). Taught in lesson 02.
    """
    images = require_tensor("images", images, ndim=(3, 4))
    if not images.is_floating_point():
        raise TypeError(f"images: expected a floating-point (normalised) image, got {describe(images)}")
    channels = images.shape[-3]
    vectors = []
    for name, values in (("mean", mean), ("std", std)):
        if not isinstance(values, (Sequence, torch.Tensor, np.ndarray)) or isinstance(values, str):
            raise TypeError(f"{name}: expected one number per channel (a list or a tensor), got {describe(values)}")
        vector = torch.as_tensor(values, dtype=torch.float64).flatten()
        if vector.numel() not in (1, channels):
            wanted = "1 value for 1 channel" if channels == 1 else f"1 or {channels} values (one per channel)"
            raise ValueError(f"{name}: expected {wanted}, got {vector.numel()}")
        vectors.append(vector.reshape(-1, 1, 1))
    mean_vector, std_vector = vectors
    if not bool(torch.isfinite(mean_vector).all()):
        raise ValueError(f"mean: expected finite values, got {mean_vector.flatten().tolist()}")
    if not bool((std_vector > 0).all()) or not bool(torch.isfinite(std_vector).all()):
        raise ValueError(f"std: expected finite values > 0, got {std_vector.flatten().tolist()}")
    std_vector = std_vector.to(images.device, images.dtype)
    mean_vector = mean_vector.to(images.device, images.dtype)
    return images * std_vector + mean_vector


def show_rows(
    rows: Mapping[str, Sequence[Any]],
    titles: Mapping[str, Sequence[str]] | None = None,
    size: float = 1.45,
) -> Figure:
    """A grid with one row per entry of ``rows``: row name -> list of images, the name written on the left.

    Images are C×H×W tensors (uint8 0–255 or float 0–1, clipped to [0, 1] for display; undo a
    ``Normalize`` first with ``unnormalize``), H×W(×C) arrays or PIL images; rows may differ in
    length. ``titles`` (optional) maps a row name to one small title per image of that row.
    ``size`` is the size of one picture in inches. Taught in lesson 02.
    """
    if not isinstance(rows, Mapping) or not rows:
        raise TypeError(f"rows: expected a non-empty dict of row name -> list of images, got {describe(rows)}")
    if isinstance(size, bool) or not isinstance(size, (int, float)) or not 0 < size <= 10:
        raise ValueError(f"size: expected inches per picture between 0 and 10, got {describe(size)}")
    prepared: dict[str, list[np.ndarray]] = {}
    for name, images in rows.items():
        if isinstance(images, torch.Tensor) and images.ndim == 4:
            images = list(images)
        if isinstance(images, (str, torch.Tensor)) or not isinstance(images, Sequence) or not images:
            raise TypeError(f"rows[{name!r}]: expected a non-empty list of images, got {describe(images)}")
        chw = [_as_chw_float(image, f"rows[{name!r}][{i}]").clamp(0, 1) for i, image in enumerate(images)]
        prepared[str(name)] = [image[0].numpy() if image.shape[0] == 1 else image.permute(1, 2, 0).numpy()
                               for image in chw]
    if titles is not None:
        if not isinstance(titles, Mapping):
            raise TypeError(f"titles: expected a dict of row name -> list of titles, got {describe(titles)}")
        for name, row_titles in titles.items():
            if name not in rows:
                raise ValueError(f"titles: expected names of rows ({list(rows)}), got {name!r}")
            _check_titles(f"titles[{name!r}]", row_titles, len(prepared[str(name)]))
    ncols = max(len(images) for images in prepared.values())
    fig, axes = plt.subplots(
        len(prepared), ncols, figsize=(ncols * size + 1.2, len(prepared) * size * 1.08), squeeze=False
    )
    for r, (name, images) in enumerate(prepared.items()):
        for c, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c >= len(images):
                continue
            if images[c].ndim == 2:
                ax.imshow(images[c], cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(images[c])
            if titles is not None and name in titles:
                ax.set_title(str(titles[name][c]), fontsize=7)
        axes[r, 0].set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center")
    fig.tight_layout()
    plt.close(fig)
    return fig

