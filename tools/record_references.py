"""Record the reference results: run the lessons in full mode and keep every tagged value they print.

    python -m tools.record_references                    # every lesson, on this machine
    python -m tools.record_references 03_mlp_vs_tinyvgg  # some lessons only
    python -m tools.record_references --text-only        # only rewrite the run-time sentences

Each solution notebook runs top to bottom in full mode (offline stand-ins allowed) with
``COURSE_RECORD_RESULTS`` set, so every ``cu.result``/``cu.results`` call appends its tag and value
to a file; then it runs once more in the quick mode, for its time only. The run — machine,
versions, date, full- and quick-mode seconds, a hash of the lesson's code and the values —
replaces this machine's previous run of that lesson in ``course_utils/reference_results.json``.
A machine is named by its ``--short`` name (default: "N-core CPU", or the GPU's model).

Finally the run-time sentence of every lesson (between ``<!-- run-time -->`` and
``<!-- /run-time -->`` in its first cell) and the README's run-time cells are rewritten from the
references, so no time is typed by hand. ``tests/test_references.py`` fails when a lesson prints
a tag without a reference, keeps a reference for a tag it no longer prints, or changed its code
after its references were recorded.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as `python tools/record_references.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.course import (
    REPO_ROOT,
    find_lessons,
    is_grade_cell,
    is_solution_cell,
    lessons_or_all,
    read_notebook,
    source_path,
    source_text,
)
from course_utils.references import RECORD_ENV, REFERENCE_FILE  # one definition of both, in the package
from tools.run_lessons import lesson_env, run_notebook

RUN_TIME_MARKERS = ("<!-- run-time -->", "<!-- /run-time -->")
#: A tag as the lessons write it in ``cu.result("03.name", ...)`` or as a key of ``cu.results({...})``;
#: an f-string tag such as ``f"04.{target}_k{k}_probe"`` stands for every tag it can produce.
TAG_IN_CODE = re.compile(r"""["'](\d\d\.(?:[a-z0-9_]|\{[^{}"']*\})+)["']""")


def code_hash(lesson: str, root: Path = REPO_ROOT) -> str:
    """A hash of the code that produces the lesson's results: every code cell except the exercises.

    Answer and test cells are left out: the lessons' demonstrations use ``course_utils``, never a
    learner's answer, so an exercise can change without re-recording the lesson's results.
    """
    digest = hashlib.sha256()
    for cell in read_notebook(source_path(lesson, root)).cells:
        if cell.cell_type == "code" and not (is_grade_cell(cell) or is_solution_cell(cell)):
            digest.update(source_text(cell).encode() + b"\0")
    return digest.hexdigest()[:16]


def tags_in_lesson(lesson: str, root: Path = REPO_ROOT) -> set[str]:
    """The result tags of ``lesson``: string literals "NN.name" with its number, in its code cells.

    A tag written as an f-string keeps its ``{...}`` fields (``"04.{target}_k{k}_probe"``);
    ``tag_pattern`` turns it into the pattern of the tags it produces.
    """
    number = lesson[:2]
    return {tag for cell in read_notebook(source_path(lesson, root)).cells if cell.cell_type == "code"
            for tag in TAG_IN_CODE.findall(source_text(cell)) if tag.startswith(f"{number}.")}


def tag_pattern(tag: str) -> re.Pattern[str]:
    """The tags a tag from ``tags_in_lesson`` stands for: itself, or every filling of its ``{...}`` fields."""
    parts = re.split(r"\{[^{}]*\}", tag)
    return re.compile("[a-z0-9_]+".join(map(re.escape, parts)) + "$")


def this_machine() -> tuple[str, str, str]:
    """(short name, description, versions) of this machine."""
    import torch

    cores = os.cpu_count() or 1
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    description = f"{cores}-core CPU ({cpu})"
    short = f"{cores}-core CPU"
    if torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(0)
        description = f"one {gpu}, {description}"
        short = gpu.replace("NVIDIA ", "").split()[0]
    versions = f"Python {platform.python_version()}, torch {torch.__version__}"
    return short, description, versions


def load(path: Path) -> list[dict]:
    """The runs recorded in ``path`` (none when it does not exist)."""
    return json.loads(path.read_text())["runs"] if path.exists() else []


def save(path: Path, runs: list[dict]) -> None:
    """Write ``runs`` sorted by lesson, current runs before provisional ones."""
    runs = sorted(runs, key=lambda r: (r["lesson"], bool(r.get("provisional")), r["short"]))
    path.write_text(json.dumps({"runs": runs}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def record_lesson(lesson: str, short: str, machine: str, versions: str, root: Path = REPO_ROOT,
                  keep: Path | None = None) -> dict:
    """Run ``lesson`` in full mode (recording its values), then in quick mode; the run as a dict.

    ``keep``: a folder for the executed full-mode notebook, to read its outputs (figures, tables) afterwards.
    """
    with tempfile.TemporaryDirectory(prefix="references_") as scratch:
        values_file = Path(scratch) / "values.jsonl"
        env = lesson_env(full=True, standins=True, root=root)
        env[RECORD_ENV] = str(values_file)
        full = run_notebook(lesson, student=False, full=True, root=root, env=env, keep=keep)
        if full.problems:
            raise SystemExit(f"{lesson}: the full-mode run failed, nothing recorded:\n  " + "\n  ".join(full.problems))
        values: dict[str, float] = {}
        for line in values_file.read_text().splitlines() if values_file.exists() else []:
            entry = json.loads(line)
            values[entry["tag"]] = entry["value"]
    quick = run_notebook(lesson, student=False, full=False, root=root)
    return {"lesson": lesson, "short": short, "machine": machine, "versions": versions,
            "date": datetime.date.today().isoformat(), "seconds": full.seconds, "quick_seconds": quick.seconds,
            "source_hash": code_hash(lesson, root), "values": dict(sorted(values.items())), "provisional": ""}


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds:.0f} s (about {seconds / 60:.0f} min)"


def run_time_sentence(lesson: str, runs: Sequence[dict]) -> str:
    """What a lesson's opening says about its run time, from the recorded runs of ``lesson``."""
    mine = [r for r in runs if r["lesson"] == lesson]
    current = [r for r in mine if not r.get("provisional")]
    parts = [f"{_minutes(r['seconds'])} on a {r['short']} ({r['date']})" for r in current]
    parts += [f"{_minutes(r['seconds'])} on one {r['short']} (provisional: {r['provisional']})"
              for r in mine if r.get("provisional")]
    if not parts:
        return "Full mode: not recorded yet."
    quick = [f"{r['quick_seconds']:.0f} s on the {r['short']}" for r in current if r.get("quick_seconds")]
    text = "Full mode, as recorded in the reference runs: " + "; ".join(parts) + "."
    if quick:
        text += " Quick mode: " + "; ".join(quick) + "."
    return text


