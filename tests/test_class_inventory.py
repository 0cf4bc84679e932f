"""Grading a real class: every entry of grading/submitted/ accounted for against the roster.

The simulated class of ``tools.simulated_class`` (20 students, every fault a class makes) is
checked without executing anything; the end-to-end run with nbgrader is
``benchmarks/grade_class.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import check_submissions as cs
from tools.course import REPO_ROOT, find_lessons
from tools.simulated_class import FAULTS, build

LESSON = find_lessons()[0]


@pytest.fixture
def klass(tmp_path: Path):
    made = build(tmp_path, LESSON, 20)
    return made, tmp_path / "submitted", cs.read_roster(tmp_path / "roster.csv")


def _problems(reports: list[cs.NotebookReport], submitted: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for report in reports:
        for finding in report.remaining:
            found.setdefault(report.path.relative_to(submitted).as_posix(), []).append(finding.message)
    return found


def test_every_fault_gets_one_line_and_missing_students_are_noted(klass) -> None:
    made, submitted, roster = klass
    reports = cs.check_folder(submitted, REPO_ROOT / "notebooks", [LESSON], roster=roster)
    problems = _problems(reports, submitted)
    nb = f"{LESSON}/{LESSON}.ipynb"
    expected = {
        "alcie": "student folder 'alcie' is not on the roster (did you mean 'alice'?)",
        "student02/00_images": "'00_images' is not a lesson folder (did you mean '00_images_as_tensors'?)",
        f"student03/{LESSON}.ipynb": f"a notebook outside a lesson folder: nbgrader does not see it; move it to student03/{nb}",
        f"student13/{nb}": "nbgrader metadata stripped from",
        f"student14/{nb}": "test cell '",
        f"student15/{nb}": "was turned from a code cell into a markdown cell",
        f"student16/{nb}": "this is the notebook of lesson '01_batching_dataloaders'",
    }
    assert set(problems) == set(expected), sorted(problems)
    for path, text in expected.items():
        assert len(problems[path]) == 1 and text in problems[path][0], (path, problems[path])
    notes = sorted(r.path.relative_to(submitted).parts[0] for r in reports
                   if any(f.message == "no submission: scored 0" for f in r.findings))
    assert notes == ["alice", "student02", "student03", "student18"]
    assert made.kinds["student17"] == FAULTS["student17"] == "infinite loop"  # found when grading, not here
    assert cs.students_not_graded(submitted, roster) == ["alcie"]


def test_restore_repairs_what_it_can_and_leaves_another_lessons_notebook_alone(klass, tmp_path: Path) -> None:
    _, submitted, roster = klass
    wrong = submitted / "student16" / LESSON / f"{LESSON}.ipynb"
    before = wrong.read_bytes()
    reports = cs.check_folder(submitted, REPO_ROOT / "notebooks", [LESSON], roster=roster, restore=True,
                              backup_root=tmp_path / "backups")
    fixed = sorted(r.path.relative_to(submitted).parts[0] for r in reports if any(f.fixed for f in r.findings))
    assert fixed == ["student13", "student14", "student15"]
    assert wrong.read_bytes() == before
    again = _problems(cs.check_folder(submitted, REPO_ROOT / "notebooks", [LESSON], roster=roster), submitted)
    assert sorted(again) == ["alcie", "student02/00_images", f"student03/{LESSON}.ipynb",
                             f"student16/{LESSON}/{LESSON}.ipynb"]


def test_excused_problems_become_notes_and_the_exit_status_clears(klass, tmp_path: Path) -> None:
    _, submitted, _ = klass
    excused = tmp_path / "excused.csv"
    excused.write_text("path,reason\nalcie,duplicate upload\nstudent02/00_images,old draft\n"
                       f"student03/{LESSON}.ipynb,graded by hand\nstudent16,asked for the right file\n", encoding="utf-8")
    args = ["--submitted", str(submitted), "--roster", str(tmp_path / "roster.csv"), "--excused", str(excused),
            "--backups", str(tmp_path / "backups"), LESSON]
    assert cs.main(args) == 1  # student13-15 still need --restore
    assert cs.main([*args, "--restore"]) == 0
    reports = cs.check_folder(submitted, REPO_ROOT / "notebooks", [LESSON], roster=cs.read_roster(tmp_path / "roster.csv"),
                              excused=cs.read_excused(excused))
    alcie = next(r for r in reports if r.path.name == "alcie")
    assert not alcie.remaining and "[excused: duplicate upload]" in alcie.findings[0].message


@pytest.mark.parametrize(("text", "message"), [
    (None, "no roster at"),
    ("name\nAlice\n", "expected a header line with the columns id,name"),
    ("id,name\nalice,A\nalice,B\n", "line 3: student id 'alice' appears twice"),
    ("id,name\nal ice,A\n", "line 2: expected a student id of letters, digits, - and _; got 'al ice'"),
    ("id,name\n", "the roster lists no student"),
])
def test_a_bad_roster_is_named_clearly(text: str | None, message: str, tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises((FileNotFoundError, ValueError), match=message.replace("(", r"\(").replace(")", r"\)")):
        cs.read_roster(path)
    submitted = tmp_path / "submitted"
    submitted.mkdir()
    assert cs.main(["--submitted", str(submitted), "--roster", str(path)]) == 2


def test_the_simulated_class_needs_room_for_every_fault(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="students: expected at least 12"):
        build(tmp_path, LESSON, 5)
