"""Typical wrong answers fail the exercises' tests, correct alternatives pass (tools.wrong_answers).

Each lesson runs once in the quick mode; the answers of ``tests/wrong_answers/<lesson>.py`` are tried
right after their exercise. The printed summary says, per answer, whether the student's visible tests
caught it, only the grader's hidden tests, or nothing.
"""

from __future__ import annotations

from functools import cache

import pytest

from tools.course import find_lessons, read_notebook, source_path
from tools.wrong_answers import Outcome, exercise_test_cells, load_answers, run_lesson, summary

#: The share of typical mistakes a learner must see fail before submitting, over the whole course and in each
#: lesson (issue 16 asked for 60%; every lesson reached 100% in November 2026, so a regression shows early).
VISIBLE_SHARE = 0.9
VISIBLE_SHARE_PER_LESSON = 0.8

pytestmark = pytest.mark.maintainer_stack


@cache
def outcomes_of(lesson: str) -> tuple[Outcome, ...]:
    return tuple(run_lesson(lesson))


@pytest.mark.parametrize("lesson", find_lessons())
def test_every_exercise_has_typical_mistakes_and_a_correct_alternative(lesson: str) -> None:
    answers = load_answers(lesson)
    exercises = set(exercise_test_cells(read_notebook(source_path(lesson))))
    assert set(answers) == exercises, f"{lesson}: wrong answers missing for {sorted(exercises - set(answers))}"
    for exercise, listed in answers.items():
        assert sum(not a.correct for a in listed) >= 3 and any(a.correct for a in listed), \
            f"{exercise}: give at least three typical mistakes and one correct alternative"


@pytest.mark.parametrize("lesson", find_lessons())
def test_mistakes_fail_and_alternatives_pass(lesson: str) -> None:
    outcomes = list(outcomes_of(lesson))
    report = summary(outcomes)
    print(report)
    assert all(o.ok for o in outcomes), "a mistake passed or an alternative failed:\n" + report
    mistakes = [o for o in outcomes if not o.answer.correct]
    visible = sum(o.visible_failed for o in mistakes) / len(mistakes)
    assert visible >= VISIBLE_SHARE_PER_LESSON, \
        f"{lesson}: only {visible:.0%} of the typical mistakes fail the visible tests:\n" + report


def test_most_mistakes_fail_visibly_before_submission() -> None:
    mistakes = [o for lesson in find_lessons() for o in outcomes_of(lesson) if not o.answer.correct]
    visible = sum(o.visible_failed for o in mistakes) / len(mistakes)
    print(f"{len(mistakes)} typical mistakes, {visible:.0%} caught by the visible tests")
    assert visible >= VISIBLE_SHARE, f"only {visible:.0%} of the typical mistakes fail the visible tests"
