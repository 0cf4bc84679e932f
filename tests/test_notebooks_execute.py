"""Every solution notebook runs under nbval in the quick mode; set-up cells follow the one URL setting.

nbval runs as a separate ``pytest --nbval-lax`` process on a scratch copy of each lesson (the
notebooks write files next to themselves), with ``COURSE_QUICK=1 COURSE_ALLOW_STANDINS=1`` and a
per-cell timeout. ``--nbval-lax`` executes every cell and compares the outputs of the cells
marked ``# NBVAL_CHECK_OUTPUT`` with their reference outputs, which live in
``tests/nbval_reference/<lesson>.json`` (notebooks are committed without outputs) and are
put into the scratch copy before nbval runs. ``TMPDIR`` points at an empty folder, which must
be empty again after the run: a lesson deletes every temporary folder it or its hidden tests create.
(The student notebooks are executed by the grading proofs: see test_grading.py.)
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from course_harness import (
    GUARD_SECONDS,
    LESSONS,
    NBVAL_CELL_TIMEOUT,
    copy_lesson,
    fresh_tmpdir,
    per_lesson_classes,
    run_guarded,
    tail,
    temp_leftovers,
)

import nbformat

from tools.course import REPO_ROOT, quick_env, read_notebook, release_path, source_path, source_text
from tools.record_outputs import is_marked, read_references, with_references
from tools.repo_url import read_settings, stale_files

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"


class _Nbval:
    """nbval run of the solution notebook."""

    lesson: str

    def test_solution_notebook_runs_under_nbval(self, tmp_path: Path) -> None:
        notebook = copy_lesson(self.lesson, tmp_path)
        nbformat.write(with_references(read_notebook(notebook), read_references(self.lesson)), notebook)
        cmd = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
               f"--nbval-cell-timeout={NBVAL_CELL_TIMEOUT}", "-p", "no:cacheprovider", "-o", "addopts=",
               "--rootdir", str(tmp_path), "-q", str(notebook)]
        tmpdir = fresh_tmpdir()  # the kernel's tempfile writes here: leftovers can be listed
        env = quick_env({"TMPDIR": str(tmpdir)})
        rc, out, seconds = run_guarded(cmd, cwd=tmp_path, env=env, timeout=GUARD_SECONDS)
        print(f"[{self.lesson}] nbval: {seconds:.1f} s")
        assert rc == 0, f"nbval failed for {self.lesson} (exit {rc}):\n{tail(out, 120)}"
        left = temp_leftovers(tmpdir)
        assert not left, (f"{self.lesson} left temporary files behind after a full run (delete every temporary "
                          f"folder the lesson or its hidden tests create, e.g. in a last clean-up cell):\n  "
                          + "\n  ".join(left))


per_lesson_classes(_Nbval, "TestNbval", globals())


@pytest.mark.parametrize("lesson", LESSONS)
def test_checked_output_cells_have_reference_outputs(lesson: str) -> None:
    """Every marked cell has a recorded reference output (else nbval compares nothing); no stale ones;
    the solution notebook itself has no outputs."""
    nb = read_notebook(source_path(lesson))
    marked = {c.get("id") for c in nb.cells if is_marked(c)}
    assert marked, f"no cell is marked {CHECK_MARK!r} for output comparison"
    references = read_references(lesson)
    fix = f"record them with `python -m tools.record_outputs {lesson}`"
    missing = sorted(str(m) for m in marked - set(references) | {m for m in marked if not references.get(m)})
    assert not missing, f"cells {missing} are marked {CHECK_MARK!r} but have no reference output; {fix}"
    stale = sorted(set(references) - marked)
    assert not stale, f"reference outputs for cells that are no longer marked: {stale}; {fix}"
    with_outputs = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not with_outputs, f"cells {with_outputs} have outputs: notebooks are committed without outputs"


@pytest.mark.parametrize("where", ["solutions", "notebooks"])
@pytest.mark.parametrize("lesson", LESSONS)
def test_first_code_cell_is_the_colab_setup_cell(lesson: str, where: str) -> None:
    """The first code cell is exactly the set-up cell, with the URL and ref of pyproject [tool.course]."""
    path = source_path(lesson) if where == "solutions" else release_path(lesson)
    assert path.exists(), f"{path} is missing (run `python -m tools.regenerate`)"
    first = next(c for c in read_notebook(path).cells if c.cell_type == "code")
    expected = read_settings().setup_cell()
    assert source_text(first).strip() == expected, (
        f"{path.relative_to(REPO_ROOT)}: the first code cell must be the set-up cell:\n{expected}\n"
        f"--- found:\n{source_text(first)}\n(after changing [tool.course]: python -m tools.repo_url --rewrite)")


SETUP_HARNESS = textwrap.dedent("""
    import importlib.metadata, importlib.util, subprocess, sys
    calls = []
    real_find_spec = importlib.util.find_spec
    if sys.argv[1] == "absent":   # a fresh Colab runtime: course_utils is not installed
        importlib.util.find_spec = lambda name, *a: None if name == "course_utils" else real_find_spec(name, *a)
        # Colab's preinstalled pair (late 2026), whatever this environment has
        colab = {"torch": "2.9.1+cu126", "torchvision": "0.24.1+cu126"}
        real_version = importlib.metadata.version
        importlib.metadata.version = lambda name: colab.get(name) or real_version(name)
    def fake_run(cmd, check=False, **kw):
        calls.append(cmd)
        importlib.util.find_spec = real_find_spec
        return subprocess.CompletedProcess(cmd, 0)
    subprocess.run = fake_run
    exec(compile(sys.stdin.read(), "setup-cell", "exec"))
    print("PIP-CALLS:", calls)
