"""Measuring a trained classifier: predictions, metrics and the confusion matrix.

``predict`` runs a model over a loader and collects class probabilities,
predicted classes and true labels. ``evaluate`` turns those into an
``EvaluationReport``: accuracy, macro-averaged precision, recall and F1, top-k
accuracy, the confusion matrix and one row of scores per class, all computed by
``torchmetrics`` (``task="multiclass"``) so the numbers match what learners get
from the library itself. Accuracies and scores are fractions between 0 and 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
import torchmetrics.functional as tmf
from torch import nn

from ._validate import describe, require_finite, require_labels, require_positive_int, require_tensor
from .batches import BatchGuard, device_batches, model_mode, place_model
from .runtime import PrecisionPolicy

__all__ = [
    "ClassScores",
    "ConfusedPair",
    "EvaluationReport",
    "MacroScores",
    "classification_report",
    "evaluate",
    "macro_scores_from_confusion",
    "most_confused_pairs",
    "predict",
]


def _predict(
    model: nn.Module,
    loader: Iterable[Any],
    device: torch.device | str | None,
    precision: PrecisionPolicy | None,
    expected_classes: int | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    if not isinstance(loader, Iterable) or isinstance(loader, (torch.Tensor, str)):
        raise TypeError(
            f"loader: expected an iterable of (images, labels) batches such as a DataLoader, got {describe(loader)}"
        )
    device, policy = place_model(model, device, precision)
    guard = BatchGuard(device, "model outputs")
    all_logits: list[torch.Tensor] = []
    all_targets: list[torch.Tensor] = []
    with model_mode(model, False), torch.inference_mode():
        for index, images, labels, label_max in device_batches(loader, device, policy):
            if labels is None:
                raise ValueError(f"loader: expected batches of (images, labels), got images alone as batch {index}")
            require_labels(f"loader batch {index} labels", labels, n=images.shape[0])
            with policy.autocast():
                logits = model(images)
            width = logits.shape[1] if isinstance(logits, torch.Tensor) and logits.ndim == 2 else None
            if all_logits and width is not None and width != all_logits[0].shape[1]:
                raise ValueError(
                    f"model: expected the same number of outputs for every batch ({all_logits[0].shape[1]}), "
                    f"got {width} for batch {index}"
                )
            if expected_classes is not None and width is not None and width != expected_classes:
                raise ValueError(
                    f"num_classes: expected {width} (the width of the model's output), got {expected_classes}"
                )
            guard.check_outputs(index, logits, labels, label_max)
            guard.record(index, logits)
            all_logits.append(logits.float())
            all_targets.append(labels.to(torch.int64))
    guard.finish()
    if not all_logits:
        raise ValueError(f"loader: expected at least one batch, got an empty {type(loader).__name__}")
    probs = torch.softmax(torch.cat(all_logits), dim=1).cpu()
    return probs, probs.argmax(dim=1), torch.cat(all_targets).cpu()


def predict(
    model: nn.Module,
    loader: Iterable[Any],
    device: torch.device | str | None = None,
    precision: PrecisionPolicy | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run ``model`` over every batch of ``loader``; return ``(probs, preds, targets)`` on the CPU.

    ``loader`` is any iterable of ``(images, labels)`` batches (a ``DataLoader``,
    a ``TensorLoader``, a list). ``probs`` (float32, N×C) are the softmax probabilities,
    ``preds`` (int64, N) the most probable class, ``targets`` (int64, N) the true labels:
    probabilities before classes, as ``zero_shot_classify`` returns them. The model runs in ``eval()`` mode under
    ``torch.inference_mode()`` (its previous mode is restored afterwards).

    ``device``: where to run; the model is moved there (default: where the model
    already is). ``precision``: a ``PrecisionPolicy`` (default: the device's, as for every
    loop of the course: see ``course_utils.batches``). Non-finite outputs raise a
    ``FloatingPointError``. Taught in lesson 03.
    """
    return _predict(model, loader, device, precision, expected_classes=None)


