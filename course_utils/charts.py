"""Figures of numbers: training curves, confusion matrices and reliability diagrams.

Like ``plotting`` (which shows images), every function returns a ``matplotlib.figure.Figure``,
closed in pyplot before it is returned, and never calls ``plt.show()``: in a notebook the figure
appears once, as the value of the cell; in a script save it with ``fig.savefig("name.png")``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ._validate import describe, require_tensor

__all__ = ["plot_confusion_matrix", "plot_history", "plot_reliability_diagram"]


def _history_dict(history: Any) -> dict[str, Any]:
    if isinstance(history, Mapping):
        return dict(history)
    to_dict = getattr(history, "to_dict", None)
    if callable(to_dict):
        result = to_dict()
        if isinstance(result, Mapping):
            return dict(result)
    raise TypeError(
        "history: expected a dict with train_loss/train_acc/val_loss/val_acc lists or a History "
        f"with .to_dict(), got {describe(history)}"
    )


def _series(history: dict[str, Any], key: str) -> list[float]:
    values = history.get(key)
    if values is None:
        return []
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"history[{key!r}]: expected a list of numbers (one per epoch), got {describe(values)}")
    series = []
    for value in values:
        if value is None:
            series.append(math.nan)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            series.append(float(value))
        else:
            raise TypeError(f"history[{key!r}]: expected a list of numbers (one per epoch), got {describe(values)}")
    return series


def plot_history(history: Any) -> Figure:
    """Plot loss and accuracy per epoch for training and (when recorded) validation.

    ``history``: a dict with lists ``train_loss``, ``train_acc``, ``val_loss``,
    ``val_acc`` (the validation ones may be missing or empty) or an object with
    ``.to_dict()`` returning one, such as ``course_utils.checkpoints.History``. Accuracies
    must be fractions in [0, 1]. The best validation accuracy is marked.

    Taught in lesson 03.
    """
    data = _history_dict(history)
    series = {key: _series(data, key) for key in ("train_loss", "train_acc", "val_loss", "val_acc")}
    if not series["train_loss"]:
        raise ValueError("history: expected a non-empty 'train_loss' list (one value per epoch), got none")
    for key in ("train_acc", "val_acc"):
        finite = [v for v in series[key] if not math.isnan(v)]
        if finite and (min(finite) < 0 or max(finite) > 1):
            raise ValueError(
                f"history[{key!r}]: expected accuracies as fractions in [0, 1], got values from "
                f"{min(finite):.4g} to {max(finite):.4g} (percentages? divide by 100)"
            )
    has_accuracy = bool(series["train_acc"] or series["val_acc"])
    fig, axes = plt.subplots(1, 2 if has_accuracy else 1, figsize=(10 if has_accuracy else 5, 3.6), squeeze=False)
    panels = [("loss", "train_loss", "val_loss")]
    if has_accuracy:
        panels.append(("accuracy (0–1)", "train_acc", "val_acc"))
    for ax, (label, train_key, val_key) in zip(axes.flat, panels):
        for key, name, style in ((train_key, "train", "o-"), (val_key, "validation", "s--")):
            values = series[key]
            if values:
                ax.plot(range(1, len(values) + 1), values, style, label=name, markersize=4)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    val_acc = [v for v in series["val_acc"] if not math.isnan(v)]
    if val_acc:
        best = max(
            range(len(series["val_acc"])),
            key=lambda i: -math.inf if math.isnan(series["val_acc"][i]) else series["val_acc"][i],
        )
        best_value = series["val_acc"][best]
        ax = axes.flat[1]
        ax.plot([best + 1], [best_value], "*", color="gold", markersize=14, markeredgecolor="black", zorder=3)
        ax.annotate(
            f"best {best_value:.3f} (epoch {best + 1})",
            (best + 1, best_value),
            textcoords="offset points",
            xytext=(0, -16),
            ha="center",
            fontsize=8,
        )
    fig.tight_layout()
    plt.close(fig)
    return fig


def plot_confusion_matrix(
    confusion: torch.Tensor | np.ndarray,
    class_names: Sequence[str] | None = None,
    normalize: bool = False,
) -> Figure:
    """Draw a confusion matrix (rows: true class, columns: predicted class) with mlxtend.

    With ``normalize=True`` each row is divided by its total, so a cell shows the
    fraction of a true class predicted as each class (the diagonal is per-class recall).

    Taught in lesson 03.
    """
    from mlxtend.plotting import plot_confusion_matrix as mlxtend_plot_confusion_matrix

    if isinstance(confusion, np.ndarray):
        confusion = torch.from_numpy(confusion)
    confusion = require_tensor("confusion", confusion, ndim=2)
    if confusion.shape[0] != confusion.shape[1]:
        raise ValueError(f"confusion: expected a square C×C matrix of counts, got {describe(confusion)}")
    if confusion.is_floating_point() or confusion.dtype == torch.bool:
        raise TypeError(
            f"confusion: expected integer counts (normalize=True divides them for you), got {describe(confusion)}"
        )
    if bool((confusion < 0).any()):
        raise ValueError(f"confusion: expected counts >= 0, got a smallest value of {int(confusion.min())}")
    if not isinstance(normalize, bool):
        raise TypeError(f"normalize: expected True or False, got {describe(normalize)}")
    size = confusion.shape[0]
    if class_names is not None:
        if isinstance(class_names, str) or not isinstance(class_names, Sequence):
            raise TypeError(f"class_names: expected a sequence of {size} names, got {describe(class_names)}")
        if len(class_names) != size:
            raise ValueError(f"class_names: expected {size} names (one per row of the matrix), got {len(class_names)}")
        class_names = [str(name) for name in class_names]
    inches = max(3.5, 0.65 * size + 1.5)
    fig, ax = plt.subplots(figsize=(inches, inches))
    with np.errstate(divide="ignore", invalid="ignore"):  # rows without examples divide by zero
        mlxtend_plot_confusion_matrix(
            conf_mat=confusion.cpu().numpy().astype(np.int64),
            class_names=class_names,
            show_absolute=not normalize,
            show_normed=normalize,
            figure=fig,
            axis=ax,
        )
    ax.set_title("confusion matrix" + (" (each row sums to 1)" if normalize else " (counts)"), fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig


def plot_reliability_diagram(curves: Any, *, title: str | None = None) -> Figure:
    """Reliability diagrams: accuracy against confidence per bin, with the diagonal of perfect calibration.

    ``curves``: one ``ReliabilityCurve`` (from ``course_utils.calibration.reliability_curve``) or a dict of
    name -> curve, drawn side by side. Top: one bar per bin, its height the accuracy of the examples
    in the bin; the red part between the bar's top and the bin's mean confidence is the gap
    (above the diagonal: under-confident, below: over-confident); the panel title gives the ECE.
    Bottom: the share of the examples in each bin, which weights the gaps in the ECE.
    Taught in lesson 02.
    """
    from .calibration import ReliabilityCurve

    if isinstance(curves, ReliabilityCurve):
        curves = {"": curves}
    if not isinstance(curves, Mapping) or not curves:
        raise TypeError(f"curves: expected a ReliabilityCurve or a non-empty dict of them, got {describe(curves)}")
    for name, curve in curves.items():
        if not isinstance(curve, ReliabilityCurve):
            raise TypeError(
                f"curves[{name!r}]: expected a ReliabilityCurve (cu.reliability_curve(probs, targets)), "
                f"got {describe(curve)}"
            )
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title: expected a string or None, got {describe(title)}")
    count = len(curves)
    fig, axes = plt.subplots(
        2, count, figsize=(2.9 * count + 0.4, 4.6), squeeze=False, gridspec_kw={"height_ratios": [3, 1]}
    )
    for column, (name, curve) in enumerate(curves.items()):
        top, bottom = axes[0, column], axes[1, column]
        edges = curve.edges.double().numpy()
        left, width = edges[:-1], np.diff(edges)
        filled = (curve.counts > 0).numpy()
        accuracy = np.nan_to_num(curve.accuracy.numpy())
        confidence = np.nan_to_num(curve.confidence.numpy())
        top.bar(
            left[filled],
            accuracy[filled],
            width=width[filled],
            align="edge",
            color="tab:blue",
            edgecolor="black",
            linewidth=0.5,
            label="accuracy",
        )
        top.bar(
            left[filled],
            (confidence - accuracy)[filled],
            bottom=accuracy[filled],
            width=width[filled],
            align="edge",
            facecolor=(0.84, 0.15, 0.16, 0.25),
            edgecolor="tab:red",
            hatch="///",
            linewidth=0.5,
            label="gap to mean confidence",
            zorder=3,
        )
        top.plot([0, 1], [0, 1], "--", color="gray", linewidth=1, label="perfect calibration")
        top.set_xlim(0, 1)
        top.set_ylim(0, 1)
        top.set_title(f"{name}\nECE = {curve.ece:.3f}" if name else f"ECE = {curve.ece:.3f}", fontsize=9)
        share = curve.counts.double().numpy() / max(int(curve.counts.sum()), 1)
        bottom.bar(left, share, width=width, align="edge", color="gray", edgecolor="black", linewidth=0.5)
        bottom.set_xlim(0, 1)
        bottom.set_ylim(0, 1)
        bottom.set_xlabel("confidence (largest probability)")
        if column == 0:
            top.set_ylabel("accuracy in the bin")
            bottom.set_ylabel("share")
            top.legend(fontsize=7, loc="upper left")
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig
