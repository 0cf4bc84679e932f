"""Build the student edition: the tree published at ``[tool.course] repository_url``.

    python -m tools.build_student_edition ../student-edition          # a new folder
    python -m tools.build_student_edition ../student-edition --force  # refresh a checkout (keeps .git)

It holds ``notebooks/`` (the generated student notebooks), ``course_utils/``, ``README.md``
(README-student.md: rendered from tools/templates/README-student.md with the Colab links of
release_ref; ``python -m tools.repo_url --rewrite`` keeps it current), ``environment.yml``,
``pyproject.toml`` and any lock/constraints file — and never ``solutions/``, hidden tests,
tests, tools or the grading folder. The build first checks that ``notebooks/`` is up to date
with ``solutions/`` (skip with ``--no-check``) and finally scans the result for solution or
hidden-test text; it fails (exit 1) if it finds any. Publish it by committing the folder to
the edition repository and tagging it with release_ref.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python tools/build_student_edition.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.course import (
    HIDDEN_TEST_MARKERS,
    RELEASE_DIR,
    REPO_ROOT,
    SOLUTION_MARKERS,
    SOURCE_DIR,
    find_lessons,
    read_notebook,
    release_path,
    secret_lines,
    source_path,
    source_text,
)
from tools.repo_url import CourseSettings, read_settings

IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info", ".DS_Store")
#: Top-level files copied when present (lock/constraints files included).
TOP_LEVEL_FILES = ("environment.yml", "pyproject.toml", "LICENSE", "LICENSE.md", "LICENSE.txt")
LOCK_GLOBS = ("requirements*.txt", "constraints*.txt", "*.lock", "conda-lock.yml")
#: What must never be in the edition.
FORBIDDEN_PATHS = (SOURCE_DIR, "tests", "tools", "grading", "nbgrader_config.py", "docs/instructor-guide.md")
EDITION_GITIGNORE = "# your own copies of the lessons: git pull never touches them\nmy-work/\n__pycache__/\n.ipynb_checkpoints/\n*.egg-info/\ndata/\n"


def lesson_title(lesson: str, root: Path) -> str:
    """The first Markdown heading of the lesson's student notebook (or the lesson name)."""
    for cell in read_notebook(release_path(lesson, root)).cells:
        if cell.cell_type == "markdown":
            for line in source_text(cell).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return lesson


def lessons_table(lessons: list[str], settings: CourseSettings, root: Path) -> str:
    """Markdown table of the lessons with their Colab links."""
    rows = ["| # | Lesson | Notebook | Colab |", "|---|---|---|---|"]
    for lesson in lessons:
        number = lesson.split("_", 1)[0]
        rows.append(f"| {number} | {lesson_title(lesson, root)} | [{RELEASE_DIR}/{lesson}/{lesson}.ipynb]"
                    f"({RELEASE_DIR}/{lesson}/{lesson}.ipynb) | [Open in Colab]({settings.colab_url(lesson)}) |")
    return "\n".join(rows)


def conda_env_name(root: Path) -> str:
    """The ``name:`` of environment.yml (default ``image-course``)."""
    path = root / "environment.yml"
    if path.exists():
        match = re.search(r"^name:\s*(\S+)", path.read_text(encoding="utf-8"), re.MULTILINE)
        if match:
            return match.group(1)
    return "image-course"


STUDENT_README = "README-student.md"
STUDENT_README_TEMPLATE = Path("tools") / "templates" / "README-student.md"


def render_readme(root: Path, lessons: list[str], settings: CourseSettings) -> str:
    """README-student.md (the edition's README.md), rendered from its template in tools/templates/."""
    text = (root / STUDENT_README_TEMPLATE).read_text(encoding="utf-8")
    values = {
        "repository_url": settings.repository_url,
        "repository_name": settings.github_path.split("/", 1)[1],
        "release_ref": settings.release_ref,
        "pip_spec": settings.pip_spec,
        "conda_env": conda_env_name(root),
        "lessons_table": lessons_table(lessons, settings, root),
    }
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    leftover = re.findall(r"\{\{\w+\}\}", text)
    if leftover:
        raise ValueError(f"README-student.md: unknown placeholders {leftover}")
    return text


