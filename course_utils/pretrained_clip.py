"""A real pretrained CLIP through open_clip: loading it honestly, preprocessing, and embedding images and texts.

``load_clip`` returns an open_clip model (by default ViT-B-32 with the LAION-2B weights
``laion2b_s34b_b79k``), its tokenizer and its preprocessing. Without internet and without cached
weights it stops with instructions, or, when the run mode allows stand-ins
(``COURSE_ALLOW_STANDINS=1``), returns the same architecture with random weights, announced by a
banner and ``is_pretrained=False``. ``encode_images`` and ``encode_texts`` embed in-memory uint8
images (grayscale or RGB, any size) and sentences in batches; ``zero_shot_classifier`` turns class
names and prompt templates into one unit vector per class. ``open_clip_torch`` is imported only
when a function needs it, and huggingface_hub's telemetry is off around every look-up.
"""

from __future__ import annotations

import difflib
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from ._validate import describe, require_device, require_positive_int, require_tensor
from .batches import BatchGuard, device_batches, model_mode, place_model
from .contrastive import _FLOAT_DTYPES, _check_templates, ensemble_class_embeddings
from .runtime import get_device
from .standins import announce_standin, download_failure, require_standins_allowed

__all__ = [
    "DEFAULT_CLIP_MODEL",
    "DEFAULT_CLIP_PRETRAINED",
    "LoadedCLIP",
    "cached_clip_checkpoint",
    "clip_preprocess",
    "encode_images",
    "encode_texts",
    "hub_reachable",
    "load_clip",
    "zero_shot_classifier",
]

DEFAULT_CLIP_MODEL = "ViT-B-32"
DEFAULT_CLIP_PRETRAINED = "laion2b_s34b_b79k"
_HUB_HOST = "huggingface.co"


def _open_clip() -> Any:
    try:
        import open_clip
    except ImportError as error:  # pragma: no cover - the course environment has it
        raise ImportError(
            "This needs the open_clip_torch package, which is not installed. Install it with "
            "`pip install open_clip_torch` (in a notebook: `%pip install open_clip_torch`) and restart the kernel."
        ) from error
    return open_clip


@contextmanager
def _no_hub_telemetry() -> Iterator[None]:
    """Switch huggingface_hub's telemetry off for one look-up or download, then restore the learner's setting.

    huggingface_hub (2.4) builds a telemetry user agent for every request, even a
    ``local_files_only`` cache look-up, and for that fetches a registry from huggingface.co once
    per process (3 s timeout). ``HF_HUB_DISABLE_TELEMETRY`` is its documented switch; it is read
    from ``huggingface_hub.constants`` at call time, so setting it there for the call is enough.
    """
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - huggingface_hub is a dependency of open_clip
        yield
        return
    saved = constants.HF_HUB_DISABLE_TELEMETRY
    constants.HF_HUB_DISABLE_TELEMETRY = True
    try:
        yield
    finally:
        constants.HF_HUB_DISABLE_TELEMETRY = saved


