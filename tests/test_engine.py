"""Tests of course_utils.engine: train_step, eval_step, fit and History."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

import course_utils as cu

FP32 = cu.PrecisionPolicy(torch.device("cpu"), None, False, False)


def _blobs(n: int = 240, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Three well-separated classes of 1×2×2 'images'."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    centres = torch.tensor([[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 2.0, 0]])
    points = centres[labels] + 0.3 * torch.randn(n, 4, generator=generator)
    return points.view(n, 1, 2, 2), labels


def _linear() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 3))


class Recorder(nn.Module):
    """Records the mode and grad state it sees in forward."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        self.seen: list[tuple[bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((self.training, torch.is_grad_enabled()))
        return self.layer(x)


def test_train_step_learns_and_uses_train_mode() -> None:
    x, y = _blobs()
    model = Recorder()
    loader = cu.TensorLoader(x, y, 32, shuffle=True, generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    first = cu.train_step(model, loader, nn.CrossEntropyLoss(), optimizer, "cpu", precision=FP32)
    for _ in range(5):
        last = cu.train_step(model, loader, nn.CrossEntropyLoss(), optimizer, "cpu", precision=FP32)
    assert last["loss"] < first["loss"] and last["acc"] > 0.95
    assert all(mode == (True, True) for mode in model.seen)


def test_eval_step_is_sample_weighted_and_uses_inference_mode() -> None:
    x, y = _blobs(10)
    model = Recorder()
    loss_fn = nn.CrossEntropyLoss()
    result = cu.eval_step(model, cu.TensorLoader(x, y, 4), loss_fn, "cpu", precision=FP32)
    with torch.no_grad():
        logits = model.layer(x)
    assert result["loss"] == pytest.approx(loss_fn(logits, y).item(), rel=1e-6)
    assert result["acc"] == pytest.approx((logits.argmax(1) == y).float().mean().item())
    assert all(mode == (False, False) for mode in model.seen[-3:])


def test_first_loss_is_near_log_of_class_count() -> None:
    x, y = _blobs()
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    nn.init.zeros_(model[1].weight)
    nn.init.zeros_(model[1].bias)
    result = cu.eval_step(model, cu.TensorLoader(x, y, 64), nn.CrossEntropyLoss(), "cpu", precision=FP32)
    assert result["loss"] == pytest.approx(math.log(3), rel=1e-5)


def test_fit_onecycle_history_and_json_round_trip(tmp_path: Path) -> None:
    x, y = _blobs()
    train = cu.TensorLoader(x, y, 32, shuffle=True, generator=torch.Generator().manual_seed(0))
    val = cu.TensorLoader(*_blobs(90, seed=1), 45)
    history = cu.fit(_linear(), train, val, epochs=4, lr=0.1, device="cpu", precision=FP32, progress=False)
    assert history.epochs == 4 and len(history.val_acc) == 4 and len(history.lr) == 4
    assert history.val_acc[-1] > 0.95 and history.train_loss[-1] < history.train_loss[0]
    assert all(0.0 <= acc <= 1.0 for acc in history.train_acc + history.val_acc)
    assert max(history.lr) > 0.09 and history.lr[-1] < 1e-3  # OneCycle warms up to lr=0.1, then anneals
    assert history.wall_seconds == sorted(history.wall_seconds)
    assert history.precision == "fp32" and history.device == "cpu"
    restored = cu.History.from_json(history.to_json(tmp_path / "h.json"))
    assert restored == history == cu.History.from_json(tmp_path / "h.json")
    assert json.loads(history.to_json())["best_epoch"] == history.best_epoch


def test_fit_with_epoch_scheduler_sgd_and_cosine() -> None:
    x, y = _blobs()
    train = cu.TensorLoader(x, y, 60)
    model = _linear()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.4)
    step = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    history = cu.fit(model, train, epochs=3, optimizer=optimizer, scheduler=step, device="cpu", precision=FP32,
                     progress=False, verbose=False)
    assert history.lr == pytest.approx([0.4, 0.2, 0.1])  # the rate used in each epoch
    history = cu.fit(_linear(), train, epochs=2, optimizer="sgd", lr=0.1, scheduler="cosine", device="cpu",
                     precision=FP32, progress=False, verbose=False)
    assert history.lr[-1] == pytest.approx(0.0, abs=1e-9)
    plateau_model = _linear()
    plateau_opt = torch.optim.SGD(plateau_model.parameters(), lr=0.1)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(plateau_opt, patience=0)
    history = cu.fit(plateau_model, train, epochs=2, optimizer=plateau_opt, scheduler=plateau, device="cpu",
                     precision=FP32, progress=False, verbose=False)
    assert history.epochs == 2


def test_fit_checkpoint_and_early_stopping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x, y = _blobs()
    train = cu.TensorLoader(x, y, 60)
    val = cu.TensorLoader(*_blobs(60, seed=2), 60)
    checkpoint = tmp_path / "best.pt"
    history = cu.fit(_linear(), train, val, epochs=10, lr=1e-9, scheduler=None, device="cpu", precision=FP32,
                     checkpoint_path=checkpoint, early_stopping_patience=2, progress=False)
    assert history.stopped_early and history.epochs == 3 and history.best_epoch == 1
    assert checkpoint.is_file() and "early stopping" in capsys.readouterr().out
    state = torch.load(checkpoint, weights_only=True)
    assert set(state) == {"1.weight", "1.bias"}


