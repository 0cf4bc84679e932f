"""The training-speed benchmark runs and prints its JSON line (no timing is asserted here)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_smoke_prints_the_json_line() -> None:
    variants = ["device-data", "host-data", "compile-reduce-overhead"]
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "train_speed.py"), "--smoke", "--device", "cpu",
         "--variants", ",".join(variants)],
        capture_output=True, text=True, check=True, timeout=600,
    )
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["device"] == "cpu" and line["baseline_img_per_s"] > 0
    assert [entry["variant"] for entry in line["variants"]] == variants
    assert [entry["data_on"] for entry in line["variants"]] == ["cpu", "cpu", "cpu"]
    for entry in line["variants"]:
        assert entry["img_per_s"] > 0 and entry["img_per_s_16"] > 0
        # The ratio is rounded to 0.01, the two speeds to whole img/s: an absolute and a small relative tolerance
        ratio = entry["img_per_s"] / line["baseline_img_per_s"]
        assert abs(entry["ratio"] - ratio) <= 0.0051 + 0.01 * ratio
        assert [e["epoch"] for e in entry["epochs"]] == [1]
        assert 0.0 <= entry["epochs"][0]["test_acc"] <= 1.0
        assert "peak_memory_mib" not in entry  # a GPU figure
    compiled = line["variants"][2]
    assert compiled["compiled"] is False and compiled["not_compiled_because"].startswith("on the CPU")
    assert "warm_epochs" not in compiled  # nothing compiled, nothing to run warm


def test_benchmark_rejects_an_unknown_variant() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "train_speed.py"), "--smoke", "--variants", "device-data,turbo"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode != 0 and "--variants: expected names from" in result.stderr and "'turbo'" in result.stderr


def test_gpu_check_rehearses_every_stage_on_a_cpu(tmp_path: Path) -> None:
    """GPU time is scarce: the script that spends it must run end to end before it gets there."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--out", str(tmp_path), "--device", "cpu",
         "--smoke", "--budget", "5000"],  # nothing skipped for time: the subprocess timeout governs
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    stages = json.loads((tmp_path / "gpu_check.json").read_text())
    modes = ["False", "default", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune"]
    assert list(stages) == ["machine", "host_waits", "fused_optimizers", "benchmark", "benchmark_batch_512",
                            "benchmark_batch_1024", *(f"compile {mode}" for mode in modes), "compile_modes"]
    assert not [name for name, value in stages.items() if "FAILED" in json.dumps(value)]
    assert stages["machine"]["device"] == "cpu" and stages["machine"]["why_not_compiled"].startswith("on the CPU")
    waits = stages["host_waits"]
    counts = {key: value for key, value in waits.items() if key not in ("passed", "where")}
    assert len(counts) == 2 * (2 * 3 + 1) and waits["passed"] is True  # two sizes; two policies, three loops + 1
    assert all(count is None for count in counts.values())  # counted only on a GPU
    assert all(where == {} for where in waits["where"].values())
    assert stages["fused_optimizers"] == {"adamw": False, "sgd": False}
    runs = [stages[f"compile {mode}"] for mode in modes]
    assert len({tuple(run["val_acc"]) for run in runs}) == 1  # on a CPU nothing is compiled: the same eager run
    assert all(0.0 <= run["second_fit_val_acc"] <= 1.0 for run in runs)
    for name in ("benchmark", "benchmark_batch_512", "benchmark_batch_1024"):
        assert isinstance(stages[name]["result"], dict), stages[name]
    assert [v["variant"] for v in stages["benchmark"]["result"]["variants"]] == ["host-data", "device-data"]
    assert stages["benchmark_batch_512"]["result"]["config"]["batch_size"] == 512


def _train_speed():
    spec = importlib.util.spec_from_file_location("train_speed", ROOT / "benchmarks" / "train_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_measures_a_compiled_variant_cold_and_warm(monkeypatch) -> None:
    """The compiled branch, which a CPU never takes by itself: forced here with torch.compile's eager backend."""
    import course_utils.compiling as compiling

    torch._dynamo.reset()  # no compiled code left from other tests
    train_speed = _train_speed()
    real_compile = torch.compile
    monkeypatch.setattr(compiling, "why_not_compiled", lambda device: None)
    monkeypatch.setattr(train_speed, "why_not_compiled", lambda device: None)
    monkeypatch.setattr(torch, "compile", lambda model, **kwargs: real_compile(model, backend="eager"))
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(768) % 10
    images = torch.randint(0, 60, (768, 1, 28, 28), generator=generator, dtype=torch.uint8)
    for label in range(10):  # each class: a bright 7×7 square in a place of its own
        row, column = divmod(label, 4)
        images[labels == label, :, 7 * row:7 * row + 7, 7 * column:7 * column + 7] = 255
    data = {"train_x": images[:512], "train_y": labels[:512], "test_x": images[512:], "test_y": labels[512:],
            "mean": torch.tensor([0.5]), "std": torch.tensor([0.3])}
    args = argparse.Namespace(seed=0, throughput_epochs=2, batch_size=64, width=4, epochs=2, lr=5e-2)
    result = train_speed.measure_variant(data, "compile-default", args, torch.device("cpu"), baseline=1000.0)
    assert result["compiled"] is True and "not_compiled_because" not in result
    # both are rounded from one unrounded speed: img/s to the unit, the ratio to 0.01 (10 img/s against 1,000)
    assert result["img_per_s"] > 0 and abs(1000.0 * result["ratio"] - result["img_per_s"]) <= 5.5
    assert [e["epoch"] for e in result["epochs"]] == [1, 2] == [e["epoch"] for e in result["warm_epochs"]]
    assert [e["test_acc"] for e in result["epochs"]] == [e["test_acc"] for e in result["warm_epochs"]]
    assert result["epochs"][-1]["test_acc"] > 0.9  # ten easy classes: it learned
    assert "peak_memory_mib" not in result
