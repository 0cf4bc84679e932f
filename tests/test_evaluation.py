"""Tests for course_utils.evaluation: predict, evaluate and most_confused_pairs on hand-checked examples."""

from __future__ import annotations

import json

import pytest
import torch

import course_utils as cu
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_utils.evaluation import (
    ClassScores,
    ConfusedPair,
    EvaluationReport,
    classification_report,
    evaluate,
    most_confused_pairs,
    predict,
)
from course_utils.runtime import PrecisionPolicy

# Six examples, three classes. Row i holds the logits the model returns for example i.
LOGITS = torch.tensor(
    [
        [3.0, 1.0, 0.0],  # true 0, predicted 0
        [1.0, 2.0, 0.0],  # true 0, predicted 1 (true class second: a top-2 hit)
        [0.0, 5.0, 1.0],  # true 1, predicted 1
        [1.0, 4.0, 0.0],  # true 1, predicted 1
        [0.0, 1.0, 6.0],  # true 2, predicted 2
        [2.0, 1.0, 0.0],  # true 2, predicted 0 (true class last: a top-2 miss)
    ]
)
TARGETS = torch.tensor([0, 0, 1, 1, 2, 2])
NAMES = ("cat", "dog", "fox")


class FixedLogits(nn.Module):
    """Returns LOGITS[i] for an input holding the example index i (no parameters, one buffer)."""

    def __init__(self, table: torch.Tensor = LOGITS) -> None:
        super().__init__()
        self.register_buffer("table", table.clone())
        self.seen_inference_mode: list[bool] = []
        self.seen_channels_last: list[bool] = []
        self.seen_autocast: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen_inference_mode.append(torch.is_inference_mode_enabled())
        self.seen_channels_last.append(
            x.ndim == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
        )
        self.seen_autocast.append(torch.is_autocast_enabled("cpu"))
        return self.table[x.flatten(1)[:, 0].long()]


def index_batches(batch_sizes=(4, 2), targets=TARGETS):
    """A list of (inputs, labels) batches whose inputs are example indices shaped N×3×2×2."""
    batches, start = [], 0
    for size in batch_sizes:
        index = torch.arange(start, start + size, dtype=torch.float32)
        batches.append((index.view(-1, 1, 1, 1).expand(-1, 3, 2, 2).contiguous(), targets[start : start + size]))
        start += size
    return batches


# ---------------------------------------------------------------- predict


def test_predict_returns_preds_probs_targets_with_the_right_types():
    model = FixedLogits().train()
    preds, probs, targets = predict(model, index_batches())
    assert preds.dtype == torch.int64 and targets.dtype == torch.int64 and probs.dtype == torch.float32
    assert preds.tolist() == [0, 1, 1, 1, 2, 0]
    assert targets.tolist() == TARGETS.tolist()
    torch.testing.assert_close(probs, torch.softmax(LOGITS, dim=1))
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(6))
    assert model.training, "predict must restore the model's previous mode"
    assert all(model.seen_inference_mode)


def test_predict_leaves_eval_mode_and_works_with_a_dataloader():
    model = FixedLogits().eval()
    inputs = torch.cat([x for x, _ in index_batches()])
    loader = DataLoader(TensorDataset(inputs, TARGETS), batch_size=4)
    preds, _, targets = predict(model, loader, device="cpu")
    assert preds.tolist() == [0, 1, 1, 1, 2, 0]
    assert targets.tolist() == TARGETS.tolist()
    assert not model.training


def test_predict_with_the_course_tensor_loader():
    loaders = pytest.importorskip("course_utils.loaders")
    images = torch.arange(6, dtype=torch.uint8).view(-1, 1, 1, 1).expand(-1, 1, 2, 2).contiguous()

    class ScaledIndex(FixedLogits):
        def forward(self, x: torch.Tensor) -> torch.Tensor:  # TensorLoader scales uint8 to 0–1
            return super().forward(torch.round(x * 255))

    loader = loaders.TensorLoader(images, TARGETS, batch_size=4)
    preds, _, targets = predict(ScaledIndex(), loader)
    assert preds.tolist() == [0, 1, 1, 1, 2, 0]
    assert targets.tolist() == TARGETS.tolist()


