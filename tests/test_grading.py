"""CI proofs of the grading pipeline, for every lesson in solutions/ (issue 3, proofs a–g).

One scratch course per lesson: ``nbgrader generate_assignment`` makes the student notebook,
then one ``nbgrader autograde`` grades two "students" (the solution and the unmodified release)
and a second one, with a short per-cell timeout, grades a third: the release with every visible
test rewritten to ``pass`` and an infinite loop in its first answer cell (proofs e and f share
it to save one notebook execution per lesson). The gradebook (nbgrader's own API), the
autograded notebooks, the feedback and the CSV export are then inspected. The submission check
(``tools.check_submissions``) is proved on stripped and cell-deleted copies without executing anything.
"""

from __future__ import annotations

import copy
import csv
import html
import json
import re
from pathlib import Path

import nbformat
import pytest
from course_harness import (
    LESSONS,
    LOOP_STUDENT,
    MAIN_STUDENTS,
    GradingRun,
    grade_lesson,
    per_lesson_classes,
    stripped,
    tail,
    temp_leftovers,
    without_first_test_cell,
)

from tools import check_submissions
from tools.course import (
    HIDDEN_TEST_MARKERS,
    REPO_ROOT,
    SOLUTION_MARKERS,
    grade_id,
    hidden_test_lines,
    is_grade_cell,
    is_solution_cell,
    marked_regions,
    nbgrader_meta,
    read_notebook,
    release_path,
    secret_lines,
    source_path,
    source_text,
)
from tools.regenerate import compare_trees
from tools.run_lessons import UNANSWERED_NOTICE, unanswered_cells, unexpected_errors

# nbgrader generation and grading: the maintainers' environment only (not the oldest stack)
pytestmark = pytest.mark.maintainer_stack

TIMEOUT_ERRORS = {"CellTimeoutError", "KeyboardInterrupt", "TimeoutError"}


def test_lessons_are_found() -> None:
    """The proofs are parametrised over solutions/*/*.ipynb: make sure that finds something."""
    assert LESSONS, f"no lesson notebooks found as {REPO_ROOT}/solutions/<lesson>/<lesson>.ipynb"


def _release_problems(nb: nbformat.NotebookNode, source: nbformat.NotebookNode) -> list[str]:
    problems = []
    text = json.dumps(nb)
    for marker in (*SOLUTION_MARKERS, *HIDDEN_TEST_MARKERS):
        if marker.lstrip("# ") in text:
            problems.append(f"contains the marker {marker!r}")
    lines = {line.strip() for cell in nb.cells for line in source_text(cell).splitlines()}
    for line in sorted(lines & secret_lines(source)):
        problems.append(f"leaks a solution/hidden-test line: {line!r}")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            problems.append(f"cell {i} has outputs or an execution count")
        stub = "raise NotImplementedError("
        if is_solution_cell(cell) and cell.cell_type == "code" and stub not in source_text(cell):
            problems.append(f"answer cell {grade_id(cell)!r} has no `raise NotImplementedError(...)` stub")
    return problems


