"""Tests of course_utils.runtime: device choice, seeding, precision policy and run mode."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

import course_utils as cu
from course_utils import runtime


def test_get_device_is_cpu_without_accelerators(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert cu.get_device() == torch.device("cpu")


def test_get_device_prefers_cuda_then_mps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cu.get_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert cu.get_device() == torch.device("cuda")


def test_get_device_rejects_unavailable_or_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="prefer: device 'cuda' was requested but is not available"):
        cu.get_device("cuda")
    with pytest.raises(ValueError, match=r"prefer: expected one of \['cuda', 'mps', 'cpu'\], got 'tpu'"):
        cu.get_device("tpu")
    assert cu.get_device("cpu") == torch.device("cpu")


def test_seed_everything_makes_all_generators_repeat() -> None:
    def draw() -> tuple[float, float, torch.Tensor, torch.Tensor]:
        generator = cu.seed_everything(123)
        return random.random(), float(np.random.rand()), torch.rand(3), torch.randperm(10, generator=generator)

    first, second = draw(), draw()
    assert first[0] == second[0] and first[1] == second[1]
    assert torch.equal(first[2], second[2]) and torch.equal(first[3], second[3])
    cu.seed_everything(124)
    assert random.random() != first[0]


def test_seed_everything_rejects_negative_seed() -> None:
    with pytest.raises(ValueError, match="seed: expected an integer >= 0, got int -1"):
        cu.seed_everything(-1)


def test_seed_everything_deterministic_flag_sets_torch_mode() -> None:
    try:
        cu.seed_everything(0, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(False)


def test_precision_policy_cpu_follows_bf16_support(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "cpu_supports_bf16", lambda: True)
    policy = cu.precision_policy("cpu")
    assert policy.autocast_dtype == torch.bfloat16 and not policy.use_grad_scaler and policy.channels_last
    assert policy.name == "bf16 autocast + channels_last"
    monkeypatch.setattr(runtime, "cpu_supports_bf16", lambda: False)
    policy = cu.precision_policy("cpu", channels_last=False)
    assert policy.autocast_dtype is None and policy.name == "fp32"


def test_precision_policy_cuda_bf16_or_fp16_with_scaler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert cu.precision_policy("cuda").autocast_dtype == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: False)
    policy = cu.precision_policy("cuda", channels_last=False)
    assert policy.autocast_dtype == torch.float16 and policy.use_grad_scaler
    assert policy.name == "fp16 autocast + GradScaler"


def test_precision_policy_mps_and_disabled_mixed_precision() -> None:
    assert cu.precision_policy("mps").autocast_dtype is None
    assert cu.precision_policy("cpu", mixed_precision=False).autocast_dtype is None


def test_autocast_context_runs_matmul_in_policy_dtype(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "cpu_supports_bf16", lambda: True)
    with cu.precision_policy("cpu").autocast():
        out = torch.ones(4, 4) @ torch.ones(4, 4)
    assert out.dtype == torch.bfloat16
    monkeypatch.setattr(runtime, "cpu_supports_bf16", lambda: False)
    with cu.precision_policy("cpu").autocast():
        out = torch.ones(4, 4) @ torch.ones(4, 4)
    assert out.dtype == torch.float32


def test_cpu_supports_bf16_needs_amx(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AMX")
    assert runtime.cpu_supports_bf16()
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    has_amx = "amx_bf16" in open("/proc/cpuinfo", encoding="utf-8").read()
    assert runtime.cpu_supports_bf16() == has_amx


@pytest.mark.parametrize(
    ("env", "quick", "standins", "reason"),
    [
        ({}, False, False, "set COURSE_QUICK=1"),
        ({"COURSE_QUICK": "1"}, True, False, "COURSE_QUICK is set"),
        ({"COURSE_QUICK": "0"}, False, False, "set COURSE_QUICK=1"),
        ({"NBGRADER_EXECUTION": "autograde"}, True, False, "nbgrader is executing"),
        ({"COURSE_ALLOW_STANDINS": "yes"}, False, True, "COURSE_ALLOW_STANDINS is set"),
    ],
)
def test_run_mode_reads_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], quick: bool, standins: bool, reason: str
) -> None:
    for name in ("COURSE_QUICK", "NBGRADER_EXECUTION", "COURSE_ALLOW_STANDINS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    mode = cu.run_mode()
    assert (mode.quick, mode.allow_standins) == (quick, standins)
    assert reason in mode.reason
    assert cu.quick(full=10, quick=1) == (1 if quick else 10)
    assert ("QUICK mode" if quick else "FULL mode") in mode.describe()


def test_show_setup_prints_every_call(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COURSE_QUICK", "1")
    text = cu.runtime.setup_text("cpu")
    assert "device: cpu" in text and "QUICK mode" in text and "\nimage files: " in text
    assert cu.show_setup("cpu") is None  # nothing for Jupyter to display a second time
    assert capsys.readouterr().out == text + "\n"
    cu.show_setup("cpu")
    assert capsys.readouterr().out == text + "\n"
