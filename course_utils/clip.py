"""CLIP: images and sentences in one embedding space, and classification by sentences.

Lesson 05 uses this module in three ways:

* **A real pretrained CLIP.** ``load_clip`` returns an open_clip model (by default ViT-B-32
  with the LAION-2B weights ``laion2b_s34b_b79k``), its tokenizer and its preprocessing.
  Without internet and without cached weights it stops with instructions, or, when the run
  mode allows stand-ins (``COURSE_ALLOW_STANDINS=1``), returns the same architecture with
  random weights, announced by a banner and ``is_pretrained=False``. ``encode_images`` and
  ``encode_texts`` embed in-memory uint8 images (grayscale or RGB, any size) and sentences
  in batches; ``zero_shot_classifier`` turns class names and prompt templates into one unit
  vector per class.
* **Reference versions of the lesson's exercises**, used by the hidden tests and by the
  demos when an exercise is not solved yet: ``cosine_logits``, ``zero_shot_classify``,
  ``ensemble_class_embeddings``, ``clip_loss`` (the symmetric InfoNCE loss), ``patchify``
  and ``fit_linear_probe``.
* **A tiny CLIP that trains in minutes on a CPU**: ``WordVocabulary`` (words to ids),
  ``CaptionBank`` (every caption that templates × class descriptions make, tokenised once,
  sampled per batch), ``BagOfWordsTextEncoder`` and ``TinyCLIP`` (two encoders and a learned
  temperature).

Conventions: embeddings are rows (N×D); "normalise" means dividing each row by its L2 norm;
``logit_scale`` is the *logarithm* of the factor that multiplies cosine similarities, as in
CLIP, where it is a learned parameter initialised to ln(1/0.07) and clamped to at most
ln(100). ``open_clip_torch`` is imported only when a function needs it.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from ._validate import describe, require_positive_float, require_positive_int, require_tensor
from .batches import BatchGuard, device_batches, model_mode, place_model
from .runtime import get_device, random_weights_banner, require_standins_allowed

__all__ = [
    "CLIP_MAX_LOGIT_SCALE",
    "DEFAULT_CLIP_MODEL",
    "DEFAULT_CLIP_PRETRAINED",
    "BagOfWordsTextEncoder",
    "CaptionBank",
    "LinearProbe",
    "LoadedCLIP",
    "TinyCLIP",
    "WordVocabulary",
    "cached_clip_checkpoint",
    "clip_loss",
    "clip_preprocess",
    "cosine_logits",
    "encode_images",
    "encode_texts",
    "ensemble_class_embeddings",
    "fit_linear_probe",
    "hub_reachable",
    "linear_probe",
    "load_clip",
    "patchify",
    "zero_shot_classifier",
    "zero_shot_classify",
]

DEFAULT_CLIP_MODEL = "ViT-B-32"
DEFAULT_CLIP_PRETRAINED = "laion2b_s34b_b79k"
#: CLIP clamps its learned logit scale so that cosine similarities are multiplied by at most 100.
CLIP_MAX_LOGIT_SCALE = math.log(100.0)
_HUB_HOST = "huggingface.co"
_FLOAT_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


# --------------------------------------------------------------------------------------------
# The exercises' reference implementations
# --------------------------------------------------------------------------------------------


def _require_embeddings(name: str, value: Any) -> torch.Tensor:
    value = require_tensor(name, value, ndim=2)
    if value.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{name}: expected floating-point embeddings, got {describe(value)}")
    return value


def _as_logit_scale(logit_scale: Any, like: torch.Tensor) -> torch.Tensor:
    """``logit_scale`` as a 0-dimensional tensor on ``like``'s device (a Parameter keeps its gradient)."""
    if isinstance(logit_scale, bool) or not isinstance(logit_scale, (int, float, torch.Tensor)):
        raise TypeError(f"logit_scale: expected a number or a 0-dimensional tensor, got {describe(logit_scale)}")
    if isinstance(logit_scale, torch.Tensor):
        if logit_scale.numel() != 1:
            raise ValueError(f"logit_scale: expected a single number, got {describe(logit_scale)}")
        return logit_scale.reshape(()).to(device=like.device, dtype=like.dtype)
    return torch.tensor(float(logit_scale), device=like.device, dtype=like.dtype)


