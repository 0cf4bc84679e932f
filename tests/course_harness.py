"""Shared machinery of the lesson tests: per-lesson test classes and one grading run per lesson.

Every lesson in ``solutions/`` gets its own test classes (``TestGrading_<lesson>``, ...) so that
``pytest -n 2 --dist loadscope`` spreads lessons over the workers, while the expensive work of a
lesson (one ``nbgrader autograde`` of several "students") is done once per class and shared.
"""

from __future__ import annotations

import atexit
import copy
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from tools.course import (
    GRADING_DIR,
    RELEASE_DIR,
    REPO_ROOT,
    SOURCE_DIR,
    find_lessons,
    grade_id,
    is_grade_cell,
    is_solution_cell,
    quick_env,
    read_notebook,
    release_path,
    source_path,
)
from tools.regenerate import make_scratch_course

LESSONS = find_lessons(REPO_ROOT)

#: Per-cell timeout for the looping student (seconds); the other students get the config's timeout.
LOOP_CELL_TIMEOUT = int(os.environ.get("COURSE_TEST_LOOP_TIMEOUT", "30"))
#: Wall-clock guard for one `nbgrader` call of the tests (a hung grader fails the test instead of CI).
GUARD_SECONDS = int(os.environ.get("COURSE_TEST_GUARD", "900"))
#: Per-cell timeout for nbval (quick mode).
NBVAL_CELL_TIMEOUT = int(os.environ.get("COURSE_TEST_NBVAL_TIMEOUT", "300"))

MAIN_STUDENTS = ("solution", "release")
#: One student for proofs e and f (saves a notebook execution per lesson): the release with every
#: visible test rewritten to `pass` and an infinite loop in the first answer cell.
LOOP_STUDENT = "tamper_loop"


#: Entries of a lesson run's TMPDIR that are not the lesson's doing, so the clean-up check ignores them.
#: ``torchinductor_<user>``: ``import torch`` creates this (empty) folder, torch's per-user compile cache
#: (torch/_inductor/runtime/cache_dir_utils.py), which every run reuses, so it does not add up. (Under
#: pytest it is rarely seen: the test process imported torch first and passes TORCHINDUCTOR_CACHE_DIR on.)
TOOL_TEMP_ENTRIES = ("torchinductor_*",)


