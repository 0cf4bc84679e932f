"""Classification by embeddings: CLIP's cosine logits, zero-shot classification, prompt ensembling,
the contrastive (InfoNCE) loss that trains CLIP, and linear probes on frozen features.

Everything here is plain tensor maths on N×D embeddings, whatever made them (the pretrained CLIP of
``pretrained_clip``, the ``TinyCLIP`` of ``tiny_clip``, or any frozen backbone). These are also the
reference versions of lesson 05's exercises, used by its hidden tests.

Conventions: embeddings are rows (N×D); "normalise" means dividing each row by its L2 norm;
``logit_scale`` is the *logarithm* of the factor that multiplies cosine similarities, as in
CLIP, where it is a learned parameter initialised to ln(1/0.07) and clamped to at most ln(100).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import describe, require_positive_float, require_positive_int, require_tensor

__all__ = [
    "CLIP_MAX_LOGIT_SCALE",
    "LinearProbe",
    "clip_loss",
    "cosine_logits",
    "ensemble_class_embeddings",
    "fit_linear_probe",
    "linear_probe",
    "zero_shot_classify",
]

#: CLIP clamps its learned logit scale so that cosine similarities are multiplied by at most 100.
CLIP_MAX_LOGIT_SCALE = math.log(100.0)
_FLOAT_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


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
    image_embeddings = _require_embeddings("image_embeddings", image_embeddings)
    class_embeddings = _require_embeddings("class_embeddings", class_embeddings)
    if class_embeddings.shape[1] != image_embeddings.shape[1]:
        raise ValueError(f"class_embeddings: expected {image_embeddings.shape[1]} dimensions like image_embeddings, "
                         f"got {describe(class_embeddings)}")
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
    train_features = _require_embeddings("train_features", train_features)
    test_features = _require_embeddings("test_features", test_features)
    if test_features.shape[1] != train_features.shape[1]:
        raise ValueError(f"test_features: expected {train_features.shape[1]} features per row like train_features, "
                         f"got {describe(test_features)}")
    probe = fit_linear_probe(train_features, train_labels, num_classes, steps=steps, lr=lr)
    return probe.predict(test_features)


def _check_templates(templates: Any) -> list[str]:
    if isinstance(templates, str) or not isinstance(templates, Sequence) or not templates:
        raise TypeError(f"templates: expected a non-empty list of strings with '{{}}', got {describe(templates)}")
    for template in templates:
        if not isinstance(template, str) or "{}" not in template:
            raise ValueError(f"templates: expected strings containing '{{}}' for the class name, got {template!r}")
    return list(templates)

