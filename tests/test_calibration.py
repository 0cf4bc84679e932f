"""Calibration (lesson 02): reliability curves, expected calibration error and the reliability diagram."""

from __future__ import annotations

import pytest
import torch

import course_utils as cu
from course_utils.charts import plot_reliability_diagram


def save_png(fig, tmp_path):
    """Render the figure to a PNG file (drawing reveals errors that building the figure does not)."""
    path = tmp_path / "figure.png"
    fig.savefig(path)
    assert path.stat().st_size > 1000


# --- calibration (lesson 02): reliability_curve and expected_calibration_error --------------------------------

# Five examples, three classes, four bins [0, .25), [.25, .5), [.5, .75), [.75, 1].
CAL_PROBS = torch.tensor(
    [
        [0.9, 0.1, 0.0],  # confidence 0.9, predicts 0, true 0: right, bin 3
        [0.8, 0.2, 0.0],  # confidence 0.8, predicts 0, true 1: wrong, bin 3
        [0.2, 0.6, 0.2],  # confidence 0.6, predicts 1, true 1: right, bin 2
        [0.3, 0.3, 0.4],  # confidence 0.4, predicts 2, true 0: wrong, bin 1
        [0.0, 0.0, 1.0],  # confidence 1.0, predicts 2, true 2: right, bin 3 (1.0 belongs to the last bin)
    ]
)
CAL_TARGETS = torch.tensor([0, 1, 1, 0, 2])


def test_reliability_curve_bins_by_hand():
    curve = cu.reliability_curve(CAL_PROBS, CAL_TARGETS, n_bins=4)
    assert isinstance(curve, cu.calibration.ReliabilityCurve)
    assert torch.allclose(curve.edges, torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0], dtype=torch.float64))
    assert curve.counts.tolist() == [0, 1, 1, 3] and curve.counts.dtype == torch.int64
    assert curve.confidence.dtype == curve.accuracy.dtype == torch.float64
    assert torch.isnan(curve.confidence[0]) and torch.isnan(curve.accuracy[0])  # an empty bin
    assert torch.allclose(curve.confidence[1:], torch.tensor([0.4, 0.6, 0.9], dtype=torch.float64), atol=1e-7)
    assert torch.allclose(curve.accuracy[1:], torch.tensor([0.0, 1.0, 2 / 3], dtype=torch.float64))
    # ECE = 1/5 |0 - 0.4| + 1/5 |1 - 0.6| + 3/5 |2/3 - 0.9| = 0.08 + 0.08 + 0.14
    assert curve.ece == pytest.approx(0.30, abs=1e-7)
    assert cu.expected_calibration_error(CAL_PROBS, CAL_TARGETS, n_bins=4) == pytest.approx(0.30, abs=1e-7)


def test_one_bin_compares_mean_confidence_with_accuracy():
    # n_bins=1: ECE = |accuracy - mean confidence| = |3/5 - (0.9 + 0.8 + 0.6 + 0.4 + 1.0) / 5| = 0.14
    assert cu.expected_calibration_error(CAL_PROBS, CAL_TARGETS, n_bins=1) == pytest.approx(0.14, abs=1e-7)


def test_a_model_as_sure_as_it_is_right_has_zero_ece_and_an_always_wrong_one_its_confidence():
    probs = torch.tensor([[0.75, 0.25]] * 4 + [[0.1, 0.9]] * 10)
    targets = torch.tensor([0, 0, 0, 1] + [1] * 9 + [0])  # 3 of 4 right at 0.75, 9 of 10 right at 0.9
    assert cu.expected_calibration_error(probs, targets, n_bins=10) == pytest.approx(0.0, abs=1e-7)
    assert cu.expected_calibration_error(probs, 1 - probs.argmax(dim=1), n_bins=10) == pytest.approx(
        (4 * 0.75 + 10 * 0.9) / 14, abs=1e-7
    )


@pytest.mark.parametrize("n_bins", [1, 3, 15, 40])
def test_expected_calibration_error_equals_torchmetrics(n_bins):
    from torchmetrics.classification import MulticlassCalibrationError

    generator = torch.Generator().manual_seed(n_bins)
    probs = torch.softmax(3 * torch.randn(2000, 10, generator=generator), dim=1)
    targets = torch.randint(0, 10, (2000,), generator=generator)
    targets[:1200] = probs[:1200].argmax(dim=1)  # a model that is right more often than chance
    assert float(probs.max()) < 1.0  # no confidence of exactly 1.0 (torchmetrics bins those separately)
    expected = MulticlassCalibrationError(num_classes=10, n_bins=n_bins, norm="l1")(probs, targets)
    assert cu.expected_calibration_error(probs, targets, n_bins=n_bins) == pytest.approx(float(expected), abs=1e-6)
    curve = cu.reliability_curve(probs, targets, n_bins=n_bins)
    assert int(curve.counts.sum()) == 2000


def test_a_confidence_of_exactly_one_joins_the_last_bin_unlike_torchmetrics():
    import torchmetrics.functional as tmf

    # two right answers at 0.9 (under-confident by 0.1), one wrong at 1.0 (over-confident by 1.0), 2 bins
    probs = torch.tensor([[0.9, 0.1], [0.9, 0.1], [1.0, 0.0]])
    targets = torch.tensor([0, 0, 1])
    # one last bin [0.5, 1]: accuracy 2/3, mean confidence 14/15, ECE = 14/15 - 2/3 = 4/15
    assert cu.expected_calibration_error(probs, targets, n_bins=2) == pytest.approx(4 / 15, abs=1e-6)
    # torchmetrics: 2/3 * 0.1 + 1/3 * 1.0 = 0.4 (the 1.0 in a bin of its own)
    torchmetrics_value = tmf.calibration_error(probs, targets, task="multiclass", num_classes=2, n_bins=2)
    assert float(torchmetrics_value) == pytest.approx(0.4, abs=1e-6)