def cosine_logits(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor, logit_scale: Any) -> torch.Tensor:
    """CLIP's logits: cosine similarities of every image with every text, times ``exp(logit_scale)``.

    ``image_embeddings`` N×D and ``text_embeddings`` M×D need not be normalised: each row is
    divided by its L2 norm first, so the dot products are cosines in [-1, 1]. ``logit_scale``
    is the logarithm of the multiplier (a float or a 0-d tensor, e.g. CLIP's learned
    parameter); ``exp(logit_scale) = 1 / temperature``. Returns N×M logits; row i holds image
    i's scores for every text. Differentiable with respect to all three inputs.

    Taught in lesson 05.
    """
    image_embeddings = _require_embeddings("image_embeddings", image_embeddings)
    text_embeddings = _require_embeddings("text_embeddings", text_embeddings)
    if image_embeddings.shape[1] != text_embeddings.shape[1]:
        raise ValueError(
            f"text_embeddings: expected {image_embeddings.shape[1]} dimensions like image_embeddings, "
            f"got {describe(text_embeddings)}"
        )
    images = F.normalize(image_embeddings, dim=1)
    texts = F.normalize(text_embeddings.to(images.dtype), dim=1)
    return _as_logit_scale(logit_scale, images).exp() * images @ texts.T


def zero_shot_classify(
    image_embeddings: torch.Tensor,
    class_embeddings: torch.Tensor,
    logit_scale: Any = CLIP_MAX_LOGIT_SCALE,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-shot classification: each image gets the class whose text embedding is most similar.

    ``image_embeddings`` N×D, ``class_embeddings`` C×D (one row per class, e.g. from
    ``zero_shot_classifier``). Returns ``(probs, preds)``: the softmax over classes of
    ``cosine_logits`` (N×C, rows sum to 1) and the most probable class of each image (int64 N).

    Taught in lesson 05.
    """
    logits = cosine_logits(image_embeddings, class_embeddings, logit_scale)
    probs = logits.float().softmax(dim=1)
    return probs, probs.argmax(dim=1)


def ensemble_class_embeddings(text_embeddings: torch.Tensor) -> torch.Tensor:
    """Prompt ensembling: C×T×D text embeddings (T prompts per class) to C×D unit class vectors.

    Each prompt's embedding is normalised first (so no prompt counts more because its vector
    happens to be longer), the T unit vectors of a class are averaged, and the average is
    normalised again (an average of unit vectors is shorter than 1).

    Taught in lesson 05.
    """
    text_embeddings = require_tensor("text_embeddings", text_embeddings, ndim=3)
    if text_embeddings.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"text_embeddings: expected floating-point embeddings, got {describe(text_embeddings)}")
    return F.normalize(F.normalize(text_embeddings, dim=2).mean(dim=1), dim=1)


def clip_loss(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor, logit_scale: Any) -> torch.Tensor:
    """The symmetric contrastive (InfoNCE) loss that trains CLIP, averaged over the batch.

    Row i of ``image_embeddings`` and row i of ``text_embeddings`` (both N×D, any norm) are a
    matching pair; every other row of the batch is a non-match. With ``L = cosine_logits(...)``
    (N×N), the loss is the mean of the cross-entropy of each image over the N texts (targets
    0..N-1, rows of L) and of each text over the N images (columns of L). It is symmetric in
    its two inputs; it equals ln N when all similarities are equal and goes to 0 when every
    pair is much more similar than any non-pair.

    Taught in lesson 05.
    """
    image_embeddings = _require_embeddings("image_embeddings", image_embeddings)
    text_embeddings = _require_embeddings("text_embeddings", text_embeddings)
    if image_embeddings.shape[0] != text_embeddings.shape[0]:
        raise ValueError(
            f"text_embeddings: expected one text per image ({image_embeddings.shape[0]} rows), "
            f"got {describe(text_embeddings)}"
        )
    logits = cosine_logits(image_embeddings, text_embeddings, logit_scale).float()
    targets = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut N×C×H×W images into non-overlapping p×p patches: N×(H/p · W/p)×(C·p·p).

    Patches are numbered row by row (left to right, then top to bottom), as a Vision
    Transformer reads them; each patch is flattened in (channel, row, column) order, the
    layout of a ``Conv2d`` weight, so ``patchify(x, p) @ conv.weight.flatten(1).T`` equals a
    convolution with ``kernel_size=stride=p`` (and ``F.unfold(x, p, stride=p).transpose(1, 2)``).
    Works for any dtype; H and W must be multiples of p.

    Taught in lesson 05.
    """
    images = require_tensor("images", images, ndim=4)
    require_positive_int("patch_size", patch_size)
    n, c, h, w = images.shape
    if h % patch_size or w % patch_size:
        raise ValueError(
            f"patch_size: expected a divisor of the image height {h} and width {w}, got {patch_size}"
        )
    rows, cols = h // patch_size, w // patch_size
    patches = images.reshape(n, c, rows, patch_size, cols, patch_size).permute(0, 2, 4, 1, 3, 5)
    return patches.reshape(n, rows * cols, c * patch_size * patch_size)