def rewrite_run_times(runs: Sequence[dict], root: Path = REPO_ROOT) -> list[str]:
    """Put each lesson's ``run_time_sentence`` between its markers; the lessons whose text changed."""
    start, end = map(re.escape, RUN_TIME_MARKERS)
    pattern = re.compile(f"{start}.*?{end}", re.S)
    changed = []
    for lesson in find_lessons(root):
        path = source_path(lesson, root)
        text = path.read_text(encoding="utf-8")
        new_sentence = json.dumps(run_time_sentence(lesson, runs), ensure_ascii=False)[1:-1]
        new = pattern.sub(lambda _: RUN_TIME_MARKERS[0] + new_sentence + RUN_TIME_MARKERS[1], text, count=1)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(lesson)
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    new = re.sub(r"<!-- run-time (\d\d_[a-z0-9_]+) -->.*?<!-- /run-time -->",
                 lambda m: f"<!-- run-time {m.group(1)} -->{readme_cell(m.group(1), runs)}<!-- /run-time -->", text)
    if new != text:
        readme.write_text(new, encoding="utf-8")
        changed.append("README.md")
    return changed


def readme_cell(lesson: str, runs: Sequence[dict]) -> str:
    """The README table's run-time cell of ``lesson``: full-mode seconds per machine, quick mode on the CPU."""
    mine = [r for r in runs if r["lesson"] == lesson]
    parts = [f"{r['seconds']:.0f} s ({r['short']}{', provisional' if r.get('provisional') else ''})" for r in mine]
    quick = [f"quick {r['quick_seconds']:.0f} s" for r in mine if r.get("quick_seconds") and not r.get("provisional")]
    return " · ".join(parts + quick[:1]) or "not recorded yet"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lessons", nargs="*", help="lesson folder names (default: all)")
    parser.add_argument("--short", help="the machine's short name (default: 'N-core CPU' or the GPU model)")
    parser.add_argument("--text-only", action="store_true", help="only rewrite the run-time sentences")
    parser.add_argument("--keep", type=Path, help="also write the executed full-mode notebooks into this folder")
    parser.add_argument("--file", type=Path, default=REFERENCE_FILE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    runs = load(args.file)
    if not args.text_only:
        short, machine, versions = this_machine()
        short = args.short or short
        for lesson in lessons_or_all(args.lessons):
            run = record_lesson(lesson, short, machine, versions, keep=args.keep)
            runs = [r for r in runs if not (r["lesson"] == lesson and r["short"] == short)] + [run]
            save(args.file, runs)
            print(f"{lesson:28s} full {run['seconds']:6.1f} s, quick {run['quick_seconds']:5.1f} s, "
                  f"{len(run['values'])} values recorded on {short}", flush=True)
    changed = rewrite_run_times(runs)
    print("run-time text rewritten in: " + (", ".join(changed) if changed else "nothing (already current)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