def test_predict_applies_a_precision_policy():
    model = FixedLogits()
    policy = PrecisionPolicy(
        device=torch.device("cpu"), autocast_dtype=torch.bfloat16, use_grad_scaler=False, channels_last=True
    )
    preds, probs, _ = predict(model, index_batches(), precision=policy)
    assert all(model.seen_channels_last) and all(model.seen_autocast)
    assert probs.dtype == torch.float32
    assert preds.tolist() == [0, 1, 1, 1, 2, 0]


def test_predict_with_a_real_model_and_parameters():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    batches = [(torch.randn(5, 1, 2, 2), torch.randint(0, 3, (5,))) for _ in range(2)]
    preds, probs, targets = predict(model, batches)
    with torch.no_grad():
        expected = torch.cat([model(x) for x, _ in batches]).argmax(1)
    assert torch.equal(preds, expected)
    assert probs.shape == (10, 3) and targets.shape == (10,)
    assert not probs.requires_grad


def test_predict_rejects_an_empty_loader():
    with pytest.raises(ValueError, match="loader: expected at least one batch, got an empty list"):
        predict(FixedLogits(), [])


@pytest.mark.parametrize(
    ("loader", "error", "message"),
    [
        ([torch.zeros(2, 1, 2, 2)], ValueError, r"loader: expected batches of \(images, labels\)"),
        ([(torch.zeros(2, 1, 2, 2), torch.tensor([0, 1, 2]))], ValueError, "labels: expected 2 labels"),
        ([(torch.zeros(2, 1, 2, 2), torch.tensor([0.0, 1.0]))], TypeError, "labels: expected dtype"),
        ([([0.0], torch.tensor([0]))], TypeError, "loader: expected images as a tensor, got list"),
        (torch.zeros(3), TypeError, "loader: expected an iterable of"),
        (42, TypeError, "loader: expected an iterable of"),
    ],
)
def test_predict_rejects_malformed_batches(loader, error, message):
    with pytest.raises(error, match=message):
        predict(FixedLogits(), loader)


