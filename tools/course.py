"""What the tools share: where things are, which lessons exist, how nbgrader is run.

A lesson is a folder ``solutions/<lesson>/`` holding ``<lesson>.ipynb`` (the nbgrader
source notebook); its student notebook is ``notebooks/<lesson>/<lesson>.ipynb``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import nbformat
from nbformat import NotebookNode

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIR = "solutions"
RELEASE_DIR = "notebooks"
GRADING_DIR = "grading"

#: Markers nbgrader replaces/removes when it generates the student notebooks.
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_TEST_MARKERS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
#: Environment every notebook execution of the tools and tests gets (small data, offline stand-ins).
QUICK_ENV = {"COURSE_QUICK": "1", "COURSE_ALLOW_STANDINS": "1"}


def find_lessons(root: Path = REPO_ROOT) -> list[str]:
    """Names of the lessons: every ``solutions/<name>/<name>.ipynb``, sorted."""
    return sorted(p.parent.name for p in (root / SOURCE_DIR).glob("*/*.ipynb") if p.stem == p.parent.name)


def source_path(lesson: str, root: Path = REPO_ROOT) -> Path:
    """The nbgrader source notebook of ``lesson``."""
    return root / SOURCE_DIR / lesson / f"{lesson}.ipynb"


def release_path(lesson: str, root: Path = REPO_ROOT) -> Path:
    """The generated student notebook of ``lesson``."""
    return root / RELEASE_DIR / lesson / f"{lesson}.ipynb"


def read_notebook(path: Path) -> NotebookNode:
    """Read a notebook as nbformat v4."""
    return nbformat.read(path, as_version=4)


def nbgrader_meta(cell: Mapping) -> dict:
    """The cell's ``nbgrader`` metadata (empty dict when absent)."""
    return dict(cell.get("metadata", {}).get("nbgrader", {}) or {})


def grade_id(cell: Mapping) -> str | None:
    """The cell's nbgrader ``grade_id`` or None."""
    return nbgrader_meta(cell).get("grade_id")


def is_grade_cell(cell: Mapping) -> bool:
    """A test cell that nbgrader scores."""
    return bool(nbgrader_meta(cell).get("grade"))


def is_solution_cell(cell: Mapping) -> bool:
    """A cell the student answers in."""
    return bool(nbgrader_meta(cell).get("solution"))


def source_text(cell: Mapping) -> str:
    """The cell source as one string (nbformat may store a list of lines)."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def marked_regions(text: str, markers: tuple[str, str]) -> list[list[str]]:
    """Lines strictly between each begin/end marker pair of ``text``."""
    regions: list[list[str]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(markers[0]):
            current = []
        elif stripped.startswith(markers[1]):
            if current is not None:
                regions.append(current)
            current = None
        elif current is not None:
            current.append(line)
    return regions


def secret_lines(nb: NotebookNode, min_length: int = 12) -> set[str]:
    """Lines of ``nb``'s solution and hidden-test regions that appear nowhere else in ``nb``.

    These must never reach a student notebook. Comments and short lines (``return x``) are left
    out because they also occur naturally elsewhere.
    """
    secret: set[str] = set()
    public: set[str] = set()
    begins = {SOLUTION_MARKERS[0], HIDDEN_TEST_MARKERS[0]}
    ends = {SOLUTION_MARKERS[1], HIDDEN_TEST_MARKERS[1]}
    for cell in nb.cells:
        inside = False
        for line in source_text(cell).splitlines():
            stripped = line.strip()
            if any(stripped.startswith(m) for m in begins):
                inside = True
            elif any(stripped.startswith(m) for m in ends):
                inside = False
            else:
                (secret if inside else public).add(stripped)
    return {line for line in secret - public if len(line) >= min_length and not line.startswith("#")}


def hidden_test_lines(nb: NotebookNode, min_length: int = 12) -> set[str]:
    """Lines of ``nb``'s hidden tests that appear nowhere else in ``nb`` (what feedback must never show).

    A line that is also written outside the hidden regions (in a visible test, say) is public.
    """
    hidden: set[str] = set()
    public: set[str] = set()
    for cell in nb.cells:
        inside = False
        for line in source_text(cell).splitlines():
            stripped = line.strip()
            if stripped.startswith(HIDDEN_TEST_MARKERS[0]):
                inside = True
            elif stripped.startswith(HIDDEN_TEST_MARKERS[1]):
                inside = False
            else:
                (hidden if inside else public).add(stripped)
    return {line for line in hidden - public if len(line) >= min_length and not line.startswith("#")}


def quick_env(extra: Mapping[str, str] | None = None, root: Path = REPO_ROOT) -> dict[str, str]:
    """The process environment for executing lessons quickly: quick mode, stand-ins, ``course_utils`` importable."""
    env = dict(os.environ)
    env.update(QUICK_ENV)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    if extra:
        env.update(extra)
    return env


def with_this_python_on_path(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with this Python's ``bin/`` first on PATH.

    nbgrader runs ``alembic`` (a console script next to this Python) to create the gradebook; with
    the environment not activated it would not be found.
    """
    env = dict(os.environ if env is None else env)
    scripts = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in (scripts, env.get("PATH", "")) if p)
    return env


def run_nbgrader(
    args: Sequence[str],
    *,
    cwd: Path = REPO_ROOT,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    check: bool = True,
    capture: bool = False,
    echo: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``nbgrader ARGS`` in ``cwd`` (where nbgrader_config.py is) with this Python.

    Echoes the command (``$ nbgrader ...``) so instructors see the real nbgrader call.
    Raises ``subprocess.CalledProcessError`` on failure when ``check``.
    """
    if echo:
        print("$ nbgrader " + shlex.join(args), flush=True)
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=cwd,
        env=with_this_python_on_path(env),
        timeout=timeout,
        check=check,
        text=True,
        capture_output=capture,
    )


def lessons_or_all(requested: Iterable[str], root: Path = REPO_ROOT) -> list[str]:
    """The requested lessons (validated), or every lesson when none is requested."""
    known = find_lessons(root)
    requested = list(requested)
    unknown = [name for name in requested if name not in known]
    if unknown:
        raise SystemExit(f"unknown lesson(s) {unknown}; lessons in {SOURCE_DIR}/: {known}")
    return requested or known
