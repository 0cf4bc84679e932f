"""Every check that needs an NVIDIA GPU, in one run: made for a lent GPU machine with minutes to spare.

    python benchmarks/gpu_check.py --out DIR [--budget SECONDS] [--fashion-mnist FOLDER]
    python benchmarks/gpu_check.py --out DIR --device cpu --smoke   # rehearse every stage on a CPU first

In order of importance, each stage as long as the time budget lasts (a stage that fails is recorded
and the next one runs):

1. the machine: torch, the GPU and its compute capability, the precision policy, Triton;
2. no host wait per batch: ``torch.cuda.set_sync_debug_mode("warn")`` counts the synchronising calls
   of ``train_step``, ``eval_step`` and ``fit`` over a GPU-resident ``TensorLoader`` with random flips,
   for a few and for many batches, under the GPU's own precision policy and under fp16 with a
   GradScaler (the policy of a T4 or a V100), and ``fit(compile="reduce-overhead")``; the counts must
   not grow with the number of batches, and the places in the code that synchronised are listed;
3. ``fit``'s optimizers are fused on the GPU;
4. ``benchmarks/train_speed.py`` with every GPU variant at batch 256 (the issue's numbers), each
   benchmark process with empty compile caches;
5. the benchmark with batches of 512 and 1024;
6. every ``torch.compile`` mode trains: ``fit(compile=mode)`` on a small problem against the eager run,
   then a second ``fit`` of the same model (the max-autotune modes last: they may tune for minutes).

Results go to ``DIR/gpu_check.json`` (written after every stage and every compile mode, so a run cut
short keeps what it measured) and a summary to stdout. The machine needs torch, torchvision and
tqdm, this repository on ``PYTHONPATH`` and FashionMNIST's four ``.gz`` files (``--fashion-mnist``,
default ``data/fashion-mnist``); it needs no internet. GPU time is scarce: ``--device cpu --smoke``
runs every stage on a CPU in a minute (nothing is measured there; the sync counts are not available
on a CPU) so that a mistake in this script does not cost a GPU session (``tests/test_benchmark.py``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import tempfile
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import torch
from torch import nn

import course_utils as cu
from course_utils.compiling import why_not_compiled
from course_utils.datasets import _install_system_fashion_mnist, data_dir

ROOT = Path(__file__).resolve().parents[1]
VARIANT_LINE = "variant done: "  # train_speed.py writes each finished variant to stderr after this


class Report:
    """The stages' results, written to disk after each one."""

    def __init__(self, out: Path, budget: float) -> None:
        self.path = out / "gpu_check.json"
        self.deadline = time.perf_counter() + budget
        self.stages: dict[str, object] = {}

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def add(self, name: str, result: object) -> None:
        self.stages[name] = result
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps(self.stages, indent=1))
        os.replace(partial, self.path)  # a run killed mid-write keeps the previous complete file
        print(f"== {name}: {json.dumps(result)[:2000]}", flush=True)

    def run(self, name: str, stage, *args) -> None:
        """Run one stage and record its result, or its error: a failing stage must not cost the others."""
        try:
            self.add(name, stage(*args))
        except Exception as error:  # noqa: BLE001 - every failure is a finding to record
            self.add(name, f"FAILED: {type(error).__name__}: {error}"[:3000])


def machine(device: torch.device) -> dict:
    found = {"torch": torch.__version__, "python": sys.version.split()[0], "device": str(device),
             "precision": cu.precision_policy(device).name, "triton": importlib.util.find_spec("triton") is not None,
             "why_not_compiled": why_not_compiled(device), "date": time.strftime("%Y-%m-%d")}
    if device.type == "cuda":
        found.update(gpu=torch.cuda.get_device_name(device),
                     capability=".".join(map(str, torch.cuda.get_device_capability(device))),
                     memory_gib=round(torch.cuda.get_device_properties(device).total_memory / 2**30, 1))
    return found


def count_syncs(run, device: torch.device) -> tuple[int | None, Counter]:
    """How many synchronising CUDA calls ``run()`` makes, and where (file:line); None on a CPU.

    torch's sync debug mode turns every synchronising call into a warning ("called a synchronizing CUDA
    operation"), attributed to the Python line that made it.
    """
    if device.type != "cuda":
        run()
        return None, Counter()
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            run()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    return len(syncs), Counter(f"{Path(w.filename).name}:{w.lineno}" for w in syncs)


