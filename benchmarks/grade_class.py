"""Grade a simulated class of 20 end to end, with the instructor guide's commands, and time each step.

    python benchmarks/grade_class.py                 # lesson 00, 20 students, in a scratch course
    python benchmarks/grade_class.py --students 30 --cell-timeout 30 --json result.json

A scratch course (nbgrader_config.py, solutions/ and notebooks/ of one lesson) gets the
simulated class of ``tools.simulated_class``. The instructor's steps then run as the guide writes
them: check (every fault diagnosed, exit 1), fix what the check says (rename and move the
misplaced submissions, set the wrong lesson's notebook aside, ``--restore`` the rest), check
again (exit 0), autograde, feedback, export. At the end it verifies that every roster student
has a row in grades.csv (missing ones with 0) matching the gradebook, and that no feedback file
holds a hidden test. It prints what each step printed, one JSON line with the times, and exits 1
if anything did not hold.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.course import HIDDEN_TEST_MARKERS, hidden_test_lines, quick_env, read_notebook, source_path  # noqa: E402
from tools.simulated_class import build  # noqa: E402


#: A summary row of tools.grade: "student (Name)   lesson   score / max   notes".
ROW = r"^(\S+)(?: \([^)]*\))?\s+"


def step(name: str, args: list[str], *, cwd: Path, env: dict[str, str], times: dict[str, float]) -> tuple[int, str]:
    """Run one instructor command, echo it and its output, record its time."""
    print(f"\n$ {' '.join(args)}", flush=True)
    start = time.monotonic()
    result = subprocess.run(args, cwd=cwd, env=env, text=True, capture_output=True, check=False)
    times[name] = round(time.monotonic() - start, 1)
    print(result.stdout + result.stderr, end="", flush=True)
    print(f"[{name}: exit {result.returncode}, {times[name]} s]", flush=True)
    return result.returncode, result.stdout + result.stderr


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lesson", default="00_images_as_tensors")
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--cell-timeout", type=int, default=30, help="per-cell limit while grading (s)")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    lesson = args.lesson
    failures: list[str] = []
    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="grade_class_") as scratch:
        course = Path(scratch) / "course"
        course.mkdir()
        shutil.copy2(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
        for folder in ("solutions", "notebooks"):
            shutil.copytree(ROOT / folder / lesson, course / folder / lesson)
        shutil.copytree(ROOT / "notebooks" / "01_batching_dataloaders", course / "notebooks" / "01_batching_dataloaders")
        made = build(course / "grading", lesson, args.students)
        env = quick_env({"COURSE_CELL_TIMEOUT": str(args.cell_timeout)})
        py = [sys.executable, "-m"]
        root = ["--root", str(course)]
        check = [*py, "tools.check_submissions", "--submitted", str(course / "grading/submitted"),
                 "--release", str(course / "notebooks"), "--roster", str(course / "grading/roster.csv"),
                 "--excused", str(course / "grading/excused.csv"), "--backups", str(course / "grading/backups")]

        rc, out = step("1 check", check, cwd=ROOT, env=env, times=times)
        expected = ["'alcie' is not on the roster (did you mean 'alice'?)", "'00_images' is not a lesson folder",
                    "a notebook outside a lesson folder", "metadata stripped", "test cell", "markdown cell",
                    "notebook of lesson '01_batching_dataloaders'"]
        missing = [text for text in expected if text not in out]
        if rc != 1 or missing:
            failures.append(f"check: exit {rc}, undiagnosed: {missing}")

        # what the instructor does with the diagnoses
        submitted = course / "grading" / "submitted"
        start = time.monotonic()
        (submitted / "alcie").rename(submitted / "alice")
        (submitted / "student02" / "00_images").rename(submitted / "student02" / lesson)
        (submitted / "student03" / lesson).mkdir()
        (submitted / "student03" / f"{lesson}.ipynb").rename(submitted / "student03" / lesson / f"{lesson}.ipynb")
        aside = course / "grading" / "set-aside" / "student16"
        aside.mkdir(parents=True)
        (submitted / "student16" / lesson).rename(aside / lesson)  # asked the student for the right file
        times["2 fix by hand"] = round(time.monotonic() - start, 1)
        rc, out = step("3 check --restore", [*check, "--restore"], cwd=ROOT, env=env, times=times)
        if rc != 0 or out.count("fixed") < 3:
            failures.append(f"check --restore: exit {rc}")
        rc, out = step("4 autograde", [*py, "tools.grade", "autograde", lesson, *root], cwd=ROOT, env=env, times=times)
        rows = [line for line in out.splitlines() if re.match(ROW + lesson + r"\s+[\d.]+ /", line)]
        if rc != 0 or len(rows) != args.students:
            failures.append(f"autograde: exit {rc}, {len(rows)} summary rows for {args.students} students")
        if "time limit hit" not in out:
            failures.append("the infinite loop was not reported as a time-out")
        warnings = len(re.findall(r"checksum' for cell|SAWarning", out))
        if warnings:
            failures.append(f"{warnings} harmless warnings still shown")
        rc, out = step("5 feedback", [*py, "tools.grade", "feedback", lesson, *root], cwd=ROOT, env=env, times=times)
        if rc != 0:
            failures.append(f"feedback: exit {rc}")
        rc, out = step("6 export", [*py, "tools.grade", "export", *root], cwd=ROOT, env=env, times=times)
        with open(course / "grading" / "grades.csv", newline="") as handle:
            grades = {r["student_id"]: float(r["score"]) for r in csv.DictReader(handle) if r["assignment"] == lesson}
        if set(grades) != set(made.roster):
            failures.append(f"grades.csv students {sorted(grades)} != roster")
        zeros = sorted(s for s, score in grades.items() if score == 0)
        rc, out = step("7 scores", [*py, "tools.grade", "scores", lesson, *root], cwd=ROOT, env=env, times=times)
        shown = {m.group(1): float(m.group(2)) for m in re.finditer(ROW + lesson + r"\s+([\d.]+) /", out, re.M)}
        if shown != grades:
            failures.append(f"scores and grades.csv disagree: {sorted(set(shown.items()) ^ set(grades.items()))}")
        secret = hidden_test_lines(read_notebook(source_path(lesson)))
        feedback = sorted((course / "grading" / "feedback").glob(f"*/{lesson}/{lesson}.html"))
        for path in feedback:
            text = html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))
            leaked = sorted(secret & {line.strip() for line in text.splitlines()}) + [m for m in HIDDEN_TEST_MARKERS if m in text]
            if leaked:
                failures.append(f"{path.parent.parent.name}'s feedback shows hidden tests: {leaked[:2]}")
        if len(feedback) != args.students - 2:  # no submission, set aside
            failures.append(f"{len(feedback)} feedback files for {args.students - 2} graded students")
    result = {"students": args.students, "lesson": lesson, "seconds": times, "total_s": round(sum(times.values()), 1),
              "zero_scores": zeros, "feedback_files": len(feedback), "failures": failures,
              "cpu": os.cpu_count()}
    print("\n" + json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
