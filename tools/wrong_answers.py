"""Run typical wrong answers, and correct alternatives, against each exercise's tests.

    python -m tools.wrong_answers                      # every lesson that has a wrong-answer file
    python -m tools.wrong_answers 03_mlp_vs_tinyvgg    # one lesson

The answers live in ``tests/wrong_answers/<lesson>.py``: a dict ``ANSWERS`` from an answer cell's
id to a list of ``Answer(name, code)`` (a typical mistake) or ``Answer(name, code, correct=True)``
(an equivalent correct answer). Each lesson runs once, top to bottom in the quick mode, in one
kernel (a scratch copy of its folder). Right after an exercise's test cells have passed on the
solution, every answer for that exercise replaces the answer cell and the test cells run twice:
first as the student sees them (hidden tests removed), then in full, as the grader runs them.
Then the solution is executed again, so the rest of the lesson runs on correct code.

A mistake is *caught visibly* when the student's own test cell fails, *caught by the hidden
tests* when only the grader's fails, and *escapes* when both pass; a correct alternative must
pass both. ``tests/test_wrong_answers.py`` fails when a mistake escapes or an alternative is
rejected, and reports the share caught visibly (the course aims at 60% or more).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as `python tools/wrong_answers.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbformat import NotebookNode
from nbformat.v4 import new_code_cell

from tools.course import (
    HIDDEN_TEST_MARKERS,
    REPO_ROOT,
    SOURCE_DIR,
    grade_id,
    is_grade_cell,
    is_solution_cell,
    read_notebook,
    source_text,
)
from tools.run_lessons import lesson_env

ANSWERS_DIR = REPO_ROOT / "tests" / "wrong_answers"


@dataclass(frozen=True)
class Answer:
    """One answer to an exercise: a typical mistake, or (``correct=True``) an equivalent correct answer.

    Give the whole answer cell as ``code``, or give ``edits``: ``(old, new)`` replacements applied to
    the solution's answer cell (each ``old`` must occur in it, so an answer cannot silently go stale).
    """

    name: str
    code: str = ""
    correct: bool = False
    edits: tuple[tuple[str, str], ...] = ()

    def source(self, solution: str) -> str:
        """The answer cell's code, given the solution's."""
        if self.code:
            return self.code
        if not self.edits:
            raise ValueError(f"answer {self.name!r}: give code or edits")
        for old, new in self.edits:
            if old not in solution:
                raise ValueError(f"answer {self.name!r}: {old!r} is not in the solution any more")
            solution = solution.replace(old, new)
        return solution


@dataclass(frozen=True)
class Outcome:
    """What the tests said about one answer."""

    lesson: str
    exercise: str
    answer: Answer
    visible_failed: bool
    failed: bool
    message: str  # the first line of the first failure, or ""

    @property
    def verdict(self) -> str:
        """"caught visibly", "caught by hidden tests", "escaped", "accepted" or "rejected"."""
        if self.answer.correct:
            return "rejected" if self.failed else "accepted"
        if self.visible_failed:
            return "caught visibly"
        return "caught by hidden tests" if self.failed else "escaped"

    @property
    def ok(self) -> bool:
        """A mistake must fail, an alternative must pass."""
        return self.verdict not in ("escaped", "rejected")


def visible_part(test_code: str) -> str:
    """A test cell as the student sees it: the hidden-test region removed (as nbgrader does)."""
    begin, end = HIDDEN_TEST_MARKERS
    kept, hidden = [], False
    for line in test_code.splitlines():
        if line.strip() == begin:
            hidden = True
        elif line.strip() == end:
            hidden = False
        elif not hidden:
            kept.append(line)
    return "\n".join(kept)


def load_answers(lesson: str, folder: Path = ANSWERS_DIR) -> dict[str, list[Answer]]:
    """``ANSWERS`` of ``tests/wrong_answers/<lesson>.py`` (empty when there is no such file)."""
    path = folder / f"{lesson}.py"
    if not path.exists():
        return {}
    spec = importlib.util.spec_from_file_location(f"wrong_answers_{lesson}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ANSWERS


def exercise_test_cells(nb: NotebookNode) -> dict[str, list[int]]:
    """For each answer cell id, the indices of the test cells between it and the next answer cell."""
    groups: dict[str, list[int]] = {}
    current = None
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if is_solution_cell(cell):
            current = cell.get("id") or grade_id(cell)
            groups[current] = []
        elif is_grade_cell(cell) and current is not None:
            groups[current].append(index)
    return groups


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_lesson(lesson: str, answers: dict[str, list[Answer]] | None = None, *, cell_timeout: int = 300,
               root: Path = REPO_ROOT) -> list[Outcome]:
    """Execute ``lesson``'s solution once, trying every answer right after its exercise's tests."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    answers = load_answers(lesson) if answers is None else answers
    folder = root / SOURCE_DIR / lesson
    nb = read_notebook(folder / f"{lesson}.ipynb")
    groups = exercise_test_cells(nb)
    unknown = sorted(set(answers) - set(groups))
    if unknown:
        raise ValueError(f"answers for cells that are not answer cells of {lesson}: {unknown}")
    last_test = {tests[-1]: exercise for exercise, tests in groups.items() if tests}
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix=f"wrong_{lesson[:2]}_") as scratch:
        work = Path(scratch) / lesson
        shutil.copytree(folder, work, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3", allow_errors=False,
                                interrupt_on_timeout=True, resources={"metadata": {"path": str(work)}})

        lesson_cells = list(enumerate(nb.cells))
        nb.cells.append(new_code_cell(""))  # the slot where nbclient keeps the cell of each attempt

        def attempt(code: str) -> str:
            """Run ``code`` in the kernel; the first line of its error, or "" when it ran cleanly."""
            try:
                client.execute_cell(new_code_cell(code), len(nb.cells) - 1)
            except CellTimeoutError:
                return f"timed out after {cell_timeout} s"
            except CellExecutionError as error:
                return f"{error.ename}: {error.evalue}".splitlines()[0][:200]
            return ""

        with _environment(lesson_env(full=False, standins=True, root=root)), client.setup_kernel():
            answer_source = {cell.get("id"): source_text(cell) for cell in nb.cells if is_solution_cell(cell)}
            for index, cell in lesson_cells:
                if cell.cell_type != "code":
                    continue
                client.execute_cell(cell, index)  # the solution must run without error
                exercise = last_test.get(index)
                if exercise is None:
                    continue
                tests = [source_text(nb.cells[i]) for i in groups[exercise]]
                for answer in answers.get(exercise, []):
                    problem = attempt(answer.source(answer_source[exercise]))
                    visible = problem or next((p for p in map(attempt, map(visible_part, tests)) if p), "")
                    problem = problem or next((p for p in map(attempt, tests) if p), "")
                    outcomes.append(Outcome(lesson, exercise, answer, bool(visible), bool(problem),
                                            visible or problem))
                    restored = attempt(answer_source[exercise])
                    if restored:
                        raise RuntimeError(f"{lesson}: the solution of {exercise} no longer runs after "
                                           f"{answer.name!r}: {restored}")
    return outcomes


