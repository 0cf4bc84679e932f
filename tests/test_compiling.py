"""Tests of course_utils.compiling and fit(compile=...): the opt-in torch.compile and its fallbacks.

A CPU cannot run Triton's GPU code, so the compiled path is exercised here in two ways: with the
fallback rule switched off and torch.compile's "eager" backend (the same tracing and wiring as on a
GPU, without code generation), and once with the real default backend (C++ code for the CPU).
The GPU measurement itself is `benchmarks/gpu_check.py`.
"""

from __future__ import annotations

import importlib.util

import pytest
import torch
from torch import nn

import course_utils as cu
from course_utils import compiling


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    """Every test traces afresh: past dynamo's recompile limit a "compiled" run would silently run eagerly."""
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _blobs(n: int = 96) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % 3
    centres = torch.tensor([[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 2.0, 0]])
    return (centres[labels] + 0.3 * torch.randn(n, 4, generator=generator)).view(n, 1, 2, 2), labels


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def _fit(model: nn.Module, **kwargs) -> cu.checkpoints.History:
    x, y = _blobs()
    train = cu.TensorLoader(x, y, 32, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(1))
    val = cu.TensorLoader(x, y, 48)
    options = {"epochs": 6, "lr": 0.2, "device": "cpu", "progress": False, "verbose": False, **kwargs}
    return cu.fit(model, train, val, **options)


@pytest.mark.parametrize(("compile", "mode"), [(False, None), (True, "default"), ("reduce-overhead", "reduce-overhead"),
                                                ("max-autotune", "max-autotune")])
def test_compile_argument_names_a_mode(compile, mode) -> None:
    assert compiling._compile_mode(compile) == mode


@pytest.mark.parametrize("compile", ["fast", 1, 0, None, "Default"])
def test_compile_argument_rejects_anything_else(compile) -> None:
    with pytest.raises(ValueError, match=r"compile: expected True, False or one of \['default'"):
        compiling._compile_mode(compile)


def test_why_not_compiled_on_cpu_and_other_devices() -> None:
    assert "CPU" in compiling.why_not_compiled("cpu")
    assert "mps" in compiling.why_not_compiled(torch.device("mps"))
    with pytest.raises(ValueError, match="device: expected a torch.device"):
        compiling.why_not_compiled(3.5)


@pytest.mark.parametrize(("capability", "triton", "expected"), [
    ((6, 1), True, "this GPU has compute capability 6.1; Triton's GPU code needs 7.0 (Volta) or newer"),
    ((7, 0), False, "Triton, which torch.compile uses to generate GPU code, is not installed"),
    ((7, 5), True, None),
    ((9, 0), True, None),
])
def test_why_not_compiled_on_cuda(monkeypatch, capability, triton, expected) -> None:
    asked = []
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device: asked.append(device) or capability)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name: (object() if triton else None) if name == "triton" else real_find_spec(name))
    assert compiling.why_not_compiled("cuda:1") == expected
    assert asked == [torch.device("cuda:1")]


def test_compile_for_training_without_compiling_returns_the_model() -> None:
    model = _model()
    assert compiling.compile_for_training(model, "cpu", False) == (model, "not compiled (compile=False)")
    same, how = compiling.compile_for_training(model, "cpu", True)
    assert same is model
    assert how.startswith("not compiled: on the CPU compiling made the course")
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module"):
        compiling.compile_for_training("net", "cpu", True)


def _compile_anywhere(monkeypatch, backend: str | None = "eager") -> list[dict]:
    """Switch the fallback rule off; with ``backend`` make torch.compile use it. Returns torch.compile's calls."""
    calls: list[dict] = []
    real_compile = torch.compile

    def recording_compile(model, **kwargs):
        calls.append(kwargs)
        return real_compile(model, **kwargs, **({"backend": backend} if backend else {}))

    monkeypatch.setattr(compiling, "why_not_compiled", lambda device: None)
    monkeypatch.setattr(torch, "compile", recording_compile)
    return calls


