"""tools.grade: nbgrader's output made readable (harmless warnings out, one line per student)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tools.course import REPO_ROOT, find_lessons, quick_env
from tools.grade import readable

AUTOGRADE_LOG = """\
[AutogradeApp | INFO] Creating/updating student with ID 'alice': {}
/venv/lib/python3.11/site-packages/nbgrader/api.py:1700: SAWarning: Object of type <SubmittedNotebook> not in session
  for notebook in submission.assignment.notebooks:
[AutogradeApp | INFO] Overwriting files with master versions from the source directory
[AutogradeApp | WARNING] Attribute 'checksum' for cell ex1_tests has changed! (should be: 1a2b, got: 3c4d)
[IPKernelApp] WARNING | Kernel is running over TCP without encryption. All communication is sent in plain text.
[AutogradeApp | INFO] Writing 122616 bytes to /grading/autograded/alice/00/00.ipynb
[AutogradeApp | WARNING] Cell 'ex9' does not exist in the database
[AutogradeApp | INFO] Creating/updating student with ID 'bob': {}
[AutogradeApp | ERROR] Timeout waiting for execute reply (30s).
[AutogradeApp | ERROR] Interrupting kernel
"""


def test_readable_keeps_what_matters_and_counts_what_it_hides() -> None:
    lines = list(readable(AUTOGRADE_LOG.splitlines(keepends=True)))
    assert lines == [
        "  grading alice\n",
        "[AutogradeApp | WARNING] Cell 'ex9' does not exist in the database\n",
        "  grading bob\n",
        "[AutogradeApp | ERROR] Timeout waiting for execute reply (30s).\n",
        "[AutogradeApp | ERROR] Interrupting kernel\n",
        "(4 known-harmless nbgrader warning lines not shown: test-cell checksums, SQLAlchemy, ...)\n",
    ]


def test_nothing_hidden_means_no_count_line() -> None:
    assert list(readable(["[AutogradeApp | ERROR] boom\n"])) == ["[AutogradeApp | ERROR] boom\n"]


@pytest.mark.maintainer_stack  # nbgrader
def test_regenerate_works_without_the_environment_on_path() -> None:
    """nbgrader shells out to `alembic`; the tools find it next to their Python, activated or not."""
    env = quick_env()
    env["PATH"] = "/usr/bin:/bin"
    result = subprocess.run([sys.executable, "-m", "tools.regenerate", "--check", find_lessons()[0]], cwd=REPO_ROOT,
                            env=env, text=True, capture_output=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_a_student_left_without_an_autograded_notebook_is_graded_once_more(tmp_path, monkeypatch, capsys) -> None:
    """A kernel that lost its port leaves one student ungraded; that student alone runs again."""
    import tools.grade as grade

    lesson, roster = "00_x", {"ann": "Ann", "bob": "Bob", "cem": "Cem"}
    for student in ("ann", "bob"):  # cem submitted nothing: not retried
        (tmp_path / "grading" / "submitted" / student / lesson).mkdir(parents=True)
    calls: list[list[str]] = []

    def fake_nbgrader(args: list[str], **_: object) -> int:
        calls.append(args)
        first = len(calls) == 1
        for student in (["ann"] if first else [a.split("=")[1] for a in args if a.startswith("--student=")]):
            out = tmp_path / "grading" / "autograded" / student / lesson / f"{lesson}.ipynb"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text("{}")
        return 1 if first else 0  # the first run fails: bob's kernel died

    monkeypatch.setattr(grade, "run_filtered", fake_nbgrader)
    assert grade.not_autograded(tmp_path, lesson, roster) == ["ann", "bob"]
    assert grade.autograde(tmp_path, lesson, roster, ["--Execute.timeout=5"], env={}) is True
    assert calls == [["autograde", lesson, "--force", "--Execute.timeout=5"],
                     ["autograde", lesson, "--force", "--student=bob", "--Execute.timeout=5"]]
    assert "no autograded notebook for bob: grading them once more" in capsys.readouterr().out


def test_a_student_still_ungraded_after_the_retry_fails_the_lesson(tmp_path, monkeypatch) -> None:
    import tools.grade as grade

    (tmp_path / "grading" / "submitted" / "ann" / "00_x").mkdir(parents=True)
    monkeypatch.setattr(grade, "run_filtered", lambda args, **_: 0)  # "succeeds" but writes nothing
    assert grade.autograde(tmp_path, "00_x", {"ann": "Ann"}, [], env={}) is False
