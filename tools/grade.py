"""Grade collected submissions with nbgrader: autograde, feedback, CSV export.

    python -m tools.grade autograde [LESSON ...]   # check, register, `nbgrader autograde` each lesson
    python -m tools.grade feedback  [LESSON ...]   # `nbgrader generate_feedback` -> grading/feedback/
    python -m tools.grade export                   # `nbgrader export` -> grading/grades.csv
    python -m tools.grade scores    [LESSON ...]   # print the scores from the gradebook

Submissions live in ``grading/submitted/<student>/<lesson>/<lesson>.ipynb``; the class is the
roster ``grading/roster.csv`` (columns ``id,name``). Without LESSON arguments every lesson that
has submissions is processed. ``autograde`` first runs the submission check
(``tools.check_submissions``: every entry accounted for against the roster) and stops if a
problem remains (fix it, e.g. with ``python -m tools.check_submissions --restore``, excuse it in
``grading/excused.csv``, or pass ``--skip-check``), then registers the lessons and every roster
student in the gradebook (``nbgrader generate_assignment <lesson> --force`` into the scratch
folder ``grading/release/`` records the notebooks, test cells and points from ``solutions/``
without touching ``notebooks/``), then runs ``nbgrader autograde <lesson> --force`` for the
roster's students only, with nbgrader's known-harmless warnings filtered out, and ends with a
summary per student: score per lesson (a missing submission is a 0, as in ``grades.csv``), the
cells that raised an error and the cells cut off by the time limit. A student left without an
autograded notebook (typically a kernel that failed to start because another program took its
port) is graded once more on their own. Notebooks run in the quick mode (nbgrader sets ``NBGRADER_EXECUTION``) with
offline stand-ins allowed (``COURSE_ALLOW_STANDINS=1``) so grading never depends on a download.
Extra options after ``--`` go to nbgrader, e.g. ``-- --Execute.timeout=1200``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

if __package__ in (None, ""):  # run as `python tools/grade.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.check_submissions import (
    EXCUSED_FILE,
    ROSTER_FILE,
    check_folder,
    print_reports,
    read_excused,
    read_roster,
    students_not_graded,
)
from tools.course import (
    GRADING_DIR,
    RELEASE_DIR,
    REPO_ROOT,
    find_lessons,
    grade_id,
    quick_env,
    read_notebook,
    run_nbgrader,
    with_this_python_on_path,
)

SCRATCH_RELEASE = f"{GRADING_DIR}/release"


def submitted_lessons(root: Path, step: str = "submitted") -> list[str]:
    """Lessons that have at least one ``grading/<step>/<student>/<lesson>/`` folder."""
    base = root / GRADING_DIR / step
    found = {p.name for p in base.glob("*/*") if p.is_dir()} if base.is_dir() else set()
    return sorted(found & set(find_lessons(root)))


def register(root: Path, lessons: list[str]) -> None:
    """Record the lessons' notebooks, test cells and points in the gradebook (nbgrader's own way)."""
    for lesson in lessons:
        run_nbgrader(["generate_assignment", lesson, "--force", "--log-level=WARN",
                      f"--CourseDirectory.release_directory={SCRATCH_RELEASE}"], cwd=root)


def add_students(root: Path, roster: dict[str, str]) -> None:
    """Put every roster student in the gradebook, so a missing submission counts as 0 everywhere."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / GRADING_DIR / 'gradebook.db'}") as gb:
        for student, name in roster.items():
            first, _, last = name.partition(" ")
            gb.update_or_create_student(student, first_name=first or None, last_name=last or None)


def scores(root: Path, lessons: list[str]) -> list[tuple[str, str, float, float]]:
    """(lesson, student, score, max_score) for every student of the gradebook and every lesson in it.

    A student without a submission scores 0, as in ``nbgrader export`` (grades.csv).
    """
    from nbgrader.api import Gradebook, MissingEntry

    db_url = f"sqlite:///{root / GRADING_DIR / 'gradebook.db'}"
    rows = []
    with Gradebook(db_url) as gb:
        students = [s.id for s in gb.students]
        for lesson in lessons:
            try:
                assignment = gb.find_assignment(lesson)
            except MissingEntry:
                continue
            graded = {s.student_id: s for s in assignment.submissions}
            for student in students:
                sub = graded.get(student)
                rows.append((lesson, student, float(sub.score) if sub else 0.0, float(assignment.max_score)))
    return sorted(rows)