def hub_reachable(host: str = _HUB_HOST, port: int = 443, timeout: float = 3.0) -> bool:
    """True if a TCP connection to ``host:port`` opens within ``timeout`` seconds.

    Checked before asking open_clip for weights: without internet its downloader retries for
    tens of seconds per file before giving up.

    Taught in lesson 05.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def cached_clip_checkpoint(model_name: str, pretrained: str, cache_dir: str | Path | None = None) -> str | None:
    """The local file of open_clip weights ``(model_name, pretrained)`` if already downloaded, else None.

    Looks where open_clip's own downloads go (the Hugging Face cache, or ``~/.cache/clip`` for
    weights served from a URL) without touching the network.

    Taught in lesson 05.
    """
    open_clip = _open_clip()
    config = open_clip.get_pretrained_cfg(model_name, pretrained)
    hub = config.get("hf_hub", "")
    if hub:
        download = getattr(open_clip.pretrained, "hf_hub_download", None)
        if download is None:  # pragma: no cover - huggingface_hub is a dependency of open_clip
            return None
        repo_id, filename = os.path.split(hub)
        filename = filename or open_clip.constants.HF_WEIGHTS_NAME
        candidates = [filename]
        if filename == open_clip.constants.HF_WEIGHTS_NAME:
            candidates.insert(0, open_clip.constants.HF_SAFE_WEIGHTS_NAME)
        elif filename.endswith((".bin", ".pth")):
            candidates.insert(0, filename[:-4] + ".safetensors")
        for candidate in candidates:
            try:
                with _no_hub_telemetry():
                    return str(download(repo_id=repo_id, filename=candidate, cache_dir=cache_dir,
                                        local_files_only=True))
            except Exception:  # noqa: BLE001 - "not in the cache" comes in several exception types
                continue
        return None
    url = config.get("url", "")
    if url:
        folder = Path(cache_dir).expanduser() if cache_dir else Path.home() / ".cache" / "clip"
        path = folder / os.path.basename(url)
        return str(path) if path.is_file() else None
    return None


@dataclass
class LoadedCLIP:
    """An open_clip model with what is needed to use it (see ``load_clip``). Taught in lesson 05."""

    model: nn.Module
    tokenizer: Callable[..., torch.Tensor]
    preprocess: Callable[[Any], torch.Tensor]
    model_name: str
    pretrained: str | None
    is_pretrained: bool
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    device: torch.device

    @property
    def label(self) -> str:
        """``"ViT-B-32 (laion2b_s34b_b79k)"``, or a label that says STAND-IN for random weights."""
        if self.is_pretrained:
            return f"{self.model_name} ({self.pretrained})"
        return f"{self.model_name} STAND-IN (random weights, not pretrained)"

    @property
    def embed_dim(self) -> int:
        """The size of the shared embedding space."""
        return int(self.model.text_projection.shape[1]) if hasattr(self.model, "text_projection") else int(
            self.model.visual.output_dim
        )

    @property
    def logit_scale(self) -> float:
        """The model's learned logit scale (the log of 1/temperature)."""
        return float(self.model.logit_scale.detach())


def _check_clip_names(open_clip: Any, model_name: Any, pretrained: Any) -> None:
    if not isinstance(model_name, str):
        raise TypeError(f"model_name: expected an open_clip model name such as 'ViT-B-32', got {describe(model_name)}")
    known = open_clip.list_models()
    if model_name not in known:
        close = difflib.get_close_matches(model_name, known, n=3)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise ValueError(f"model_name: expected one of open_clip.list_models(){hint}, got {model_name!r}")
    if pretrained is not None:
        tags = open_clip.list_pretrained_tags_by_model(model_name)
        if pretrained not in tags:
            raise ValueError(f"pretrained: expected None or one of {tags} for {model_name}, got {pretrained!r}")


def _normalize_settings(preprocess: Any) -> tuple[tuple[float, ...], tuple[float, ...]]:
    for step in getattr(preprocess, "transforms", []):
        if hasattr(step, "mean") and hasattr(step, "std"):
            return tuple(float(v) for v in step.mean), tuple(float(v) for v in step.std)
    raise ValueError(  # pragma: no cover - open_clip's preprocessing always ends in Normalize
        f"preprocess: expected a Compose ending in Normalize, got {describe(preprocess)}"
    )