def test_compile_for_training_shares_the_parameters(monkeypatch) -> None:
    calls = _compile_anywhere(monkeypatch)
    model = _model()
    compiled, how = compiling.compile_for_training(model, "cpu", "reduce-overhead")
    assert compiled is not model and isinstance(compiled, nn.Module)
    assert how == "compiled with torch.compile(mode='reduce-overhead')"
    assert calls == [{"mode": "reduce-overhead", "dynamic": False}]
    assert [p.data_ptr() for p in compiled.parameters()] == [p.data_ptr() for p in model.parameters()]


def test_is_compiled() -> None:
    model = _model()
    assert not compiling.is_compiled(model) and not compiling.is_compiled("net")
    assert compiling.is_compiled(torch.compile(model, backend="eager"))
    assert not compiling.is_compiled(model)
    model.compile(backend="eager")  # in place
    assert compiling.is_compiled(model)


def test_fit_trains_and_evaluates_through_the_compiled_module(monkeypatch) -> None:
    """Graphs are traced for training and for evaluation: fit calls the compiled module, not the model."""
    graphs: list[tuple[bool, bool]] = []  # (gradients on, inference mode on) when each graph was traced

    def recording_backend(graph_module, example_inputs):
        graphs.append((torch.is_grad_enabled(), torch.is_inference_mode_enabled()))
        return graph_module.forward

    real_compile = torch.compile
    monkeypatch.setattr(compiling, "why_not_compiled", lambda device: None)
    monkeypatch.setattr(torch, "compile", lambda model, **kwargs: real_compile(model, backend=recording_backend))
    _fit(_model(), compile=True)
    assert (True, False) in graphs  # training, with gradients
    assert (False, False) in graphs  # evaluation, under no_grad (not inference_mode) for a compiled model
    assert len(graphs) == 2
    graphs.clear()
    _fit(_model())
    assert graphs == []  # compile=False traces nothing


def test_fit_trains_the_model_through_the_compiled_module(monkeypatch, capsys) -> None:
    eager_model = _model()
    eager = _fit(eager_model)
    calls = _compile_anywhere(monkeypatch)
    model = _model()
    history = _fit(model, compile=True, verbose=True)
    assert calls == [{"mode": "default", "dynamic": False}]
    assert "compiled with torch.compile(mode='default')" in capsys.readouterr().out
    assert type(model) is nn.Sequential  # the caller's model is not replaced, and its keys have no _orig_mod.
    assert list(model.state_dict()) == list(eager_model.state_dict())
    # the same operations in the same order: the traced run is the eager run
    assert history.train_loss == pytest.approx(eager.train_loss, rel=1e-6)
    assert history.val_acc == pytest.approx(eager.val_acc)
    assert history.best_epoch == eager.best_epoch
    for ours, theirs in zip(model.parameters(), eager_model.parameters()):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    assert history.train_loss[-1] < history.train_loss[0] and history.val_acc[-1] > 0.95


def test_fit_on_the_cpu_says_it_does_not_compile(capsys) -> None:
    model = _model()
    history = _fit(model, compile="reduce-overhead", verbose=True)
    assert "not compiled: on the CPU compiling made the course" in capsys.readouterr().out
    eager = _fit(_model())
    assert history.train_loss == eager.train_loss  # bit for bit: the model ran as it is
    _fit(_model(), compile=False, verbose=True)
    assert "compile" not in capsys.readouterr().out  # nothing said when nothing was asked


def test_fit_checks_compile_before_training() -> None:
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="compile: expected True, False or one of"):
        _fit(model, compile="fastest")
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_fit_with_real_code_generation_matches_eager(monkeypatch) -> None:
    """Inductor's default backend really generates and runs code (C++ on a CPU), training and evaluating."""
    eager = _fit(_model())
    calls = _compile_anywhere(monkeypatch, backend=None)
    history = _fit(_model(), compile=True)
    assert calls == [{"mode": "default", "dynamic": False}]
    assert history.train_loss == pytest.approx(eager.train_loss, rel=1e-4)
    assert history.val_acc == pytest.approx(eager.val_acc, abs=1 / 96)
    assert history.val_acc[-1] > 0.95


def test_builtin_optimizers_are_not_fused_on_the_cpu() -> None:
    from course_utils.engine import _make_optimizer

    for name in ("adamw", "sgd"):
        optimizer = _make_optimizer(_model(), name, 0.1, 0.01, False)
        assert not optimizer.defaults["fused"]  # the fused kernels are used on a GPU (benchmarks/gpu_check.py)