def _is_kernel_connection_file(entry: Path) -> bool:
    """jupyter_client writes each kernel's connection file to TMPDIR (``tmpXXXXXXXX.json``, by
    ``tempfile.mkstemp`` in ``write_connection_file``) and deletes it when the kernel shuts down. One left
    over means a kernel was not shut down cleanly: Jupyter's business, not a leftover of lesson code.
    (IPython's files go to ~/.ipython, Jupyter's other runtime files to ``jupyter --runtime-dir``.)"""
    if not (entry.is_file() and entry.name.startswith("tmp") and entry.suffix == ".json"):
        return False
    try:
        return "shell_port" in json.loads(entry.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


def fresh_tmpdir() -> Path:
    """An empty folder to be the ``TMPDIR`` of lesson kernels: Python's ``tempfile`` in a freshly started
    kernel (which inherits the environment) then creates everything in it, so leftovers can be listed.

    It is a short path directly in the system's temporary folder, not in pytest's deep ``tmp_path``:
    multiprocessing puts Unix sockets there (DataLoader workers share tensors through them), and a
    socket path longer than 107 characters fails, which hangs lesson 01's worker loaders. It is
    removed when the test process ends."""
    folder = Path(tempfile.mkdtemp(prefix="lesson-tmp-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


def temp_leftovers(folder: Path) -> list[str]:
    """What lesson code left in ``folder`` (a run's TMPDIR), as ``name (size, files)``; tool caches excluded."""
    left = []
    for entry in sorted(folder.iterdir()):
        if any(entry.match(pattern) for pattern in TOOL_TEMP_ENTRIES) or _is_kernel_connection_file(entry):
            continue
        files = [f for f in entry.rglob("*") if f.is_file()] if entry.is_dir() else [entry]
        size = sum(f.stat().st_size for f in files)
        left.append(f"{entry.name}{'/' if entry.is_dir() else ''} ({size / 1e6:.2f} MB, {len(files)} files)")
    return left


def per_lesson_classes(base: type, prefix: str, namespace: dict) -> None:
    """Create ``<prefix>_<lesson>`` subclasses of ``base`` (with ``lesson`` set) in ``namespace``."""
    for lesson in LESSONS:
        name = f"{prefix}_{re.sub(r'[^0-9a-zA-Z_]', '_', lesson)}"
        namespace[name] = type(name, (base,), {"lesson": lesson, "__doc__": f"{base.__doc__} Lesson {lesson}."})


#: What a kernel prints when the port it was given was taken before it could bind it.
KERNEL_PORT_RACE = "ZMQError: Address already in use"


def run_guarded_all(jobs: list[tuple[list[str], Path]], *, env: dict[str, str],
                    timeout: float, retry_port_race: bool = True) -> list[tuple[int, str, float]]:
    """Run several commands at once (each ``(cmd, cwd)``); a command still running after ``timeout``
    seconds is killed with its whole process group (kernels included). A command whose kernel lost
    its port to another process (``KERNEL_PORT_RACE``) runs once more. Returns (rc, output, seconds) each."""
    start = time.monotonic()
    procs = []
    for cmd, cwd in jobs:
        log = tempfile.TemporaryFile(mode="w+")
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        procs.append((proc, log))
    results = []
    for proc, log in procs:
        killed = False
        try:
            proc.wait(timeout=max(1.0, timeout - (time.monotonic() - start)))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            killed = True
        log.seek(0)
        out = log.read() + (f"\n[killed by the test guard after {timeout:.0f} s]" if killed else "")
        log.close()
        results.append((-9 if killed else proc.returncode, out, time.monotonic() - start))
    for index, ((cmd, cwd), (rc, out, seconds)) in enumerate(zip(jobs, results)):
        if retry_port_race and rc != 0 and KERNEL_PORT_RACE in out:
            # jupyter_client picks a free port, closes it and hands it to the kernel; a kernel started
            # by another test worker in between can take it. Not a fault of the course: run it again.
            again = run_guarded_all([(cmd, cwd)], env=env, timeout=timeout, retry_port_race=False)[0]
            results[index] = (again[0], f"{out}\n[{KERNEL_PORT_RACE}: run again]\n{again[1]}", seconds + again[2])
    return results


def run_guarded(cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str, float]:
    """Run one command under the guard of :func:`run_guarded_all`."""
    return run_guarded_all([(cmd, cwd)], env=env, timeout=timeout)[0]


def nbgrader_cmd(*args: str) -> list[str]:
    """``nbgrader ARGS`` with this Python."""
    return [sys.executable, "-m", "nbgrader", *args]


# --- the "students" -------------------------------------------------------------------------------

def tampered(release: NotebookNode) -> NotebookNode:
    """The release with every visible test cell rewritten to ``pass`` (metadata kept)."""
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        if is_grade_cell(cell):
            cell.source = "pass"
    return nb


#: A loop that never ends. It sleeps (so it does not steal a CPU core from the other test worker)
#: and, like a loop stuck in slow C code, answers the kernel interrupt only seconds later: the
#: grader must wait for it (nbgrader_config.py: Execute.iopub_timeout) instead of aborting.
LOOP_CODE = (
    "import time\n"
    "while True:  # never ends\n"
    "    try:\n"
    "        time.sleep(0.05)\n"
    "    except KeyboardInterrupt:\n"
    "        time.sleep(8)  # slow to stop\n"
    "        raise\n"
)


def looping(notebook: NotebookNode) -> tuple[NotebookNode, str]:
    """``notebook`` with an infinite loop at the top of its first answer cell; returns (notebook, its grade_id)."""
    nb = copy.deepcopy(notebook)
    first = next(c for c in nb.cells if is_solution_cell(c) and c.cell_type == "code")
    first.source = LOOP_CODE + first.source
    return nb, str(grade_id(first))


def stripped(nb: NotebookNode) -> NotebookNode:
    """What an editor that drops cell metadata returns."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.metadata = nbformat.NotebookNode()
    return nb


def without_first_test_cell(nb: NotebookNode) -> tuple[NotebookNode, int]:
    """The notebook minus its first grade cell; returns (notebook, index the cell had)."""
    nb = copy.deepcopy(nb)
    index = next(i for i, c in enumerate(nb.cells) if is_grade_cell(c))
    del nb.cells[index]
    return nb, index


# --- one grading run per lesson ------------------------------------------------------------------

@dataclass
class Submission:
    """What the gradebook and the autograded notebook say about one student."""

    score: float
    max_score: float
    grades: dict[str, tuple[float | None, float, bool]]  # grade_id -> (auto_score, max_score, needs_manual_grade)
    notebook: NotebookNode | None


@dataclass
class GradingRun:
    """A scratch course with one lesson, generated and graded for several students."""

    lesson: str
    course: Path
    generate_rc: int
    generate_log: str
    autograde_rc: int
    autograde_log: str
    autograde_seconds: float
    loop_rc: int
    loop_log: str
    loop_seconds: float
    loop_cell: str
    feedback_rc: int = -1
    export_rc: int = -1
    tools_log: str = ""
    submissions: dict[str, Submission] = field(default_factory=dict)
    loop_course: Path | None = None
    #: the TMPDIR of every command of the run (kernels included); left empty by lessons that clean up
    tmpdir: Path | None = None

    @property
    def release(self) -> Path:
        """The freshly generated student notebook."""
        return release_path(self.lesson, self.course)

    def submitted(self, student: str) -> Path:
        """Where a student's notebook is submitted."""
        return self.course / GRADING_DIR / "submitted" / student / self.lesson / f"{self.lesson}.ipynb"


def _write(path: Path, nb: NotebookNode) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def _read_submissions(run: GradingRun, course: Path, students: list[str]) -> None:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{course / GRADING_DIR / 'gradebook.db'}") as gb:
        for student in students:
            try:
                sub = gb.find_submission(run.lesson, student)
            except MissingEntry:
                continue
            grades = {g.name: (g.auto_score, float(g.max_score), bool(g.needs_manual_grade))
                      for nb in sub.notebooks for g in nb.grades}
            path = course / GRADING_DIR / "autograded" / student / run.lesson / f"{run.lesson}.ipynb"
            notebook = read_notebook(path) if path.exists() else None
            run.submissions[student] = Submission(float(sub.score), float(sub.max_score), grades, notebook)


def grade_lesson(lesson: str, workdir: Path, log: Callable[[str], None] = print) -> GradingRun:
    """Generate ``lesson`` in a scratch course and autograde the test students.

    The solution and the release are graded by one ``nbgrader autograde`` with the configured
    per-cell timeout; the looping student by a second one with a short timeout, at the same time,
    in a copy of the scratch course (its own gradebook, so the two never contend for it).
    """
    course = make_scratch_course(REPO_ROOT, [lesson], workdir / "course")
    tmpdir = fresh_tmpdir()
    env = quick_env({"TMPDIR": str(tmpdir)})
    rc, out, seconds = run_guarded(nbgrader_cmd("generate_assignment", lesson, "--force"), cwd=course, env=env,
                                   timeout=GUARD_SECONDS)
    log(f"[{lesson}] generate_assignment: {seconds:.1f} s")
    run = GradingRun(lesson, course, rc, out, -1, "", 0.0, -1, "", 0.0, "", tmpdir=tmpdir)
    if rc != 0:
        return run
    loop_course = workdir / "course-loop"
    shutil.copytree(course, loop_course)
    release = read_notebook(release_path(lesson, course))
    _write(run.submitted("solution"), read_notebook(source_path(lesson, course)))
    _write(run.submitted("release"), release)
    loop_nb, run.loop_cell = looping(tampered(release))
    _write(loop_course / GRADING_DIR / "submitted" / LOOP_STUDENT / lesson / f"{lesson}.ipynb", loop_nb)
    (run.autograde_rc, run.autograde_log, run.autograde_seconds), (run.loop_rc, run.loop_log, run.loop_seconds) = \
        run_guarded_all([
            (nbgrader_cmd("autograde", lesson, "--force"), course),
            (nbgrader_cmd("autograde", lesson, "--force", f"--Execute.timeout={LOOP_CELL_TIMEOUT}"), loop_course),
        ], env=env, timeout=GUARD_SECONDS)
    log(f"[{lesson}] autograde of {', '.join(MAIN_STUDENTS)}: {run.autograde_seconds:.1f} s; "
        f"of {LOOP_STUDENT} (timeout {LOOP_CELL_TIMEOUT} s): {run.loop_seconds:.1f} s (in parallel)")
    _read_submissions(run, course, list(MAIN_STUDENTS))
    _read_submissions(run, loop_course, [LOOP_STUDENT])
    # feedback and CSV export through the instructor tools (nbgrader generate_feedback / export)
    tool = [sys.executable, "-m", "tools.grade"]
    (run.feedback_rc, feedback_log, seconds), (run.export_rc, export_log, _), (loop_rc, loop_log, _) = \
        run_guarded_all([
            ([*tool, "feedback", lesson, "--root", str(course)], REPO_ROOT),
            ([*tool, "export", "--root", str(course)], REPO_ROOT),
            ([*tool, "feedback", lesson, "--root", str(loop_course)], REPO_ROOT),
        ], env=env, timeout=GUARD_SECONDS)
    run.feedback_rc = run.feedback_rc or loop_rc
    run.tools_log = feedback_log + export_log + loop_log
    run.loop_course = loop_course
    log(f"[{lesson}] tools.grade feedback + export: {seconds:.1f} s")
    return run


def copy_lesson(lesson: str, dest: Path) -> Path:
    """Copy ``solutions/<lesson>/`` to ``dest/<lesson>/`` (notebooks write files next to themselves)."""
    target = dest / lesson
    shutil.copytree(REPO_ROOT / SOURCE_DIR / lesson, target,
                    ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    return target / f"{lesson}.ipynb"


def tail(text: str, lines: int = 60) -> str:
    """The last lines of a log, for assertion messages."""
    return "\n".join(text.splitlines()[-lines:])


__all__ = ["GradingRun", "LESSONS", "RELEASE_DIR", "REPO_ROOT", "Submission", "copy_lesson", "fresh_tmpdir",
           "grade_lesson", "looping", "per_lesson_classes", "run_guarded", "stripped", "tail", "tampered",
           "temp_leftovers", "without_first_test_cell"]
