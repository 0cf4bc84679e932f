"""Is the confidence honest? Reliability curves and expected calibration error (ECE).

A classifier that says "90% sure" should be right about 90% of the time. ``reliability_curve``
bins examples by their confidence (largest class probability) and measures the accuracy in each
bin, the data of a reliability diagram (drawn by ``charts.plot_reliability_diagram``);
``expected_calibration_error`` summarises the gaps in one number. Lesson 02 uses both to show what
label smoothing, MixUp and CutMix do to a model's confidence.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ._validate import describe, require_labels, require_positive_int, require_tensor

__all__ = ["ReliabilityCurve", "expected_calibration_error", "reliability_curve"]


_FLOAT_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


class ReliabilityCurve(NamedTuple):
    """Per confidence bin: how often the model was right and how sure it was (see ``reliability_curve``).

    ``edges`` (float64, n_bins + 1) are the bin boundaries 0, 1/n_bins, …, 1; ``counts`` (int64,
    n_bins) the number of examples whose confidence falls in each bin; ``confidence`` and
    ``accuracy`` (float64, n_bins) the mean confidence and the share of correct predictions of
    those examples, NaN in an empty bin. A calibrated model has ``accuracy ≈ confidence`` in every bin.

    Taught in lesson 02.
    """

    edges: torch.Tensor
    counts: torch.Tensor
    confidence: torch.Tensor
    accuracy: torch.Tensor

    @property
    def ece(self) -> float:
        """Expected calibration error: the mean of |accuracy − confidence| over the bins, weighted by their counts."""
        filled = self.counts > 0
        weights = self.counts[filled].double() / self.counts.sum()
        return float((weights * (self.accuracy[filled] - self.confidence[filled]).abs()).sum())


def reliability_curve(probs: torch.Tensor, targets: torch.Tensor, n_bins: int = 15) -> ReliabilityCurve:
    """Bin the examples by confidence and measure accuracy per bin: the data of a reliability diagram.

    ``probs`` (N×C, floating point, each row a probability vector) are a classifier's class
    probabilities, ``targets`` (N) the true classes. The confidence of an example is its largest
    probability and the prediction that class. The bins split [0, 1] into ``n_bins`` equal widths,
    each closed on the left, [k/n_bins, (k+1)/n_bins), the last one closed on both sides; this is
    torchmetrics' binning (``CalibrationError``), except that torchmetrics gives a confidence of
    exactly 1.0 a bin of its own, which a float32 softmax of an over-confident model produces often.
    Computed with tensor operations on the CPU in float64.

    Taught in lesson 02.
    """
    probs = require_tensor("probs", probs, ndim=2, dtypes=_FLOAT_DTYPES)
    if probs.shape[1] < 2:
        raise ValueError(f"probs: expected at least 2 columns (one per class), got {describe(probs)}")
    targets = require_labels("targets", targets, n=probs.shape[0], num_classes=probs.shape[1])
    n_bins = require_positive_int("n_bins", n_bins)
    values = probs.detach().cpu().double()
    if not bool(torch.isfinite(values).all()) or float(values.min()) < 0 or float(values.max()) > 1:
        raise ValueError(
            f"probs: expected probabilities in [0, 1], got values from {float(values.min()):.4g} to "
            f"{float(values.max()):.4g} (logits? apply torch.softmax(logits, dim=1) first)"
        )
    row_sums = values.sum(dim=1)
    worst = int((row_sums - 1).abs().argmax())
    tolerance = 1e-2 if probs.dtype in (torch.float16, torch.bfloat16) else 1e-4
    if abs(float(row_sums[worst]) - 1) > tolerance:
        raise ValueError(
            f"probs: expected each row to sum to 1 (a probability vector), got {float(row_sums[worst]):.4g} "
            f"in row {worst} (logits? apply torch.softmax(logits, dim=1) first)"
        )
    confidence, predicted = values.max(dim=1)
    correct = (predicted == targets.detach().cpu().long()).double()
    edges = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)
    index = (torch.bucketize(confidence, edges, right=True) - 1).clamp(0, n_bins - 1)
    counts = torch.bincount(index, minlength=n_bins)
    sum_confidence = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, index, confidence)
    sum_correct = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, index, correct)
    filled = counts.double()
    nan = torch.full((n_bins,), torch.nan, dtype=torch.float64)
    mean_confidence = torch.where(counts > 0, sum_confidence / filled.clamp_min(1), nan)
    accuracy = torch.where(counts > 0, sum_correct / filled.clamp_min(1), nan)
    return ReliabilityCurve(edges, counts, mean_confidence, accuracy)


def expected_calibration_error(probs: torch.Tensor, targets: torch.Tensor, n_bins: int = 15) -> float:
    """Expected calibration error (ECE) of class probabilities ``probs`` (N×C) for true classes ``targets`` (N).

    The examples are binned by confidence (their largest probability) into ``n_bins`` equal-width
    bins (see ``reliability_curve``); ECE = Σ_bins (examples in bin / N) · |accuracy − mean
    confidence|, between 0 (as sure as it is right, in every bin) and 1. It equals torchmetrics'
    ``CalibrationError(task="multiclass", n_bins=n_bins, norm="l1")`` unless some confidences are
    exactly 1.0 (torchmetrics bins those separately). Taught in lesson 02.
    """
    return reliability_curve(probs, targets, n_bins).ece
