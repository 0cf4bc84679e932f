"""Opt-in ``torch.compile`` for ``fit``: fewer, fused GPU kernels for a small network, or a stated fallback.

A small network such as TinyVGG does little work per kernel. On a fast GPU a training step then
spends its time launching a few hundred tiny kernels, not computing them, and the GPU waits
between launches. ``torch.compile`` traces the model once and generates fused kernels for its
forward and backward passes (with Triton on NVIDIA GPUs); its ``"reduce-overhead"`` mode also
records each of them as a CUDA graph, replayed with one launch. The loss, the optimizer's update and
the loop's checks stay as they are (a few dozen small kernels per step). Compiling costs time at the
start (tens of seconds), so it pays off only when the run is long enough, and every new batch shape
is compiled again: use ``drop_last=True`` for the training loader.

Where compiling does not help, or cannot work, the model runs as it is and the reason is given:

* the CPU: measured on this course's 2-core machine, TinyVGG trained slower compiled, after about
  20 s of compiling (README, Performance);
* Apple's MPS: ``torch.compile`` support for MPS is still a prototype;
* NVIDIA GPUs older than Volta (compute capability below 7.0) and machines without Triton:
  the GPU code generator needs both.

Behind ``fit``'s ``compile`` argument, which lesson 03 mentions.
"""

from __future__ import annotations

import importlib.util

import torch
from torch import nn

from ._validate import describe, require_device, require_module

__all__ = ["COMPILE_MODES", "compile_for_training", "is_compiled", "why_not_compiled"]

#: The modes of ``torch.compile``; ``fit(compile=True)`` uses ``"default"``.
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def _compile_mode(compile: bool | str) -> str | None:  # noqa: A002 - the name fit's argument has
    """The ``torch.compile`` mode that ``compile`` asks for, or ``None`` for no compiling."""
    if compile is False:
        return None
    if compile is True:
        return "default"
    if isinstance(compile, str) and compile in COMPILE_MODES:
        return compile
    raise ValueError(f"compile: expected True, False or one of {list(COMPILE_MODES)}, got {describe(compile)}")


def is_compiled(model: nn.Module) -> bool:
    """Whether ``model`` runs compiled: the wrapper ``torch.compile`` returns (it keeps the original as
    ``_orig_mod``), or a module compiled in place with ``model.compile()``.

    Behind ``fit(compile=...)``, which lesson 03 mentions.
    """
    wrapped = isinstance(getattr(model, "_orig_mod", None), nn.Module)
    return wrapped or getattr(model, "_compiled_call_impl", None) is not None


def why_not_compiled(device: torch.device | str) -> str | None:
    """Why a model on ``device`` is better run without ``torch.compile``; ``None`` when compiling can help.

    Behind ``fit(compile=...)``, which lesson 03 mentions.
    """
    device = require_device("device", device)
    if device.type == "cpu":
        return "on the CPU compiling made the course's networks no faster (measured), after about 20 s of compiling"
    if device.type != "cuda":
        return f"torch.compile support for {device.type} devices is not mature yet"
    major, minor = torch.cuda.get_device_capability(device)
    if major < 7:
        return f"this GPU has compute capability {major}.{minor}; Triton's GPU code needs 7.0 (Volta) or newer"
    if importlib.util.find_spec("triton") is None:
        return "Triton, which torch.compile uses to generate GPU code, is not installed"
    return None


def compile_for_training(model: nn.Module, device: torch.device | str, compile: bool | str) -> tuple[nn.Module, str]:  # noqa: A002
    """The module a training loop should call for ``model``, and one line saying how it runs.

    With ``compile`` False this is ``model`` itself. Otherwise it is ``torch.compile(model, mode=...)``
    (``True`` means the ``"default"`` mode) where compiling can help, and ``model`` itself elsewhere,
    with the reason (``why_not_compiled``). The compiled module shares ``model``'s parameters, so
    training it trains ``model``; save and load ``model``'s ``state_dict``, whose keys the compiled
    wrapper would prefix with ``_orig_mod.``. Batch shapes are compiled one by one (``dynamic=False``):
    specialised kernels, and one extra compile for a smaller last batch.

    Behind ``fit(compile=...)``, which lesson 03 mentions.
    """
    require_module("model", model)
    mode = _compile_mode(compile)
    if mode is None:
        return model, "not compiled (compile=False)"
    reason = why_not_compiled(device)
    if reason is not None:
        return model, f"not compiled: {reason}"
    return torch.compile(model, mode=mode, dynamic=False), f"compiled with torch.compile(mode={mode!r})"