def host_waits(images: torch.Tensor, labels: torch.Tensor, device: torch.device) -> dict:
    """Synchronising calls per pass for a few and for many batches: they must be equal."""
    flips = torch.Generator().manual_seed(0)
    policies = {"own": cu.precision_policy(device),
                "fp16 + GradScaler": cu.runtime.PrecisionPolicy(device, torch.float16, True, True)}
    results: dict = {}
    places: dict = {}
    for name, policy in policies.items():
        for batches in (4, 32):
            n = 64 * batches
            loader = cu.TensorLoader(images[:n], labels[:n], 64, shuffle=True, device=device, mean=[0.286],
                                     std=[0.353], generator=torch.Generator().manual_seed(0),
                                     augment=lambda batch: cu.random_hflip(batch, generator=flips))
            model = cu.TinyVGG(1, 8, 10).to(device)
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=device.type == "cuda")
            loss_fn = nn.CrossEntropyLoss()
            scaler = torch.amp.GradScaler(device.type) if policy.use_grad_scaler else None
            loops = {
                "train_step": lambda: cu.train_step(model, loader, loss_fn, optimizer, device, precision=policy,
                                                    scaler=scaler, grad_clip=1.0),
                "eval_step": lambda: cu.eval_step(model, loader, loss_fn, device, precision=policy),
                "fit 2 epochs": lambda: cu.fit(cu.TinyVGG(1, 8, 10), loader, loader, epochs=2, device=device,
                                               precision=policy, progress=False, verbose=False),
            }
            if name == "own":  # and compiled, CUDA graphs included (the warm-up run compiles)
                loops["fit 2 epochs, compile reduce-overhead"] = lambda: cu.fit(
                    cu.TinyVGG(1, 8, 10), loader, loader, epochs=2, device=device, precision=policy,
                    compile="reduce-overhead", progress=False, verbose=False)
            for loop, run in loops.items():
                run()  # warm-up: one-time work (cuDNN's choices, lazy initialisation) is not counted
                key = f"{name} {loop} {batches} batches"
                results[key], where = count_syncs(run, device)
                places[key] = dict(where)
    pairs = [(key, key.replace(" 4 batches", " 32 batches")) for key in results if key.endswith(" 4 batches")]
    results["passed"] = all(results[few] == results[many] for few, many in pairs)
    results["where"] = places
    return results


def fused_optimizers(device: torch.device) -> dict:
    from course_utils.engine import _make_optimizer

    model = cu.TinyVGG(1, 8, 10).to(device)
    return {name: bool(_make_optimizer(model, name, 1e-3, 0.05, False).defaults["fused"]) for name in ("adamw", "sgd")}


