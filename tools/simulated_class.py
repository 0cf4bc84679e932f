"""A simulated class for rehearsing grading: a roster and submissions with the faults real classes make.

    python -m tools.simulated_class grading/                 # writes grading/roster.csv and grading/submitted/
    python -m tools.simulated_class /tmp/rehearsal --students 20

Used by ``benchmarks/grade_class.py`` (the whole instructor workflow, timed) and by the tests.
For one lesson (default: the first) it writes, for ``students`` roster entries (at least 12):
solutions, unanswered copies, partial answers, and one student each with stripped cell
metadata, a deleted test cell, an answer cell turned into markdown, another lesson's notebook in
this lesson's folder, an infinite loop in an answer, no submission at all, and a submission in a
misspelt student folder, in a misnamed lesson folder and outside any lesson folder.
``FAULTS`` says who has which.
"""

from __future__ import annotations

import argparse
import copy
import csv
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as `python tools/simulated_class.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nbformat
from nbformat import NotebookNode

from tools.course import (
    REPO_ROOT,
    find_lessons,
    is_grade_cell,
    is_solution_cell,
    read_notebook,
    release_path,
    source_path,
)

#: Who gets which fault (roster ids); the rest are solutions, blanks and partial answers in turn.
FAULTS = {
    "alice": "misspelt student folder",
    "student02": "misnamed lesson folder",
    "student03": "notebook outside a lesson folder",
    "student13": "stripped metadata",
    "student14": "deleted test cell",
    "student15": "answer cell turned into markdown",
    "student16": "another lesson's notebook",
    "student17": "infinite loop",
    "student18": "no submission",
}
#: Where the first three faults put their (partially answered) notebook instead of <student>/<lesson>/<lesson>.ipynb.
MISPLACED = {
    "misspelt student folder": "alcie/{lesson}/{lesson}.ipynb",
    "misnamed lesson folder": "{student}/00_images/{lesson}.ipynb",
    "notebook outside a lesson folder": "{student}/{lesson}.ipynb",
}


@dataclass(frozen=True)
class SimulatedClass:
    """What was written."""

    roster: dict[str, str]
    kinds: dict[str, str]  # student id -> "solution" | "blank" | "partial" | a FAULTS entry
    lesson: str


def _answered(release: NotebookNode, source: NotebookNode, how_many: int) -> NotebookNode:
    """The release with its first ``how_many`` answer cells answered from the source notebook."""
    nb = copy.deepcopy(release)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells if is_solution_cell(c)}
    done = 0
    for cell in nb.cells:
        if is_solution_cell(cell) and done < how_many:
            solution = answers[cell.metadata["nbgrader"]["grade_id"]]
            cell.source = "\n".join(line for line in solution.splitlines() if "### BEGIN SOLUTION" not in line
                                    and "### END SOLUTION" not in line)
            done += 1
    return nb


def build(dest: Path, lesson: str | None = None, students: int = 20, root: Path = REPO_ROOT) -> SimulatedClass:
    """Write ``dest/roster.csv`` and ``dest/submitted/`` (which must not exist yet)."""
    if students < 12:
        raise ValueError(f"students: expected at least 12 (room for every fault), got {students}")
    lessons = find_lessons(root)
    lesson = lesson or lessons[0]
    other = next(name for name in lessons if name != lesson)
    submitted = dest / "submitted"
    if submitted.exists():
        raise FileExistsError(f"{submitted} exists already; choose an empty folder")
    roster = {"alice": "Alice Adams"} | {f"student{i:02d}": f"Student {i:02d}" for i in range(2, students + 1)}
    release, source = read_notebook(release_path(lesson, root)), read_notebook(source_path(lesson, root))
    kinds: dict[str, str] = {}
    plain = ["solution", "blank", "partial"]
    for n, student in enumerate(roster):
        kind = FAULTS.get(student, plain[n % 3])
        kinds[student] = kind
        if kind == "no submission":
            continue
        if kind == "solution":
            nb = _answered(release, source, len(source.cells))
        elif kind == "partial" or kind in MISPLACED:
            nb = _answered(release, source, 2)
        elif kind == "another lesson's notebook":
            nb = read_notebook(release_path(other, root))
        else:
            nb = copy.deepcopy(release)
        if kind == "stripped metadata":
            for cell in nb.cells:
                for key in ("nbgrader", "deletable", "editable"):
                    cell.metadata.pop(key, None)
        elif kind == "deleted test cell":
            nb.cells.remove(next(c for c in nb.cells if is_grade_cell(c)))
        elif kind == "answer cell turned into markdown":
            index = next(i for i, c in enumerate(nb.cells) if is_solution_cell(c) and c.cell_type == "code")
            cell = nb.cells[index]
            nb.cells[index] = nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata, id=cell.get("id"))
        elif kind == "infinite loop":
            cell = next(c for c in nb.cells if is_solution_cell(c) and c.cell_type == "code")
            cell.source = "while True:\n    pass"
        where = MISPLACED.get(kind, "{student}/{lesson}/{lesson}.ipynb")
        _write(submitted / where.format(student=student, lesson=lesson), nb)
    with open(dest / "roster.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name"])
        writer.writerows(roster.items())
    return SimulatedClass(roster, kinds, lesson)


def _write(path: Path, nb: NotebookNode) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dest", type=Path, help="folder for roster.csv and submitted/ (e.g. grading/)")
    parser.add_argument("--lesson", help="the lesson (default: the first)")
    parser.add_argument("--students", type=int, default=20, help="roster size (default 20, at least 12)")
    args = parser.parse_args(argv)
    made = build(args.dest, args.lesson, args.students)
    counts: dict[str, int] = {}
    for kind in made.kinds.values():
        counts[kind] = counts.get(kind, 0) + 1
    print(f"{len(made.roster)} students for {made.lesson} in {args.dest}: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
