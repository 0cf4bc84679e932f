"""Reference results: what full-mode runs of each lesson printed, shown next to the learner's own.

A lesson never types a result into its prose. A code cell prints it instead::

    cu.result("03.tinyvgg_accuracy", accuracy, label="TinyVGG test accuracy")

which prints the learner's value beside the recorded full-mode values of the same cell on the
machines the course was measured on::

    TinyVGG test accuracy: your run 0.912 · reference (2-core CPU): 0.916 · reference (H200): 0.912

The references live in ``reference_results.json`` next to this module. The maintainers write it
with ``python -m tools.run_lessons --record-references`` (which executes the solution notebooks in
full mode with ``COURSE_RECORD_RESULTS`` set, so that every ``result`` call appends its value to
that file); ``tests/test_references.py`` fails when a lesson prints a tag without a reference or
when a lesson's code changed after its references were recorded. A tag is ``"NN.name"``: the
lesson's two-digit number, a dot, and a lower-case name.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from .runtime import run_mode

__all__ = ["ReferenceRun", "reference_runs", "result", "results"]

REFERENCE_FILE = Path(__file__).with_name("reference_results.json")
#: When set to a file path, every ``result`` call appends ``{"tag": ..., "value": ...}`` to it.
RECORD_ENV = "COURSE_RECORD_RESULTS"
TAG = re.compile(r"^(\d\d)\.[a-z0-9_]+$")


@dataclass(frozen=True)
class ReferenceRun:
    """One full-mode run of one lesson on one machine, with every tagged value it printed.

    ``short`` names the machine in one or two words ("2-core CPU", "H200"); ``machine`` describes
    it in full (processor, cores, GPU). ``source_hash`` identifies the lesson's code at recording
    time; ``seconds`` and ``quick_seconds`` are the whole lesson's run times in full and quick
    mode. ``provisional`` is empty for a current reference, else says why it is kept anyway
    (e.g. "measured on an older version of the lesson").

    Taught in lesson 00.
    """

    lesson: str
    short: str
    machine: str
    versions: str
    date: str
    seconds: float
    source_hash: str
    values: dict[str, float] = field(default_factory=dict)
    provisional: str = ""
    quick_seconds: float = 0.0


@cache
def _load(path: Path) -> tuple[ReferenceRun, ...]:
    if not path.exists():
        return ()
    return tuple(ReferenceRun(**run) for run in json.loads(path.read_text())["runs"])


def reference_runs(lesson: str | None = None, path: Path | None = None) -> list[ReferenceRun]:
    """The recorded runs (of ``lesson`` only, given its folder name or its two-digit number). Taught in lesson 00."""
    runs = _load(path or REFERENCE_FILE)
    if lesson is None:
        return list(runs)
    return [run for run in runs if run.lesson == lesson or run.lesson.startswith(f"{lesson}_")]


def _check(tag: str, value: object) -> float:
    match = TAG.match(tag) if isinstance(tag, str) else None
    if match is None:
        raise ValueError(f"tag: expected a name like '03.tinyvgg_accuracy' (lesson number, dot, lower-case name), "
                         f"got {tag!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "item"):
        raise TypeError(f"value: expected a number (int, float or a one-element tensor) for {tag!r}, "
                        f"got {type(value).__name__}")
    number = float(value.item() if hasattr(value, "item") else value)  # type: ignore[union-attr]
    return number


def _record(tag: str, value: float) -> None:
    target = os.environ.get(RECORD_ENV)
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(json.dumps({"tag": tag, "value": value}) + "\n")


def _check_fmt(fmt: object) -> str:
    try:
        format(0.5, fmt)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"fmt: expected a format specification for numbers such as '.3f' or '.1%', got {fmt!r}") \
            from None
    return fmt  # type: ignore[return-value]


def _format(value: float, fmt: str) -> str:
    return "nan" if math.isnan(value) else format(value, fmt)


def _reference_cells(tag: str, fmt: str) -> list[str]:
    cells = []
    for run in reference_runs(tag[:2]):
        if tag in run.values:
            note = " provisional" if run.provisional else ""
            cells.append(f"reference ({run.short}{note}): {_format(run.values[tag], fmt)}")
    return cells or ["no reference recorded yet"]


def result(tag: str, value: float, *, label: str | None = None, fmt: str = ".3f") -> float:
    """Print ``value`` beside the recorded full-mode references for ``tag``; return it as a float.

    In the quick mode the learner's value is marked as not comparable (small data, few epochs).

    Taught in lesson 01.
    """
    number = _check(tag, value)
    _check_fmt(fmt)
    _record(tag, number)
    yours = "your run" + (" (quick mode: not comparable)" if run_mode().quick else "")
    print(" · ".join([f"{label or tag}: {yours} {_format(number, fmt)}", *_reference_cells(tag, fmt)]))
    return number


def results(values: Mapping[str, float], *, labels: Mapping[str, str] | None = None, fmt: str = ".3f",
            title: str | None = None) -> dict[str, float]:
    """Print several results as one table: a row per tag, your run and each reference machine in columns.

    Taught in lesson 00.
    """
    if not isinstance(values, Mapping):
        raise TypeError(f"values: expected a dict of tag -> number, got {type(values).__name__}")
    numbers = {tag: _check(tag, value) for tag, value in values.items()}
    _check_fmt(fmt)
    unknown = sorted(set(labels or {}) - set(numbers))
    if unknown:
        raise ValueError(f"labels: expected labels for tags in values, got labels for {unknown}")
    for tag, number in numbers.items():
        _record(tag, number)
    machines: list[str] = []
    for tag in numbers:
        for run in reference_runs(tag[:2]):
            name = run.short + (" (provisional)" if run.provisional else "")
            if tag in run.values and name not in machines:
                machines.append(name)
    header = ["", "your run" + (" (quick)" if run_mode().quick else ""), *[f"ref. {m}" for m in machines]]
    rows = []
    for tag, number in numbers.items():
        refs = {run.short + (" (provisional)" if run.provisional else ""): run.values[tag]
                for run in reference_runs(tag[:2]) if tag in run.values}
        rows.append([(labels or {}).get(tag, tag), _format(number, fmt),
                     *[_format(refs[m], fmt) if m in refs else "-" for m in machines]])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    if title:
        print(title)
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))))
    if run_mode().quick:
        print("(quick mode: small data and few epochs, so your numbers are not comparable with the references)")
    return numbers
