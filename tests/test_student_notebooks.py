"""Every student notebook runs top to bottom in quick mode without nbgrader (``tools.run_lessons``).

On the maintainers' stack the grading proofs already execute the student notebooks through
nbgrader (test_grading.py, proof c), so ``./course test`` deselects these (marker
``student_run``); ``./course test-oldest`` runs them on the oldest supported stack, where
nbgrader is not installed.
"""

from __future__ import annotations

import pytest
from course_harness import per_lesson_classes

from tools.run_lessons import run_notebook

pytestmark = pytest.mark.student_run


class _StudentRun:
    """The unanswered student notebook fails only in its exercises."""

    lesson: str

    def test_student_notebook_runs_with_only_exercise_errors(self) -> None:
        result = run_notebook(self.lesson, student=True, cell_timeout=600)
        print(f"[{self.lesson}] student notebook, quick mode: {result.seconds:.1f} s")
        assert not result.problems, f"{self.lesson}: the student notebook failed outside its exercises:\n" + \
            "\n".join(result.problems)
        assert result.exercise_errors > 0, f"{self.lesson}: no exercise raised an error, though none is answered"


per_lesson_classes(_StudentRun, "TestStudentRun", globals())
