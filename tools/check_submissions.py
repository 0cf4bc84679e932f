"""Check collected submissions BEFORE grading, so a broken notebook is not silently scored 0.

    python -m tools.check_submissions                 # every lesson, grading/submitted/
    python -m tools.check_submissions --restore       # also repair what can be repaired
    python -m tools.check_submissions 00_images_as_tensors --submitted path/to/submitted

Expected layout: ``<submitted>/<student>/<lesson>/<lesson>.ipynb``. Each notebook is compared
with the student notebook it came from (``notebooks/<lesson>/<lesson>.ipynb``: nbgrader's
cell ids and checksums). Reported problems:

* nbgrader cell metadata stripped (some editors drop cell metadata): nbgrader would no
  longer see the answers and tests, and score them 0;
* a test (grade) cell or another read-only cell deleted: the deleted tests would never run;
* a cell's nbgrader metadata changed (e.g. ``grade`` switched off);
* an answer cell deleted (not repairable: the answer may be in another cell; look at it);
* the notebook missing, renamed, or unreadable.

``--restore`` repairs in place (a copy of each changed file goes to ``grading/backups/``):
stripped metadata is put back on the matching cells, deleted test and read-only cells are
re-inserted from the student notebook at their original position (after the cell that came
before them), changed metadata is reset, and a single notebook submitted under another name
is renamed. nbgrader itself puts back the hidden tests and any edited read-only cell when it
autogrades. Exit status: 0 when no problem remains, 1 otherwise.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as `python tools/check_submissions.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nbformat
from nbformat import NotebookNode

from tools.course import (
    GRADING_DIR,
    RELEASE_DIR,
    REPO_ROOT,
    grade_id,
    is_grade_cell,
    is_solution_cell,
    nbgrader_meta,
    read_notebook,
    source_text,
)

#: Cell-level metadata keys that nbgrader sets on generated cells (restored together).
NBGRADER_CELL_KEYS = ("nbgrader", "deletable", "editable")
_VALID_ID = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")


@dataclass
class Finding:
    """One thing found in one submitted notebook."""

    message: str
    problem: bool = True  # counts for the exit status unless fixed
    fixed: bool = False


@dataclass
class NotebookReport:
    """Everything found in one submitted notebook (or where one was expected)."""

    path: Path
    findings: list[Finding] = field(default_factory=list)

    @property
    def remaining(self) -> list[Finding]:
        """Problems not fixed."""
        return [f for f in self.findings if f.problem and not f.fixed]

    def add(self, message: str, *, problem: bool = True) -> Finding:
        """Record a finding and return it."""
        finding = Finding(message, problem)
        self.findings.append(finding)
        return finding


def _normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _describe(cell: NotebookNode) -> str:
    kind = "test cell" if is_grade_cell(cell) else "answer cell" if is_solution_cell(cell) else "read-only cell"
    return f"{kind} '{grade_id(cell)}'"


def _align(
    sub: NotebookNode, ref: NotebookNode, report: NotebookReport
) -> tuple[dict[int, int], dict[int, str], list[int]]:
    """Match the reference's nbgrader cells to submission cells.

    Returns (ref index -> submission index, ref index -> how it matched ("id" or "content"),
    submission indices of duplicated cells that nbgrader would ignore).
    """
    ref_ids = {grade_id(c): i for i, c in enumerate(ref.cells) if grade_id(c)}
    mapping: dict[int, int] = {}
    how: dict[int, str] = {}
    duplicates: list[int] = []
    # 1. by nbgrader cell id; nbgrader keeps the LAST cell of a duplicated id, so do we.
    for s_idx, cell in enumerate(sub.cells):
        gid = grade_id(cell)
        if gid is None:
            continue
        if gid not in ref_ids:
            report.add(f"cell with unknown nbgrader id '{gid}' (nbgrader ignores it)", problem=False)
            continue
        r_idx = ref_ids[gid]
        if r_idx in mapping:
            duplicates.append(mapping[r_idx])
        mapping[r_idx] = s_idx
        how[r_idx] = "id"
    used = set(mapping.values()) | set(duplicates)
    ref_order = [i for i, c in enumerate(ref.cells) if grade_id(c)]

    def window(r_idx: int) -> range:
        before = [mapping[i] for i in ref_order if i < r_idx and i in mapping]
        after = [mapping[i] for i in ref_order if i > r_idx and i in mapping]
        lo = max(before) + 1 if before else 0
        hi = min(after) if after else len(sub.cells)
        return range(lo, hi) if lo <= hi else range(len(sub.cells))

    def free(s_idx: int, cell_type: str) -> bool:
        cell = sub.cells[s_idx]
        return s_idx not in used and not nbgrader_meta(cell) and cell.cell_type == cell_type

    # 2. cells whose metadata was stripped: read-only cells by identical content ...
    for r_idx in ref_order:
        rcell = ref.cells[r_idx]
        if r_idx in mapping or is_solution_cell(rcell):
            continue
        target = _normalise(source_text(rcell))
        for s_idx in list(window(r_idx)) + list(range(len(sub.cells))):
            if free(s_idx, rcell.cell_type) and _normalise(source_text(sub.cells[s_idx])) == target:
                mapping[r_idx], how[r_idx] = s_idx, "content"
                used.add(s_idx)
                break
    # ... answer cells by position between matched neighbours, most similar to the stub.
    for r_idx in ref_order:
        rcell = ref.cells[r_idx]
        if r_idx in mapping or not is_solution_cell(rcell):
            continue
        candidates = [s for s in window(r_idx) if free(s, rcell.cell_type)]
        if not candidates:
            continue
        stub = source_text(rcell)
        best = max(candidates, key=lambda s: difflib.SequenceMatcher(None, stub, source_text(sub.cells[s])).ratio())
        mapping[r_idx], how[r_idx] = best, "content"
        used.add(best)
    return mapping, how, duplicates


def _restored_cell(rcell: NotebookNode, taken_ids: set[str], with_ids: bool) -> NotebookNode:
    cell = copy.deepcopy(rcell)
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
    if not with_ids:
        cell.pop("id", None)
        return cell
    cell_id = cell.get("id") or ""
    if not _VALID_ID.match(cell_id) or cell_id in taken_ids:
        cell_id = f"restored-{grade_id(rcell)}"[:64]
        cell_id = re.sub(r"[^a-zA-Z0-9-_]", "-", cell_id)
    cell["id"] = cell_id
    taken_ids.add(cell_id)
    return cell


def check_notebook(sub: NotebookNode, ref: NotebookNode, report: NotebookReport, restore: bool) -> NotebookNode | None:
    """Compare one submission with its reference; return the repaired notebook if ``restore`` changed it."""
    mapping, how, duplicates = _align(sub, ref, report)
    ref_order = [i for i, c in enumerate(ref.cells) if grade_id(c)]
    findings_to_fix: list[Finding] = []

    stripped = [r for r in ref_order if how.get(r) == "content"]
    if stripped:
        names = ", ".join(f"'{grade_id(ref.cells[r])}'" for r in stripped[:4]) + (" ..." if len(stripped) > 4 else "")
        findings_to_fix.append(report.add(
            f"nbgrader metadata stripped from {len(stripped)} of {len(ref_order)} cells ({names}); "
            "nbgrader would not grade them"))
    for r_idx in ref_order:
        if r_idx not in mapping or how[r_idx] != "id":
            continue
        expected = {k: v for k, v in nbgrader_meta(ref.cells[r_idx]).items() if k != "checksum"}
        got = {k: v for k, v in nbgrader_meta(sub.cells[mapping[r_idx]]).items() if k != "checksum"}
        if expected != got:
            diff = ", ".join(f"{k}={got.get(k)!r} (expected {expected.get(k)!r})"
                             for k in sorted(set(expected) | set(got)) if expected.get(k) != got.get(k))
            findings_to_fix.append(report.add(f"nbgrader metadata of {_describe(ref.cells[r_idx])} changed: {diff}"))
        elif not is_solution_cell(ref.cells[r_idx]) and \
                _normalise(source_text(ref.cells[r_idx])) != _normalise(source_text(sub.cells[mapping[r_idx]])):
            report.add(f"{_describe(ref.cells[r_idx])} was edited (nbgrader restores it when grading)", problem=False)
    deleted = [r for r in ref_order if r not in mapping]
    restorable = [r for r in deleted if not is_solution_cell(ref.cells[r])]
    for r_idx in deleted:
        rcell = ref.cells[r_idx]
        if is_solution_cell(rcell):
            report.add(f"{_describe(rcell)} deleted: the answer may be in another cell; grade this one by hand")
        else:
            findings_to_fix.append(report.add(f"{_describe(rcell)} deleted"))
    if duplicates:
        report.add(f"{len(duplicates)} duplicated nbgrader cell(s); nbgrader grades only the last copy", problem=False)

    if not restore or not findings_to_fix:
        return None
    # --- repair ---------------------------------------------------------------------------
    with_ids = (sub.nbformat, sub.nbformat_minor) >= (4, 5)
    taken = {c.get("id") for c in sub.cells if c.get("id")}
    for r_idx in ref_order:
        if r_idx in mapping:
            scell, rcell = sub.cells[mapping[r_idx]], ref.cells[r_idx]
            for key in NBGRADER_CELL_KEYS:
                if key in rcell.metadata:
                    scell.metadata[key] = copy.deepcopy(rcell.metadata[key])
                else:
                    scell.metadata.pop(key, None)
    after: dict[int, list[NotebookNode]] = {}
    before: dict[int, list[NotebookNode]] = {}
    at_end: list[NotebookNode] = []
    for r_idx in restorable:
        cell = _restored_cell(ref.cells[r_idx], taken, with_ids)
        prev = [mapping[i] for i in ref_order if i < r_idx and i in mapping]
        nxt = [mapping[i] for i in ref_order if i > r_idx and i in mapping]
        if prev:
            after.setdefault(prev[-1], []).append(cell)
        elif nxt:
            before.setdefault(nxt[0], []).append(cell)
        else:
            at_end.append(cell)
    cells: list[NotebookNode] = []
    for s_idx, scell in enumerate(sub.cells):
        cells += before.get(s_idx, [])
        cells.append(scell)
        cells += after.get(s_idx, [])
    cells += at_end
    sub.cells = cells
    for finding in findings_to_fix:
        finding.fixed = True
    return sub


def check_submission(path: Path, ref_path: Path, report: NotebookReport, restore: bool,
                     backup_dir: Path | None) -> None:
    """Check (and with ``restore`` repair) the notebook expected at ``path``."""
    if not path.exists():
        others = sorted(p for p in path.parent.glob("*.ipynb"))
        if len(others) == 1:
            finding = report.add(f"submitted as '{others[0].name}', but nbgrader only grades '{path.name}'")
            if not restore:
                return
            others[0].rename(path)
            finding.fixed = True
        else:
            report.add("notebook missing" + (f" (found: {', '.join(p.name for p in others)})" if others else ""))
            return
    try:
        sub = read_notebook(path)
    except Exception as exc:  # noqa: BLE001 - any parse failure is reported, not raised
        report.add(f"not a readable notebook: {type(exc).__name__}: {exc}")
        return
    ref = read_notebook(ref_path)
    original = path.read_bytes()
    repaired = check_notebook(sub, ref, report, restore)
    if repaired is not None:
        if backup_dir is not None:
            backup_dir.mkdir(parents=True, exist_ok=True)
            backup = backup_dir / path.name
            if not backup.exists():
                backup.write_bytes(original)
        nbformat.validate(repaired)
        nbformat.write(repaired, path)


def check_folder(submitted: Path, release: Path, lessons: list[str] | None = None, *, restore: bool = False,
                 backup_root: Path | None = None) -> list[NotebookReport]:
    """Check every ``<submitted>/<student>/<lesson>/`` folder against ``<release>/<lesson>/``."""
    reports: list[NotebookReport] = []
    if not submitted.is_dir():
        return reports
    for student_dir in sorted(p for p in submitted.iterdir() if p.is_dir()):
        for lesson_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            lesson = lesson_dir.name
            if lessons and lesson not in lessons:
                continue
            ref_dir = release / lesson
            ref_notebooks = sorted(ref_dir.glob("*.ipynb")) if ref_dir.is_dir() else []
            if not ref_notebooks:
                report = NotebookReport(lesson_dir)
                report.add(f"no lesson '{lesson}' in {release}")
                reports.append(report)
                continue
            for ref_path in ref_notebooks:
                report = NotebookReport(lesson_dir / ref_path.name)
                backup = backup_root / student_dir.name / lesson if backup_root else None
                check_submission(lesson_dir / ref_path.name, ref_path, report, restore, backup)
                reports.append(report)
    return reports


def print_reports(reports: list[NotebookReport], base: Path) -> None:
    """Print one line per finding and a summary."""
    for report in reports:
        try:
            shown = report.path.relative_to(base)
        except ValueError:
            shown = report.path
        if not report.findings:
            print(f"ok       {shown}")
        for f in report.findings:
            status = "fixed   " if f.fixed else "PROBLEM " if f.problem else "note    "
            print(f"{status} {shown}: {f.message}")
    bad = [r for r in reports if r.remaining]
    fixed = [r for r in reports if any(f.fixed for f in r.findings)]
    print(f"{len(reports)} notebook(s) checked: {len(bad)} with problems left, {len(fixed)} repaired.")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lessons", nargs="*", help="only these lessons (default: all)")
    parser.add_argument("--submitted", type=Path, default=REPO_ROOT / GRADING_DIR / "submitted",
                        help="folder of <student>/<lesson>/<lesson>.ipynb (default: grading/submitted)")
    parser.add_argument("--release", type=Path, default=REPO_ROOT / RELEASE_DIR,
                        help="the student notebooks the submissions came from (default: notebooks)")
    parser.add_argument("--restore", action="store_true", help="repair stripped metadata and deleted test cells")
    parser.add_argument("--backups", type=Path, default=REPO_ROOT / GRADING_DIR / "backups",
                        help="where --restore keeps the original files (default: grading/backups)")
    args = parser.parse_args(argv)
    submitted = args.submitted.resolve()
    if not submitted.is_dir():
        print(f"no such folder: {submitted}", file=sys.stderr)
        return 1
    reports = check_folder(submitted, args.release.resolve(), args.lessons, restore=args.restore,
                           backup_root=args.backups.resolve())
    print_reports(reports, submitted)
    if not reports:
        print(f"no submissions found under {submitted} (expected <student>/<lesson>/<lesson>.ipynb)")
        return 1
    return 1 if any(r.remaining for r in reports) else 0


__all__ = ["Finding", "NotebookReport", "check_folder", "check_notebook", "main"]

if __name__ == "__main__":
    sys.exit(main())
