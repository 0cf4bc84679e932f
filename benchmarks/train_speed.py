"""Training-speed benchmark: the loop popular courses teach vs ``course_utils.fit``.

Runs on the real FashionMNIST split and prints ONE JSON line:

(a) ``baseline_img_per_s`` – DataLoader over torchvision's dataset with a per-sample
    to-tensor transform, batch 32, SGD lr 0.1, fp32, TinyVGG with 10 hidden channels,
    timed over ``--baseline-batches`` batches (after 5 warm-up batches).
(b) ``fit_img_per_s`` – ``course_utils.fit`` with its defaults (in-memory uint8
    batches of 256, AdamW + OneCycle, bf16 autocast where supported, channels_last)
    on the same TinyVGG, one epoch over the 60,000 training images.
(c) ``fit_epochs`` – ``fit`` training the lesson's TinyVGG configuration
    (``--width`` hidden channels, ``--epochs`` epochs) with the test accuracy after
    every epoch and wall seconds since the start of training;
    ``fit_seconds_to_91`` is the first wall time at which test accuracy ≥ 0.91.

Usage: python benchmarks/train_speed.py [--smoke]   (--smoke: tiny run to check it works)
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision.transforms import v2

import course_utils as cu


def baseline_throughput(batches: int, seed: int) -> float:
    """Images per second of the classic per-sample DataLoader loop (fp32, batch 32, SGD)."""
    generator = cu.seed_everything(seed)
    to_tensor = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])
    dataset = cu.load_fashion_mnist(train=True, transform=to_tensor)
    loader = DataLoader(dataset, batch_size=32, shuffle=True, generator=generator)
    model = cu.TinyVGG(in_channels=1, hidden_channels=10, num_classes=10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    seen, start = 0, 0.0
    for index, (images, labels) in enumerate(loader):
        if index == 5:  # warm-up done
            start, seen = time.perf_counter(), 0
        loss = loss_fn(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seen += labels.shape[0]
        if index == 5 + batches - 1:
            break
    return seen / (time.perf_counter() - start)


def fit_throughput(train_x: torch.Tensor, train_y: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
                   seed: int) -> float:
    """Images per second of ``cu.fit`` with its defaults on the same 10-channel TinyVGG (one epoch)."""
    generator = cu.seed_everything(seed)
    loader = cu.TensorLoader(train_x, train_y, shuffle=True, mean=mean, std=std, generator=generator)
    model = cu.TinyVGG(in_channels=1, hidden_channels=10, num_classes=10)
    history = cu.fit(model, loader, epochs=1, progress=False, verbose=False)
    return loader.num_samples / history.epoch_seconds[0]


def fit_to_completion(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
                      mean: torch.Tensor, std: torch.Tensor, width: int, epochs: int, batch_size: int, lr: float,
                      seed: int) -> cu.checkpoints.History:
    """Train the lesson's TinyVGG configuration with ``fit``, evaluating on the test set every epoch."""
    generator = cu.seed_everything(seed)
    train = cu.TensorLoader(train_x, train_y, batch_size, shuffle=True, mean=mean, std=std, generator=generator)
    test = cu.TensorLoader(test_x, test_y, 1024, mean=mean, std=std)
    model = cu.TinyVGG(in_channels=1, hidden_channels=width, num_classes=10)
    return cu.fit(model, train, test, epochs=epochs, lr=lr, progress=False, verbose=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-batches", type=int, default=400)
    parser.add_argument("--width", type=int, default=16, help="hidden channels of the lesson's TinyVGG")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="a tiny run that only checks the script works")
    args = parser.parse_args()

    train_x, train_y = cu.fashion_mnist_tensors(train=True)
    test_x, test_y = cu.fashion_mnist_tensors(train=False)
    if args.smoke:
        train_x, train_y, test_x, test_y = train_x[:2048], train_y[:2048], test_x[:512], test_y[:512]
        args.baseline_batches, args.epochs, args.width = 10, 1, 8
    mean, std = cu.channel_stats(train_x)
    device = cu.get_device()

    baseline = baseline_throughput(args.baseline_batches, args.seed)
    fast = fit_throughput(train_x, train_y, mean, std, args.seed)
    history = fit_to_completion(train_x, train_y, test_x, test_y, mean, std, args.width, args.epochs,
                                args.batch_size, args.lr, args.seed)
    epochs = [
        {"epoch": i + 1, "test_acc": round(acc, 4), "wall_s": round(wall, 1)}
        for i, (acc, wall) in enumerate(zip(history.val_acc, history.wall_seconds))
    ]
    reached = [entry["wall_s"] for entry in epochs if entry["test_acc"] >= 0.91]
    result = {
        "baseline_img_per_s": round(baseline),
        "fit_img_per_s": round(fast),
        "throughput_ratio": round(fast / baseline, 2),
        "fit_epochs": epochs,
        "fit_seconds_to_91": reached[0] if reached else None,
        "config": {
            "width": args.width, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
            "baseline_batches": args.baseline_batches, "smoke": args.smoke,
        },
        "device": str(device),
        "precision": history.precision,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
