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
