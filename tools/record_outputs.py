"""Record the reference outputs nbval compares, outside the notebooks; strip notebook outputs.

    python -m tools.record_outputs                      # every lesson
    python -m tools.record_outputs 00_images_as_tensors
    python -m tools.record_outputs --strip-only         # only remove outputs, execute nothing

Notebooks are committed without outputs. The code cells whose first line is
``# NBVAL_CHECK_OUTPUT`` print something deterministic (arithmetic, shapes, counts);
their reference outputs live in ``tests/nbval_reference/<lesson>.json`` (keyed by cell id).
The nbval test copies the lesson to a scratch folder, puts these outputs into the marked
cells of the copy and runs ``pytest --nbval-lax``, which compares exactly those cells.

This tool executes a scratch copy of each lesson in the quick mode (``COURSE_QUICK=1
COURSE_ALLOW_STANDINS=1``, as CI does), writes the marked cells' outputs to the reference
file, and clears every output and execution count in the solution notebook.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as `python tools/record_outputs.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nbformat
from nbformat import NotebookNode

from tools.course import REPO_ROOT, SOURCE_DIR, lessons_or_all, quick_env, read_notebook, source_path, source_text

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
REFERENCE_DIR = Path("tests") / "nbval_reference"


def is_marked(cell: NotebookNode) -> bool:
    """True for code cells whose output nbval compares."""
    return cell.cell_type == "code" and source_text(cell).lstrip().startswith(CHECK_MARK)


def reference_path(lesson: str, root: Path = REPO_ROOT) -> Path:
    """Where the reference outputs of ``lesson`` are stored."""
    return root / REFERENCE_DIR / f"{lesson}.json"


def read_references(lesson: str, root: Path = REPO_ROOT) -> dict[str, list[dict]]:
    """Reference outputs of the marked cells of ``lesson``, by cell id ({} when none recorded)."""
    path = reference_path(lesson, root)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def with_references(nb: NotebookNode, references: dict[str, list[dict]]) -> NotebookNode:
    """Put the reference outputs into the marked cells of ``nb`` (numbered 1, 2, ...), for nbval."""
    count = 0
    for cell in nb.cells:
        if is_marked(cell) and cell.get("id") in references:
            count += 1
            cell.outputs = [nbformat.from_dict(output) for output in references[cell["id"]]]
            for output in cell.outputs:
                if "execution_count" in output:
                    output["execution_count"] = count
            cell.execution_count = count
    return nb


def execute(lesson: str, root: Path, timeout: int) -> NotebookNode:
    """Execute a scratch copy of the lesson in the quick mode; return the executed notebook."""
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory(prefix=f"record-{lesson}-") as tmp:
        work = Path(tmp) / lesson
        shutil.copytree(root / SOURCE_DIR / lesson, work, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        nb = read_notebook(work / f"{lesson}.ipynb")
        saved = dict(os.environ)
        os.environ.update(quick_env(root=root))  # the kernel inherits this process's environment
        try:
            NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()
        finally:
            os.environ.clear()
            os.environ.update(saved)
    return nb


def strip_outputs(nb: NotebookNode) -> NotebookNode:
    """Clear every code cell's outputs and execution count."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def marked_outputs(executed: NotebookNode) -> dict[str, list[dict]]:
    """The outputs of the marked cells of an executed notebook, by cell id."""
    missing = [i for i, c in enumerate(executed.cells) if is_marked(c) and not c.get("id")]
    if missing:
        raise SystemExit(f"cells {missing} are marked {CHECK_MARK} but have no cell id (nbformat >= 4.5 needed)")
    return {cell["id"]: [dict(o) for o in cell.outputs] for cell in executed.cells if is_marked(cell)}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lessons", nargs="*", help="lesson names (default: every lesson)")
    parser.add_argument("--strip-only", action="store_true", help="clear notebook outputs without executing")
    parser.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds (default 600)")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    for lesson in lessons_or_all(args.lessons, root):
        path = source_path(lesson, root)
        if not args.strip_only:
            references = marked_outputs(execute(lesson, root, args.timeout))
            target = reference_path(lesson, root)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(references, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            print(f"{target.relative_to(root)}: {len(references)} reference output(s)")
        before = path.read_bytes()
        nbformat.write(strip_outputs(read_notebook(path)), path)
        print(f"{path.relative_to(root)}: {'outputs stripped' if path.read_bytes() != before else 'no outputs'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
