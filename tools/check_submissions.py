"""Check collected submissions BEFORE grading, so a broken notebook is not silently scored 0.

    python -m tools.check_submissions                 # every lesson, grading/submitted/
    python -m tools.check_submissions --restore       # also repair what can be repaired
    python -m tools.check_submissions 00_images_as_tensors --submitted path/to/submitted

Expected layout: ``<submitted>/<student>/<lesson>/<lesson>.ipynb``, with every student on the
roster ``grading/roster.csv`` (columns ``id,name``). Every entry under the submitted folder is
accounted for: a student folder not on the roster (with the closest roster id), a folder that is
not a lesson (with the closest lesson), a notebook outside a lesson folder or outside any student
folder (with the lesson its cells belong to), and each roster student's missing submissions
(notes: they are scored 0). Each notebook is compared with the student notebook it came from
(``notebooks/<lesson>/<lesson>.ipynb``: nbgrader's cell ids and checksums). Reported problems:

* another lesson's notebook (recognised by its cell ids): ``--restore`` refuses to touch it;
* an answer or test cell whose type changed (e.g. code turned into markdown);

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
autogrades. A problem you have looked at and accept is excused by a line ``path,reason`` in
``grading/excused.csv`` (path relative to the submitted folder, e.g. ``alcie`` or
``bob/00_images_as_tensors``): it is then reported as a note, and an excused student folder that
is not on the roster is not graded. Exit status: 0 when no problem remains, 1 otherwise.
"""

from __future__ import annotations

import argparse
import copy
import csv
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


ROSTER_FILE = "roster.csv"
EXCUSED_FILE = "excused.csv"


def read_roster(path: Path) -> dict[str, str]:
    """Student ids -> names from a CSV file with the columns ``id`` and ``name``."""
    if not path.is_file():
        raise FileNotFoundError(f"no roster at {path}: create it as a CSV file with the header `id,name` and one "
                                f"line per student, e.g. `alice,Alice Adams` (ids are the submission folder names)")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "id" not in [f.strip() for f in reader.fieldnames]:
            raise ValueError(f"{path}: expected a header line with the columns id,name; got {reader.fieldnames}")
        roster: dict[str, str] = {}
        for line, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            student = row.get("id", "")
            if not student or not _VALID_ID.match(student):
                raise ValueError(f"{path} line {line}: expected a student id of letters, digits, - and _; got {student!r}")
            if student in roster:
                raise ValueError(f"{path} line {line}: student id {student!r} appears twice")
            roster[student] = row.get("name", "")
    if not roster:
        raise ValueError(f"{path}: the roster lists no student")
    return roster


def read_excused(path: Path) -> dict[str, str]:
    """Excused paths (relative to the submitted folder) -> reason, from ``path,reason`` lines (optional file)."""
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = [row for row in csv.reader(handle) if row and row[0].strip() and not row[0].startswith("#")]
    if rows and rows[0][0].strip() == "path":
        rows = rows[1:]
    return {row[0].strip().strip("/"): (row[1].strip() if len(row) > 1 else "excused") for row in rows}


def lesson_ids(release: Path) -> dict[str, set[str]]:
    """Each lesson of the release folder -> the nbgrader cell ids of its student notebook."""
    ids = {}
    for folder in sorted(p for p in release.iterdir() if p.is_dir()) if release.is_dir() else []:
        notebook = folder / f"{folder.name}.ipynb"
        if notebook.is_file():
            ids[folder.name] = {grade_id(c) for c in read_notebook(notebook).cells if grade_id(c)}
    return ids


def identify_lesson(nb: NotebookNode, known: dict[str, set[str]]) -> str | None:
    """The lesson whose cell ids the notebook carries most of (None when it carries none)."""
    ids = {grade_id(c) for c in nb.cells if grade_id(c)}
    scores = {lesson: len(ids & lesson_cells) for lesson, lesson_cells in known.items()}
    best = max(scores, key=scores.get, default=None)
    return best if best is not None and scores[best] > 0 else None