#: nbgrader log lines that say nothing an instructor must act on: a locked test cell's checksum
#: always "changes" because nbgrader puts the hidden tests back before grading; SQLAlchemy warns
#: about nbgrader's own queries (the warning and the source line under it); ipykernel warns that
#: its local kernels talk over TCP; nbconvert offers the feedback preprocessors an option they ignore.
HARMLESS = re.compile(
    r"Attribute 'checksum' for cell \S+ has changed!|SAWarning|Kernel is running over TCP without encryption"
    r"|Config option `display_data_priority` not recognized")
#: nbgrader's INFO lines are a dozen per student; one progress line per student replaces them.
STUDENT = re.compile(r"\| INFO\] Creating/updating student with ID '([^']+)'")
INFO = re.compile(r"^\[\w+ \| INFO\]")


def readable(lines: Iterable[str]) -> Iterator[str]:
    """nbgrader's output without its known-harmless lines and INFO chatter; a count of what was left out."""
    hidden = 0
    after_warning = False
    for line in lines:
        if HARMLESS.search(line) or (after_warning and line.startswith((" ", "\t"))):
            hidden += 1
            after_warning = "SAWarning" in line or (after_warning and line.startswith((" ", "\t")))
            continue
        after_warning = False
        student = STUDENT.search(line)
        if student:
            yield f"  grading {student.group(1)}\n"
        elif not INFO.match(line):
            yield line
    if hidden:
        yield f"({hidden} known-harmless nbgrader warning lines not shown: test-cell checksums, SQLAlchemy, ...)\n"