def test_reliability_curve_accepts_bfloat16_probabilities_and_int32_labels():
    curve = cu.reliability_curve(CAL_PROBS.to(torch.bfloat16), CAL_TARGETS.to(torch.int32), n_bins=4)
    assert curve.counts.tolist() == [0, 1, 1, 3]
    assert CAL_PROBS.dtype == torch.float32  # the input is left alone


@pytest.mark.parametrize(
    "probs, targets, n_bins, error, message",
    [
        (CAL_PROBS.tolist(), CAL_TARGETS, 15, TypeError, "probs: expected a torch.Tensor"),
        (CAL_PROBS[0], CAL_TARGETS, 15, ValueError, "probs: expected a 2-dimensional tensor"),
        ((CAL_PROBS * 10).long(), CAL_TARGETS, 15, TypeError, "probs: expected dtype"),
        (CAL_PROBS[:, :1], CAL_TARGETS, 15, ValueError, "probs: expected at least 2 columns"),
        (CAL_PROBS, CAL_TARGETS[:4], 15, ValueError, "targets: expected 5 labels"),
        (CAL_PROBS, CAL_TARGETS.float(), 15, TypeError, "targets: expected dtype"),
        (CAL_PROBS, torch.tensor([0, 1, 1, 0, 3]), 15, ValueError, r"targets: expected class indices in \[0, 2\]"),
        (CAL_PROBS * 2 - 0.5, CAL_TARGETS, 15, ValueError, r"probs: expected probabilities in \[0, 1\]"),
        (CAL_PROBS.clone().fill_(float("nan")), CAL_TARGETS, 15, ValueError, r"probs: expected probabilities"),
        (CAL_PROBS * 0.5, CAL_TARGETS, 15, ValueError, "probs: expected each row to sum to 1 .*got 0.5 in row 0"),
        (CAL_PROBS, CAL_TARGETS, 0, ValueError, "n_bins: expected an integer >= 1"),
        (CAL_PROBS, CAL_TARGETS, 2.5, ValueError, "n_bins: expected an integer >= 1"),
        (CAL_PROBS, CAL_TARGETS, True, ValueError, "n_bins: expected an integer >= 1"),
    ],
)
def test_calibration_rejects_bad_input(probs, targets, n_bins, error, message):
    for function in (cu.reliability_curve, cu.expected_calibration_error):
        with pytest.raises(error, match=message):
            function(probs, targets, n_bins=n_bins)


# ---------------------------------------------------------------- plot_reliability_diagram (lesson 02)


def test_plot_reliability_diagram_bars_diagonal_and_ece(tmp_path):
    probs = torch.tensor([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.2, 0.6, 0.2], [0.3, 0.3, 0.4], [0.0, 0.0, 1.0]])
    targets = torch.tensor([0, 1, 1, 0, 2])
    curve = cu.reliability_curve(probs, targets, n_bins=4)  # counts 0, 1, 1, 3; accuracy -, 0, 1, 2/3; ECE 0.30
    perfect = cu.reliability_curve(probs, probs.argmax(dim=1), n_bins=4)
    fig = plot_reliability_diagram({"model": curve, "always right": perfect}, title="two models")
    save_png(fig, tmp_path)
    assert len(fig.axes) == 4  # reliability on top, share of examples below, one column per curve
    top, bottom = fig.axes[0], fig.axes[2]
    assert top.get_title() == "model\nECE = 0.300"
    assert fig.axes[1].get_title() == f"always right\nECE = {perfect.ece:.3f}"
    assert fig._suptitle.get_text() == "two models"
    accuracy_bars, gap_bars = top.patches[:3], top.patches[3:6]  # drawn in that order, empty bins left out
    assert [round(p.get_x(), 6) for p in accuracy_bars] == [0.25, 0.5, 0.75]  # the empty first bin has no bar
    assert [round(p.get_height(), 6) for p in accuracy_bars] == [0.0, 1.0, round(2 / 3, 6)]
    assert [round(p.get_y(), 6) for p in gap_bars] == [0.0, 1.0, round(2 / 3, 6)]  # from the accuracy ...
    assert [round(p.get_y() + p.get_height(), 6) for p in gap_bars] == [0.4, 0.6, 0.9]  # ... to the confidence
    diagonal = [line for line in top.lines if line.get_label() == "perfect calibration"]
    assert len(diagonal) == 1 and list(diagonal[0].get_xdata()) == [0, 1] and list(diagonal[0].get_ydata()) == [0, 1]
    assert [round(p.get_height(), 6) for p in bottom.patches] == [0.0, 0.2, 0.2, 0.6]
    one = plot_reliability_diagram(curve)  # a single curve: one column, the title is the ECE alone
    assert len(one.axes) == 2 and one.axes[0].get_title() == "ECE = 0.300"


@pytest.mark.parametrize(
    "curves, kwargs, error, message",
    [
        ({}, {}, TypeError, "curves: expected a ReliabilityCurve or a non-empty dict"),
        (torch.zeros(3), {}, TypeError, "curves: expected a ReliabilityCurve"),
        ({"a": (torch.zeros(3),)}, {}, TypeError, r"curves\['a'\]: expected a ReliabilityCurve"),
        (None, {"title": 3}, TypeError, "title: expected a string or None"),
    ],
)
def test_plot_reliability_diagram_rejects_bad_input(curves, kwargs, error, message):
    if curves is None:
        curves = cu.reliability_curve(torch.tensor([[0.7, 0.3]]), torch.tensor([0]), n_bins=2)
    with pytest.raises(error, match=message):
        plot_reliability_diagram(curves, **kwargs)
