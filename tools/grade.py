"""Grade collected submissions with nbgrader: autograde, feedback, CSV export.

    python -m tools.grade autograde [LESSON ...]   # check, register, `nbgrader autograde` each lesson
    python -m tools.grade feedback  [LESSON ...]   # `nbgrader generate_feedback` -> grading/feedback/
    python -m tools.grade export                   # `nbgrader export` -> grading/grades.csv
    python -m tools.grade scores    [LESSON ...]   # print the scores from the gradebook

Submissions live in ``grading/submitted/<student>/<lesson>/<lesson>.ipynb``. Without LESSON
arguments every lesson that has submissions is processed. ``autograde`` first runs the
submission check (``tools.check_submissions``) and stops if a problem remains (fix it, e.g.
with ``python -m tools.check_submissions --restore``, or pass ``--skip-check``), then
registers the lessons in the gradebook (``nbgrader generate_assignment <lesson> --force``
into the scratch folder ``grading/release/``, which records the notebooks, test cells and
points from ``solutions/`` without touching ``notebooks/``), then runs ``nbgrader autograde
<lesson> --force``. Notebooks run in the quick mode (nbgrader sets ``NBGRADER_EXECUTION``) with
offline stand-ins allowed (``COURSE_ALLOW_STANDINS=1``) so grading never depends on a download.
Extra options after ``--`` go to nbgrader, e.g. ``-- --Execute.timeout=1200``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python tools/grade.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.check_submissions import check_folder, print_reports
from tools.course import GRADING_DIR, RELEASE_DIR, REPO_ROOT, find_lessons, quick_env, run_nbgrader

SCRATCH_RELEASE = f"{GRADING_DIR}/release"


def submitted_lessons(root: Path, step: str = "submitted") -> list[str]:
    """Lessons that have at least one ``grading/<step>/<student>/<lesson>/`` folder."""
    base = root / GRADING_DIR / step
    found = {p.name for p in base.glob("*/*") if p.is_dir()} if base.is_dir() else set()
    return sorted(found & set(find_lessons(root)))


def register(root: Path, lessons: list[str]) -> None:
    """Record the lessons' notebooks, test cells and points in the gradebook (nbgrader's own way)."""
    for lesson in lessons:
        run_nbgrader(["generate_assignment", lesson, "--force",
                      f"--CourseDirectory.release_directory={SCRATCH_RELEASE}"], cwd=root)


def scores(root: Path, lessons: list[str]) -> list[tuple[str, str, float, float]]:
    """(lesson, student, score, max_score) for every graded submission, from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    db_url = f"sqlite:///{root / GRADING_DIR / 'gradebook.db'}"
    rows = []
    with Gradebook(db_url) as gb:
        for lesson in lessons:
            try:
                assignment = gb.find_assignment(lesson)
            except MissingEntry:
                continue
            for submission in assignment.submissions:
                rows.append((lesson, submission.student_id, float(submission.score), float(submission.max_score)))
    return sorted(rows)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["autograde", "feedback", "export", "scores"])
    parser.add_argument("lessons", nargs="*", help="lesson names (default: every lesson with submissions)")
    parser.add_argument("--skip-check", action="store_true", help="autograde even if the submission check fails")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    unknown = sorted(set(args.lessons) - set(find_lessons(root)))
    if unknown:
        print(f"unknown lesson(s): {unknown}", file=sys.stderr)
        return 2
    env = quick_env(root=root)

    if args.command == "export":
        run_nbgrader(["export", *extra], cwd=root, env=env)
        print(f"grades written to {GRADING_DIR}/grades.csv")
        return 0

    step = {"autograde": "submitted", "feedback": "autograded", "scores": "autograded"}[args.command]
    lessons = args.lessons or submitted_lessons(root, step)
    if not lessons:
        print(f"nothing to do: no lesson folders under {GRADING_DIR}/{step}/<student>/", file=sys.stderr)
        return 1

    if args.command == "autograde":
        reports = check_folder(root / GRADING_DIR / "submitted", root / RELEASE_DIR, lessons)
        if any(r.remaining for r in reports):
            print_reports(reports, root / GRADING_DIR / "submitted")
            if not args.skip_check:
                print("Stopped before grading: fix these first (python -m tools.check_submissions --restore), "
                      "or rerun with --skip-check.", file=sys.stderr)
                return 1
        register(root, lessons)
        failed = []
        for lesson in lessons:
            result = run_nbgrader(["autograde", lesson, "--force", *extra], cwd=root, env=env, check=False)
            if result.returncode != 0:
                failed.append(lesson)
        for lesson, student, score, max_score in scores(root, lessons):
            print(f"{lesson:32s} {student:24s} {score:6.1f} / {max_score:.1f}")
        if failed:
            print(f"nbgrader autograde reported errors for: {failed} (see the log above)", file=sys.stderr)
            return 1
        return 0

    if args.command == "feedback":
        for lesson in lessons:
            run_nbgrader(["generate_feedback", lesson, "--force", *extra], cwd=root, env=env)
        print(f"feedback written to {GRADING_DIR}/feedback/<student>/<lesson>/")
        return 0

    for lesson, student, score, max_score in scores(root, lessons):
        print(f"{lesson:32s} {student:24s} {score:6.1f} / {max_score:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
