"""Every student notebook runs top to bottom in quick mode without nbgrader (``tools.run_lessons``).

This is "Run All" as a student does it (``course_utils.unanswered``): each unanswered exercise is
reported ("Not answered yet") and the lesson goes on, so the notebook must run without a single error,
every execute reply "ok". The grading proofs execute the same notebooks through nbgrader, where the
stubs raise as before (test_grading.py, proof c), so ``./course test`` deselects these (marker
``student_run``); ``./course test-oldest`` runs them on the oldest supported stack, where nbgrader
is not installed.
"""

from __future__ import annotations

import pytest
from course_harness import per_lesson_classes

from tools.run_lessons import run_notebook

pytestmark = pytest.mark.student_run


class _StudentRun:
    """The unanswered student notebook runs to the end, reporting its unanswered exercises."""

    lesson: str

    def test_student_notebook_runs_to_the_end_reporting_unanswered_exercises(self) -> None:
        result = run_notebook(self.lesson, student=True, cell_timeout=600)
        print(f"[{self.lesson}] student notebook, quick mode: {result.seconds:.1f} s, "
              f"cells skipped as not answered yet: {list(result.unanswered)}")
        assert not result.problems, f"{self.lesson}: Run All of the student notebook would stop:\n" + \
            "\n".join(result.problems)
        assert result.unanswered, f"{self.lesson}: no cell reported an unanswered exercise, though none is answered"


per_lesson_classes(_StudentRun, "TestStudentRun", globals())