def test_predict_rejects_bad_model_outputs_and_arguments():
    class Flat(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.zeros(x.shape[0])

    with pytest.raises(ValueError, match=r"model: expected outputs of shape \(batch, classes\), got a tensor of shape \(4,"):
        predict(Flat(), index_batches())

    class Growing(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.zeros(x.shape[0], x.shape[0])

    with pytest.raises(ValueError, match="model: expected the same number of outputs for every batch"):
        predict(Growing(), index_batches())
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module"):
        predict(lambda x: x, index_batches())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="precision: expected a PrecisionPolicy"):
        predict(FixedLogits(), index_batches(), precision="bf16")  # type: ignore[arg-type]


# ---------------------------------------------------------------- evaluate


def test_evaluate_matches_hand_computed_metrics():
    report = evaluate(FixedLogits(), index_batches(), num_classes=3, class_names=NAMES, top_k=(1, 2, 3))
    assert isinstance(report, EvaluationReport)
    # confusion: rows = true class, columns = predicted class
    assert report.confusion.dtype == torch.int64
    assert report.confusion.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert report.accuracy == pytest.approx(4 / 6)
    precision = [1 / 2, 2 / 3, 1 / 1]
    recall = [1 / 2, 2 / 2, 1 / 2]
    f1 = [2 * p * r / (p + r) for p, r in zip(precision, recall)]
    assert report.precision == pytest.approx(sum(precision) / 3)
    assert report.recall == pytest.approx(sum(recall) / 3)
    assert report.f1 == pytest.approx(sum(f1) / 3)
    assert report.top_k_accuracy == pytest.approx({1: 4 / 6, 2: 5 / 6, 3: 1.0})
    assert report.per_class[1] == ClassScores("dog", pytest.approx(2 / 3), 1.0, pytest.approx(0.8), 2)
    assert [row.support for row in report.per_class] == [2, 2, 2]
    assert report.class_names == NAMES
    assert report.num_samples == 6
    assert report.mistakes().tolist() == [1, 5]


def test_evaluate_defaults_top_k_to_what_fits():
    report = evaluate(FixedLogits(), index_batches(), num_classes=3)
    assert list(report.top_k_accuracy) == [1]  # 5 > 3 classes, left out
    assert report.class_names == ("0", "1", "2")


def test_macro_average_leaves_out_classes_that_never_occur():
    # a fourth class that is never a target and never predicted does not drag the macro average down
    table = torch.cat([LOGITS, torch.full((6, 1), -100.0)], dim=1)
    report = evaluate(FixedLogits(table), index_batches(), num_classes=4)
    assert report.precision == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert report.per_class[3].support == 0
    assert report.top_k_accuracy == pytest.approx({1: 4 / 6})


def test_report_to_dict_is_json_ready_and_to_text_is_a_table():
    report = evaluate(FixedLogits(), index_batches(), num_classes=3, class_names=NAMES, top_k=(1, 2))
    data = report.to_dict()
    json.dumps(data)
    assert data["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert data["per_class"][2] == {
        "name": "fox",
        "precision": 1.0,
        "recall": 0.5,
        "f1": pytest.approx(2 / 3),
        "support": 2,
    }
    assert data["accuracy"] == pytest.approx(4 / 6)
    text = report.to_text()
    assert text == str(report)
    lines = text.splitlines()
    assert lines[0].split() == ["class", "precision", "recall", "f1-score", "support"]
    assert lines[2].split() == ["cat", "0.500", "0.500", "0.500", "2"]
    assert any(line.split() == ["accuracy", "0.667", "6"] for line in lines)
    assert any(line.split() == ["top-2", "accuracy", "0.833", "6"] for line in lines)
    assert "0.50" in report.to_text(digits=2).splitlines()[2]
    assert repr(report) == (
        "EvaluationReport(accuracy=0.6667, precision=0.7222, recall=0.6667, f1=0.6556, "
        "top_k_accuracy={1: 0.6667, 2: 0.8333}, num_samples=6, num_classes=3)"
    )


def test_classification_report_from_probabilities():
    probs = torch.softmax(LOGITS, dim=1)
    report = classification_report(probs, TARGETS, class_names=list(NAMES))
    assert report.accuracy == pytest.approx(4 / 6)
    assert report.preds.tolist() == [0, 1, 1, 1, 2, 0]
    with pytest.raises(ValueError, match="targets: expected 6 labels"):
        classification_report(probs, TARGETS[:5])
    with pytest.raises(ValueError, match=r"targets: expected class indices in \[0, 2\]"):
        classification_report(probs, torch.tensor([0, 1, 2, 3, 0, 0]))
    with pytest.raises(TypeError, match="probs: expected dtype"):
        classification_report(TARGETS.view(-1, 1), TARGETS)


def test_evaluate_rejects_a_class_count_that_does_not_match_the_model():
    with pytest.raises(ValueError, match=r"num_classes: expected 3 \(the width of the model's output\), got 10"):
        evaluate(FixedLogits(), index_batches(), num_classes=10)


def test_evaluate_rejects_wrong_class_names_and_top_k():
    with pytest.raises(ValueError, match=r"class_names: expected 3 names \(one per class\), got 2"):
        evaluate(FixedLogits(), index_batches(), num_classes=3, class_names=["cat", "dog"])
    with pytest.raises(TypeError, match="class_names: expected a sequence of 3 names"):
        evaluate(FixedLogits(), index_batches(), num_classes=3, class_names="cat,dog,fox")
    with pytest.raises(ValueError, match="top_k: expected integers between 1 and 3"):
        evaluate(FixedLogits(), index_batches(), num_classes=3, top_k=(1, 5))
    with pytest.raises(TypeError, match="top_k: expected a sequence of ints"):
        evaluate(FixedLogits(), index_batches(), num_classes=3, top_k=2.0)
    assert list(evaluate(FixedLogits(), index_batches(), num_classes=3, top_k=2).top_k_accuracy) == [2]
    with pytest.raises(ValueError, match="num_classes: expected an integer >= 1"):
        evaluate(FixedLogits(), index_batches(), num_classes=0)


def test_evaluate_rejects_an_empty_loader():
    with pytest.raises(ValueError, match="loader: expected at least one batch"):
        evaluate(
            FixedLogits(),
            DataLoader(TensorDataset(torch.zeros(0, 1), torch.zeros(0, dtype=torch.int64))),
            num_classes=3,
        )


# ---------------------------------------------------------------- most_confused_pairs


def test_most_confused_pairs_orders_by_count_then_class_index():
    confusion = torch.tensor([[5, 3, 0], [1, 7, 4], [0, 4, 9]])
    pairs = most_confused_pairs(confusion, k=3, class_names=NAMES)
    assert pairs == [
        ConfusedPair(1, 2, "dog", "fox", 4),
        ConfusedPair(2, 1, "fox", "dog", 4),
        ConfusedPair(0, 1, "cat", "dog", 3),
    ]
    assert all(isinstance(pair.count, int) for pair in pairs)


def test_most_confused_pairs_skips_zero_cells_and_accepts_fractions():
    assert most_confused_pairs(torch.eye(3, dtype=torch.int64) * 7, k=5) == []
    report = evaluate(FixedLogits(), index_batches(), num_classes=3)
    assert [(p.true_class, p.predicted_class, p.count) for p in most_confused_pairs(report.confusion, k=10)] == [
        (0, 1, 1),
        (2, 0, 1),
    ]
    normalised = torch.tensor([[0.5, 0.5], [0.25, 0.75]])
    pairs = most_confused_pairs(normalised, k=1)
    assert pairs == [ConfusedPair(0, 1, "0", "1", 0.5)]


def test_most_confused_pairs_rejects_bad_input():
    with pytest.raises(ValueError, match="confusion: expected a square C×C matrix"):
        most_confused_pairs(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="confusion: expected a 2-dimensional tensor"):
        most_confused_pairs(torch.zeros(3))
    with pytest.raises(ValueError, match="k: expected an integer >= 1"):
        most_confused_pairs(torch.zeros(2, 2), k=0)
    with pytest.raises(ValueError, match=r"class_names: expected 2 names \(one per class\), got 3"):
        most_confused_pairs(torch.zeros(2, 2), class_names=NAMES)


def test_one_macro_f1_definition_when_a_class_is_absent():
    """The report's macro scores are macro_scores_from_confusion's: a class with no example and no prediction
    is left out (0.6556 over the three classes that occur, not 0.4917 over four)."""
    targets = torch.tensor([0, 0, 1, 1, 2, 2])
    preds = torch.tensor([0, 1, 1, 1, 2, 0])
    probs = torch.nn.functional.one_hot(preds, 4).float()  # class 3: never a target, never predicted
    report = cu.classification_report(probs, targets)
    assert report.f1 == pytest.approx(cu.macro_scores_from_confusion(report.confusion).f1, abs=1e-12)
    assert report.f1 == pytest.approx((0.5 + 0.8 + 2 / 3) / 3, abs=1e-6)
    assert report.precision == pytest.approx((0.5 + 2 / 3 + 1) / 3, abs=1e-6)
    assert report.recall == pytest.approx((0.5 + 1 + 0.5) / 3, abs=1e-6)


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
    assert isinstance(curve, cu.ReliabilityCurve)
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
