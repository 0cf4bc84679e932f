"""Stand-ins: what a lesson runs on when the real data or weights cannot be had, announced one way.

Learners have internet; CI and offline machines do not. Every loader that has an offline
substitute does the same two things, through this module:

1. ``require_standins_allowed`` raises the course's error for a failed download (with the two
   ways forward: reconnect, or set ``COURSE_ALLOW_STANDINS=1``) unless stand-ins are allowed;
2. ``announce_standin`` prints one banner that says what is used, instead of what, why, and
   what that means for the numbers that follow.

Two kinds exist. A STAND-IN is not the real thing (synthetic images, photo crops, random
weights): the code runs, its numbers mean nothing about the lesson's question. An OFFLINE
SUBSTITUTE is a different real thing (EfficientNet-Lite0's real ImageNet weights in place of
ResNet-18's): its predictions are real, they are just not those of the model the lesson names.
"""

from __future__ import annotations

from typing import Literal

from .runtime import STANDINS_ENV, run_mode

__all__ = ["announce_standin", "download_failure", "require_standins_allowed", "standin_banner"]

_RULE = "=" * 78
_HEADINGS = {
    "data": "STAND-IN DATA",
    "weights": "STAND-IN WEIGHTS",
    "substitute": "OFFLINE SUBSTITUTE",
}


def require_standins_allowed(failure: str, error: BaseException, standin: str) -> None:
    """Raise the course's error for a failed download, unless stand-ins are allowed.

    ``failure`` says what could not be had ("CIFAR-10 could not be downloaded into ..."),
    ``standin`` what the run would continue with. Every loader that has an offline
    stand-in calls this, so students always get the same two ways forward.

    Behind the offline fallbacks of lessons 01, 04 and 05.
    """
    if run_mode().allow_standins:
        return
    raise RuntimeError(
        f"{failure} ({type(error).__name__}: {str(error)[:300]}). Check your internet connection (in Colab: "
        "is the runtime connected?) and run the cell again, or set the environment variable "
        f"{STANDINS_ENV}=1 (e.g. os.environ['{STANDINS_ENV}'] = '1') to continue with {standin}."
    ) from error


def standin_banner(
    kind: Literal["data", "weights", "substitute"], *, used: str, instead_of: str, why: str, meaning: str
) -> str:
    """The banner of a stand-in, framed by two rules so that it stands out in a notebook's output.

    ``kind`` is "data" or "weights" for a STAND-IN, "substitute" for an OFFLINE SUBSTITUTE (see
    the module docstring); ``used`` names what this run uses, ``instead_of`` the real thing,
    ``why`` the reason (usually the download error) and ``meaning`` what the numbers below are
    worth. Every stand-in in the course is announced with this one layout.

    Behind the offline fallbacks of lessons 01, 04 and 05.
    """
    if kind not in _HEADINGS:
        raise ValueError(f"kind: expected one of {sorted(_HEADINGS)}, got {kind!r}")
    for name, text in (("used", used), ("instead_of", instead_of), ("why", why), ("meaning", meaning)):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{name}: expected a non-empty sentence, got {text!r}")
    return (
        f"{_RULE}\n"
        f"{_HEADINGS[kind]}: {used}, NOT {instead_of}.\n"
        f"Why: {why}.\n"
        f"Because {STANDINS_ENV} is set, this run continues with it: {meaning}.\n"
        f"{_RULE}"
    )


def announce_standin(
    kind: Literal["data", "weights", "substitute"], *, used: str, instead_of: str, why: str, meaning: str
) -> None:
    """Print ``standin_banner(...)``: called once by each loader that falls back to a stand-in. Behind the offline fallbacks of lessons 01, 04 and 05."""
    print(standin_banner(kind, used=used, instead_of=instead_of, why=why, meaning=meaning))


def download_failure(error: BaseException, limit: int = 200) -> str:
    """``"the download failed (URLError: <message>)"``, the message cut to ``limit`` characters. Behind the offline fallbacks of lessons 01, 04 and 05."""
    return f"the download failed ({type(error).__name__}: {str(error)[:limit]})"
