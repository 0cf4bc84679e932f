"""The one repository-URL setting: ``[tool.course]`` in pyproject.toml.

    [tool.course]
    repository_url = "https://github.com/image-course/pytorch-image-classification"
    release_ref = "v0.1.0"

The student edition is published at ``repository_url``; ``release_ref`` is the tag (or
branch) students use. Colab links (``.../blob/<ref>/notebooks/...``) and the notebooks'
set-up cell (``COURSE_REPO`` / ``COURSE_REF``: in a fresh Colab runtime it pip-installs the
release archive ``URL/archive/REF.zip``, keeping Colab's torch and torchvision) are derived from it.

    python -m tools.repo_url             # print the setting and the derived links
    python -m tools.repo_url --check     # exit 1 if a README or solution set-up cell disagrees
    python -m tools.repo_url --rewrite   # rewrite them after changing the setting
                                         # (then run `python -m tools.regenerate`)
"""

from __future__ import annotations

import argparse
import re
import sys
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (the oldest supported stack)
    import tomli as tomllib
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as `python tools/repo_url.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.course import RELEASE_DIR, REPO_ROOT, SOURCE_DIR

#: The first code cell of every lesson (see DESIGN notes); a test checks it character for character.
SETUP_CELL_TEMPLATE = """\
# Set-up: makes `course_utils` importable and prints the device, image backend and run mode.
import importlib.metadata, importlib.util, os, subprocess, sys
if importlib.util.find_spec("course_utils") is None:  # a fresh Colab runtime (elsewhere: see the README)
    COURSE_REPO = "{repository_url}"
    COURSE_REF = "{release_ref}"
    package = os.environ.get("COURSE_PACKAGE", f"{{COURSE_REPO}}/archive/{{COURSE_REF}}.zip")  # or a release archive
    # Install only what is missing; naming the installed torch and torchvision keeps pip from replacing them.
    keep = [f"{{name}}=={{importlib.metadata.version(name)}}" for name in ("torch", "torchvision")
            if importlib.util.find_spec(name) is not None]
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", package, *keep], check=True)
    importlib.invalidate_caches()
import course_utils as cu
cu.show_setup()"""

_COLAB_PREFIX = re.compile(
    r"https://colab\.research\.google\.com/github/[^/\s]+/[^/\s]+/blob/[^\s)\"'\]]+?/(?=notebooks/)")
_PIP_SPEC = re.compile(r"https://github\.com/[^/\s]+/[^/\s]+/archive/[^\s\"'\\)`]+?\.zip")
_ASSIGN = {name: re.compile(name + r' = (\\?")([^"\\]*)(\\?")') for name in ("COURSE_REPO", "COURSE_REF")}


@dataclass(frozen=True)
class CourseSettings:
    """``[tool.course]`` of pyproject.toml."""

    repository_url: str
    release_ref: str

    @property
    def github_path(self) -> str:
        """``owner/name`` of the GitHub repository."""
        match = re.fullmatch(r"https://github\.com/([^/]+/[^/]+?)(?:\.git)?/?", self.repository_url)
        if match is None:
            raise ValueError(f"[tool.course] repository_url: expected https://github.com/<owner>/<name>, "
                             f"got {self.repository_url!r}")
        return match.group(1)

    @property
    def pip_spec(self) -> str:
        """What the set-up cell installs in Colab: the release archive (pip needs no git for it)."""
        return f"{self.repository_url.rstrip('/')}/archive/{self.release_ref}.zip"

    def colab_url(self, lesson: str) -> str:
        """The Colab link that opens a lesson's student notebook from the published edition."""
        return (f"https://colab.research.google.com/github/{self.github_path}/blob/{self.release_ref}/"
                f"{RELEASE_DIR}/{lesson}/{lesson}.ipynb")

    def setup_cell(self) -> str:
        """The exact source of the set-up cell."""
        return SETUP_CELL_TEMPLATE.format(repository_url=self.repository_url, release_ref=self.release_ref)


