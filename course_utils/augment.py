"""Batched data augmentation: random transforms applied to a whole batch at once, on its device.

``torchvision.transforms.v2`` transforms one image per call, which is right for a ``DataLoader``
over files. When the whole dataset already lives in memory as one tensor (``TensorLoader``), a
per-sample Python loop would cost more than the training step; these functions draw an
independent random choice for every image of an N×C×H×W batch with a single tensor operation.
Pass them to ``TensorLoader(augment=...)``, which calls them on training batches only.
"""

from __future__ import annotations

import torch

from ._validate import describe, require_images

__all__ = ["random_hflip"]


def random_hflip(images: torch.Tensor, p: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mirror each image of an N×C×H×W batch left-right, independently, with probability ``p``.

    The random draws come from ``generator`` (a CPU ``torch.Generator``; ``None`` uses torch's
    global generator), so a seeded generator gives the same flips on a CPU and on a GPU. The input
    is not changed; a new tensor is returned.

    Taught in lesson 03.
    """
    require_images("images", images)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"p: expected a probability between 0 and 1, got {describe(p)}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator: expected a torch.Generator or None, got {describe(generator)}")
    # drawn on the CPU; to a CUDA GPU copied without making the host wait (MPS needs a waiting copy: its early
    # return can read the CPU tensor after it is freed)
    flip = (torch.rand(images.shape[0], generator=generator) < p).to(images.device,
                                                                   non_blocking=images.device.type == "cuda")
    return torch.where(flip[:, None, None, None], images.flip(-1), images)
