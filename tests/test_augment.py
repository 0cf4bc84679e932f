"""Tests of course_utils.augment: batched random augmentations."""

from __future__ import annotations

import pytest
import torch

import course_utils as cu


def _batch(n: int = 64) -> torch.Tensor:
    return torch.rand(n, 2, 3, 5, generator=torch.Generator().manual_seed(0))


def test_each_image_is_either_unchanged_or_mirrored() -> None:
    images = _batch()
    out = cu.random_hflip(images, generator=torch.Generator().manual_seed(1))
    same = (out == images).flatten(1).all(1)
    mirrored = (out == images.flip(-1)).flatten(1).all(1)
    assert bool((same | mirrored).all())
    assert 16 <= int(mirrored.sum()) <= 48  # p = 0.5 over 64 images: both outcomes occur
    assert out.shape == images.shape and out.dtype == images.dtype


def test_draws_are_per_image_and_reproducible() -> None:
    images = _batch()
    first = cu.random_hflip(images, generator=torch.Generator().manual_seed(3))
    second = cu.random_hflip(images, generator=torch.Generator().manual_seed(3))
    assert torch.equal(first, second)
    expected_flips = torch.rand(64, generator=torch.Generator().manual_seed(3)) < 0.5
    mirrored = (first == images.flip(-1)).flatten(1).all(1)
    assert torch.equal(mirrored, expected_flips)


def test_draws_come_from_the_generator_only() -> None:
    """The same seed gives the same flips whatever torch's global random state is; another seed, other flips."""
    images = _batch()
    outs = []
    for global_seed in (10, 11):
        torch.manual_seed(global_seed)
        outs.append(cu.random_hflip(images, generator=torch.Generator().manual_seed(5)))
    assert torch.equal(outs[0], outs[1])
    other = cu.random_hflip(images, generator=torch.Generator().manual_seed(6))
    assert not torch.equal(outs[0], other)


@pytest.mark.parametrize("p, expected", [(0.0, "same"), (1.0, "mirrored")])
def test_probability_limits(p: float, expected: str) -> None:
    images = _batch(8)
    out = cu.random_hflip(images, p=p)
    assert torch.equal(out, images if expected == "same" else images.flip(-1))


def test_input_is_not_modified_and_uint8_works() -> None:
    images = torch.randint(0, 256, (6, 1, 4, 4), dtype=torch.uint8)
    before = images.clone()
    out = cu.random_hflip(images, p=1.0)
    assert torch.equal(images, before) and torch.equal(out, before.flip(-1))


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"images": torch.zeros(3, 4, 4)}, ValueError, ["images", "4-dimensional", "(3, 4, 4)"]),
        ({"images": "not a tensor"}, TypeError, ["images", "torch.Tensor", "str"]),
        ({"images": torch.zeros(2, 1, 4, 4), "p": 1.5}, ValueError, ["p", "between 0 and 1", "1.5"]),
        ({"images": torch.zeros(2, 1, 4, 4), "p": True}, ValueError, ["p", "probability"]),
        ({"images": torch.zeros(2, 1, 4, 4), "generator": 7}, TypeError, ["generator", "torch.Generator", "7"]),
    ],
)
def test_bad_input_is_named(kwargs: dict, error: type, words: list[str]) -> None:
    with pytest.raises(error) as info:
        cu.random_hflip(**kwargs)
    assert all(word in str(info.value) for word in words), str(info.value)
