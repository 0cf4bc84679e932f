"""Reading and writing image files as uint8 C×H×W tensors, on whatever the machine has.

Taught in lesson 00 (decoding JPEG/PNG files into tensors) and used in lesson 01 (a ``Dataset``
over image files, an ``ImageFolder`` tree written as PNG files).

PyTorch's image decoding has moved: torchvision 0.29 deprecated ``torchvision.io.decode_image``
in favour of TorchCodec, but TorchCodec 0.16+ loads only with torch >= 2.11, and on older
pairs (Colab's torch 2.9 in late 2026) importing it raises an ``OSError``. So the course never
imports TorchCodec directly. ``decode_image`` and ``encode_png`` use the first backend that
*imports and works* on this machine:

1. TorchCodec (``torchcodec.decoders.decode_image``, ``torchcodec.encoders.PngEncoder``),
2. torchvision (``torchvision.io.decode_image``, ``torchvision.io.write_png``),
3. PIL (always there: torchvision depends on it),

and every backend gives the same result: a ``uint8`` tensor laid out C×H×W, upright (a phone photo's
EXIF orientation is applied), palette images expanded to their colours (PNG is lossless, so all three
decode a PNG to identical numbers; JPEG decoders may differ by a few levels).
``image_backend()`` names the one in use; ``show_setup()`` prints it. Set the environment variable
``COURSE_IMAGE_BACKEND`` to ``torchcodec``, ``torchvision`` or ``pil`` to choose one yourself.
"""

from __future__ import annotations

import functools
import io
import os
import tempfile
import warnings
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from ._validate import describe, require_choice

__all__ = ["IMAGE_BACKENDS", "decode_image", "encode_png", "image_backend"]

#: The backends in the order they are tried.
IMAGE_BACKENDS = ("torchcodec", "torchvision", "pil")
#: How ``decode_image`` converts the channels: like torchvision's and TorchCodec's ``mode``.
MODES = ("RGB", "GRAY", "UNCHANGED")
BACKEND_ENV = "COURSE_IMAGE_BACKEND"

# torchvision >= 0.29 warns on every call of its image functions; the course already chose them knowingly.
_TORCHVISION_DEPRECATION = "The image decoding and encoding capabilities of TorchVision"

Decoder = Callable[[Path, str], torch.Tensor]
Encoder = Callable[[torch.Tensor, Path], None]


def _tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((2, 3, 3), (10, 20, 30), dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _unchanged_as(path: Path) -> str:
    """The torchvision mode that keeps a file's channels, with palette images expanded to their colours."""
    with Image.open(path) as image:
        if image.mode not in ("P", "PA"):
            return "UNCHANGED"
        return "RGB_ALPHA" if image.mode == "PA" or "transparency" in image.info else "RGB"


# --- the three backends -------------------------------------------------------------------------

def _torchcodec_decoder() -> tuple[Decoder, Encoder]:
    from torchcodec.decoders import decode_image as tc_decode  # OSError where its library cannot load
    from torchcodec.encoders import PngEncoder

    def decode(path: Path, mode: str) -> torch.Tensor:
        return tc_decode(str(path), mode=mode)

    def encode(image: torch.Tensor, path: Path) -> None:
        PngEncoder(image).to_file(str(path))

    return decode, encode


def _torchvision_decoder() -> tuple[Decoder, Encoder]:
    from torchvision.io import ImageReadMode, write_png
    from torchvision.io import decode_image as tv_decode

    def decode(path: Path, mode: str) -> torch.Tensor:
        if mode == "UNCHANGED":
            mode = _unchanged_as(path)  # torchvision would return a palette image's indices, not its colours
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_TORCHVISION_DEPRECATION, category=DeprecationWarning)
            return tv_decode(str(path), mode=ImageReadMode[mode], apply_exif_orientation=True)

    def encode(image: torch.Tensor, path: Path) -> None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_TORCHVISION_DEPRECATION, category=DeprecationWarning)
            write_png(image, str(path))

    return decode, encode


def _pil_decoder() -> tuple[Decoder, Encoder]:
    def decode(path: Path, mode: str) -> torch.Tensor:
        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened)  # upright, as TorchCodec and torchvision return it
            if mode == "RGB":
                image = image.convert("RGB")
            elif mode == "GRAY":
                image = image.convert("L")
            elif image.mode not in ("L", "LA", "RGB", "RGBA"):  # palette, CMYK, 16-bit ...: as RGB(A)
                image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
            array = np.array(image)
        if array.ndim == 2:
            array = array[:, :, None]
        return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))

    def encode(image: torch.Tensor, path: Path) -> None:
        array = image.permute(1, 2, 0).numpy()
        Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array).save(path, format="PNG")

    return decode, encode