@dataclass(frozen=True)
class ClassScores:
    """Precision, recall, F1 and support (number of true examples) of one class. Taught in lesson 04."""

    name: str
    precision: float
    recall: float
    f1: float
    support: int

    def to_dict(self) -> dict[str, Any]:
        """The scores as a plain dict."""
        return {
            "name": self.name,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "support": self.support,
        }


@dataclass(frozen=True, repr=False)
class EvaluationReport:
    """Everything ``evaluate`` measured. Scores are fractions in [0, 1].

    ``precision``, ``recall`` and ``f1`` are macro averages computed by
    ``macro_scores_from_confusion``, the course's one definition: the plain mean over
    the classes that occur (as a target or a prediction), a 0/0 score counting as 0.
    ``top_k_accuracy[k]`` is the fraction of
    examples whose true class is among the k most probable. ``confusion[i, j]``
    counts examples of true class i predicted as class j.

    Taught in lesson 03.
    """

    accuracy: float
    precision: float
    recall: float
    f1: float
    top_k_accuracy: dict[int, float]
    confusion: torch.Tensor
    per_class: tuple[ClassScores, ...]
    class_names: tuple[str, ...]
    num_samples: int
    preds: torch.Tensor = field(repr=False, compare=False)
    probs: torch.Tensor = field(repr=False, compare=False)
    targets: torch.Tensor = field(repr=False, compare=False)

    def mistakes(self) -> torch.Tensor:
        """Indices of the examples the model got wrong (into the loader's order)."""
        return torch.nonzero(self.preds != self.targets).flatten()

    def to_dict(self) -> dict[str, Any]:
        """The report as plain Python numbers and lists (JSON-friendly, no tensors)."""
        return {
            "accuracy": self.accuracy,
            "precision_macro": self.precision,
            "recall_macro": self.recall,
            "f1_macro": self.f1,
            "top_k_accuracy": dict(self.top_k_accuracy),
            "confusion": self.confusion.tolist(),
            "per_class": [row.to_dict() for row in self.per_class],
            "class_names": list(self.class_names),
            "num_samples": self.num_samples,
        }

    def to_text(self, digits: int = 3) -> str:
        """A table in the style of scikit-learn's classification report."""
        require_positive_int("digits", digits)
        summary_labels = ["macro avg", "accuracy", *(f"top-{k} accuracy" for k in self.top_k_accuracy if k != 1)]
        width = max(len(label) for label in [*summary_labels, *self.class_names])
        number = digits + 6

        def row(label: str, precision: str, recall: str, f1: str, support: str) -> str:
            return f"{label:<{width}}  {precision:>{number}}  {recall:>{number}}  {f1:>{number}}  {support:>8}"

        def score(value: float) -> str:
            return f"{value:.{digits}f}"

        header = row("class", "precision", "recall", "f1-score", "support")
        lines = [header, "-" * len(header)]
        for scores in self.per_class:
            lines.append(
                row(scores.name, score(scores.precision), score(scores.recall), score(scores.f1), str(scores.support))
            )
        lines.append("-" * len(header))
        total = str(self.num_samples)
        lines.append(row("macro avg", score(self.precision), score(self.recall), score(self.f1), total))
        lines.append(row("accuracy", "", "", score(self.accuracy), total))
        for k, value in self.top_k_accuracy.items():
            if k != 1:
                lines.append(row(f"top-{k} accuracy", "", "", score(value), total))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        top_k = ", ".join(f"{k}: {value:.4f}" for k, value in self.top_k_accuracy.items())
        return (
            f"EvaluationReport(accuracy={self.accuracy:.4f}, precision={self.precision:.4f}, "
            f"recall={self.recall:.4f}, f1={self.f1:.4f}, top_k_accuracy={{{top_k}}}, "
            f"num_samples={self.num_samples}, num_classes={len(self.class_names)})"
        )


def _check_class_names(class_names: Sequence[str] | None, num_classes: int) -> tuple[str, ...]:
    if class_names is None:
        return tuple(str(i) for i in range(num_classes))
    if isinstance(class_names, str) or not isinstance(class_names, Sequence):
        raise TypeError(f"class_names: expected a sequence of {num_classes} names, got {describe(class_names)}")
    if len(class_names) != num_classes:
        raise ValueError(f"class_names: expected {num_classes} names (one per class), got {len(class_names)}")
    return tuple(str(name) for name in class_names)


