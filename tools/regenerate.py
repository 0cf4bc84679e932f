"""Regenerate the student notebooks (``notebooks/``) from the sources (``solutions/``).

    python -m tools.regenerate            # every lesson
    python -m tools.regenerate 00_images_as_tensors
    python -m tools.regenerate --check    # exit 1 if notebooks/ differs from a fresh generation

Each lesson goes through ``nbgrader generate_assignment <lesson> --force`` (solutions
replaced by the stub, hidden tests and outputs removed, cells locked and checksummed).
The output is byte-reproducible with the pinned nbgrader/nbformat: running it twice gives
identical files. Release folders whose lesson no longer exists in ``solutions/`` are removed.
``--check`` generates into a temporary course folder and leaves the repository untouched.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as `python tools/regenerate.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.course import RELEASE_DIR, REPO_ROOT, SOURCE_DIR, find_lessons, lessons_or_all, run_nbgrader

IGNORED = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.pyc")


def generate(root: Path, lessons: list[str], *, echo: bool = True, capture: bool = False) -> None:
    """Run ``nbgrader generate_assignment <lesson> --force`` in ``root`` for each lesson."""
    for lesson in lessons:
        result = run_nbgrader(["generate_assignment", lesson, "--force", "--log-level=WARN"], cwd=root,
                              echo=echo, capture=capture, check=False)
        if result.returncode != 0:
            detail = (result.stdout or "") + (result.stderr or "") if capture else ""
            raise RuntimeError(f"nbgrader generate_assignment {lesson} failed (exit {result.returncode})\n{detail}")


def remove_orphans(root: Path) -> list[str]:
    """Delete ``notebooks/<x>/`` folders that have no ``solutions/<x>/`` lesson; return their names."""
    lessons = set(find_lessons(root))
    removed = []
    release = root / RELEASE_DIR
    if release.is_dir():
        for folder in sorted(p for p in release.iterdir() if p.is_dir()):
            if folder.name not in lessons:
                shutil.rmtree(folder)
                removed.append(folder.name)
    return removed


def make_scratch_course(root: Path, lessons: list[str], dest: Path) -> Path:
    """Copy nbgrader_config.py and the lessons' source folders of ``root`` into ``dest`` (a scratch course)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / "nbgrader_config.py", dest / "nbgrader_config.py")
    for lesson in lessons:
        shutil.copytree(root / SOURCE_DIR / lesson, dest / SOURCE_DIR / lesson, ignore=IGNORED, dirs_exist_ok=True)
    return dest


def compare_trees(expected: Path, actual: Path) -> list[str]:
    """Differences between two release folders, as readable lines (empty when byte-identical)."""
    problems = []
    exp_files = {p.relative_to(expected) for p in expected.rglob("*") if p.is_file()} if expected.is_dir() else set()
    act_files = {p.relative_to(actual) for p in actual.rglob("*") if p.is_file()} if actual.is_dir() else set()
    for rel in sorted(exp_files - act_files):
        problems.append(f"missing: {rel}")
    for rel in sorted(act_files - exp_files):
        problems.append(f"not generated from {SOURCE_DIR}/ (stale?): {rel}")
    for rel in sorted(exp_files & act_files):
        if not filecmp.cmp(expected / rel, actual / rel, shallow=False):
            problems.append(f"differs from a fresh generation: {rel}")
    return problems


def check(root: Path, lessons: list[str]) -> list[str]:
    """Generate the lessons into a scratch course and compare with ``root/notebooks``; return the differences."""
    with tempfile.TemporaryDirectory(prefix="regen-check-") as tmp:
        scratch = make_scratch_course(root, lessons, Path(tmp))
        generate(scratch, lessons, echo=False, capture=True)
        problems = []
        for lesson in lessons:
            diffs = compare_trees(scratch / RELEASE_DIR / lesson, root / RELEASE_DIR / lesson)
            problems += [f"{RELEASE_DIR}/{lesson}: {d}" for d in diffs]
    release = root / RELEASE_DIR
    if release.is_dir():
        known = set(find_lessons(root))
        problems += [f"{RELEASE_DIR}/{p.name}: no such lesson in {SOURCE_DIR}/" for p in release.iterdir()
                     if p.is_dir() and p.name not in known]
    return problems


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lessons", nargs="*", help="lesson names (default: every lesson in solutions/)")
    parser.add_argument("--check", action="store_true", help="only compare notebooks/ with a fresh generation")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    lessons = lessons_or_all(args.lessons, root)
    if not lessons:
        print(f"no lessons found in {root / SOURCE_DIR}", file=sys.stderr)
        return 1
    if args.check:
        problems = check(root, lessons)
        for line in problems:
            print(line)
        print(f"{len(lessons)} lesson(s) checked: " + ("notebooks/ is up to date" if not problems else
                                                       "run `python -m tools.regenerate` and commit notebooks/"))
        return 1 if problems else 0
    generate(root, lessons)
    if not args.lessons:
        for name in remove_orphans(root):
            print(f"removed {RELEASE_DIR}/{name}/ (its lesson is gone from {SOURCE_DIR}/)")
    print(f"regenerated {len(lessons)} lesson(s) in {RELEASE_DIR}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