_FACTORIES: dict[str, Callable[[], tuple[Decoder, Encoder]]] = {
    "torchcodec": _torchcodec_decoder,
    "torchvision": _torchvision_decoder,
    "pil": _pil_decoder,
}


def _works(name: str, factory: Callable[[], tuple[Decoder, Encoder]]) -> tuple[Decoder, Encoder] | str:
    """The backend's functions if it imports *and* decodes a tiny PNG correctly; else why not."""
    try:
        decode, encode = factory()
        probe = Path(tempfile.gettempdir()) / f"course_utils_probe_{os.getpid()}_{name}.png"
        probe.write_bytes(_tiny_png())
        try:
            pixels = decode(probe, "RGB")
        finally:
            probe.unlink(missing_ok=True)
    except Exception as error:  # noqa: BLE001 - ImportError, OSError (library not loadable), RuntimeError, ...
        return f"{type(error).__name__}: {str(error).splitlines()[0][:160] if str(error) else ''}"
    if pixels.dtype != torch.uint8 or tuple(pixels.shape) != (3, 2, 3) or pixels[:, 0, 0].tolist() != [10, 20, 30]:
        return f"decoded a test image wrongly ({describe(pixels)})"
    return decode, encode


@functools.cache
def _backend(choice: str | None) -> tuple[str, Decoder, Encoder, tuple[str, ...]]:
    """The first working backend (or the chosen one) and why the earlier ones were passed over."""
    names = IMAGE_BACKENDS if choice is None else (choice,)
    skipped = []
    for name in names:
        result = _works(name, _FACTORIES[name])
        if isinstance(result, str):
            skipped.append(f"{name} ({result})")
            continue
        return name, result[0], result[1], tuple(skipped)
    raise RuntimeError(f"{BACKEND_ENV}={choice!r}: that image backend does not work here: {'; '.join(skipped)}")


def _current() -> tuple[str, Decoder, Encoder, tuple[str, ...]]:
    choice = os.environ.get(BACKEND_ENV, "").strip().lower() or None
    if choice is not None:
        require_choice(BACKEND_ENV, choice, IMAGE_BACKENDS)
    return _backend(choice)


def image_backend() -> str:
    """The library that reads and writes image files here, with its version, e.g. ``"torchcodec 0.17.0"``.

    Backends that are installed and were tried first but do not work are named with the reason,
    so a broken TorchCodec install (e.g. one built for another torch) is visible, not silent.

    Taught in lesson 00.
    """
    name, _, _, skipped = _current()
    distribution = {"torchcodec": "torchcodec", "torchvision": "torchvision", "pil": "pillow"}[name]
    text = f"{name} {metadata.version(distribution)}"
    broken = [reason for reason in skipped if "(ModuleNotFoundError" not in reason]  # not installed is fine
    if broken:
        text += " (installed but not usable here: " + "; ".join(broken) + ")"
    return text


def decode_image(path: str | os.PathLike[str], mode: str = "RGB") -> torch.Tensor:
    """Read a JPEG/PNG/... file into a ``uint8`` tensor laid out C×H×W.

    ``mode`` is ``"RGB"`` (3 channels, the default: grey and RGBA files are converted),
    ``"GRAY"`` (1 channel) or ``"UNCHANGED"`` (the channels stored in the file; a palette image's
    colours). Every backend returns the picture upright: an EXIF orientation tag is applied.

    Taught in lesson 00.
    """
    require_choice("mode", mode, MODES)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a file path (str or pathlib.Path), got {describe(path)}")
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"path: expected an image file, but {str(file)!r} "
                                f"{'is a directory' if file.is_dir() else 'does not exist'}")
    _, decode, _, _ = _current()
    return decode(file, mode)


def encode_png(image: torch.Tensor, path: str | os.PathLike[str]) -> None:
    """Write a ``uint8`` C×H×W tensor (1 or 3 channels, on any device) to ``path`` as a PNG file.

    Taught in lesson 01.
    """
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image: expected a uint8 tensor laid out C×H×W, got {describe(image)}")
    if image.dtype != torch.uint8 or image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"image: expected a uint8 tensor of shape (C, H, W) with C = 1 or 3, got {describe(image)}")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a file path (str or pathlib.Path), got {describe(path)}")
    file = Path(path)
    if not file.parent.is_dir():
        raise FileNotFoundError(f"path: expected a file in an existing folder, got {str(file)!r} (the folder "
                                f"{str(file.parent)!r} does not exist; create it first)")
    _, _, encode, _ = _current()
    encode(image.detach().cpu().contiguous(), file)
