"""Where and how code runs: device, seeds, numeric precision and the run mode.

Everything here is decided at call time, never at import time, so a notebook that
switches runtime (Colab CPU → T4) or sets an environment variable picks it up.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

from ._validate import require_choice, require_device, require_positive_int

__all__ = [
    "PrecisionPolicy",
    "RunMode",
    "cpu_supports_bf16",
    "get_device",
    "precision_policy",
    "quick",
    "run_mode",
    "seed_everything",
    "setup_text",
    "show_setup",
]

QUICK_ENV = "COURSE_QUICK"
STANDINS_ENV = "COURSE_ALLOW_STANDINS"
NBGRADER_ENV = "NBGRADER_EXECUTION"

T = TypeVar("T")


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in {"", "0", "false", "no", "off"}


def get_device(prefer: str | None = None) -> torch.device:
    """Return the best available device: CUDA, then Apple MPS, then the CPU.

    ``prefer`` forces a device type (``"cuda"``, ``"mps"`` or ``"cpu"``); asking for
    one that is not available raises an error instead of silently using another.

    Taught in lesson 00.
    """
    if prefer is not None:
        require_choice("prefer", prefer, ("cuda", "mps", "cpu"))
        available = {
            "cuda": torch.cuda.is_available(),
            "mps": torch.backends.mps.is_available(),
            "cpu": True,
        }
        if not available[prefer]:
            raise RuntimeError(f"prefer: device {prefer!r} was requested but is not available on this machine")
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 42, *, deterministic: bool = False) -> torch.Generator:
    """Seed Python's ``random``, NumPy, torch (CPU and CUDA) and return a seeded generator.

    Pass the returned generator to a ``DataLoader`` (``generator=``) or a
    ``TensorLoader`` so the shuffling order is reproducible too. ``deterministic``
    additionally asks torch for deterministic kernels (slower; warns where none exist).

    Taught in lesson 00.
    """
    require_positive_int("seed", seed, allow_zero=True)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def cpu_supports_bf16() -> bool:
    """True when this CPU has bf16 *matrix* units (Intel AMX), which make bf16 training faster.

    CPUs with only the AVX-512 BF16 dot-product instructions are not counted: measured on
    such a CPU, TinyVGG trained at 9,800 img/s with bf16 autocast against 12,100 img/s in
    fp32 (both channels_last), so fp32 is the better default there.

    Taught in lesson 03.
    """
    try:
        if "AMX" in torch.backends.cpu.get_cpu_capability():
            return True
    except AttributeError:  # pragma: no cover - very old torch
        pass
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            return "amx_bf16" in handle.read()
    except OSError:  # pragma: no cover - not Linux
        return False


_SHORT_DTYPE_NAMES = {torch.bfloat16: "bf16", torch.float16: "fp16"}


@dataclass(frozen=True)
class PrecisionPolicy:
    """How to run the numbers on one device.

    ``autocast_dtype`` is the mixed-precision type for ``torch.autocast`` (``None``
    means plain float32), ``use_grad_scaler`` is needed for float16 on CUDA, and
    ``channels_last`` lays conv-net activations out the way fast kernels want.

    Taught in lesson 03.
    """

    device: torch.device
    autocast_dtype: torch.dtype | None
    use_grad_scaler: bool
    channels_last: bool

    @property
    def name(self) -> str:
        """A readable name such as ``"bf16 autocast + channels_last"``."""
        parts = [
            "fp32" if self.autocast_dtype is None else f"{_SHORT_DTYPE_NAMES[self.autocast_dtype]} autocast"
        ]
        if self.use_grad_scaler:
            parts.append("GradScaler")
        if self.channels_last:
            parts.append("channels_last")
        return " + ".join(parts)

    def autocast(self) -> torch.autocast:
        """A ``torch.autocast`` context for this policy (disabled for fp32)."""
        dtype = self.autocast_dtype or torch.float32
        return torch.autocast(device_type=self.device.type, dtype=dtype, enabled=self.autocast_dtype is not None)


def precision_policy(
    device: torch.device | str | None = None,
    *,
    channels_last: bool = True,
    mixed_precision: bool = True,
) -> PrecisionPolicy:
    """Choose the precision for ``device``.

    bf16 autocast where the hardware supports it natively (Ampere+ GPUs, CPUs
    with AMX matrix units), fp16 autocast with a GradScaler on older CUDA GPUs,
    fp32 otherwise (including Apple MPS, whose autocast support is partial).

    Taught in lesson 03.
    """
    device = require_device("device", device) if device is not None else get_device()
    dtype: torch.dtype | None = None
    scaler = False
    if mixed_precision:
        if device.type == "cuda":
            if torch.cuda.is_bf16_supported(including_emulation=False):
                dtype = torch.bfloat16
            else:
                dtype, scaler = torch.float16, True
        elif device.type == "cpu" and cpu_supports_bf16():
            dtype = torch.bfloat16
    return PrecisionPolicy(device=device, autocast_dtype=dtype, use_grad_scaler=scaler, channels_last=channels_last)


@dataclass(frozen=True)
class RunMode:
    """The active run mode: ``quick`` shrinks data and epochs; ``allow_standins`` permits offline stand-ins.

    Taught in lesson 01.
    """

    quick: bool
    allow_standins: bool
    reason: str

    def describe(self) -> str:
        """One plain sentence describing the mode."""
        mode = "QUICK mode (small data, few epochs; numbers are not the lesson's real results)" if self.quick else "FULL mode"
        data = (
            "offline stand-ins allowed (clearly labelled) when a download fails"
            if self.allow_standins
            else "real data only (a failed download stops with instructions)"
        )
        return f"{mode}; {data}; {self.reason}"


def run_mode() -> RunMode:
    """Read the run mode from the environment.

    Quick mode is on when ``COURSE_QUICK`` is set to a true value or when nbgrader
    is executing the notebook (``NBGRADER_EXECUTION``). Stand-ins are allowed only
    when ``COURSE_ALLOW_STANDINS`` is set.

    Taught in lesson 01.
    """
    reasons = []
    quick_env = _env_flag(QUICK_ENV)
    grading = bool(os.environ.get(NBGRADER_ENV))
    if quick_env:
        reasons.append(f"{QUICK_ENV} is set")
    if grading:
        reasons.append(f"nbgrader is executing this notebook ({NBGRADER_ENV} is set)")
    standins = _env_flag(STANDINS_ENV)
    if standins:
        reasons.append(f"{STANDINS_ENV} is set")
    reason = "because " + " and ".join(reasons) if reasons else f"set {QUICK_ENV}=1 for the quick mode"
    return RunMode(quick=quick_env or grading, allow_standins=standins, reason=reason)


def quick(full: T, quick: T) -> T:  # noqa: A002 - reads naturally at call sites: cu.quick(full=8, quick=1)
    """Return ``quick`` in quick mode and ``full`` otherwise (for epochs, subset sizes, ...). Taught in lesson 00."""
    return quick if run_mode().quick else full


def setup_text(device: torch.device | str | None = None) -> str:
    """The device, precision policy, image-file backend and run mode, as three lines of text. Taught in lesson 00."""
    from .image_io import image_backend  # imported here: image_io must not need runtime

    device = require_device("device", device) if device is not None else get_device()
    policy = precision_policy(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type.upper()
    return (
        f"course_utils setup | device: {device} ({name}) | precision: {policy.name} | "
        f"torch {torch.__version__}\n"
        f"image files: {image_backend()}\n"
        f"run mode: {run_mode().describe()}"
    )


def show_setup(device: torch.device | str | None = None) -> None:
    """Print the device, precision policy, image-file backend and run mode (every time it is called).

    Returns None, so a notebook cell ending with it shows the text once, not twice. In a notebook it
    also lets Run All go on past unanswered exercises (``report_unanswered_exercises``).

    Taught in lesson 00.
    """
    from .unanswered import report_unanswered_exercises

    print(setup_text(device))
    report_unanswered_exercises()
