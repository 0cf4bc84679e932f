"""Tests of course_utils.engine: train_step, eval_step, fit and History."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch
from torch import nn

import course_utils as cu

FP32 = cu.runtime.PrecisionPolicy(torch.device("cpu"), None, False, False)


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
    torch.manual_seed(0)  # the same start whichever tests this worker ran before
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
    torch.manual_seed(0)  # the same start whichever tests this worker ran before
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
    restored = cu.checkpoints.History.from_json(history.to_json(tmp_path / "h.json"))
    assert restored == history == cu.checkpoints.History.from_json(tmp_path / "h.json")
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


def _diverging_validation() -> tuple[cu.TensorLoader, cu.TensorLoader]:
    """A training set and a validation set whose labels are shifted by one: fitting the first spoils the second,
    so the best validation epoch is the first, never the last."""
    x, y = _blobs()
    return cu.TensorLoader(x, y, 60), cu.TensorLoader(x[:60], (y[:60] + 1) % 3, 60)


@pytest.mark.parametrize("checkpoint", [False, True])
def test_fit_restores_the_best_epoch_with_or_without_a_checkpoint(tmp_path: Path, checkpoint: bool) -> None:
    train, val = _diverging_validation()
    path = tmp_path / "best.pt" if checkpoint else None
    model = _linear()
    history = cu.fit(model, train, val, epochs=3, lr=0.1, monitor="val_loss", device="cpu", precision=FP32,
                     checkpoint_path=path, progress=False, verbose=False)
    assert history.best_epoch == 1 and history.val_loss[0] < min(history.val_loss[1:])
    restored = cu.eval_step(model, val, nn.CrossEntropyLoss(), "cpu", precision=FP32)["loss"]
    assert restored == pytest.approx(history.val_loss[0], rel=1e-6)
    if checkpoint:
        assert torch.equal(torch.load(path, weights_only=True)["1.weight"], model[1].weight)
    last = _linear()
    history = cu.fit(last, train, val, epochs=3, lr=0.1, monitor="val_loss", device="cpu", precision=FP32,
                     restore_best=False, progress=False, verbose=False)
    kept = cu.eval_step(last, val, nn.CrossEntropyLoss(), "cpu", precision=FP32)["loss"]
    assert kept == pytest.approx(history.val_loss[-1], rel=1e-6) and kept > restored


class CountingLoader:
    """A loader that counts the batches it hands out (to prove nothing was trained)."""

    def __init__(self, loader: cu.TensorLoader) -> None:
        self.loader, self.batches = loader, 0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):  # type: ignore[no-untyped-def]
        for batch in self.loader:
            self.batches += 1
            yield batch


def test_fit_checks_every_argument_before_the_first_batch(tmp_path: Path) -> None:
    x, y = _blobs(30)
    train = CountingLoader(cu.TensorLoader(x, y, 10))
    model, other = _linear(), _linear()
    cases = [
        (ValueError, "val_loader: expected a non-empty list", dict(val_loader=[])),
        (FileNotFoundError, "checkpoint_path: expected a file in an existing folder",
         dict(checkpoint_path=tmp_path / "missing" / "best.pt")),
        (FileNotFoundError, "resume_path: expected a file in an existing folder",
         dict(resume_path=tmp_path / "missing" / "run.pt")),
        (TypeError, "loss_fn: expected a loss such as nn.CrossEntropyLoss\\(\\), got str", dict(loss_fn="ce")),
        (ValueError, "weight_decay: expected a number >= 0, got float -0.1", dict(weight_decay=-0.1)),
        (ValueError, "optimizer: expected the parameters of the model being trained, got 2 of 2 parameters",
         dict(optimizer=torch.optim.SGD(other.parameters(), lr=0.1))),
    ]
    for error, message, kwargs in cases:
        with pytest.raises(error, match=message):
            cu.fit(model, train, device="cpu", precision=FP32, progress=False, verbose=False, **kwargs)
    frozen = _linear().requires_grad_(False)
    with pytest.raises(ValueError, match="optimizer: expected at least one trainable parameter"):
        cu.fit(frozen, train, optimizer=torch.optim.SGD(frozen.parameters(), lr=0.1), device="cpu",
               progress=False, verbose=False)
    assert train.batches == 0
    # a learnable parameter of the loss (a temperature, say) may be optimised with the model
    scale = nn.Parameter(torch.ones(()))
    class ScaledLoss(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = scale
        def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            return nn.functional.cross_entropy(logits * self.scale, targets)
    optimizer = torch.optim.SGD([*model.parameters(), scale], lr=0.1)
    cu.fit(model, train, epochs=1, optimizer=optimizer, scheduler=None, loss_fn=ScaledLoss(), device="cpu",
           precision=FP32, progress=False, verbose=False)
    assert train.batches == 3


def test_fit_raises_on_a_non_finite_loss_with_batch_and_learning_rate() -> None:
    x, y = _blobs(60)
    x[35] = float("nan")
    train = cu.TensorLoader(x, y, 10)
    with pytest.raises(FloatingPointError, match="training loss: expected finite values, got nan at batch 3 "
                                                 "\\(learning rate 0.1\\). Hint: lower the learning rate"):
        cu.fit(_linear(), train, epochs=2, lr=0.1, optimizer="sgd", scheduler=None, device="cpu", precision=FP32,
               progress=False, verbose=False)
    history = cu.fit(_linear(), train, epochs=2, lr=0.1, optimizer="sgd", scheduler=None, check_finite=False,
                     device="cpu", precision=FP32, progress=False, verbose=False)
    assert history.epochs == 2 and math.isnan(history.train_loss[-1])
    broken = _linear()
    with torch.no_grad():
        broken[1].weight[0, 0] = float("inf")
    with pytest.raises(FloatingPointError,
                       match="evaluation loss: expected finite values, got nan at batch 0. Hint: the model's weights"):
        cu.eval_step(broken, cu.TensorLoader(*_blobs(20), 10), nn.CrossEntropyLoss(), "cpu", precision=FP32)


def test_loops_need_labels_and_take_a_ready_made_one_cycle_schedule() -> None:
    x, y = _blobs(20)
    model = _linear()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"expected batches of \(images, labels\), got images alone as batch 0"):
        cu.train_step(model, [x], nn.CrossEntropyLoss(), optimizer, "cpu", precision=FP32)
    one_cycle = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=4)
    history = cu.fit(model, cu.TensorLoader(x, y, 10), epochs=2, optimizer=optimizer, scheduler=one_cycle,
                     device="cpu", precision=FP32, progress=False, verbose=False)
    replica_optimizer = torch.optim.SGD(_linear().parameters(), lr=0.1)
    replica = torch.optim.lr_scheduler.OneCycleLR(replica_optimizer, max_lr=0.1, total_steps=4)
    expected = []
    for _ in range(2):  # two epochs of two batches: stepped after every batch, not once per epoch
        for _ in range(2):
            replica_optimizer.step()
            replica.step()
        expected.append(replica_optimizer.param_groups[0]["lr"])
    assert history.lr == pytest.approx(expected)
    batches = ((x[i:i + 10], y[i:i + 10]) for i in (0, 10))  # a generator: no len() to check up front
    assert cu.eval_step(model, batches, nn.CrossEntropyLoss(), "cpu", precision=FP32)["acc"] >= 0.0


def test_the_error_names_the_learning_rate_of_the_bad_batch_and_fit_hands_back_the_best_weights() -> None:
    x, y = _blobs(60)
    x[35] = float("nan")
    model = _linear()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    halving = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 ** step)  # stepped after every batch
    with pytest.raises(FloatingPointError, match=r"got nan at batch 3 \(learning rate 0.0125\)"):
        cu.train_step(model, cu.TensorLoader(x, y, 10), nn.CrossEntropyLoss(), optimizer, "cpu", precision=FP32,
                      scheduler=halving)

    class NanInSecondEpoch(CountingLoader):
        def __iter__(self):  # type: ignore[no-untyped-def]
            for images, labels in super().__iter__():
                yield (images * float("nan") if self.batches > len(self) else images), labels

    x, y = _blobs()
    model = _linear()
    with pytest.raises(FloatingPointError, match="at batch 0"):
        cu.fit(model, NanInSecondEpoch(cu.TensorLoader(x, y, 60)), cu.TensorLoader(x, y, 60), epochs=3,
               device="cpu", precision=FP32, progress=False, verbose=False)
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())  # epoch 1's weights, not NaN ones


def test_resuming_needs_the_same_settings_and_a_file_fit_wrote(tmp_path: Path) -> None:
    x, y = _blobs()
    path = tmp_path / "run.pt"
    cu.fit(_linear(), cu.TensorLoader(x, y, 60), epochs=2, resume_path=path, device="cpu", precision=FP32,
           progress=False, verbose=False)
    with pytest.raises(ValueError, match=r"resume_path: expected the settings of the run that wrote it, got other "
                                         r"epochs \(saved 2, now 3\), steps_per_epoch \(saved 4, now 8\)"):
        cu.fit(_linear(), cu.TensorLoader(x, y, 30), epochs=3, resume_path=path, device="cpu", precision=FP32,
               progress=False, verbose=False)
    weights_only = tmp_path / "best.pt"
    torch.save(_linear().state_dict(), weights_only)
    with pytest.raises(ValueError, match="resume_path: expected a file that fit\\(resume_path=...\\) wrote"):
        cu.fit(_linear(), cu.TensorLoader(x, y, 60), epochs=2, resume_path=weights_only, device="cpu",
               precision=FP32, progress=False, verbose=False)


def test_labels_are_checked_on_every_batch() -> None:
    x, y = _blobs(30)
    y[25] = 7
    loader = cu.TensorLoader(x, y, 10)
    for run in (lambda m: cu.eval_step(m, loader, nn.CrossEntropyLoss(), "cpu", precision=FP32),
                lambda m: cu.train_step(m, loader, nn.CrossEntropyLoss(), torch.optim.SGD(m.parameters(), lr=0.1),
                                        "cpu", precision=FP32)):
        with pytest.raises(ValueError, match="expected at least 8 outputs \\(labels go up to 7 in batch 2\\), got 3"):
            run(_linear())


def test_labels_already_on_the_device_are_checked_once_at_the_end() -> None:
    guard = cu.batches.BatchGuard(torch.device("cpu"), "evaluation loss")
    logits = torch.zeros(4, 3)
    guard.check_outputs(0, logits, torch.tensor([0, 1, 2, 1]), label_max=None)
    guard.finish()
    guard.check_outputs(1, logits, torch.tensor([0, 5, 2, 1]), label_max=None)
    with pytest.raises(ValueError, match="expected at least 6 outputs \\(labels go up to 5\\), got 3"):
        guard.finish()


def test_loops_restore_the_callers_mode_module_by_module() -> None:
    x, y = _blobs(20)
    loader = cu.TensorLoader(x, y, 10)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.BatchNorm1d(3))
    model.train()
    model[2].eval()  # a deliberate mix: batch norm frozen inside a training model
    before = [m.training for m in model.modules()]
    cu.eval_step(model, loader, nn.CrossEntropyLoss(), "cpu", precision=FP32)
    assert [m.training for m in model.modules()] == before
    model.eval()
    cu.train_step(model, loader, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1), "cpu",
                  precision=FP32)
    assert not any(m.training for m in model.modules())


def test_no_weight_decay_on_biases_and_norm_layers_by_default() -> None:
    """Batch norm removes the mean, so the bias before it gets an exactly-zero gradient: only decay moves it."""
    x, y = _blobs(60)
    final_bias = {}
    for decay_all in (False, True):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.BatchNorm1d(3))
        nn.init.ones_(model[1].bias)
        cu.fit(model, cu.TensorLoader(x, y, 20), epochs=2, lr=0.1, optimizer="sgd", weight_decay=0.5,
               decay_norm_and_bias=decay_all, scheduler=None, device="cpu", precision=FP32, progress=False,
               verbose=False)
        final_bias[decay_all] = model[1].bias.detach().clone()
    torch.testing.assert_close(final_bias[False], torch.ones(3), atol=1e-5, rtol=0)
    assert bool((final_bias[True] < 0.9).all())
    groups = cu.decay_groups(nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3)), 0.05)
    assert [(len(g["params"]), g["weight_decay"]) for g in groups] == [(1, 0.05), (3, 0.0)]


@pytest.mark.parametrize("policy", [FP32, cu.runtime.PrecisionPolicy(torch.device("cpu"), torch.float16, True, False)],
                         ids=["fp32", "fp16-grad-scaler"])
def test_fit_resumes_after_an_interruption_exactly(tmp_path: Path, policy: cu.runtime.PrecisionPolicy,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    x, y = _blobs()
    val = cu.TensorLoader(*_blobs(60, seed=2), 60)

    class StopInEpoch3(CountingLoader):
        def __iter__(self):  # type: ignore[no-untyped-def]
            if self.batches >= 2 * len(self):
                raise KeyboardInterrupt("the Colab session disconnected")
            yield from super().__iter__()

    settings = dict(epochs=4, lr=0.05, device="cpu", precision=policy, progress=False, verbose=False)
    reference_model = _linear()
    reference = cu.fit(reference_model, cu.TensorLoader(x, y, 60), val, **settings)
    path = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        cu.fit(_linear(), StopInEpoch3(cu.TensorLoader(x, y, 60)), val, resume_path=path, **settings)
    assert torch.load(path, weights_only=True)["epoch"] == 2
    resumed_model = _linear()
    resumed = cu.fit(resumed_model, cu.TensorLoader(x, y, 60), val, resume_path=path, **{**settings, "verbose": True})
    assert f"resumed from {path} after epoch 2" in capsys.readouterr().out
    assert resumed.train_loss == pytest.approx(reference.train_loss, rel=1e-6)
    assert resumed.val_acc == reference.val_acc and resumed.lr == pytest.approx(reference.lr)
    assert resumed.best_epoch == reference.best_epoch
    for a, b in zip(resumed_model.parameters(), reference_model.parameters()):
        torch.testing.assert_close(a, b)
    again = cu.fit(_linear(), cu.TensorLoader(x, y, 60), val, resume_path=path, **settings)
    assert again.epochs == 4  # a finished run resumes to its end at once


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
    policy = cu.runtime.PrecisionPolicy(torch.device("cpu"), torch.bfloat16, False, True)
    history = cu.fit(model, cu.TensorLoader(images, labels, 16), epochs=1, precision=policy, device="cpu",
                     progress=True, verbose=False)
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert history.precision == "bf16 autocast + channels_last" and math.isfinite(history.train_loss[0])


def test_fp16_with_grad_scaler_path_and_soft_targets() -> None:
    x, y = _blobs(60)
    soft = nn.functional.one_hot(y, 3).float() * 0.9 + 0.1 / 3
    model = _linear()
    policy = cu.runtime.PrecisionPolicy(torch.device("cpu"), torch.float16, True, False)
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
    with pytest.raises(ValueError, match="expected at least 3 outputs \\(labels go up to 2 in batch 0\\), got 2"):
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


# ---- what mutation testing (./course mutate) showed the tests above did not pin down


def _capture_optimizers(monkeypatch: pytest.MonkeyPatch, name: str) -> list[torch.optim.Optimizer]:
    made: list[torch.optim.Optimizer] = []
    real = getattr(torch.optim, name)
    monkeypatch.setattr(torch.optim, name, lambda *a, **k: made.append(real(*a, **k)) or made[-1])
    return made


def test_fit_defaults_are_adamw_at_3e_3_with_a_onecycle_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    made = _capture_optimizers(monkeypatch, "AdamW")
    x, y = _blobs(64)
    history = cu.fit(_linear(), cu.TensorLoader(x, y, 16), epochs=2, device="cpu", precision=FP32, progress=False,
                     verbose=False)
    assert len(made) == 1 and made[0].defaults["lr"] == pytest.approx(3e-3)
    # a OneCycle schedule peaking at lr=3e-3: the rate after the last epoch is far below the peak
    assert made[0].param_groups[0]["max_lr"] == pytest.approx(3e-3) and history.lr[-1] < 3e-3 / 10


def test_fit_passes_grad_clip_to_every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    norms: list[float] = []
    real = nn.utils.clip_grad_norm_
    monkeypatch.setattr(nn.utils, "clip_grad_norm_", lambda params, max_norm, *a, **k: norms.append(max_norm)
                        or real(params, max_norm, *a, **k))
    x, y = _blobs(64)
    cu.fit(_linear(), cu.TensorLoader(x, y, 16), epochs=1, grad_clip=0.25, device="cpu", precision=FP32,
           progress=False, verbose=False)
    assert norms == [0.25] * 4


def test_fit_records_positive_epoch_times_and_describes_the_epoch_in_its_bar(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = _blobs(64)
    history = cu.fit(_linear(), cu.TensorLoader(x, y, 16), epochs=2, device="cpu", precision=FP32, progress=True,
                     verbose=False)
    assert all(0 < seconds < 60 for seconds in history.epoch_seconds)
    assert "epoch 2/2" in capsys.readouterr().err


def test_train_step_shows_no_progress_bar_unless_asked(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = _blobs(64)
    model = _linear()
    cu.train_step(model, cu.TensorLoader(x, y, 16), nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1))
    assert capsys.readouterr().err == ""


def test_label_and_argument_errors_read_exactly(tmp_path: Path) -> None:
    model = _linear()
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(4, 1, 2, 2)
    with pytest.raises(ValueError) as caught:
        cu.train_step(model, [(x, torch.tensor([0, 1, 2]))], nn.CrossEntropyLoss(), sgd)
    assert str(caught.value) == ("loader batch 0 labels: expected 4 labels (one per image), got a tensor of shape (3,) "
                                 "and dtype torch.int64")
    with pytest.raises(TypeError, match=r"^loader batch 0 labels: expected integer class indices \(N\) or soft labels"):
        cu.train_step(model, [(x, torch.rand(4, 3, 2))], nn.CrossEntropyLoss(), sgd)  # 3-D soft labels
    with pytest.raises(TypeError) as caught:
        cu.eval_step(model, [(x, torch.tensor([0, 1, 2, 0]))], "ce")  # type: ignore[arg-type]
    assert str(caught.value) == "loss_fn: expected a callable such as nn.CrossEntropyLoss(), got str 'ce'"
    frozen = _linear()
    frozen[1].weight.requires_grad_(False)
    only_frozen = torch.optim.SGD([frozen[1].weight], lr=0.1)
    with pytest.raises(ValueError) as caught:
        cu.fit(frozen, [(x, torch.tensor([0, 1, 2, 0]))], epochs=1, optimizer=only_frozen, progress=False,
               verbose=False)
    assert str(caught.value) == "optimizer: expected at least one trainable parameter (requires_grad=True), got none"
    with pytest.raises(FileNotFoundError) as caught:
        cu.fit(model, [(x, torch.tensor([0, 1, 2, 0]))], epochs=1, checkpoint_path=tmp_path / "no" / "best.pt")
    assert str(caught.value).endswith(f"(folder {str(tmp_path / 'no')!r} not found; create it with "
                                      "Path(...).mkdir(parents=True))")


def test_sample_averages_count_exactly_in_integers_and_sum_in_float64() -> None:
    from course_utils.engine import _SampleAverages

    averages = _SampleAverages(torch.device("cpu"))
    assert averages.correct.dtype == torch.int64 and averages.loss_sum.dtype == torch.float64
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
    averages.add(torch.tensor(0.25), logits, torch.tensor([0, 1, 1]))
    averages.add(torch.tensor(0.5), logits[:1], torch.tensor([1]))
    assert averages.result() == {"loss": pytest.approx((0.25 * 3 + 0.5) / 4, abs=1e-12),
                                 "acc": pytest.approx(2 / 4, abs=1e-12)}


def test_train_step_names_its_loss_argument_and_shows_the_running_loss_from_the_first_batch(
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = _linear()
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = _blobs(8)
    with pytest.raises(TypeError) as caught:
        cu.train_step(model, [(x, y)], None, sgd)  # type: ignore[arg-type]
    assert str(caught.value) == "loss_fn: expected a callable such as nn.CrossEntropyLoss(), got NoneType None"
    cu.train_step(model, [(x, y)], nn.CrossEntropyLoss(), sgd, progress=True)  # one batch: index 0
    assert "loss=" in capsys.readouterr().err


@pytest.mark.parametrize(("saved_fused", "now_fused"), [(None, True), (True, None)])
def test_resuming_keeps_this_machines_choice_of_fused_update(tmp_path: Path, saved_fused, now_fused) -> None:
    """fit fuses the optimizer on a GPU only: a run saved on a CPU may resume on a GPU, and the other way round.

    The optimizer's state dict carries its "fused" flag; loaded as it is, a fused optimizer that a GradScaler
    was set up for would take the non-fused path and fail (and a non-fused one would silently run fused).
    """
    from course_utils.checkpoints import load_resumable, save_resumable

    x, y = _blobs(12)
    model = _linear()
    saved = torch.optim.AdamW(model.parameters(), lr=1e-2, fused=saved_fused)
    nn.CrossEntropyLoss()(model(x), y).backward()
    saved.step()
    path = tmp_path / "run.pt"
    save_resumable(path, epoch=1, model=model, optimizer=saved, scheduler=None, scaler=None, loss_fn=None,
                   history=cu.checkpoints.History(device="cpu", precision="fp32"), best_value=0.0, best_state=None,
                   stale_epochs=0, settings={})
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, fused=now_fused)
    load_resumable(path, {}, model=model, loss_fn=None, optimizer=optimizer, scheduler=None,
                   scaler=None)
    assert optimizer.param_groups[0]["fused"] == now_fused
    assert optimizer.state_dict()["state"][0]["step"] == 1  # the saved state is there
    scaler = torch.amp.GradScaler("cpu")
    with torch.autocast("cpu", dtype=torch.float16):
        loss = nn.CrossEntropyLoss()(model(x).float(), y)
    scaler.scale(loss).backward()
    scaler.step(optimizer)  # the fused path takes the scaler's checks without a host read; no error either way
    scaler.update()
    assert optimizer.state_dict()["state"][0]["step"] == 2


# ---- what mutation testing showed after the GPU-speed work (fit's defaults, its lines, SGD, train_loss)


def test_fit_defaults_five_epochs_decay_on_weights_only_a_bar_and_no_compiling(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    made = _capture_optimizers(monkeypatch, "AdamW")
    x, y = _blobs(64)
    history = cu.fit(_linear(), cu.TensorLoader(x, y, 16), device="cpu", precision=FP32)
    assert history.epochs == 5
    # weight decay 0.05 on the Linear's 12 weights, none on its 3 biases
    decay = {group["weight_decay"]: sum(p.numel() for p in group["params"]) for group in made[0].param_groups}
    assert decay == {0.05: 12, 0.0: 3}
    out = capsys.readouterr()
    assert "epoch 5/5" in out.err  # the progress bar is on by default
    assert "compiled" not in out.out  # compile=False by default: nothing is said about compiling


def test_fit_with_sgd_uses_nesterov_momentum_0_9(monkeypatch: pytest.MonkeyPatch) -> None:
    made = _capture_optimizers(monkeypatch, "SGD")
    x, y = _blobs(64)
    cu.fit(_linear(), cu.TensorLoader(x, y, 16), epochs=1, optimizer="sgd", lr=0.1, device="cpu", precision=FP32,
           progress=False, verbose=False)
    assert len(made) == 1
    assert (made[0].defaults["momentum"], made[0].defaults["nesterov"]) == (0.9, True)


def test_fit_saves_the_best_checkpoint_even_without_restoring_it(tmp_path: Path) -> None:
    train, val = _diverging_validation()
    checkpoint = tmp_path / "best.pt"
    model = _linear()
    history = cu.fit(model, train, val, epochs=3, lr=0.5, scheduler=None, device="cpu", precision=FP32,
                     monitor="val_loss", checkpoint_path=checkpoint, restore_best=False, progress=False, verbose=False)
    assert history.best_epoch == 1 and history.val_loss[0] < min(history.val_loss[1:]) and checkpoint.is_file()
    saved = torch.load(checkpoint, weights_only=True)
    assert not torch.equal(saved["1.weight"], model.state_dict()["1.weight"])  # the last epoch's weights stay


def test_fit_prints_one_line_per_epoch(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = _blobs(64)
    number = r"\d\.\d{4}"
    cu.fit(_linear(), cu.TensorLoader(x, y, 16), cu.TensorLoader(x, y, 32), epochs=2, device="cpu",
           precision=FP32, progress=False)
    lines = capsys.readouterr().out.splitlines()
    with_val = rf"epoch  \d/2 \| train loss {number} acc {number} \| val loss {number} acc {number} \| \d+\.\d s"
    assert len(lines) == 2 and all(re.fullmatch(with_val, line) for line in lines), lines
    cu.fit(_linear(), cu.TensorLoader(x, y, 16), epochs=1, monitor="train_loss", device="cpu", precision=FP32,
           progress=False)
    assert re.fullmatch(rf"epoch  1/1 \| train loss {number} acc {number} \| \d+\.\d s", capsys.readouterr().out.strip())


def test_fit_can_monitor_the_training_loss_without_a_validation_set() -> None:
    x, y = _blobs(64)
    model = _linear()
    history = cu.fit(model, cu.TensorLoader(x, y, 16), epochs=3, monitor="train_loss", scheduler=None, lr=0.1,
                     device="cpu", precision=FP32, progress=False, verbose=False)
    assert history.val_loss == [] and history.best_epoch == 1 + history.train_loss.index(min(history.train_loss))
    with pytest.raises(ValueError, match="^monitor: expected one of"):
        cu.fit(model, cu.TensorLoader(x, y, 16), monitor="TRAIN_LOSS")


def test_train_step_names_a_wrong_model_and_labels_its_bar(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = _blobs(32)
    loader = cu.TensorLoader(x, y, 16)
    model = _linear()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"^model: expected a torch.nn.Module, got"):
        cu.train_step("model", loader, nn.CrossEntropyLoss(), optimizer, "cpu")  # type: ignore[arg-type]
    cu.train_step(model, loader, nn.CrossEntropyLoss(), optimizer, "cpu", precision=FP32, progress=True)
    assert re.search(r"(^|\r)train: ", capsys.readouterr().err)