def _check_top_k(top_k: Sequence[int] | None, num_classes: int) -> tuple[int, ...]:
    if top_k is None:
        return tuple(k for k in (1, 5) if k <= num_classes)
    if isinstance(top_k, int) and not isinstance(top_k, bool):
        top_k = (top_k,)
    if not isinstance(top_k, Sequence):
        raise TypeError(f"top_k: expected a sequence of ints such as (1, 5), got {describe(top_k)}")
    for k in top_k:
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= num_classes:
            raise ValueError(
                f"top_k: expected integers between 1 and {num_classes} (the number of classes), got {describe(top_k)}"
            )
    return tuple(sorted(set(top_k)))


def classification_report(
    probs: torch.Tensor,
    targets: torch.Tensor,
    class_names: Sequence[str] | None = None,
    top_k: Sequence[int] | None = None,
) -> EvaluationReport:
    """Compute an ``EvaluationReport`` from class probabilities (N×C) and true labels (N).

    Use it when you already have predictions, e.g. from ``predict``; ``evaluate``
    calls it. ``top_k`` defaults to (1, 5) (leaving out k larger than C).

    Taught in lesson 04.
    """
    probs = require_tensor("probs", probs, ndim=2, dtypes=(torch.float32, torch.float64, torch.float16, torch.bfloat16))
    num_classes = probs.shape[1]
    targets = require_labels("targets", targets, n=probs.shape[0], num_classes=num_classes).to(torch.int64)
    names = _check_class_names(class_names, num_classes)
    ks = _check_top_k(top_k, num_classes)
    probs = require_finite("probs", probs.detach().float().cpu())
    targets = targets.cpu()
    preds = probs.argmax(dim=1)

    def metric(function: Any, average: str, inputs: torch.Tensor = preds, k: int = 1) -> torch.Tensor:
        return function(inputs, targets, task="multiclass", num_classes=num_classes, average=average, top_k=k)

    per_precision = metric(tmf.precision, "none")
    per_recall = metric(tmf.recall, "none")
    per_f1 = metric(tmf.f1_score, "none")
    support = torch.bincount(targets, minlength=num_classes)
    per_class = tuple(
        ClassScores(names[c], float(per_precision[c]), float(per_recall[c]), float(per_f1[c]), int(support[c]))
        for c in range(num_classes)
    )
    confusion = tmf.confusion_matrix(preds, targets, task="multiclass", num_classes=num_classes).to(torch.int64)
    macro = macro_scores_from_confusion(confusion)  # the course's one definition of the macro averages
    return EvaluationReport(
        accuracy=float(metric(tmf.accuracy, "micro")),
        precision=macro.precision,
        recall=macro.recall,
        f1=macro.f1,
        top_k_accuracy={k: float(metric(tmf.accuracy, "micro", inputs=probs, k=k)) for k in ks},
        confusion=confusion,
        per_class=per_class,
        class_names=names,
        num_samples=int(targets.shape[0]),
        preds=preds,
        probs=probs,
        targets=targets,
    )


def evaluate(
    model: nn.Module,
    loader: Iterable[Any],
    num_classes: int,
    class_names: Sequence[str] | None = None,
    top_k: Sequence[int] | None = None,
    device: torch.device | str | None = None,
    precision: PrecisionPolicy | None = None,
) -> EvaluationReport:
    """Run ``model`` over ``loader`` (see ``predict``) and measure it; return an ``EvaluationReport``.

    ``num_classes`` must equal the width of the model's output and ``class_names``
    (optional) must have one name per class. ``top_k`` lists the k for top-k
    accuracy (default (1, 5), leaving out k larger than ``num_classes``).

    Taught in lesson 03.
    """
    require_positive_int("num_classes", num_classes)
    _check_class_names(class_names, num_classes)
    _check_top_k(top_k, num_classes)
    probs, _, targets = _predict(model, loader, device, precision, expected_classes=num_classes)
    return classification_report(probs, targets, class_names=class_names, top_k=top_k)


