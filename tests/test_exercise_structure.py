"""Static checks of every lesson's exercises (issue 16): what a learner reads matches what the grader scores.

* Each exercise heading, ``### Exercise N · Title (K points)`` or ``(2 + 1 points)``, states exactly the
  points of the test cells that grade it (the test cells between its answer cell and the next exercise's answer cell).
* Exercises are numbered 1, 2, 3 … in order, with one answer cell each.
* Every lesson has at least one *judgement* exercise (``### Exercise N · Judgement: …``): the learner
  decides something (finds planted bugs, chooses on a validation split), graded by behaviour.
"""

from __future__ import annotations

import re

import pytest

from tools.course import (
    find_lessons,
    grade_id,
    is_grade_cell,
    is_solution_cell,
    read_notebook,
    source_path,
    source_text,
)

HEADING = re.compile(r"^### Exercise (\d+) · (.+?) \((\d+(?: \+ \d+)*) points?\)\s*$", re.MULTILINE)


def exercises_of(lesson: str) -> list[dict]:
    """Per exercise heading, in order: its number, title, stated points, answer cell ids and graded points."""
    exercises: list[dict] = []
    for cell in read_notebook(source_path(lesson)).cells:
        if cell.cell_type == "markdown":
            for number, title, points in HEADING.findall(source_text(cell)):
                stated = sum(int(p) for p in points.split("+"))
                exercises.append({"number": int(number), "title": title, "stated": stated,
                                  "answers": [], "graded": 0, "tests": []})
        elif exercises and is_solution_cell(cell) and not is_grade_cell(cell):
            exercises[-1]["answers"].append(grade_id(cell))
        elif exercises and is_grade_cell(cell):
            exercises[-1]["graded"] += int(cell.metadata["nbgrader"].get("points", 0))
            exercises[-1]["tests"].append(grade_id(cell))
    return exercises


@pytest.mark.parametrize("lesson", find_lessons())
def test_exercise_headings_state_the_points_the_grader_gives(lesson: str) -> None:
    exercises = exercises_of(lesson)
    assert exercises, f"{lesson}: no '### Exercise N · Title (K points)' heading found"
    assert [e["number"] for e in exercises] == list(range(1, len(exercises) + 1)), \
        f"{lesson}: exercises numbered {[e['number'] for e in exercises]}, expected 1, 2, 3, …"
    for e in exercises:
        where = f"{lesson}, Exercise {e['number']} ({e['title']})"
        assert len(e["answers"]) == 1, f"{where}: expected one answer cell, found {e['answers']}"
        assert e["tests"], f"{where}: no test cell after the answer cell"
        assert e["stated"] == e["graded"], \
            f"{where}: the heading says {e['stated']} points, its test cells {e['tests']} give {e['graded']}"


@pytest.mark.parametrize("lesson", find_lessons())
def test_every_lesson_has_a_judgement_exercise(lesson: str) -> None:
    titles = [e["title"] for e in exercises_of(lesson)]
    assert any(t.startswith("Judgement: ") for t in titles), \
        f"{lesson}: no '### Exercise N · Judgement: …' among the exercises {titles}"