def compile_modes(images: torch.Tensor, labels: torch.Tensor, report: Report, device: torch.device) -> str:
    """``fit(compile=mode)`` for every mode on 4,096 images, 3 epochs, against the eager run; then a second fit."""
    val = cu.TensorLoader(images[-2048:], labels[-2048:], 1024, device=device, mean=[0.286], std=[0.353])
    for mode in (False, "default", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune"):
        if report.left() < (180 if str(mode).startswith("max-autotune") else 60):
            report.add(f"compile {mode}", "skipped: out of time")
            continue
        torch._dynamo.reset()  # every mode compiles afresh (honest times, no recompile limit shared between modes)
        cu.seed_everything(0)  # the same initial weights and, with a fresh generator, the same batches for every mode
        train = cu.TensorLoader(images[:4096], labels[:4096], 256, shuffle=True, device=device, mean=[0.286],
                                std=[0.353], generator=torch.Generator().manual_seed(0), drop_last=True)
        start = time.perf_counter()
        try:
            model = cu.TinyVGG(1, 8, 10)
            first = cu.fit(model, train, val, epochs=3, device=device, compile=mode, progress=False, verbose=False)
            middle = time.perf_counter()
            again = cu.fit(model, train, val, epochs=1, device=device, compile=mode, progress=False, verbose=False)
            result = {"val_acc": [round(a, 4) for a in first.val_acc],
                      "epoch_s": [round(s, 2) for s in first.epoch_seconds], "total_s": round(middle - start, 1),
                      "second_fit_val_acc": round(again.val_acc[0], 4),
                      "second_fit_s": round(time.perf_counter() - middle, 1)}
        except Exception as error:  # noqa: BLE001 - a mode that fails is a finding, not the end of the run
            result = f"FAILED: {type(error).__name__}: {error}"[:1500]
        report.add(f"compile {mode}", result)
    return "done"


def benchmark(report: Report, device: torch.device, extra: list[str]) -> dict:
    """``train_speed.py`` in its own process; if time runs out, the variants it finished are kept."""
    command = [sys.executable, str(ROOT / "benchmarks" / "train_speed.py"), "--device", device.type, *extra]
    cache = tempfile.mkdtemp(prefix="gpu-check-cache-")  # empty compile caches: the first compile is really cold
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache, "TRITON_CACHE_DIR": os.path.join(cache, "triton")}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=max(report.left(), 1), env=env)
    except subprocess.TimeoutExpired as stopped:
        return {"command": " ".join(extra), "result": "stopped: out of time",
                "finished_variants": _finished(_text(stopped.stderr))}
    if done.returncode != 0:
        return {"command": " ".join(extra), "result": f"FAILED ({done.returncode}): {done.stderr[-1500:]}",
                "finished_variants": _finished(done.stderr)}
    return {"command": " ".join(extra), "result": json.loads(done.stdout.strip().splitlines()[-1])}


def _finished(stderr: str) -> list[dict]:
    """The variants train_speed.py finished before it stopped (it writes each to stderr)."""
    return [json.loads(line[len(VARIANT_LINE):]) for line in stderr.splitlines() if line.startswith(VARIANT_LINE)]


def _text(output: bytes | str | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def load_images(folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
    if not _install_system_fashion_mnist(data_dir() / "FashionMNIST" / "raw", folder):
        print(f"gpu_check: no FashionMNIST .gz files in {folder}; trying the usual places", flush=True)
    return cu.fashion_mnist_tensors(train=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--budget", type=float, default=420.0, help="seconds for all stages together")
    parser.add_argument("--fashion-mnist", type=Path, default=ROOT / "data" / "fashion-mnist")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="cpu: a rehearsal of every stage")
    parser.add_argument("--smoke", action="store_true", help="small data and the benchmark's --smoke (a rehearsal)")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_check: expected a CUDA GPU, found none (rehearse with --device cpu --smoke)")
    device = torch.device(args.device)
    smoke = ["--smoke"] if args.smoke else []
    args.out.mkdir(parents=True, exist_ok=True)
    report = Report(args.out, args.budget)
    report.run("machine", machine, device)  # first: recorded even if the data is missing
    images, labels = load_images(args.fashion_mnist)
    if args.smoke:
        images, labels = images[:6144], labels[:6144]
    on_gpu = device.type == "cuda"
    # every way of running first; then, for larger batches, the plain one and the likely fastest
    all_variants = ("host-data,device-data,compile-default,compile-reduce-overhead" if on_gpu
                    else "host-data,device-data")
    variants = "device-data,compile-reduce-overhead" if on_gpu else "device-data"
    report.run("host_waits", host_waits, images, labels, device)
    report.run("fused_optimizers", fused_optimizers, device)
    report.run("benchmark", benchmark, report, device, ["--variants", all_variants, *smoke])
    for batch_size, lr in ((512, 2e-2), (1024, 3e-2)):
        if report.left() < 90:
            report.add(f"benchmark_batch_{batch_size}", "skipped: out of time")
            continue
        report.run(f"benchmark_batch_{batch_size}", benchmark, report, device, [
            "--batch-size", str(batch_size), "--lr", str(lr), "--variants", variants, *smoke])
    report.run("compile_modes", compile_modes, images, labels, report, device)  # last: max-autotune may run long
    print(f"gpu_check: done, {report.left():.0f} s of the budget left; results in {report.path}")


if __name__ == "__main__":
    main()