def run_filtered(args: list[str], *, cwd: Path, env: dict[str, str]) -> int:
    """Run ``nbgrader ARGS``, print its output through ``readable``, return its exit code."""
    print("$ nbgrader " + " ".join(args), flush=True)
    proc = subprocess.Popen([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=with_this_python_on_path(env), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    for line in readable(proc.stdout):
        print(line, end="", flush=True)
    return proc.wait()


def not_autograded(root: Path, lesson: str, roster: dict[str, str]) -> list[str]:
    """Roster students who submitted ``lesson`` but have no autograded notebook of it."""
    submitted = root / GRADING_DIR / "submitted"
    return sorted(student for student in roster
                  if (submitted / student / lesson).is_dir()
                  and not (root / GRADING_DIR / "autograded" / student / lesson / f"{lesson}.ipynb").exists())


def autograde(root: Path, lesson: str, roster: dict[str, str], options: list[str], env: dict[str, str]) -> bool:
    """``nbgrader autograde LESSON --force OPTIONS``; True when it succeeded for every roster student.

    A kernel that fails to start (another program took its port between jupyter_client choosing
    it and the kernel binding it) leaves a student without an autograded notebook; each such
    student is graded once more on their own.
    """
    ok = run_filtered(["autograde", lesson, "--force", *options], cwd=root, env=env) == 0
    retry = not_autograded(root, lesson, roster)
    if not retry:
        return ok
    print(f"no autograded notebook for {', '.join(retry)}: grading them once more")
    codes = [run_filtered(["autograde", lesson, "--force", f"--student={student}", *options], cwd=root, env=env)
             for student in retry]
    return not any(codes) and not not_autograded(root, lesson, roster)


def cell_problems(root: Path, lesson: str, student: str) -> tuple[list[str], list[str]]:
    """The cells of a student's autograded notebook that raised an error, and those cut off by the time limit."""
    path = root / GRADING_DIR / "autograded" / student / lesson / f"{lesson}.ipynb"
    if not path.exists():
        return [], []
    errors, timeouts = [], []
    for index, cell in enumerate(read_notebook(path).cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                name = grade_id(cell) or f"cell {index}"
                timed_out = out.get("ename") in {"CellTimeoutError", "KeyboardInterrupt", "TimeoutError"}
                (timeouts if timed_out else errors).append(name)
    return errors, timeouts


def print_summary(root: Path, lessons: list[str], roster: dict[str, str] | None) -> None:
    """One line per student and lesson: score, the cells that errored, time-outs."""
    rows = scores(root, lessons)
    print("\n== grading summary (missing submissions score 0, as in grades.csv)")
    print(f"{'student':24s} {'lesson':28s} {'score':>13s}  notes")
    for lesson, student, score, max_score in sorted(rows, key=lambda r: (r[1], r[0])):
        submitted = (root / GRADING_DIR / "autograded" / student / lesson).is_dir()
        errors, timeouts = cell_problems(root, lesson, student)
        notes = [] if submitted else ["no submission"]
        if timeouts:
            notes.append(f"time limit hit in {', '.join(dict.fromkeys(timeouts))}")
        errors = [cell for cell in dict.fromkeys(errors) if cell not in timeouts]
        if errors:
            notes.append(f"errors in {len(errors)} cells: {', '.join(errors[:3])}{' ...' if len(errors) > 3 else ''}")
        who = f"{student} ({roster[student]})" if roster and roster.get(student) else student
        print(f"{who:24s} {lesson:28s} {score:6.1f} / {max_score:4.1f}  {'; '.join(notes)}")


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

    roster_path = root / GRADING_DIR / ROSTER_FILE
    roster = None
    if roster_path.exists() or args.command == "autograde":
        try:
            roster = read_roster(roster_path)
        except (FileNotFoundError, ValueError) as error:
            print(error, file=sys.stderr)
            return 2

    if args.command == "export":
        if roster is not None:
            add_students(root, roster)
        run_nbgrader(["export", *extra], cwd=root, env=env)
        print(f"grades written to {GRADING_DIR}/grades.csv")
        return 0

    step = {"autograde": "submitted", "feedback": "autograded", "scores": "autograded"}[args.command]
    lessons = args.lessons or submitted_lessons(root, step)
    if not lessons:
        print(f"nothing to do: no lesson folders under {GRADING_DIR}/{step}/<student>/", file=sys.stderr)
        return 1

    if args.command == "autograde":
        assert roster is not None
        submitted = root / GRADING_DIR / "submitted"
        reports = check_folder(submitted, root / RELEASE_DIR, lessons, roster=roster,
                               excused=read_excused(root / GRADING_DIR / EXCUSED_FILE))
        if any(r.remaining for r in reports):
            print_reports(reports, submitted)
            if not args.skip_check:
                print("Stopped before grading: fix these first (python -m tools.check_submissions --restore), "
                      f"excuse them in {GRADING_DIR}/{EXCUSED_FILE}, or rerun with --skip-check.", file=sys.stderr)
                return 1
        register(root, lessons)
        add_students(root, roster)
        outsiders = students_not_graded(submitted, roster)
        exclude = [f"--CourseDirectory.student_id_exclude={','.join(outsiders)}"] if outsiders else []
        failed = []
        for lesson in lessons:
            start = time.monotonic()
            if not autograde(root, lesson, roster, [*exclude, *extra], env):
                failed.append(lesson)
            print(f"autograde {lesson}: {time.monotonic() - start:.0f} s")
        print_summary(root, lessons, roster)
        if failed:
            print(f"nbgrader autograde reported errors for: {failed} (see the log above)", file=sys.stderr)
            return 1
        return 0

    if args.command == "feedback":
        for lesson in lessons:
            if run_filtered(["generate_feedback", lesson, "--force", *extra], cwd=root, env=env) != 0:
                print(f"nbgrader generate_feedback {lesson} failed (see above)", file=sys.stderr)
                return 1
        print(f"feedback written to {GRADING_DIR}/feedback/<student>/<lesson>/ (no hidden tests in it)")
        return 0

    if roster is not None:
        add_students(root, roster)
    print_summary(root, lessons, roster)
    return 0


if __name__ == "__main__":
    sys.exit(main())
