"""Run lessons top to bottom, as a student would, and report how long each took.

    python -m tools.run_lessons                        # every student notebook, quick mode
    python -m tools.run_lessons --solutions            # the instructor notebooks instead
    python -m tools.run_lessons --full --json t.json   # full mode (e.g. on a GPU), times as JSON
    python -m tools.run_lessons 03_mlp_vs_tinyvgg      # some lessons only
    python -m tools.run_lessons --stop-at-unanswered   # student notebooks with the stubs' tracebacks

Needs only nbclient and ipykernel (not nbgrader), so it runs on every supported stack: CI uses
it on the oldest one, and it is the one script to run on a GPU machine. Each notebook runs in a
scratch copy of its folder (lessons write files next to themselves). A solution notebook must
run without any error. A student notebook runs as "Run All" does for a student
(``course_utils.unanswered``): an unanswered exercise is reported ("Not answered yet") and the lesson
goes on, so it must run without any error, every cell's execute reply "ok", and report at least one
unanswered exercise. With ``--stop-at-unanswered`` (``COURSE_STOP_AT_UNANSWERED=1``: the stubs raise as
under nbgrader) it may fail only in its exercises: an answer cell with ``NotImplementedError`` and the
test cells after the first answer cell. ``COURSE_QUICK=1`` is set unless ``--full``;
``COURSE_ALLOW_STANDINS=1`` is set unless ``--no-standins`` (no internet here).
Exit status 1 when any notebook failed outside its exercises.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as `python tools/run_lessons.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbformat import NotebookNode

from tools.course import (
    RELEASE_DIR,
    REPO_ROOT,
    SOURCE_DIR,
    is_grade_cell,
    is_solution_cell,
    lessons_or_all,
    read_notebook,
    source_text,
)

#: How course_utils.unanswered starts the line that replaces an unanswered exercise's traceback.
from course_utils.unanswered import NOTICE as UNANSWERED_NOTICE  # noqa: E402  (the standard library only)
from course_utils.unanswered import OFF_ENV as STOP_ENV  # noqa: E402


@dataclass(frozen=True)
class LessonRun:
    """The outcome of running one notebook."""

    lesson: str
    edition: str  # "student" or "solution"
    mode: str  # "quick" or "full"
    seconds: float
    problems: list[str]
    exercise_errors: int
    unanswered: tuple[int, ...] = ()  # the cells that reported "Not answered yet" (none with stop_at_unanswered)


def unexpected_errors(nb: NotebookNode, *, student: bool) -> tuple[list[str], int]:
    """Errors in an executed notebook that are not an unanswered exercise, and how many exercise errors.

    ``student``: a student notebook executed with the stubs raising (as nbgrader runs it, or with
    ``COURSE_STOP_AT_UNANSWERED=1``), where an answer cell may raise ``NotImplementedError`` and a test
    cell after the first answer cell may fail (it tests an unanswered exercise). Nothing else may fail,
    and every non-empty code cell must have run.
    """
    problems: list[str] = []
    exercise_errors = 0
    seen_answer = False
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if is_solution_cell(cell):
            seen_answer = True
        if cell.get("execution_count") is None and source_text(cell).strip():
            problems.append(f"cell {i} was not executed")
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            allowed = student and ((is_solution_cell(cell) and out.get("ename") == "NotImplementedError")
                                   or (is_grade_cell(cell) and seen_answer))
            if allowed:
                exercise_errors += 1
            else:
                first = (source_text(cell).splitlines() or [""])[0]
                problems.append(f"cell {i} ({first[:60]!r}) raised {out.get('ename')}: {str(out.get('evalue'))[:200]}")
    return problems, exercise_errors


def unanswered_cells(nb: NotebookNode) -> list[int]:
    """Indices of the cells of an executed notebook that reported an unanswered exercise (and were skipped)."""
    return [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            and any(out.get("output_type") == "stream" and UNANSWERED_NOTICE in str(out.get("text", ""))
                    for out in cell.get("outputs", []))]


def lesson_env(*, full: bool, standins: bool, root: Path = REPO_ROOT,
               stop_at_unanswered: bool = False) -> dict[str, str]:
    """The environment the kernels get: run mode, stand-ins, this clone's course_utils on PYTHONPATH.

    ``stop_at_unanswered`` sets ``COURSE_STOP_AT_UNANSWERED=1``: an unanswered exercise raises (with its
    traceback) as under nbgrader, instead of being reported as "Not answered yet".
    """
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_QUICK", "COURSE_ALLOW_STANDINS", STOP_ENV)}
    if not full:
        env["COURSE_QUICK"] = "1"
    if standins:
        env["COURSE_ALLOW_STANDINS"] = "1"
    if stop_at_unanswered:
        env[STOP_ENV] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


def run_notebook(lesson: str, *, student: bool = True, full: bool = False, standins: bool = True,
                 cell_timeout: int = 900, root: Path = REPO_ROOT, env: Mapping[str, str] | None = None,
                 stop_at_unanswered: bool = False, keep: Path | None = None) -> LessonRun:
    """Execute one lesson's student (or solution) notebook in a scratch copy; never raises for cell errors.

    ``keep``: a folder to write the executed notebook into (``<lesson>.<student|solution>.<full|quick>.ipynb``),
    so its outputs can be read after the run.

    A student notebook runs as Run All does for a student: unanswered exercises reported, no error
    allowed, unless ``stop_at_unanswered`` (the stubs raise, as under nbgrader: errors allowed in exercises).
    """
    from nbclient import NotebookClient

    folder = root / (RELEASE_DIR if student else SOURCE_DIR) / lesson
    with tempfile.TemporaryDirectory(prefix=f"run_{lesson}_") as scratch:
        work = Path(scratch) / lesson
        shutil.copytree(folder, work, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        nb = read_notebook(work / f"{lesson}.ipynb")
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(env or lesson_env(full=full, standins=standins, root=root,
                                            stop_at_unanswered=stop_at_unanswered))
        replied_error: list[int] = []

        def on_cell_executed(cell: NotebookNode, cell_index: int, execute_reply: dict) -> None:
            if execute_reply.get("content", {}).get("status") != "ok":
                replied_error.append(cell_index)

        start = time.perf_counter()
        try:
            client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3", allow_errors=True,
                                    resources={"metadata": {"path": str(work)}}, on_cell_executed=on_cell_executed)
            client.execute()
            crash = None
        except Exception as error:  # noqa: BLE001 - a dead kernel or a cell time-out is reported, not raised
            crash = f"the run stopped: {type(error).__name__}: {str(error)[:300]}"
        finally:
            seconds = time.perf_counter() - start
            os.environ.clear()
            os.environ.update(saved)
    if keep is not None:
        import nbformat

        keep.mkdir(parents=True, exist_ok=True)
        kind = f"{'student' if student else 'solution'}.{'full' if full else 'quick'}"
        nbformat.write(nb, str(keep / f"{lesson}.{kind}.ipynb"))
    problems, exercise_errors = unexpected_errors(nb, student=student and stop_at_unanswered)
    if not (student and stop_at_unanswered):  # every reply must be "ok", or Run All would stop there
        problems += [f"cell {i} ({(source_text(nb.cells[i]).splitlines() or [''])[0][:60]!r}): the kernel replied "
                     "'error' (Run All stops there)" for i in replied_error
                     if not any(o.get("output_type") == "error" for o in nb.cells[i].get("outputs", []))]
    skipped = unanswered_cells(nb)
    if skipped and not student:
        problems += [f"cell {i} reported an unanswered exercise in the solution notebook" for i in skipped]
    if crash:
        problems.insert(0, crash)
    return LessonRun(lesson, "student" if student else "solution", "full" if full else "quick",
                     round(seconds, 1), problems, exercise_errors, tuple(skipped))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lessons", nargs="*", help="lesson folder names (default: all)")
    parser.add_argument("--solutions", action="store_true", help="run solutions/ instead of the student notebooks")
    parser.add_argument("--full", action="store_true", help="full mode (default: quick mode, COURSE_QUICK=1)")
    parser.add_argument("--no-standins", action="store_true", help="fail where a download fails (needs internet)")
    parser.add_argument("--stop-at-unanswered", action="store_true",
                        help=f"student notebooks: unanswered exercises raise, as under nbgrader ({STOP_ENV}=1)")
    parser.add_argument("--cell-timeout", type=int, default=900, help="seconds per cell (default 900)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--keep", type=Path, help="also write the executed notebooks into this folder")
    args = parser.parse_args(argv)
    lessons = lessons_or_all(args.lessons)
    results = []
    for lesson in lessons:
        result = run_notebook(lesson, student=not args.solutions, full=args.full, standins=not args.no_standins,
                              cell_timeout=args.cell_timeout, stop_at_unanswered=args.stop_at_unanswered,
                              keep=args.keep)
        if result.edition == "student" and not args.stop_at_unanswered and not result.unanswered:
            result.problems.append("no cell reported an unanswered exercise, though none is answered")
        results.append(result)
        verdict = "ok" if not result.problems else "FAILED"
        extra = f", {result.exercise_errors} exercise errors as expected" if result.exercise_errors else ""
        extra += f", {len(result.unanswered)} cells skipped as not answered yet" if result.unanswered else ""
        print(f"{lesson:28s} {result.edition:8s} {result.mode:5s} {result.seconds:7.1f} s  {verdict}{extra}", flush=True)
        for problem in result.problems:
            print("    " + problem, flush=True)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n", encoding="utf-8")
    failed = [r.lesson for r in results if r.problems]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed" + (f": {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