def test_fit_restores_best_weights() -> None:
    x, y = _blobs()
    model = _linear()
    train = cu.TensorLoader(x, y, 60)
    val = cu.TensorLoader(*_blobs(60, seed=2), 60)
    history = cu.fit(model, train, val, epochs=3, lr=0.1, monitor="val_loss", device="cpu", precision=FP32,
                     checkpoint_path=Path("/tmp") / "course_fit_best.pt", progress=False, verbose=False)
    best = history.val_loss[history.best_epoch - 1]
    assert cu.eval_step(model, val, nn.CrossEntropyLoss(), "cpu", precision=FP32)["loss"] == pytest.approx(best)


def test_gradient_clipping_bounds_the_update() -> None:
    x, y = _blobs(60)
    model = _linear()
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    cu.train_step(model, cu.TensorLoader(x * 100, y, 60), nn.CrossEntropyLoss(), optimizer, "cpu", precision=FP32,
                  grad_clip=0.01)
    change = torch.sqrt(sum(((p - b) ** 2).sum() for p, b in zip(model.parameters(), before)))
    assert change.item() == pytest.approx(0.01, rel=1e-3)


def test_bf16_channels_last_policy_on_a_conv_net() -> None:
    images = torch.randint(0, 256, (64, 1, 8, 8), dtype=torch.uint8)
    labels = torch.arange(64) % 2
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(256, 2))
    policy = cu.PrecisionPolicy(torch.device("cpu"), torch.bfloat16, False, True)
    history = cu.fit(model, cu.TensorLoader(images, labels, 16), epochs=1, precision=policy, device="cpu",
                     progress=True, verbose=False)
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert history.precision == "bf16 autocast + channels_last" and math.isfinite(history.train_loss[0])


def test_fp16_with_grad_scaler_path_and_soft_targets() -> None:
    x, y = _blobs(60)
    soft = nn.functional.one_hot(y, 3).float() * 0.9 + 0.1 / 3
    model = _linear()
    policy = cu.PrecisionPolicy(torch.device("cpu"), torch.float16, True, False)
    result = cu.train_step(model, [(x, soft)], nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
                           "cpu", precision=policy, grad_clip=1.0)
    assert math.isfinite(result["loss"]) and 0.0 <= result["acc"] <= 1.0


def test_default_device_and_precision_are_chosen() -> None:
    x, y = _blobs(30)
    result = cu.eval_step(_linear(), cu.TensorLoader(x, y, 30), nn.CrossEntropyLoss())
    assert 0.0 <= result["acc"] <= 1.0


def test_engine_rejects_bad_input() -> None:
    x, y = _blobs(30)
    loader = cu.TensorLoader(x, y, 10)
    loss_fn = nn.CrossEntropyLoss()
    two_outputs = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with pytest.raises(ValueError, match="model: expected at least 3 outputs \\(labels go up to 2\\), got 2"):
        cu.eval_step(two_outputs, loader, loss_fn, "cpu")
    with pytest.raises(ValueError, match="model: expected outputs of shape \\(batch, classes\\)"):
        cu.eval_step(nn.Flatten(0), loader, loss_fn, "cpu")
    with pytest.raises(ValueError, match="targets: expected soft targets of shape \\(30, 3\\)"):
        cu.eval_step(_linear(), [(x, torch.zeros(30, 5))], loss_fn, "cpu")
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module, got function"):
        cu.fit(lambda t: t, loader)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="loader: expected a non-empty list, got one with 0 items"):
        cu.eval_step(_linear(), [], loss_fn, "cpu")
    with pytest.raises(ValueError, match="epochs: expected an integer >= 1, got int 0"):
        cu.fit(_linear(), loader, epochs=0)
    with pytest.raises(ValueError, match="lr: expected a number > 0"):
        cu.fit(_linear(), loader, lr=-1.0)
    with pytest.raises(ValueError, match="optimizer: expected one of \\['adamw', 'sgd'\\], got 'adam'"):
        cu.fit(_linear(), loader, optimizer="adam")
    with pytest.raises(ValueError, match="scheduler: expected one of \\['onecycle', 'cosine'\\], got 'step'"):
        cu.fit(_linear(), loader, scheduler="step")
    with pytest.raises(TypeError, match="scheduler: expected 'onecycle', 'cosine', None or a torch LR scheduler"):
        cu.fit(_linear(), loader, scheduler=3)
    with pytest.raises(ValueError, match="label_smoothing: expected a value in \\[0, 1\\), got 1.5"):
        cu.fit(_linear(), loader, label_smoothing=1.5)
    with pytest.raises(ValueError, match="grad_clip: expected a number > 0"):
        cu.train_step(_linear(), loader, loss_fn, torch.optim.SGD(_linear().parameters(), lr=0.1), grad_clip=0)
    frozen = _linear().requires_grad_(False)
    with pytest.raises(ValueError, match="model: expected at least one trainable parameter, got none"):
        cu.fit(frozen, loader)
    with pytest.raises(ValueError, match="early_stopping_patience: expected an integer >= 1"):
        cu.fit(_linear(), loader, early_stopping_patience=0)
    with pytest.raises(ValueError, match="monitor: expected one of"):
        cu.fit(_linear(), loader, monitor="accuracy")