@dataclass
class LinearProbe:
    """A linear classifier on frozen features, with the training set's standardisation built in. Taught in lesson 05."""

    linear: nn.Linear
    mean: torch.Tensor
    std: torch.Tensor

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """Class scores N×C for features N×D (standardised with the *training* statistics)."""
        features = _require_embeddings("features", features)
        with torch.inference_mode():
            return self.linear((features.float() - self.mean) / self.std)

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        """The most probable class of each row of ``features`` (int64 N)."""
        return self.logits(features).argmax(dim=1)


def fit_linear_probe(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    num_classes: int,
    *,
    steps: int = 300,
    lr: float = 0.05,
    weight_decay: float = 1e-3,
    seed: int = 0,
    standardize: bool = True,
) -> LinearProbe:
    """Train a linear probe: multinomial logistic regression on frozen features.

    The features are standardised with their own (training) mean and standard deviation, then
    one ``nn.Linear(D, num_classes)`` is trained on the whole training set at once (full-batch
    AdamW, ``steps`` steps, cross-entropy). The features never receive gradients: the encoder
    that made them stays frozen. ``seed`` fixes the initial weights.

    ``standardize=False`` trains on the features as they are. Use it with a handful of
    examples per class: a mean and a standard deviation per feature estimated from ten rows are
    noise, and dividing by them ruins the probe (lesson 04's few-label probes use it).
    """
    train_features = _require_embeddings("train_features", train_features)
    require_positive_int("num_classes", num_classes)
    train_labels = require_tensor("train_labels", train_labels, ndim=1)
    if train_labels.shape[0] != train_features.shape[0]:
        raise ValueError(
            f"train_labels: expected {train_features.shape[0]} labels (one per feature row), "
            f"got {train_labels.shape[0]}"
        )
    require_positive_int("steps", steps)
    require_positive_float("lr", lr)
    # Training needs autograd even when called inside torch.inference_mode() / no_grad();
    # clone() turns inference-mode tensors into ordinary ones.
    with torch.inference_mode(False), torch.enable_grad():
        features = train_features.detach().float().cpu().clone()
        labels = train_labels.detach().long().cpu().clone()
        if int(labels.min()) < 0 or int(labels.max()) >= num_classes:
            raise ValueError(
                f"train_labels: expected class indices in [0, {num_classes - 1}], got values from "
                f"{int(labels.min())} to {int(labels.max())}"
            )
        if standardize:
            mean = features.mean(dim=0)
            std = features.std(dim=0).clamp_min(1e-6) if features.shape[0] > 1 else torch.ones_like(mean)
        else:
            mean, std = torch.zeros(features.shape[1]), torch.ones(features.shape[1])
        inputs = (features - mean) / std
        with torch.random.fork_rng(devices=[]):  # seeded initial weights; the global random state is restored
            torch.manual_seed(seed)
            linear = nn.Linear(features.shape[1], num_classes)
        optimizer = torch.optim.AdamW(linear.parameters(), lr=lr, weight_decay=weight_decay)
        for _ in range(steps):
            optimizer.zero_grad()
            F.cross_entropy(linear(inputs), labels).backward()
            optimizer.step()
    linear.requires_grad_(False)
    return LinearProbe(linear=linear, mean=mean, std=std)


def linear_probe(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    num_classes: int,
    steps: int = 300,
    lr: float = 0.05,
) -> torch.Tensor:
    """Fit a linear probe on the training features and return its predicted classes for ``test_features``.

    Shorthand for ``fit_linear_probe(train_features, train_labels, num_classes, steps=steps,
    lr=lr).predict(test_features)`` (int64, one class per test row); the test features are
    standardised with the *training* statistics.

    Taught in lesson 05.
    """
    probe = fit_linear_probe(train_features, train_labels, num_classes, steps=steps, lr=lr)
    return probe.predict(test_features)


# --------------------------------------------------------------------------------------------
# Pretrained CLIP (open_clip)
# --------------------------------------------------------------------------------------------


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
    device = torch.device(device) if device is not None else get_device()
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
            print(random_weights_banner(
                model_name, repr(pretrained), f"the download failed ({type(error).__name__}: {str(error)[:300]})",
                "every CLIP result below is that of an untrained model (about chance)"))
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
                embeddings = clip.model.encode_image(batch, normalize=normalize).float()
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