def load_clip(
    model_name: str = DEFAULT_CLIP_MODEL,
    pretrained: str | None = DEFAULT_CLIP_PRETRAINED,
    device: torch.device | str | None = None,
) -> LoadedCLIP:
    """Load an open_clip model, its tokenizer and preprocessing; say honestly whether it is pretrained.

    ``model_name`` is an ``open_clip.list_models()`` name, ``pretrained`` one of its tags
    (``open_clip.list_pretrained_tags_by_model``) or ``None`` for a deliberately random model.
    Weights are downloaded on first use and cached. If they can be neither found in the cache
    nor downloaded: with ``COURSE_ALLOW_STANDINS=1`` the same architecture is returned with
    random weights, a STAND-IN banner is printed and ``is_pretrained`` is False; otherwise a
    ``RuntimeError`` says what to do. The model is returned in ``eval()`` mode on ``device``
    (default: ``get_device()``). The tokenizer works offline (it ships with open_clip).

    Taught in lesson 05.
    """
    open_clip = _open_clip()
    _check_clip_names(open_clip, model_name, pretrained)
    device = require_device("device", device) if device is not None else get_device()
    is_pretrained = False
    if pretrained is None:
        model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=None)
    else:
        try:
            source, extra = pretrained, {}
            cached = cached_clip_checkpoint(model_name, pretrained)
            if cached is not None:  # load the file directly: no network round trip
                config = open_clip.get_pretrained_cfg(model_name, pretrained)
                source = cached
                extra = {f"image_{key}": config[key] for key in ("mean", "std", "interpolation", "resize_mode")
                         if key in config}
            elif not hub_reachable():
                raise OSError(f"{_HUB_HOST} cannot be reached (no internet connection?) and the weights are not cached")
            with _no_hub_telemetry():
                model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=source, **extra)
            is_pretrained = True
        except (OSError, RuntimeError) as error:  # open_clip reports failed downloads as RuntimeError
            require_standins_allowed(
                f"load_clip: could not get the pretrained weights {pretrained!r} for {model_name}", error,
                "RANDOM weights (the code runs, but the results are not those of CLIP)")
            announce_standin(
                "weights", used=f"a RANDOMLY INITIALISED {model_name}",
                instead_of=f"the pretrained {pretrained!r} weights", why=download_failure(error, 300),
                meaning="every CLIP result below is that of an untrained model (about chance)")
            model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=None)
    model = model.to(device).eval()
    mean, std = _normalize_settings(preprocess)
    size = getattr(model.visual, "image_size", 224)
    image_size = int(size[0] if isinstance(size, (tuple, list)) else size)
    return LoadedCLIP(
        model=model,
        tokenizer=open_clip.get_tokenizer(model_name),
        preprocess=preprocess,
        model_name=model_name,
        pretrained=pretrained,
        is_pretrained=is_pretrained,
        image_size=image_size,
        mean=mean,
        std=std,
        device=device,
    )


def clip_preprocess(
    images: torch.Tensor,
    image_size: int = 224,
    mean: Sequence[float] = (0.48145466, 0.4578275, 0.40821073),
    std: Sequence[float] = (0.26862954, 0.26130258, 0.27577711),
) -> torch.Tensor:
    """Prepare a batch of images for a CLIP image encoder, on the batch's device.

    ``images``: N×C×H×W, uint8 (0–255) or float (0–1), with 1 (grayscale) or 3 channels.
    Grayscale is repeated into three identical channels (what ``PIL.Image.convert("RGB")``
    does); then, as open_clip's own preprocessing, the shorter side is resized to
    ``image_size`` (bicubic, antialiased), the centre is cropped to a square and each channel
    is normalised with ``mean`` and ``std`` (defaults: the statistics CLIP was trained with).
    Returns float32 N×3×image_size×image_size.

    Taught in lesson 05.
    """
    images = require_tensor("images", images, ndim=4, channels=(1, 3))
    require_positive_int("image_size", image_size)
    if images.dtype == torch.uint8:
        batch = images.float() / 255
    elif images.dtype in _FLOAT_DTYPES:
        batch = images.float()
    else:
        raise TypeError(f"images: expected uint8 (0-255) or float (0-1) pixels, got {describe(images)}")
    if batch.shape[1] == 1:
        batch = batch.expand(-1, 3, -1, -1)
    batch = TF.resize(batch, [image_size], interpolation=InterpolationMode.BICUBIC, antialias=True)
    batch = TF.center_crop(batch, [image_size, image_size]).clamp(0, 1)  # bicubic overshoots a little
    return TF.normalize(batch, list(mean), list(std))