def summary(outcomes: list[Outcome]) -> str:
    """One line per answer and a total: caught visibly, only by hidden tests, escaped; alternatives."""
    lines = []
    for o in outcomes:
        mark = "  " if o.ok else "!!"
        lines.append(f"{mark} {o.exercise:34s} {o.answer.name:48s} {o.verdict:24s} {o.message[:90]}")
    mistakes = [o for o in outcomes if not o.answer.correct]
    visible = sum(o.visible_failed for o in mistakes)
    hidden = sum(o.failed and not o.visible_failed for o in mistakes)
    escaped = sum(not o.failed for o in mistakes)
    alternatives = [o for o in outcomes if o.answer.correct]
    share = f"{visible / len(mistakes):.0%}" if mistakes else "-"
    lines.append(f"{len(mistakes)} mistakes: {visible} caught visibly ({share}), {hidden} only by hidden tests, "
                 f"{escaped} escaped; {len(alternatives)} correct alternatives, "
                 f"{sum(not o.failed for o in alternatives)} accepted")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lessons", nargs="*", help="lesson folder names (default: every lesson with answers)")
    args = parser.parse_args(argv)
    lessons = args.lessons or sorted(p.stem for p in ANSWERS_DIR.glob("[0-9][0-9]_*.py"))
    everything: list[Outcome] = []
    for lesson in lessons:
        outcomes = run_lesson(lesson)
        print(f"== {lesson}\n{summary(outcomes)}", flush=True)
        everything += outcomes
    if len(lessons) > 1:
        print(f"== all lessons\n{summary(everything).splitlines()[-1]}")
    return 0 if all(o.ok for o in everything) else 1


if __name__ == "__main__":
    sys.exit(main())