def _check_templates(templates: Any) -> list[str]:
    if isinstance(templates, str) or not isinstance(templates, Sequence) or not templates:
        raise TypeError(f"templates: expected a non-empty list of strings with '{{}}', got {describe(templates)}")
    for template in templates:
        if not isinstance(template, str) or "{}" not in template:
            raise ValueError(f"templates: expected strings containing '{{}}' for the class name, got {template!r}")
    return list(templates)


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


# --------------------------------------------------------------------------------------------
# A tiny CLIP
# --------------------------------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


class WordVocabulary:
    """Maps words to integer ids, the simplest possible tokenizer.

    Text is lower-cased and split into words (letters and digits; hyphenated words such as
    "t-shirt" stay one word). Id 0 is padding. A word that is not in the vocabulary is
    *dropped* when encoding: a model has learned nothing about it, so it carries no
    information (CLIP's sub-word tokenizer avoids unknown words altogether).

    Taught in lesson 05.
    """

    PAD = "<pad>"

    def __init__(self, words: Iterable[str]) -> None:
        unique = sorted({w for w in words if isinstance(w, str) and w})
        if not unique:
            raise ValueError("words: expected at least one word, got none")
        self.words: tuple[str, ...] = (self.PAD, *unique)
        self.index = {word: i for i, word in enumerate(self.words)}

    @staticmethod
    def split(text: str) -> list[str]:
        """The words of ``text``, lower-cased (punctuation dropped)."""
        if not isinstance(text, str):
            raise TypeError(f"text: expected a string, got {describe(text)}")
        return _WORD.findall(text.lower())

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> WordVocabulary:
        """A vocabulary of every word that occurs in ``texts``."""
        return cls(word for text in texts for word in cls.split(text))

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index and word != self.PAD

    def unknown_words(self, texts: Iterable[str]) -> list[str]:
        """The words of ``texts`` that are not in the vocabulary, sorted."""
        return sorted({w for text in texts for w in self.split(text) if w not in self.index})

    def encode(self, texts: Sequence[str], length: int | None = None) -> torch.Tensor:
        """Word ids of each text, padded with 0 to one length: int64 len(texts)×length.

        ``length`` defaults to the longest text (after dropping unknown words); longer texts are cut.
        """
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise TypeError(f"texts: expected a list of strings, got {describe(texts)}")
        ids = [[self.index[w] for w in self.split(text) if w in self.index] for text in texts]
        if length is None:
            length = max((len(row) for row in ids), default=1) or 1
        require_positive_int("length", length)
        out = torch.zeros(len(ids), length, dtype=torch.int64)
        for row, word_ids in enumerate(ids):
            word_ids = word_ids[:length]
            out[row, :len(word_ids)] = torch.tensor(word_ids, dtype=torch.int64)
        return out

    def decode(self, ids: torch.Tensor) -> list[str]:
        """The words of each row of ``ids`` joined by spaces (padding left out)."""
        ids = require_tensor("ids", ids, ndim=2, nonempty=False)
        return [" ".join(self.words[i] for i in row.tolist() if i != 0) for row in ids]

    def __repr__(self) -> str:
        return f"WordVocabulary({len(self.words) - 1} words + padding)"


