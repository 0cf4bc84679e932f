"""Data hygiene: listing image files and finding byte-identical copies across splits.

A test image that is also a training image (copied, renamed, or re-downloaded) makes a test
score a memory test. ``find_duplicate_files`` compares files by content (SHA-256), so names and
folders do not matter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from ._validate import require_file

__all__ = ["IMAGE_SUFFIXES", "file_digest", "find_duplicate_files", "image_files"]

#: The file suffixes counted as images (lower case).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})


def image_files(folder: str | Path) -> list[Path]:
    """Every image file below ``folder`` (any depth), sorted, by suffix (.jpg, .png, ...). Taught in lesson 04."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder: expected an existing directory, got {str(folder)!r} (not found)")
    return sorted(path for path in folder.rglob("*") if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)


def file_digest(path: str | Path) -> str:
    """The SHA-256 of a file's bytes as hex: equal digests mean identical contents, whatever the names.

    Taught in lesson 04.
    """
    path = require_file("path", path)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def find_duplicate_files(
    files: Iterable[str | Path], reference_files: Iterable[str | Path]
) -> list[tuple[Path, Path]]:
    """Pairs ``(file, reference_file)`` whose contents are byte-for-byte identical.

    Typical use: ``files`` = the test images, ``reference_files`` = the training
    images; every pair is a test image the model may have memorised. Names do not
    matter — two files called ``0001.jpg`` in different class folders are usually
    different pictures, and a copy renamed ``0001 (1).jpg`` is still the same one.
    Re-encoded or resized copies are *not* found (their bytes differ). Sorted by file.

    Taught in lesson 04.
    """
    files = [require_file("files", file) for file in files]
    reference_files = [require_file("reference_files", file) for file in reference_files]
    by_digest: dict[str, Path] = {}
    for reference in reference_files:
        by_digest.setdefault(file_digest(reference), reference)
    pairs = []
    for file in files:
        match = by_digest.get(file_digest(file))
        if match is not None:
            pairs.append((Path(file), match))
    return sorted(pairs)