class ConfusedPair(NamedTuple):
    """One off-diagonal cell of a confusion matrix: how often ``true_name`` was predicted as ``predicted_name``.

    Taught in lesson 03.
    """

    true_class: int
    predicted_class: int
    true_name: str
    predicted_name: str
    count: int | float


def most_confused_pairs(
    confusion: torch.Tensor,
    k: int = 5,
    class_names: Sequence[str] | None = None,
) -> list[ConfusedPair]:
    """The ``k`` largest off-diagonal cells of a confusion matrix, largest first.

    Cells equal to zero are never returned (so fewer than ``k`` may come back);
    ties are broken by class index. Works with counts or a normalised matrix.

    Taught in lesson 03.
    """
    confusion = require_tensor("confusion", confusion, ndim=2)
    if confusion.shape[0] != confusion.shape[1]:
        raise ValueError(f"confusion: expected a square C×C matrix, got {describe(confusion)}")
    require_positive_int("k", k)
    names = _check_class_names(class_names, confusion.shape[0])
    off_diagonal = confusion.detach().cpu().double().clone()
    if bool((off_diagonal < 0).any()) or not bool(torch.isfinite(off_diagonal).all()):
        raise ValueError(f"confusion: expected finite counts >= 0, got values from {float(off_diagonal.min()):g} "
                         f"to {float(off_diagonal.max()):g}")
    off_diagonal.fill_diagonal_(0)
    size = off_diagonal.shape[1]
    values, order = torch.sort(-off_diagonal.flatten(), stable=True)  # largest first; ties in row-major order
    is_integer = not confusion.is_floating_point()
    pairs = []
    for negative_count, flat_index in zip(values[:k].tolist(), order[:k].tolist()):
        if negative_count >= 0:  # only zero cells are left
            break
        i, j = divmod(flat_index, size)
        count = -negative_count
        pairs.append(ConfusedPair(i, j, names[i], names[j], int(count) if is_integer else count))
    return pairs


class MacroScores(NamedTuple):
    """Macro-averaged precision, recall and F1 (each the plain mean of the per-class scores). Taught in lesson 04."""

    precision: float
    recall: float
    f1: float


def macro_scores_from_confusion(confusion: torch.Tensor) -> MacroScores:
    """Macro precision, recall and F1 from a confusion matrix (rows: true class, columns: predicted class).

    For class c: precision = C[c, c] / (column c total), recall = C[c, c] / (row c
    total), F1 = 2·P·R / (P + R). A score whose denominator is 0 (a class never
    predicted, a class without examples) counts as 0, as in scikit-learn with
    ``zero_division=0``. The averages are over the classes that occur as a target
    or a prediction: a class absent from both has no score at all, so it is left
    out (scikit-learn's and torchmetrics' default), instead of counting as a 0 the
    model did not earn. Every class that occurs counts the same, so one class the
    model never gets right pulls the averages down however rare it is — unlike accuracy.

    Taught in lesson 04.
    """
    confusion = require_tensor("confusion", confusion, ndim=2)
    if confusion.shape[0] != confusion.shape[1]:
        raise ValueError(f"confusion: expected a square C×C matrix, got {describe(confusion)}")
    counts = confusion.detach().cpu().double()
    if bool((counts < 0).any()):
        raise ValueError(f"confusion: expected counts >= 0, got a smallest value of {float(counts.min()):g}")
    correct = counts.diagonal()

    def ratio(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
        return torch.where(denominator > 0, numerator / denominator.clamp_min(1e-300), torch.zeros_like(numerator))

    precision = ratio(correct, counts.sum(dim=0))
    recall = ratio(correct, counts.sum(dim=1))
    f1 = ratio(2 * precision * recall, precision + recall)
    occurs = (counts.sum(dim=0) + counts.sum(dim=1)) > 0
    if not bool(occurs.any()):
        raise ValueError("confusion: expected at least one count, got a matrix of zeros")
    return MacroScores(*(float(score[occurs].mean()) for score in (precision, recall, f1)))