def verify_edition(dest: Path, root: Path = REPO_ROOT) -> list[str]:
    """Problems with a built edition: forbidden paths, solution/hidden-test markers or lines."""
    problems = [f"must not be in the edition: {name}" for name in FORBIDDEN_PATHS if (dest / name).exists()]
    for name in (RELEASE_DIR, "course_utils", "README.md", "pyproject.toml"):
        if not (dest / name).exists():
            problems.append(f"missing from the edition: {name}")
    markers = [m.lstrip("# ") for m in (*SOLUTION_MARKERS, *HIDDEN_TEST_MARKERS)]
    secrets = {lesson: secret_lines(read_notebook(source_path(lesson, root))) for lesson in find_lessons(root)}
    for path in sorted(p for p in dest.rglob("*") if p.is_file() and ".git" not in p.relative_to(dest).parts):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        rel = path.relative_to(dest)
        for marker in markers:
            if marker in text:
                problems.append(f"{rel}: contains '{marker}'")
        if path.suffix == ".ipynb" and path.stem in secrets:
            lines = {line.strip() for cell in read_notebook(path).cells for line in source_text(cell).splitlines()}
            for line in sorted(lines & secrets[path.stem]):
                problems.append(f"{rel}: contains a solution/hidden-test line: {line[:80]!r}")
    return problems


def _clear(dest: Path) -> None:
    for child in dest.iterdir():
        if child.name == ".git":
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def build(dest: Path, root: Path = REPO_ROOT, *, force: bool = False, check: bool = True) -> list[str]:
    """Build the edition into ``dest``; return the problems found in it (empty = good)."""
    dest = dest.resolve()
    root = root.resolve()
    if dest == root or root in dest.parents or dest in root.parents:
        raise SystemExit(f"refusing to build into {dest}: it overlaps the course repository {root}")
    if dest.exists() and any(p.name != ".git" for p in dest.iterdir()):
        if not force:
            raise SystemExit(f"{dest} is not empty; pass --force to replace its contents (a .git folder is kept)")
        _clear(dest)
    lessons = find_lessons(root)
    if check:
        from tools.regenerate import check as check_release

        stale = check_release(root, lessons)
        if stale:
            raise SystemExit("notebooks/ is not up to date with solutions/:\n  " + "\n  ".join(stale)
                             + "\nrun `python -m tools.regenerate` first")
    settings = read_settings(root)
    dest.mkdir(parents=True, exist_ok=True)
    for lesson in lessons:
        shutil.copytree(root / RELEASE_DIR / lesson, dest / RELEASE_DIR / lesson, ignore=IGNORED)
    shutil.copytree(root / "course_utils", dest / "course_utils", ignore=IGNORED)
    for name in TOP_LEVEL_FILES:
        if (root / name).exists():
            shutil.copy2(root / name, dest / name)
    for pattern in LOCK_GLOBS:
        for path in sorted(root.glob(pattern)):
            shutil.copy2(path, dest / path.name)
    readme = render_readme(root, lessons, settings)
    if (root / STUDENT_README).read_text(encoding="utf-8") != readme:
        raise SystemExit(f"{STUDENT_README} is out of date: run `python -m tools.repo_url --rewrite` first")
    (dest / "README.md").write_text(readme, encoding="utf-8")
    (dest / ".gitignore").write_text(EDITION_GITIGNORE, encoding="utf-8")
    return verify_edition(dest, root)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dest", type=Path, help="target folder (outside the course repository)")
    parser.add_argument("--force", action="store_true", help="replace the contents of a non-empty target (keeps .git)")
    parser.add_argument("--no-check", action="store_true", help="skip the notebooks/-is-up-to-date check")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    problems = build(args.dest, args.root, force=args.force, check=not args.no_check)
    for line in problems:
        print("PROBLEM " + line)
    if problems:
        return 1
    settings = read_settings(args.root.resolve())
    print(f"student edition built in {args.dest.resolve()} ({len(find_lessons(args.root.resolve()))} lessons); "
          f"publish it at {settings.repository_url} with tag/branch {settings.release_ref}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