def read_settings(root: Path = REPO_ROOT) -> CourseSettings:
    """Read ``[tool.course]`` from ``root/pyproject.toml``."""
    with open(root / "pyproject.toml", "rb") as handle:
        data = tomllib.load(handle)
    try:
        section = data["tool"]["course"]
        return CourseSettings(str(section["repository_url"]), str(section["release_ref"]))
    except KeyError as exc:
        raise KeyError(f"pyproject.toml: [tool.course] needs repository_url and release_ref (missing {exc})") from None


def rewrite_text(text: str, settings: CourseSettings, old_urls: frozenset[str] | set[str] = frozenset()) -> str:
    """Point every course link in ``text`` (Markdown or raw .ipynb JSON) at ``settings``."""
    text = _COLAB_PREFIX.sub(f"https://colab.research.google.com/github/{settings.github_path}/blob/"
                             f"{settings.release_ref}/", text)
    text = _PIP_SPEC.sub(settings.pip_spec, text)
    text = _ASSIGN["COURSE_REPO"].sub(
        lambda m: f"COURSE_REPO = {m.group(1)}{settings.repository_url}{m.group(3)}", text)
    text = _ASSIGN["COURSE_REF"].sub(lambda m: f"COURSE_REF = {m.group(1)}{settings.release_ref}{m.group(3)}", text)
    for old in sorted(set(old_urls) - {settings.repository_url}):
        text = text.replace(old, settings.repository_url)
    return text


def target_files(root: Path = REPO_ROOT) -> list[Path]:
    """Files that carry the URL: README.md and the solution notebooks (notebooks/ is regenerated;
    README-student.md is rendered from its template, see ``stale_files``)."""
    files = [root / "README.md"] if (root / "README.md").exists() else []
    return files + sorted((root / SOURCE_DIR).glob("*/*.ipynb"))


def old_urls(root: Path = REPO_ROOT) -> set[str]:
    """Repository URLs currently written in the solutions' set-up cells."""
    found = set()
    for path in sorted((root / SOURCE_DIR).glob("*/*.ipynb")):
        found |= {m.group(2) for m in _ASSIGN["COURSE_REPO"].finditer(path.read_text(encoding="utf-8"))}
    return {u for u in found if u.startswith("https://")}


def stale_files(root: Path = REPO_ROOT, *, write: bool = False) -> list[Path]:
    """Files whose links disagree with the setting (rewritten in place when ``write``)."""
    settings = read_settings(root)
    previous = old_urls(root)
    stale = []
    for path in target_files(root):
        text = path.read_text(encoding="utf-8")
        new = rewrite_text(text, settings, previous)
        if new != text:
            stale.append(path)
            if write:
                path.write_text(new, encoding="utf-8")
    from tools.build_student_edition import STUDENT_README, render_readme  # it imports this module
    from tools.course import find_lessons

    student = root / STUDENT_README
    rendered = render_readme(root, find_lessons(root), settings)
    if not student.exists() or student.read_text(encoding="utf-8") != rendered:
        stale.append(student)
        if write:
            student.write_text(rendered, encoding="utf-8")
    return stale


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="exit 1 if any file disagrees with the setting")
    group.add_argument("--rewrite", action="store_true", help="rewrite the files that disagree")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    settings = read_settings(root)
    if not (args.check or args.rewrite):
        print(f"repository_url = {settings.repository_url}\nrelease_ref    = {settings.release_ref}\n"
              f"pip install    {settings.pip_spec}\nColab (first)  "
              f"{settings.colab_url('<lesson>')}")
        return 0
    stale = stale_files(root, write=args.rewrite)
    for path in stale:
        print(("rewrote " if args.rewrite else "out of date: ") + str(path.relative_to(root)))
    if args.rewrite:
        if any(p.suffix == ".ipynb" for p in stale):
            print("now run: python -m tools.regenerate")
        return 0
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