""")


def run_setup_cell(situation: str, env: dict[str, str] | None = None) -> tuple[list[list[str]], str]:
    """Execute the set-up cell with pip calls recorded instead of run; return (pip calls, output)."""
    result = subprocess.run([sys.executable, "-c", SETUP_HARNESS, situation], input=read_settings().setup_cell(),
                            text=True, capture_output=True, env=env or quick_env(), timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    calls = ast.literal_eval(result.stdout.split("PIP-CALLS:")[-1].strip())
    return calls, result.stdout


@pytest.mark.parametrize("situation", ["present", "absent"])
def test_setup_cell_installs_only_when_needed(situation: str) -> None:
    """Where course_utils is importable the set-up cell installs nothing; in a fresh Colab runtime it
    pip-installs the release archive and names the installed torch and torchvision, so pip keeps them.
    Either way it ends with the set-up banner (device, image backend, run mode)."""
    settings = read_settings()
    calls, out = run_setup_cell(situation)
    if situation == "present":
        assert calls == [], calls
    else:
        assert calls == [[sys.executable, "-m", "pip", "install", "--quiet", settings.pip_spec,
                          "torch==2.9.1+cu126", "torchvision==0.24.1+cu126"]], calls
        assert settings.pip_spec == f"{settings.repository_url}/archive/{settings.release_ref}.zip"
    assert "course_utils setup | device" in out and "\nimage files: " in out and "\nrun mode: " in out, out


def test_setup_cell_installs_a_release_archive_named_by_course_package(tmp_path: Path) -> None:
    """An instructor can hand out the course as an archive: COURSE_PACKAGE replaces the download URL."""
    calls, _ = run_setup_cell("absent", quick_env({"COURSE_PACKAGE": str(tmp_path / "course-v0.1.0.zip")}))
    assert calls[0][5:] == [str(tmp_path / "course-v0.1.0.zip"), "torch==2.9.1+cu126", "torchvision==0.24.1+cu126"]


def test_links_follow_the_repository_url_setting() -> None:
    """READMEs and solution set-up cells agree with pyproject [tool.course] (tools.repo_url --check)."""
    stale = stale_files(REPO_ROOT)
    assert not stale, f"out of date with [tool.course]: {stale}; run `python -m tools.repo_url --rewrite`"