class CaptionBank:
    """Every caption that ``templates`` × each class's ``descriptions`` make, tokenised once.

    ``descriptions[c]`` lists the ways to name class c ("sneaker", "trainer", ...), each
    template has one ``{}`` ("a photo of a {}"). ``sample(labels)`` draws, for every label,
    one of its class's captions uniformly at random, so each epoch pairs an image with a
    fresh sentence. The vocabulary is built from the captions unless one is given.

    Taught in lesson 05.
    """

    def __init__(
        self,
        descriptions: Sequence[Sequence[str]],
        templates: Sequence[str],
        vocabulary: WordVocabulary | None = None,
    ) -> None:
        templates = _check_templates(templates)
        if isinstance(descriptions, str) or not isinstance(descriptions, Sequence) or not descriptions:
            raise TypeError(f"descriptions: expected one list of names per class, got {describe(descriptions)}")
        captions: list[str] = []
        classes: list[int] = []
        for label, names in enumerate(descriptions):
            if isinstance(names, str) or not isinstance(names, Sequence) or not names:
                raise TypeError(
                    f"descriptions: expected a non-empty list of names for class {label}, got {describe(names)}"
                )
            for name in names:
                for template in templates:
                    captions.append(template.format(name))
                    classes.append(label)
        self.captions: tuple[str, ...] = tuple(captions)
        self.caption_class = torch.tensor(classes, dtype=torch.int64)
        self.num_classes = len(descriptions)
        self.vocabulary = vocabulary if vocabulary is not None else WordVocabulary.from_texts(captions)
        self.tokens = self.vocabulary.encode(list(captions))
        self.counts = torch.bincount(self.caption_class, minlength=self.num_classes)
        self.offsets = torch.cumsum(self.counts, 0) - self.counts

    def __len__(self) -> int:
        return len(self.captions)

    def sample(
        self, labels: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One random caption of each label's class: ``(tokens B×L on the labels' device, caption indices B)``."""
        labels = require_tensor("labels", labels, ndim=1)
        cpu_labels = labels.detach().cpu().long()
        if int(cpu_labels.min()) < 0 or int(cpu_labels.max()) >= self.num_classes:
            raise ValueError(
                f"labels: expected class indices in [0, {self.num_classes - 1}], got values from "
                f"{int(cpu_labels.min())} to {int(cpu_labels.max())}"
            )
        draws = torch.rand(len(cpu_labels), generator=generator)
        index = self.offsets[cpu_labels] + (draws * self.counts[cpu_labels]).long()
        return self.tokens[index].to(labels.device), index

    def __repr__(self) -> str:
        return (
            f"CaptionBank({len(self.captions)} captions for {self.num_classes} classes, "
            f"{len(self.vocabulary) - 1} words)"
        )


class BagOfWordsTextEncoder(nn.Module):
    """A minimal text encoder: the average of learned word vectors, then a small MLP.

    Word order is ignored ("bag of words"), which is enough when the words themselves carry
    the meaning. Padding (id 0) is left out of the average.

    Taught in lesson 05.
    """

    def __init__(self, vocab_size: int, embed_dim: int, width: int = 64) -> None:
        super().__init__()
        require_positive_int("vocab_size", vocab_size)
        require_positive_int("embed_dim", embed_dim)
        require_positive_int("width", width)
        self.embedding = nn.Embedding(vocab_size, width, padding_idx=0)
        self.projection = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, embed_dim))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Word ids B×L (0 = padding) to embeddings B×embed_dim."""
        tokens = require_tensor("tokens", tokens, ndim=2, dtypes=(torch.int64, torch.int32))
        mask = (tokens != 0).unsqueeze(-1).to(self.embedding.weight.dtype)
        summed = (self.embedding(tokens) * mask).sum(dim=1)
        return self.projection(summed / mask.sum(dim=1).clamp_min(1.0))


class TinyCLIP(nn.Module):
    """Two encoders into one embedding space and a learned temperature: CLIP in miniature.

    ``image_encoder`` maps images to B×D, ``text_encoder`` maps word ids to B×D. The learned
    ``logit_scale`` (the log of 1/temperature) starts at ln(1/0.07) as in CLIP; call
    ``clamp_logit_scale_()`` after each optimiser step to keep it in [0, ln 100].

    Taught in lesson 05.
    """

    def __init__(
        self,
        image_encoder: nn.Module,
        text_encoder: nn.Module,
        *,
        init_temperature: float = 0.07,
        max_logit_scale: float = CLIP_MAX_LOGIT_SCALE,
    ) -> None:
        super().__init__()
        for name, module in (("image_encoder", image_encoder), ("text_encoder", text_encoder)):
            if not isinstance(module, nn.Module):
                raise TypeError(f"{name}: expected a torch.nn.Module, got {describe(module)}")
        require_positive_float("init_temperature", init_temperature)
        require_positive_float("max_logit_scale", max_logit_scale)
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.max_logit_scale = float(max_logit_scale)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / init_temperature)))

    def encode_image(self, images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """Image embeddings B×D (unit rows when ``normalize``)."""
        out = self.image_encoder(images)
        return F.normalize(out, dim=1) if normalize else out

    def encode_text(self, tokens: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """Text embeddings B×D (unit rows when ``normalize``)."""
        out = self.text_encoder(tokens)
        return F.normalize(out, dim=1) if normalize else out

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Unit image and text embeddings of a batch of pairs (row i of each is pair i)."""
        return self.encode_image(images), self.encode_text(tokens)

    @property
    def temperature(self) -> float:
        """The current temperature, 1 / exp(logit_scale)."""
        return float(torch.exp(-self.logit_scale.detach()))

    def clamp_logit_scale_(self) -> None:
        """Keep the logit scale in [0, max_logit_scale] (CLIP's rule: similarities scaled by at most 100)."""
        with torch.no_grad():
            self.logit_scale.clamp_(0.0, self.max_logit_scale)
