"""Reference results: every result a lesson prints has a current reference, and no time is typed by hand.

Also the unit tests of ``course_utils.references`` (``cu.result`` / ``cu.results``) and of the
recording tool ``tools.record_references``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import torch

import course_utils as cu
from course_utils import references
from tools.course import REPO_ROOT, find_lessons, read_notebook, source_path, source_text
from tools.record_references import (
    RUN_TIME_MARKERS,
    code_hash,
    load,
    readme_cell,
    record_lesson,
    run_time_sentence,
    tag_pattern,
    tags_in_lesson,
)

RUNS = load(REPO_ROOT / "course_utils" / "reference_results.json")
RERECORD = "re-record it: python -m tools.record_references {lesson}"


def current_runs(lesson: str) -> list[dict]:
    return [r for r in RUNS if r["lesson"] == lesson and not r.get("provisional")]


@pytest.mark.parametrize("lesson", find_lessons())
def test_every_tag_a_lesson_prints_has_a_current_reference(lesson: str) -> None:
    runs = current_runs(lesson)
    assert runs, f"{lesson} has no reference run; " + RERECORD.format(lesson=lesson)
    patterns = {tag: tag_pattern(tag) for tag in tags_in_lesson(lesson)}
    for run in runs:
        missing = sorted(tag for tag, pattern in patterns.items() if not any(map(pattern.match, run["values"])))
        stale = sorted(value for value in run["values"] if not any(p.match(value) for p in patterns.values()))
        assert not missing, f"{lesson} prints {missing} but the {run['short']} reference lacks them; " + \
            RERECORD.format(lesson=lesson)
        assert not stale, f"the {run['short']} reference of {lesson} keeps {stale}, which the lesson no longer " \
            "prints; " + RERECORD.format(lesson=lesson)
        assert run["source_hash"] == code_hash(lesson), \
            f"{lesson}'s code changed after its {run['short']} reference was recorded ({run['date']}); " + \
            RERECORD.format(lesson=lesson)


@pytest.mark.parametrize("lesson", find_lessons())
def test_the_opening_states_the_recorded_run_times(lesson: str) -> None:
    opening = source_text(read_notebook(source_path(lesson)).cells[0])
    start, end = RUN_TIME_MARKERS
    assert opening.count(start) == 1 and opening.count(end) == 1, \
        f"{lesson}'s first cell needs one '{start}...{end}' sentence (the run time, written by the tool)"
    stated = opening.split(start, 1)[1].split(end, 1)[0]
    assert stated == run_time_sentence(lesson, RUNS), \
        f"{lesson}'s run time is not the recorded one; run python -m tools.record_references --text-only"


def test_the_readme_states_the_recorded_run_times() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    cells = dict(re.findall(r"<!-- run-time (\d\d_[a-z0-9_]+) -->(.*?)<!-- /run-time -->", readme))
    assert sorted(cells) == find_lessons(), "the README's run-time column needs one cell per lesson"
    for lesson, text in cells.items():
        assert text == readme_cell(lesson, RUNS), f"README run time of {lesson}: run python -m " \
            "tools.record_references --text-only"


def test_no_lesson_or_readme_says_not_measured() -> None:
    texts = {lesson: source_path(lesson).read_text(encoding="utf-8") for lesson in find_lessons()}
    texts["README.md"] = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    offenders = [name for name, text in texts.items() if re.search(r"not (been )?measured|no time yet", text)]
    assert not offenders, f"state a measured value or nothing: {offenders}"


# --- cu.result and cu.results ---------------------------------------------------------------------

@pytest.fixture
def reference_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "reference_results.json"
    base = {"machine": "m", "versions": "v", "date": "2026-11-28", "seconds": 60.0, "source_hash": "h"}
    runs = [
        {**base, "lesson": "07_demo", "short": "2-core CPU", "values": {"07.accuracy": 0.9161, "07.seconds": 64.2}},
        {**base, "lesson": "07_demo", "short": "H200", "values": {"07.accuracy": 0.912}, "provisional": "older"},
    ]
    path.write_text(json.dumps({"runs": runs}))
    monkeypatch.setattr(references, "REFERENCE_FILE", path)
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    return path


def test_result_prints_your_value_beside_each_reference(reference_file: Path, capsys) -> None:
    assert cu.result("07.accuracy", torch.tensor(0.90449), label="test accuracy") == pytest.approx(0.90449)
    assert capsys.readouterr().out == ("test accuracy: your run 0.904 · reference (2-core CPU): 0.916 · "
                                       "reference (H200 provisional): 0.912\n")
    cu.result("07.seconds", 3.25, fmt=".1f")
    assert capsys.readouterr().out == "07.seconds: your run 3.2 · reference (2-core CPU): 64.2\n"
    cu.result("07.unknown", 1)
    assert capsys.readouterr().out == "07.unknown: your run 1.000 · no reference recorded yet\n"


def test_result_in_quick_mode_says_the_value_is_not_comparable(reference_file: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COURSE_QUICK", "1")
    cu.result("07.accuracy", 0.5)
    assert capsys.readouterr().out.startswith("07.accuracy: your run (quick mode: not comparable) 0.500 · ")


def test_results_prints_one_table(reference_file: Path, capsys) -> None:
    got = cu.results({"07.accuracy": 0.9, "07.seconds": 10}, labels={"07.accuracy": "accuracy"}, fmt=".2f",
                     title="Results")
    assert got == {"07.accuracy": 0.9, "07.seconds": 10.0}
    assert capsys.readouterr().out.splitlines() == [
        "Results",
        "            your run  ref. 2-core CPU  ref. H200 (provisional)",
        "accuracy        0.90             0.92                     0.91",
        "07.seconds     10.00            64.20                        -",
    ]


def test_results_are_appended_to_the_record_file(reference_file: Path, tmp_path: Path, monkeypatch) -> None:
    record = tmp_path / "values.jsonl"
    monkeypatch.setenv("COURSE_RECORD_RESULTS", str(record))
    cu.result("07.accuracy", 0.5)
    cu.results({"07.seconds": 2.0, "07.other": 3})
    assert [json.loads(line) for line in record.read_text().splitlines()] == [
        {"tag": "07.accuracy", "value": 0.5}, {"tag": "07.seconds", "value": 2.0}, {"tag": "07.other", "value": 3.0}]


@pytest.mark.parametrize("tag", ["accuracy", "3.accuracy", "03.Accuracy", "03.", 3])
def test_a_bad_tag_is_named(tag, reference_file: Path) -> None:
    with pytest.raises(ValueError, match=r"tag: expected a name like '03.tinyvgg_accuracy'.*got"):
        cu.result(tag, 0.5)


@pytest.mark.parametrize("value", ["0.5", None, True, [0.5]])
def test_a_value_that_is_not_a_number_is_named(value, reference_file: Path) -> None:
    with pytest.raises(TypeError, match="value: expected a number .* for '07.accuracy'"):
        cu.result("07.accuracy", value)


# --- the recording tool ---------------------------------------------------------------------------

def test_record_lesson_runs_the_notebook_and_keeps_its_tagged_values(tmp_path: Path, monkeypatch) -> None:
    lesson = "07_demo"
    folder = tmp_path / "solutions" / lesson
    folder.mkdir(parents=True)
    nb = {"cells": [{"cell_type": "markdown", "id": "title", "metadata": {}, "source": "# demo"},
                    {"cell_type": "code", "id": "run", "metadata": {}, "outputs": [], "execution_count": None,
                     "source": "import course_utils as cu\nmode = 'quick' if cu.run_mode().quick else 'full'\n"
                               "cu.results({'07.answer': 42, '07.full': float(mode == 'full')})"}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (folder / f"{lesson}.ipynb").write_text(json.dumps(nb))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    run = record_lesson(lesson, "test box", "a test machine", "Python x", root=tmp_path, keep=tmp_path / "kept")
    assert run["values"] == {"07.answer": 42.0, "07.full": 1.0}  # recorded in full mode
    kept = json.loads((tmp_path / "kept" / f"{lesson}.solution.full.ipynb").read_text())  # the executed notebook
    assert kept["cells"][1]["outputs"] and sorted(p.name for p in (tmp_path / "kept").iterdir()) == [
        f"{lesson}.solution.full.ipynb"
    ]
    assert run["seconds"] > 0 and run["quick_seconds"] > 0
    assert run["source_hash"] == code_hash(lesson, tmp_path) and run["provisional"] == ""
    assert tags_in_lesson(lesson, tmp_path) == {"07.answer", "07.full"}
    assert run_time_sentence(lesson, [run]).startswith("Full mode, as recorded in the reference runs: ")


def test_an_f_string_tag_stands_for_every_tag_it_produces() -> None:
    pattern = tag_pattern("04.in_{target}_k{k}_probe")
    assert pattern.match("04.in_faces_k20_probe") and pattern.match("04.in_digits_k1_probe")
    assert not pattern.match("04.in_faces_k20_probe_std") and not pattern.match("04.faces_k20_probe")
    assert tag_pattern("03.mlp_accuracy").match("03.mlp_accuracy")
    assert not tag_pattern("03.mlp_accuracy").match("03.mlp_accuracy2")
