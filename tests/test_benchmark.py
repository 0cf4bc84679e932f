"""The training-speed benchmark runs and prints its JSON line (no timing is asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
        ratio = entry["img_per_s"] / line["baseline_img_per_s"]  # from rounded numbers, hence the tolerance
        assert abs(entry["ratio"] - ratio) <= 0.02 * ratio
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
         "--smoke", "--budget", "600"],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    stages = json.loads((tmp_path / "gpu_check.json").read_text())
    assert list(stages) == ["machine", "host_waits", "fused_optimizers", "compile_modes", "benchmark",
                            "benchmark_batch_512", "benchmark_batch_1024"]
    assert stages["machine"]["device"] == "cpu" and stages["machine"]["why_not_compiled"].startswith("on the CPU")
    waits = stages["host_waits"]
    assert len(waits) == 2 * 2 * 3 + 1 and waits["passed"] is True  # two policies, two sizes, three loops
    assert all(count is None for key, count in waits.items() if key != "passed")  # counted only on a GPU
    assert stages["fused_optimizers"] == {"adamw": False, "sgd": False}
    modes = stages["compile_modes"]
    assert list(modes) == ["False", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"]
    accuracies = {tuple(run["val_acc"]) for run in modes.values()}
    assert len(accuracies) == 1  # on a CPU nothing is compiled: every mode is the same eager run
    for name in ("benchmark", "benchmark_batch_512", "benchmark_batch_1024"):
        assert isinstance(stages[name]["result"], dict), stages[name]
    assert [v["variant"] for v in stages["benchmark"]["result"]["variants"]] == ["host-data", "device-data"]
    assert stages["benchmark_batch_512"]["result"]["config"]["batch_size"] == 512
