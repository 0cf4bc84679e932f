"""Training-speed benchmark: the loop popular courses teach against ``course_utils.fit``, on one device.

Runs on the real FashionMNIST split and prints ONE JSON line:

``baseline_img_per_s``
    The popular loop: a ``DataLoader`` over torchvision's dataset with a per-sample to-tensor
    transform, batch 32, SGD lr 0.1, fp32, TinyVGG with 10 hidden channels, each batch copied to the
    device; timed over ``--baseline-batches`` batches after 5 warm-up batches.
``variants``
    ``cu.fit`` with its defaults (AdamW + OneCycle, the device's precision policy, ``channels_last``),
    one entry per way of running it (``--variants``):

    * ``host-data``: the uint8 dataset stays in the CPU's memory and every batch is copied to the device;
    * ``device-data``: ``TensorLoader(device=...)`` puts it on the device once (on a CPU, the same thing);
    * ``compile-<mode>``: device data, and ``fit(compile=<mode>)`` (``torch.compile``; see
      ``course_utils.compiling``, which runs the model as it is where compiling does not help).

    For each: ``img_per_s`` is the steady-state training speed of TinyVGG-10 (the baseline's model) in
    batches of ``--batch-size``: the median of epochs 2 and 3 of a train-only run, so start-up and
    compiling are left out; ``ratio`` is its ratio to the baseline; ``img_per_s_16`` the same for
    TinyVGG-16; ``epochs`` the test accuracy of TinyVGG-16 (``--width``) after each epoch with the wall
    seconds since the start of training (training and evaluation, compiling included: it is the
    variant's first run, after ``torch._dynamo.reset()``; kernels already in Inductor's disk cache are
    reused, so ``gpu_check.py`` gives every benchmark process an empty cache), and ``seconds_to_91``
    the first of them at 91% test accuracy or more. Compiled variants run that again with the compiled
    code in memory (``warm_seconds_to_91``). On a GPU ``peak_memory_mib`` is the most
    memory the variant allocated. A variant that fails gets an ``error`` instead; each finished variant
    is also written to stderr at once (``variant done: {...}``), so a run stopped early keeps them.

Usage:
    python benchmarks/train_speed.py            # on the best device (cuda, mps, cpu)
    python benchmarks/train_speed.py --variants host-data,device-data,compile-reduce-overhead
    python benchmarks/train_speed.py --smoke    # a tiny run that only checks the script works
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision.transforms import v2

import course_utils as cu
from course_utils.compiling import COMPILE_MODES, why_not_compiled

VARIANTS = ("host-data", "device-data", *(f"compile-{mode}" for mode in COMPILE_MODES))


def wait_for(device: torch.device) -> None:
    """Let queued GPU work finish before a clock is read."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def baseline_throughput(device: torch.device, batches: int, seed: int) -> float:
    """Images per second of the classic per-sample DataLoader loop (fp32, batch 32, SGD)."""
    generator = cu.seed_everything(seed)
    to_tensor = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])
    dataset = cu.load_fashion_mnist(train=True, transform=to_tensor)
    loader = DataLoader(dataset, batch_size=32, shuffle=True, generator=generator)
    model = cu.TinyVGG(in_channels=1, hidden_channels=10, num_classes=10).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    seen, start = 0, 0.0
    for index, (images, labels) in enumerate(loader):
        if index == 5:  # warm-up done
            wait_for(device)
            start, seen = time.perf_counter(), 0
        images, labels = images.to(device), labels.to(device)
        loss = loss_fn(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seen += labels.shape[0]
        if index == 5 + batches - 1:
            break
    wait_for(device)
    return seen / (time.perf_counter() - start)


def compile_mode(variant: str) -> str | bool:
    return variant.removeprefix("compile-") if variant.startswith("compile-") else False


def steady_throughput(data: dict, variant: str, width: int, device: torch.device, seed: int, epochs: int,
                      batch_size: int) -> float:
    """Training images per second after start-up: the median over epochs 2.. of a train-only ``fit``."""
    generator = cu.seed_everything(seed)
    where = torch.device("cpu") if variant == "host-data" else device
    loader = cu.TensorLoader(data["train_x"], data["train_y"], batch_size, shuffle=True, mean=data["mean"],
                             std=data["std"], generator=generator, device=where, drop_last=True)
    model = cu.TinyVGG(in_channels=1, hidden_channels=width, num_classes=10)
    history = cu.fit(model, loader, epochs=epochs, device=device, compile=compile_mode(variant), progress=False,
                     verbose=False)
    images_per_epoch = len(loader) * loader.batch_size
    return images_per_epoch / statistics.median(history.epoch_seconds[1:])


def run_to_accuracy(data: dict, variant: str, args: argparse.Namespace, device: torch.device) -> list[dict]:
    """Train TinyVGG-``width`` with ``fit``, testing after every epoch: accuracy and wall seconds per epoch."""
    generator = cu.seed_everything(args.seed)
    where = torch.device("cpu") if variant == "host-data" else device
    train = cu.TensorLoader(data["train_x"], data["train_y"], args.batch_size, shuffle=True, mean=data["mean"],
                            std=data["std"], generator=generator, device=where, drop_last=True)
    test = cu.TensorLoader(data["test_x"], data["test_y"], 1000, mean=data["mean"], std=data["std"], device=where)
    model = cu.TinyVGG(in_channels=1, hidden_channels=args.width, num_classes=10)
    history = cu.fit(model, train, test, epochs=args.epochs, lr=args.lr, device=device, compile=compile_mode(variant),
                     progress=False, verbose=False)
    return [{"epoch": i + 1, "test_acc": round(acc, 4), "wall_s": round(wall, 2)}
            for i, (acc, wall) in enumerate(zip(history.val_acc, history.wall_seconds))]


def first_at(epochs: list[dict], accuracy: float) -> float | None:
    reached = [entry["wall_s"] for entry in epochs if entry["test_acc"] >= accuracy]
    return reached[0] if reached else None


def measure_variant(data: dict, variant: str, args: argparse.Namespace, device: torch.device,
                    baseline: float) -> dict:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    mode = compile_mode(variant)
    result: dict = {"variant": variant, "data_on": "cpu" if variant == "host-data" else str(device)}
    if mode:
        torch._dynamo.reset()  # trace afresh: no recompile limit shared with other variants (disk caches stay)
        reason = why_not_compiled(device)
        result["compiled"] = reason is None
        if reason is not None:
            result["not_compiled_because"] = reason
    start = time.perf_counter()
    result["epochs"] = run_to_accuracy(data, variant, args, device)  # first: its time includes compiling
    result["seconds_to_91"] = first_at(result["epochs"], 0.91)
    if mode and result.get("compiled"):
        result["warm_epochs"] = run_to_accuracy(data, variant, args, device)  # compiled code now cached
        result["warm_seconds_to_91"] = first_at(result["warm_epochs"], 0.91)
    speed = steady_throughput(data, variant, 10, device, args.seed, args.throughput_epochs, args.batch_size)
    result.update(img_per_s=round(speed), ratio=round(speed / baseline, 2))
    result["img_per_s_16"] = round(steady_throughput(data, variant, args.width, device, args.seed,
                                                     args.throughput_epochs, args.batch_size))
    if device.type == "cuda":
        result["peak_memory_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    result["benchmark_s"] = round(time.perf_counter() - start, 1)
    return result


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    parser.add_argument("--variants", default=None,
                        help=f"comma-separated, from {', '.join(VARIANTS)} (default: device-data on a CPU; "
                             "host-data, device-data, compile-default and compile-reduce-overhead on a GPU)")
    parser.add_argument("--baseline-batches", type=int, default=400)
    parser.add_argument("--throughput-epochs", type=int, default=3, help="train-only epochs; the first is start-up")
    parser.add_argument("--width", type=int, default=16, help="hidden channels of the lesson's TinyVGG")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="a tiny run that only checks the script works")
    args = parser.parse_args()
    if args.throughput_epochs < 2:
        parser.error("--throughput-epochs: expected at least 2 (the first epoch is start-up), got "
                     f"{args.throughput_epochs}")
    return args


def main() -> None:
    args = parse_args()
    device = cu.get_device(args.device)
    default = "device-data" if device.type == "cpu" else "host-data,device-data,compile-default,compile-reduce-overhead"
    variants = (args.variants or default).split(",")
    unknown = [name for name in variants if name not in VARIANTS]
    if unknown:
        raise SystemExit(f"--variants: expected names from {list(VARIANTS)}, got {unknown}")
    train_x, train_y = cu.fashion_mnist_tensors(train=True)
    test_x, test_y = cu.fashion_mnist_tensors(train=False)
    if args.smoke:
        train_x, train_y, test_x, test_y = train_x[:2048], train_y[:2048], test_x[:512], test_y[:512]
        args.baseline_batches, args.epochs, args.width = 10, 1, 8
    mean, std = cu.channel_stats(train_x)
    data = {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y, "mean": mean, "std": std}

    baseline = baseline_throughput(device, args.baseline_batches, args.seed)
    results = []
    for variant in variants:
        try:
            result = measure_variant(data, variant, args, device, baseline)
        except Exception as error:  # noqa: BLE001 - one failing variant must not lose the others' numbers
            result = {"variant": variant, "error": f"{type(error).__name__}: {error}"[:1500]}
        results.append(result)
        print("variant done: " + json.dumps(result), file=sys.stderr, flush=True)  # kept if a later one hangs
    print(json.dumps({
        "baseline_img_per_s": round(baseline),
        "variants": results,
        "config": {"width": args.width, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                   "baseline_batches": args.baseline_batches, "throughput_epochs": args.throughput_epochs,
                   "smoke": args.smoke},
        "device": str(device),
        "device_name": (torch.cuda.get_device_name(device) if device.type == "cuda"
                        else platform.processor() or platform.machine()),
        "precision": cu.precision_policy(device).name,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d"),
    }))


if __name__ == "__main__":
    main()