def _require_loaded(clip: Any) -> LoadedCLIP:
    if not isinstance(clip, LoadedCLIP):
        raise TypeError(f"clip: expected what load_clip() returns (a LoadedCLIP), got {describe(clip)}")
    return clip


def encode_images(
    clip: LoadedCLIP,
    images: torch.Tensor,
    *,
    batch_size: int = 64,
    normalize: bool = True,
) -> torch.Tensor:
    """Embed N×C×H×W images (uint8 or float 0–1, grayscale or RGB) with CLIP's image encoder.

    Batches of ``batch_size`` are preprocessed (``clip_preprocess``) and encoded on the
    model's device in ``eval()`` mode under ``torch.inference_mode()``, with the device's precision
    policy (``course_utils.batches``). Returns float32 N×D on the CPU, each row of unit length when
    ``normalize`` is True. Taught in lesson 05.
    """
    clip = _require_loaded(clip)
    images = require_tensor("images", images, ndim=4, channels=(1, 3))
    require_positive_int("batch_size", batch_size)
    device, policy = place_model(clip.model, clip.device, None)
    guard = BatchGuard(device, "image embeddings")
    chunks = []
    with model_mode(clip.model, False), torch.inference_mode():
        for index, batch, _, _ in device_batches(images.split(batch_size), device, policy):
            batch = clip_preprocess(batch, clip.image_size, clip.mean, clip.std)
            with policy.autocast():
                embeddings = clip.model.encode_image(batch, normalize=False).float()
            if normalize:  # in float32, after autocast: a bf16 division leaves rows up to 0.4% off unit length
                embeddings = nn.functional.normalize(embeddings, dim=-1)
            guard.record(index, embeddings)
            chunks.append(embeddings)
    guard.finish()
    return torch.cat(chunks).cpu()


def encode_texts(
    clip: LoadedCLIP,
    texts: Sequence[str],
    *,
    batch_size: int = 256,
    normalize: bool = True,
) -> torch.Tensor:
    """Embed sentences with CLIP's text encoder: float32 T×D on the CPU (unit rows if ``normalize``).

    Taught in lesson 05.
    """
    clip = _require_loaded(clip)
    if isinstance(texts, str) or not isinstance(texts, Sequence) or not all(isinstance(t, str) for t in texts):
        raise TypeError(f"texts: expected a list of strings, got {describe(texts)}")
    if not texts:
        raise ValueError("texts: expected at least one sentence, got an empty list")
    require_positive_int("batch_size", batch_size)
    chunks = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            tokens = clip.tokenizer(list(texts[start:start + batch_size])).to(clip.device)
            chunks.append(clip.model.encode_text(tokens, normalize=normalize).float().cpu())
    return torch.cat(chunks)


def zero_shot_classifier(clip: LoadedCLIP, class_names: Sequence[str], templates: Sequence[str]) -> torch.Tensor:
    """One unit vector per class from prompts: C×D (the "classifier weights" of zero-shot CLIP).

    Every template is filled with every class name (``template.format(name)``), the T
    sentences of a class are embedded and ensembled (``ensemble_class_embeddings``). With one
    template this is plain single-prompt zero-shot classification.

    Taught in lesson 05.
    """
    templates = _check_templates(templates)
    if isinstance(class_names, str) or not isinstance(class_names, Sequence) or not class_names:
        raise TypeError(f"class_names: expected a non-empty list of class names, got {describe(class_names)}")
    texts = [template.format(name) for name in class_names for template in templates]
    embeddings = encode_texts(clip, texts, normalize=True)
    return ensemble_class_embeddings(embeddings.reshape(len(class_names), len(templates), -1))
