"""nbgrader configuration of the course (read by every `nbgrader` command run from the repo root).

Layout (see docs/instructor-guide.md):

    solutions/<lesson>/<lesson>.ipynb   source notebooks: solutions + hidden tests (nbgrader "source")
    notebooks/<lesson>/<lesson>.ipynb   student notebooks, generated, committed (nbgrader "release")
    grading/                            everything grading produces; git-ignored:
        gradebook.db                    the gradebook (SQLite)
        submitted/<student>/<lesson>/   collected submissions go here
        autograded/  feedback/  solution/  grades.csv

Environment overrides (used by CI and the tests; instructors rarely need them):
    COURSE_CELL_TIMEOUT   per-cell execution timeout in seconds for validate/autograde (default 600)
The command line always wins, e.g. `nbgrader autograde 00_images_as_tensors --Execute.timeout=1200`.
"""

import os
import sys
from pathlib import Path

c = get_config()  # type: ignore[name-defined]  # noqa: F821 - injected by traitlets

ROOT = Path(__file__).resolve().parent
GRADING = ROOT / "grading"
GRADING.mkdir(exist_ok=True)  # SQLite cannot create the folder of its database file
if str(ROOT) not in sys.path and (ROOT / "tools").is_dir():
    sys.path.insert(0, str(ROOT))  # the course's own preprocessors (tools/nbgrader_plugins.py)

# --- course layout ---------------------------------------------------------------------------
c.CourseDirectory.course_id = "image-classification-pytorch"
c.CourseDirectory.root = str(ROOT)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.submitted_directory = "grading/submitted"
c.CourseDirectory.autograded_directory = "grading/autograded"
c.CourseDirectory.feedback_directory = "grading/feedback"
c.CourseDirectory.solution_directory = "grading/solution"
c.CourseDirectory.source_with_tests_directory = "grading/source_with_tests"
c.CourseDirectory.db_url = f"sqlite:///{GRADING / 'gradebook.db'}"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "data", ".DS_Store"]

# Grades export (`nbgrader export`) lands in the grading folder too.
c.ExportPlugin.to = str(GRADING / "grades.csv")

# --- generating the student notebooks ----------------------------------------------------------
# The stub that replaces every `### BEGIN SOLUTION ... ### END SOLUTION` region.
c.ClearSolutions.code_stub = {
    "python": (
        "# YOUR CODE HERE\n"
        'raise NotImplementedError("Exercise not done yet: replace this line with your code, then run the cell again.")'
    ),
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# Released notebooks carry no outputs and no hidden tests (both are on by default; stated here on purpose).
c.ClearOutput.enabled = True
c.ClearHiddenTests.enabled = True
c.LockCells.lock_grade_cells = True
c.LockCells.lock_readonly_cells = True

# --- executing notebooks (validate, autograde) ------------------------------------------------
# CPU training cells can take minutes in the full mode; grading runs in the quick mode
# (NBGRADER_EXECUTION is set), but a generous limit avoids cutting off slow machines.
# A cell that runs longer is interrupted and the rest of the notebook still runs and is graded.
c.Execute.timeout = int(os.environ.get("COURSE_CELL_TIMEOUT", "600"))
c.Execute.interrupt_on_timeout = True
# After the interrupt, wait up to 60 s (not nbclient's 4 s) for the kernel to settle: a kernel busy
# in C code or on a loaded machine answers late, and a late answer must not abort that student's grading.
c.Execute.iopub_timeout = 60
c.Execute.startup_timeout = 120
c.Execute.execute_retries = 0

# --- feedback: students get their scores and messages, never the hidden tests -------------------
# nbgrader's default GenerateFeedback keeps the hidden tests in the HTML (nbgrader issue 917).
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import ClearHiddenTests, GetGrades  # noqa: E402

from tools.nbgrader_plugins import HideHiddenTestTracebacks  # noqa: E402

c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTestTracebacks, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
