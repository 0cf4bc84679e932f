"""The training and evaluation loops never read a tensor's value on the host once per batch.

On a GPU, reading a value (``.item()``, ``int()``, ``float()``, ``bool()``, ``.tolist()``, printing)
makes the CPU wait until the GPU has finished everything queued, so a loop that reads once per batch
runs at the speed of the round trip instead of the speed of the GPU. A CPU has no such wait, but the
same code runs there: these tests count every read made by course_utils' own code during a pass and
check that the count does not grow with the number of batches. (The one per-batch read allowed is of
labels that are still on the host, in ``device_batches``, which costs no wait: it happens before they
are sent to the device.) The GPU itself is checked with ``torch.cuda.set_sync_debug_mode`` by
``benchmarks/gpu_check.py``.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from torch import nn

import course_utils as cu

PACKAGE = str(Path(cu.__file__).parent)
READS = ("item", "tolist", "__int__", "__float__", "__bool__", "__index__", "__format__", "cpu", "numpy")


@pytest.fixture()
def host_reads(monkeypatch) -> Counter:
    from course_utils import engine

    monkeypatch.setattr(engine, "PROGRESS_SECONDS", 1e9)  # a slow machine must not add a timed progress-bar read
    """Count the tensor reads that course_utils' own code makes, by (function, read).

    Reads inside torch are not counted: on a CPU, AdamW reads its step counters (kept on the CPU, so
    they cost a GPU nothing), and what torch does on a GPU is checked on a GPU.
    """
    counts: Counter = Counter()
    for name in READS:
        original = getattr(torch.Tensor, name)

        def counting(self, *args, _original=original, _name=name, **kwargs):
            frame = sys._getframe(1)
            if frame.f_code.co_filename.startswith(PACKAGE):
                counts[(_plain_name(frame.f_code.co_name), _name)] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counting)
    return counts


def _plain_name(code_name: str) -> str:
    """The function's own name, also under ``./course mutate`` (mutmut renames ``train_step`` to
    ``x_train_step__mutmut_orig`` and ``_SampleAverages.result`` to ``xǁ_SampleAveragesǁresult__mutmut_3``)."""
    if "__mutmut_" not in code_name:
        return code_name
    return code_name.split("__mutmut_")[0].split("ǁ")[-1].removeprefix("x_")


def _loader(batches: int, batch_size: int = 8, shuffle: bool = True) -> cu.TensorLoader:
    generator = torch.Generator().manual_seed(0)
    n = batches * batch_size
    images = torch.randint(0, 256, (n, 1, 4, 4), dtype=torch.uint8, generator=generator)
    return cu.TensorLoader(images, torch.arange(n) % 3, batch_size, shuffle=shuffle, mean=[0.5], std=[0.25],
                           generator=generator, augment=lambda batch: cu.random_hflip(batch, generator=generator))


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(64, 3))


def _per_pass(counts: Counter) -> Counter:
    """The reads that must not depend on the number of batches (all but the host-side label read)."""
    return Counter({key: value for key, value in counts.items() if key[0] != "device_batches"})


def _train_reads(host_reads: Counter, batches: int, **kwargs) -> tuple[Counter, Counter]:
    model = _model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loader = _loader(batches)
    host_reads.clear()
    cu.train_step(model, loader, nn.CrossEntropyLoss(), optimizer, "cpu", **kwargs)
    return _per_pass(host_reads), Counter({k: v for k, v in host_reads.items() if k[0] == "device_batches"})


@pytest.mark.parametrize("progress", [False, True])
def test_train_step_reads_a_fixed_number_of_values_per_pass(host_reads, progress) -> None:
    few, few_labels = _train_reads(host_reads, 3, progress=progress, scheduler=None, grad_clip=1.0)
    many, many_labels = _train_reads(host_reads, 24, progress=progress, scheduler=None, grad_clip=1.0)
    assert few == many
    # the averages at the end (2 reads), the finish() check (1) and, with a progress bar, the running loss
    # after the first batch (2); the next would come PROGRESS_SECONDS later
    assert sum(few.values()) == (5 if progress else 3)
    # the labels' range is read on the host before they are moved, once per batch, at no cost to a GPU
    assert few_labels == Counter({("device_batches", "__int__"): 3})
    assert many_labels == Counter({("device_batches", "__int__"): 24})


def test_eval_step_reads_a_fixed_number_of_values_per_pass(host_reads) -> None:
    model = _model()
    counts = []
    for batches in (2, 20):
        loader = _loader(batches, shuffle=False)
        host_reads.clear()
        cu.eval_step(model, loader, nn.CrossEntropyLoss(), "cpu")
        counts.append(_per_pass(host_reads))
    assert counts[0] == counts[1]
    assert sum(counts[0].values()) == 3


def test_fit_reads_a_fixed_number_of_values_per_epoch(host_reads) -> None:
    counts = []
    for batches in (2, 16):
        train, val = _loader(batches), _loader(batches, shuffle=False)
        host_reads.clear()
        cu.fit(_model(), train, val, epochs=2, device="cpu", progress=True, verbose=True)
        counts.append(_per_pass(host_reads))
    assert counts[0] == counts[1]
    assert sum(counts[0].values()) == 2 * 8  # per epoch: training 5 (as above, with the bar), evaluation 3


def test_the_counter_sees_a_read_in_the_loop(host_reads, monkeypatch) -> None:
    """The counting above can fail: a loss read once per batch is caught."""
    from course_utils import engine

    real_add = engine._SampleAverages.add

    def add_and_read(self, loss, logits, targets):
        real_add(self, loss, logits, targets)
        self.result()  # the running averages read on every batch, as a progress bar that shows them would

    monkeypatch.setattr(engine._SampleAverages, "add", add_and_read)
    few, _ = _train_reads(host_reads, 3)
    many, _ = _train_reads(host_reads, 24)
    assert few != many
    assert many[("result", "item")] - few[("result", "item")] == 2 * 21
