"""The training-speed benchmark runs and prints its JSON line (no timing is asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_smoke_prints_the_json_line() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "train_speed.py"), "--smoke"],
        capture_output=True, text=True, check=True, timeout=600,
    )
    line = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("baseline_img_per_s", "fit_img_per_s", "throughput_ratio", "fit_epochs", "fit_seconds_to_91"):
        assert key in line
    assert line["baseline_img_per_s"] > 0 and line["fit_img_per_s"] > 0
    ratio = line["fit_img_per_s"] / line["baseline_img_per_s"]  # from rounded numbers, hence the tolerance
    assert abs(line["throughput_ratio"] - ratio) <= 0.02 * ratio
    assert [e["epoch"] for e in line["fit_epochs"]] == [1]
    assert 0.0 <= line["fit_epochs"][0]["test_acc"] <= 1.0