def _closest(name: str, choices: list[str]) -> str:
    match = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _guess_lesson(path: Path, known: dict[str, set[str]]) -> str | None:
    try:
        return identify_lesson(read_notebook(path), known)
    except Exception:  # noqa: BLE001 - an unreadable file simply has no lesson
        return None


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
    retyped = []
    for r_idx in ref_order:
        if r_idx in mapping and sub.cells[mapping[r_idx]].cell_type != ref.cells[r_idx].cell_type:
            retyped.append(r_idx)
            findings_to_fix.append(report.add(
                f"{_describe(ref.cells[r_idx])} was turned from a {ref.cells[r_idx].cell_type} cell into a "
                f"{sub.cells[mapping[r_idx]].cell_type} cell (nbgrader would run or show it as the wrong kind)"))
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
    for r_idx in retyped:
        scell, rcell = sub.cells[mapping[r_idx]], ref.cells[r_idx]
        scell.cell_type = rcell.cell_type
        if rcell.cell_type == "code":
            scell.outputs, scell.execution_count = [], None
        else:
            scell.pop("outputs", None)
            scell.pop("execution_count", None)
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
                     backup_dir: Path | None, known: dict[str, set[str]] | None = None) -> None:
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
    lesson = ref_path.parent.name
    if known is not None:
        belongs_to = identify_lesson(sub, known)
        if belongs_to is not None and belongs_to != lesson:
            report.add(f"this is the notebook of lesson '{belongs_to}' (its cells carry that lesson's ids), not of "
                       f"'{lesson}': find the right file for '{lesson}'; --restore leaves it alone")
            return
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
                 backup_root: Path | None = None, roster: dict[str, str] | None = None,
                 excused: dict[str, str] | None = None) -> list[NotebookReport]:
    """Account for every entry of ``<submitted>/`` and check each ``<student>/<lesson>/`` against ``<release>/<lesson>/``.

    With a ``roster``, student folders not on it are problems (and not graded), and each roster
    student's missing submissions of the checked lessons are noted. ``excused`` paths (relative to
    ``submitted``) turn their problems into notes.
    """
    reports: list[NotebookReport] = []
    if not submitted.is_dir():
        return reports
    known = lesson_ids(release)
    names = sorted(known)
    checked = set(lessons) if lessons else None
    seen: set[tuple[str, str]] = set()
    for entry in sorted(submitted.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file():
            report = NotebookReport(entry)
            guess = _guess_lesson(entry, known) if entry.suffix == ".ipynb" else None
            where = f"<student>/{guess}/{guess}.ipynb" if guess else "<student>/<lesson>/<lesson>.ipynb"
            report.add(f"a file outside any student folder: put it in {where}"
                       + (f" (its cells are lesson '{guess}')" if guess else ""))
            reports.append(report)
            continue
        student = entry.name
        if roster is not None and student not in roster:
            report = NotebookReport(entry)
            report.add(f"student folder '{student}' is not on the roster{_closest(student, sorted(roster))}; "
                       "it is not graded (rename it, add the student to grading/roster.csv, or excuse it)")
            reports.append(report)
            continue
        for child in sorted(entry.iterdir()):
            if child.name.startswith("."):
                continue
            if child.is_file():
                if child.suffix != ".ipynb":
                    continue
                report = NotebookReport(child)
                guess = _guess_lesson(child, known)
                target = f"{student}/{guess}/{guess}.ipynb" if guess else f"{student}/<lesson>/<lesson>.ipynb"
                report.add(f"a notebook outside a lesson folder: nbgrader does not see it; move it to {target}")
                reports.append(report)
                continue
            lesson = child.name
            if lesson not in known:
                report = NotebookReport(child)
                report.add(f"'{lesson}' is not a lesson folder{_closest(lesson, names)}; nothing in it is graded")
                reports.append(report)
                continue
            if checked is not None and lesson not in checked:
                continue
            seen.add((student, lesson))
            ref_path = release / lesson / f"{lesson}.ipynb"
            report = NotebookReport(child / ref_path.name)
            backup = backup_root / student / lesson if backup_root else None
            check_submission(child / ref_path.name, ref_path, report, restore, backup, known)
            reports.append(report)
    if roster is not None:
        graded = sorted(checked if checked is not None else {lesson for _, lesson in seen})
        for student in sorted(roster):
            for lesson in graded:
                if (student, lesson) not in seen:
                    report = NotebookReport(submitted / student / lesson / f"{lesson}.ipynb")
                    report.add("no submission: scored 0", problem=False)
                    reports.append(report)
    for report in reports:
        reason = _excuse(report.path, submitted, excused or {})
        if reason is not None:
            for finding in report.remaining:
                finding.problem = False
                finding.message += f" [excused: {reason}]"
    return reports


def _excuse(path: Path, submitted: Path, excused: dict[str, str]) -> str | None:
    try:
        parts = path.relative_to(submitted).parts
    except ValueError:
        return None
    for n in range(len(parts), 0, -1):
        key = "/".join(parts[:n])
        if key in excused:
            return excused[key]
    return None


def students_not_graded(submitted: Path, roster: dict[str, str]) -> list[str]:
    """Student folders under ``submitted`` that are not on the roster (nbgrader must skip them)."""
    if not submitted.is_dir():
        return []
    return sorted(p.name for p in submitted.iterdir() if p.is_dir() and not p.name.startswith(".")
                  and p.name not in roster)


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
    print(f"{len(reports)} entries checked: {len(bad)} with problems left, {len(fixed)} repaired.")


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
    parser.add_argument("--roster", type=Path, default=REPO_ROOT / GRADING_DIR / ROSTER_FILE,
                        help="CSV of the class, columns id,name (default: grading/roster.csv)")
    parser.add_argument("--excused", type=Path, default=REPO_ROOT / GRADING_DIR / EXCUSED_FILE,
                        help="CSV path,reason of accepted problems (default: grading/excused.csv)")
    args = parser.parse_args(argv)
    submitted = args.submitted.resolve()
    if not submitted.is_dir():
        print(f"no such folder: {submitted}", file=sys.stderr)
        return 1
    try:
        roster = read_roster(args.roster.resolve())
    except (FileNotFoundError, ValueError) as error:
        print(error, file=sys.stderr)
        return 2
    reports = check_folder(submitted, args.release.resolve(), args.lessons, restore=args.restore,
                           backup_root=args.backups.resolve(), roster=roster, excused=read_excused(args.excused))
    print_reports(reports, submitted)
    if not reports:
        print(f"no submissions found under {submitted} (expected <student>/<lesson>/<lesson>.ipynb)")
        return 1
    return 1 if any(r.remaining for r in reports) else 0


__all__ = ["Finding", "NotebookReport", "check_folder", "check_notebook", "identify_lesson", "main", "read_excused",
           "read_roster", "students_not_graded"]

if __name__ == "__main__":
    sys.exit(main())