class _GradingProofs:
    """nbgrader release and autograding proofs."""

    lesson: str

    @pytest.fixture(scope="class")
    @classmethod
    def run(cls, tmp_path_factory: pytest.TempPathFactory) -> GradingRun:
        result = grade_lesson(cls.lesson, tmp_path_factory.mktemp(f"grading-{cls.lesson}"))
        assert result.generate_rc == 0, "nbgrader generate_assignment failed:\n" + tail(result.generate_log)
        return result

    # a ------------------------------------------------------------------------------------------
    def test_a_source_has_tests_with_hidden_part(self) -> None:
        source = read_notebook(source_path(self.lesson))
        grade_cells = [c for c in source.cells if is_grade_cell(c)]
        assert grade_cells, "the lesson has no test (grade) cells"
        missing = [grade_id(c) for c in grade_cells if not marked_regions(source_text(c), HIDDEN_TEST_MARKERS)]
        assert not missing, f"test cells without a '### BEGIN HIDDEN TESTS' region: {missing}"
        no_solution = [grade_id(c) for c in source.cells
                       if is_solution_cell(c) and not marked_regions(source_text(c), SOLUTION_MARKERS)]
        assert not no_solution, f"answer cells without a '### BEGIN SOLUTION' region: {no_solution}"

    def test_a_release_has_no_solution_hidden_tests_or_outputs(self, run: GradingRun) -> None:
        source = read_notebook(source_path(self.lesson))
        problems = [f"fresh release: {p}" for p in _release_problems(read_notebook(run.release), source)]
        committed = release_path(self.lesson)
        if committed.exists():
            problems += [f"notebooks/: {p}" for p in _release_problems(read_notebook(committed), source)]
        assert not problems, "\n".join(problems)

    # b ------------------------------------------------------------------------------------------
    def test_b_solution_autogrades_to_full_marks(self, run: GradingRun) -> None:
        assert run.autograde_rc == 0, tail(run.autograde_log)
        sub = run.submissions.get("solution")
        assert sub is not None, "the solution was not graded:\n" + tail(run.autograde_log)
        lost = {k: v for k, v in sub.grades.items() if v[0] != v[1] or v[2]}
        assert sub.max_score > 0 and sub.score == sub.max_score and not lost, (
            f"solution scored {sub.score}/{sub.max_score}; cells not at full marks "
            f"(auto_score, max, needs_manual): {lost}")

    # c ------------------------------------------------------------------------------------------
    def test_c_release_autogrades_to_zero_every_cell_scored(self, run: GradingRun) -> None:
        assert run.autograde_rc == 0, "the grader crashed:\n" + tail(run.autograde_log)
        sub = run.submissions.get("release")
        assert sub is not None and sub.notebook is not None, "the release was not graded:\n" + tail(run.autograde_log)
        expected = {grade_id(c) for c in read_notebook(source_path(self.lesson)).cells if is_grade_cell(c)}
        assert set(sub.grades) == expected
        unscored = {k: v for k, v in sub.grades.items() if v[0] is None or v[2]}
        assert not unscored, f"grade cells not scored automatically: {unscored}"
        assert sub.score == 0, f"the unanswered release scored {sub.score}: {sub.grades}"

    def test_c_student_notebook_runs_with_only_exercise_errors(self, run: GradingRun) -> None:
        """The student notebook executes to the end; only answer cells raise NotImplementedError
        and only test cells after an answer cell fail."""
        sub = run.submissions.get("release")
        assert sub is not None and sub.notebook is not None, tail(run.autograde_log)
        problems, exercise_errors = unexpected_errors(sub.notebook, student=True)
        assert not problems, "the unanswered student notebook failed outside its exercises:\n" + "\n".join(problems)
        assert exercise_errors > 0, "the unanswered student notebook raised no exercise error at all"

    def test_c_unanswered_exercises_still_raise_under_nbgrader(self, run: GradingRun) -> None:
        """A student's Run All goes on past unanswered exercises (course_utils.unanswered); nbgrader's does not
        (NBGRADER_EXECUTION is set): every test cell of the autograded release shows its error, the stub's
        NotImplementedError among them, nothing is reported as not answered, and the feedback shows the error."""
        sub = run.submissions.get("release")
        assert sub is not None and sub.notebook is not None, tail(run.autograde_log)
        assert not unanswered_cells(sub.notebook), "the grader's run reported unanswered exercises instead of failing"
        errors = {grade_id(c): [o for o in c.get("outputs", []) if o.get("output_type") == "error"]
                  for c in sub.notebook.cells if is_grade_cell(c)}
        assert all(errors.values()), f"test cells without an error: {[k for k, v in errors.items() if not v]}"
        stub = [k for k, v in errors.items() if any(o.get("ename") == "NotImplementedError"
                                                    and "Exercise not done yet" in str(o.get("evalue")) for o in v)]
        assert stub, "no test cell of the unanswered release shows the stub's NotImplementedError"
        report = run.course / "grading" / "feedback" / "release" / self.lesson / f"{self.lesson}.html"
        assert run.feedback_rc == 0 and report.exists(), tail(run.tools_log)
        text = html.unescape(re.sub(r"<[^>]+>", "", report.read_text(encoding="utf-8")))
        assert "NotImplementedError" in text and "Exercise not done yet" in text and UNANSWERED_NOTICE not in text

    def test_c_autograded_runs_leave_no_temporary_files(self, run: GradingRun) -> None:
        """Every command of the run (the autograde of all three students included) had TMPDIR set to one
        empty folder: a lesson deletes the temporary folders it or its hidden tests create, answered or not,
        also when a cell was cut off (grading a class would otherwise fill the grader's /tmp)."""
        assert run.tmpdir is not None and run.autograde_rc == 0, tail(run.autograde_log)
        left = temp_leftovers(run.tmpdir)
        assert not left, ("grading left temporary files behind (delete every temporary folder the lesson or its "
                          "hidden tests create, e.g. in a last clean-up cell):\n  " + "\n  ".join(left))

    # d ------------------------------------------------------------------------------------------
    def test_d_committed_notebooks_are_byte_identical_to_fresh_generation(self, run: GradingRun) -> None:
        diffs = compare_trees(run.course / "notebooks" / self.lesson, REPO_ROOT / "notebooks" / self.lesson)
        assert not diffs, "notebooks/ is stale; run `python -m tools.regenerate`:\n" + "\n".join(diffs)

    # e ------------------------------------------------------------------------------------------
    def test_e_tests_rewritten_to_pass_still_fail(self, run: GradingRun) -> None:
        sub = run.submissions.get(LOOP_STUDENT)
        assert sub is not None and sub.notebook is not None, tail(run.loop_log)
        assert sub.score == 0, f"a submission whose visible tests were replaced by `pass` scored {sub.score}"
        source_tests = {grade_id(c): source_text(c) for c in read_notebook(source_path(self.lesson)).cells
                        if is_grade_cell(c)}
        graded_tests = {grade_id(c): source_text(c) for c in sub.notebook.cells if is_grade_cell(c)}
        assert graded_tests == source_tests, "nbgrader did not restore the instructor's test cells"
        assert all(v[0] is not None and not v[2] for v in sub.grades.values()), sub.grades

    # f ------------------------------------------------------------------------------------------
    def test_f_infinite_loop_is_cut_off_and_graded(self, run: GradingRun) -> None:
        assert run.loop_rc == 0, "the grader failed on the looping submission:\n" + tail(run.loop_log)
        sub = run.submissions.get(LOOP_STUDENT)
        assert sub is not None and sub.notebook is not None, tail(run.loop_log)
        cells = sub.notebook.cells
        index = next(i for i, c in enumerate(cells) if grade_id(c) == run.loop_cell)
        errors = {o.get("ename") for o in cells[index].get("outputs", []) if o.get("output_type") == "error"}
        assert errors & TIMEOUT_ERRORS, f"the looping cell shows no timeout: {errors}"
        not_run = [i for i, c in enumerate(cells[index + 1:], index + 1)
                   if c.cell_type == "code" and source_text(c).strip() and c.get("execution_count") is None]
        assert not not_run, f"cells after the interrupted one were not executed: {not_run}"
        unscored = {k: v for k, v in sub.grades.items() if v[0] is None or v[2]}
        assert not unscored, f"grade cells not scored: {unscored}"

    def test_feedback_and_csv_export(self, run: GradingRun) -> None:
        """tools.grade feedback / export (nbgrader generate_feedback / export) give every student a
        report and a CSV row that matches the gradebook."""
        assert run.feedback_rc == 0 and run.export_rc == 0, tail(run.tools_log)
        for student in MAIN_STUDENTS:
            report = run.course / "grading" / "feedback" / student / self.lesson / f"{self.lesson}.html"
            assert report.exists(), f"no feedback for {student}"
        # feedback goes to students: scores and messages, never a hidden test or solution-only code
        secret = hidden_test_lines(read_notebook(source_path(self.lesson)))
        assert secret, "the lesson has hidden tests, so there must be lines to look for"
        feedback = {student: run.course / "grading" / "feedback" / student / self.lesson / f"{self.lesson}.html"
                    for student in MAIN_STUDENTS}
        assert run.loop_course is not None
        feedback[LOOP_STUDENT] = run.loop_course / "grading" / "feedback" / LOOP_STUDENT / self.lesson / f"{self.lesson}.html"
        for student, path in feedback.items():
            text = html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))
            leaked = sorted(secret & {line.strip() for line in text.splitlines()})
            assert "BEGIN HIDDEN TESTS" not in text and "END HIDDEN TESTS" not in text, f"{student}: hidden-test markers"
            assert not leaked, f"{student}'s feedback shows hidden-test/solution lines: {leaked[:5]}"
            assert "_reference_" not in text, f"{student}'s feedback names a reference implementation"
            sub = run.submissions[student]
            assert re.search(rf"Score:\s*{sub.score:g}(\.0+)?\s*/\s*{sub.max_score:g}", text), \
                f"{student}: no 'Score: {sub.score:g} / {sub.max_score:g}' in the feedback"
        with open(run.course / "grading" / "grades.csv", newline="") as handle:
            rows = {r["student_id"]: r for r in csv.DictReader(handle) if r["assignment"] == self.lesson}
        assert set(rows) == set(MAIN_STUDENTS)
        for student in MAIN_STUDENTS:
            sub = run.submissions[student]
            assert float(rows[student]["score"]) == sub.score and float(rows[student]["max_score"]) == sub.max_score

    # g ------------------------------------------------------------------------------------------
    def test_g_check_reports_stripped_metadata_and_deleted_test_cell(self, run: GradingRun, tmp_path: Path) -> None:
        release = read_notebook(run.release)
        answers = {grade_id(c): c.source for c in read_notebook(source_path(self.lesson)).cells if is_solution_cell(c)}
        answered = copy.deepcopy(release)  # what a student hands in: the release with the answers written
        for cell in answered.cells:
            if is_solution_cell(cell):
                cell.source = answers[grade_id(cell)]
        submitted = tmp_path / "submitted"
        variants = {
            "clean": release,
            "stripped": stripped(release),
            "deleted": without_first_test_cell(release)[0],
            "stripped-answered": stripped(answered),
        }
        for student, nb in variants.items():
            path = submitted / student / self.lesson / f"{self.lesson}.ipynb"
            path.parent.mkdir(parents=True)
            nbformat.write(nb, path)
        (tmp_path / "roster.csv").write_text("id,name\n" + "".join(f"{s},\n" for s in variants), encoding="utf-8")
        args = ["--submitted", str(submitted), "--release", str(run.course / "notebooks"),
                "--backups", str(tmp_path / "backups"), "--roster", str(tmp_path / "roster.csv")]
        assert check_submissions.main(args) == 1, "the check must fail when submissions are broken"
        reports = {r.path.parts[-3]: r for r in check_submissions.check_folder(submitted, run.course / "notebooks")}
        assert not reports["clean"].findings
        assert any("stripped" in f.message and f.problem for f in reports["stripped"].findings)
        assert any("stripped" in f.message and f.problem for f in reports["stripped-answered"].findings)
        first_test = grade_id(next(c for c in release.cells if is_grade_cell(c)))
        assert any(first_test in f.message and "deleted" in f.message for f in reports["deleted"].findings)

        assert check_submissions.main([*args, "--restore"]) == 0
        assert check_submissions.main(args) == 0, "problems left after --restore"
        restored = read_notebook(submitted / "deleted" / self.lesson / f"{self.lesson}.ipynb")
        assert [grade_id(c) for c in restored.cells] == [grade_id(c) for c in release.cells]
        _, index = without_first_test_cell(release)
        assert source_text(restored.cells[index]) == source_text(release.cells[index])
        assert nbgrader_meta(restored.cells[index]) == nbgrader_meta(release.cells[index])
        for student in ("stripped", "stripped-answered"):
            fixed = read_notebook(submitted / student / self.lesson / f"{self.lesson}.ipynb")
            assert [nbgrader_meta(c) for c in fixed.cells] == [nbgrader_meta(c) for c in release.cells], student


per_lesson_classes(_GradingProofs, "TestGrading", globals())
