"""Splits made first: seeded, stratified, disjoint train/validation/test indices and "k labels per class" subsets.

A split is made before anything else looks at the data (statistics, augmentation choices, model
selection), so that the test set stays unseen. Both functions return index tensors; the data
itself is never copied.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ._validate import describe, require_labels, require_positive_int

__all__ = ["per_class_subset", "stratified_split"]


def _check_int_labels(labels: Any) -> torch.Tensor:
    labels = require_labels("labels", labels)
    if int(labels.min()) < 0:
        raise ValueError(f"labels: expected class indices >= 0, got a smallest value of {int(labels.min())}")
    return labels.to(torch.int64).cpu()


def stratified_split(labels: torch.Tensor, fractions: Sequence[float], *, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Split the indices of ``labels`` into disjoint parts with the given fractions of *every* class.

    ``fractions`` such as ``(0.6, 0.2, 0.2)`` must be positive and sum to at most 1;
    when they sum to 1 every index lands in exactly one part (the last part takes
    what rounding leaves). Each class is shuffled with its own seeded generator, so
    the split never depends on anything else the program does. Returns one sorted
    int64 index tensor per fraction.

    Taught in lesson 04.
    """
    labels = _check_int_labels(labels)
    if isinstance(fractions, (str, bytes)) or not isinstance(fractions, Sequence) or not fractions:
        raise TypeError(f"fractions: expected a sequence of fractions such as (0.8, 0.2), got {describe(fractions)}")
    values = []
    for fraction in fractions:
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
            raise ValueError(f"fractions: expected numbers in (0, 1], got {describe(fractions)}")
        values.append(float(fraction))
    total = sum(values)
    if total > 1 + 1e-9:
        raise ValueError(f"fractions: expected a sum of at most 1, got {total:.6g}")
    require_positive_int("seed", seed, allow_zero=True)
    covers_all = abs(total - 1) <= 1e-9
    parts: list[list[torch.Tensor]] = [[] for _ in values]
    for label in torch.unique(labels).tolist():
        members = torch.nonzero(labels == label).flatten()
        generator = torch.Generator().manual_seed(seed * 1_000_003 + label)
        members = members[torch.randperm(len(members), generator=generator)]
        start = 0
        for part, fraction in enumerate(values):
            last = part == len(values) - 1
            stop = len(members) if (last and covers_all) else min(len(members), start + round(fraction * len(members)))
            parts[part].append(members[start:stop])
            start = stop
    return tuple(torch.cat(chunks).sort().values for chunks in parts)


def per_class_subset(
    labels: torch.Tensor,
    k: int,
    *,
    seed: int = 0,
    pool: torch.Tensor | None = None,
) -> torch.Tensor:
    """Indices of ``k`` randomly chosen examples of every class, drawn from ``pool`` (default: all).

    The training sets of a "labels per class" experiment: with ``k=1`` and ten
    classes, ten labelled images. The choice is seeded; a class with fewer than
    ``k`` examples in the pool raises a ``ValueError``. The result lists class 0's
    indices first, then class 1's, and so on.

    Taught in lesson 04.
    """
    labels = _check_int_labels(labels)
    require_positive_int("k", k)
    require_positive_int("seed", seed, allow_zero=True)
    if pool is None:
        pool = torch.arange(len(labels))
    else:
        pool = require_labels("pool", pool).to(torch.int64).cpu()
        if int(pool.min()) < 0 or int(pool.max()) >= len(labels):
            raise ValueError(f"pool: expected indices into labels (0 to {len(labels) - 1}), got {describe(pool)}")
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for label in range(int(labels.max()) + 1):
        members = pool[labels[pool] == label]
        if len(members) < k:
            raise ValueError(f"k: expected at most {len(members)} (the examples of class {label} in the pool), got {k}")
        chosen.append(members[torch.randperm(len(members), generator=generator)[:k]])
    return torch.cat(chosen)
