"""The package's top level (issue 17): lazy imports (PEP 562) and one table of public names."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import course_utils as cu

REPO_ROOT = Path(__file__).resolve().parents[1]


MODULES = [name for name in cu.SUBMODULES]


@pytest.mark.parametrize("module", list(cu.EXPORTS))
def test_the_top_level_names_are_public_in_their_module_in_its_order(module: str) -> None:
    public = importlib.import_module(f"course_utils.{module}").__all__
    assert set(cu.EXPORTS[module]) <= set(public)
    assert list(cu.EXPORTS[module]) == [name for name in public if name in cu.EXPORTS[module]]


def test_the_top_level_is_exactly_what_the_lessons_use() -> None:
    """A curated top level (issue 17): each name there is used by a lesson, and each lesson's ``cu.X`` resolves."""
    used: set[str] = set()
    for path in sorted((REPO_ROOT / "solutions").glob("*/*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                used |= set(re.findall(r"\bcu\.([A-Za-z_][A-Za-z0-9_]*)", "".join(cell["source"])))
    used -= set(cu.SUBMODULES)
    top = {name for names in cu.EXPORTS.values() for name in names}
    assert sorted(used - top) == [], "lessons use names that are not at the top level"
    assert sorted(top - used) == [], "top-level names that no lesson uses (reach them through their module)"


def test_every_cu_name_a_lesson_mentions_resolves_in_code_and_prose() -> None:
    """``cu.X`` and ``cu.module.X`` in any cell (prose included: a learner copies it) must exist."""
    broken = set()
    for path in sorted((REPO_ROOT / "solutions").glob("*/*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            for first, second in re.findall(r"\bcu\.([A-Za-z_]\w*)(?:\.([A-Za-z_]\w*))?", "".join(cell["source"])):
                if first in cu.SUBMODULES:
                    if second and not hasattr(getattr(cu, first), second):
                        broken.add(f"{path.parent.name}: cu.{first}.{second}")
                elif not hasattr(cu, first):
                    broken.add(f"{path.parent.name}: cu.{first}")
    assert not broken, f"names the lessons mention that do not exist: {sorted(broken)}"


def test_every_module_is_a_lazy_attribute_and_every_public_name_resolves() -> None:
    for module in MODULES:
        imported = getattr(cu, module)
        assert imported.__name__ == f"course_utils.{module}"
        for name in imported.__all__:
            assert getattr(imported, name) is not None
    for module, names in cu.EXPORTS.items():
        for name in names:
            assert getattr(cu, name) is getattr(importlib.import_module(f"course_utils.{module}"), name)
    assert set(cu.__all__) <= set(dir(cu))


def test_an_unknown_name_raises_attribute_error_naming_it_and_where_it_lives() -> None:
    with pytest.raises(AttributeError, match=r"^module 'course_utils' has no attribute 'fitt'$"):
        cu.fitt  # noqa: B018
    with pytest.raises(
        AttributeError,
        match=r"has no attribute 'macro_scores_from_confusion' \(it is course_utils.evaluation.macro_scores_from_confusion\)",
    ):
        cu.macro_scores_from_confusion  # noqa: B018
    assert not hasattr(cu, "train_one_epoch")


def test_no_module_is_longer_than_450_lines() -> None:
    long = {
        path.name: n
        for path in (REPO_ROOT / "course_utils").glob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 450
    }
    assert not long, f"modules over ~450 lines (split them by job): {long}"


def test_importing_the_package_loads_no_heavy_library() -> None:
    heavy = "('torch', 'torchvision', 'torchmetrics', 'matplotlib', 'open_clip')"
    code = (
        "import sys, course_utils\n"
        f"print(','.join(m for m in {heavy} if m in sys.modules))\n"
        "course_utils.fit\n"
        f"print(','.join(m for m in {heavy} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "", f"import course_utils loaded {out[0]}"
    assert out[1] == "torch"  # the training loop needs torch, not torchvision, torchmetrics or matplotlib


def test_every_public_function_and_class_names_the_lesson_that_teaches_it() -> None:
    """Like d2l's package, each helper says where the course teaches it (issue 17)."""
    import inspect

    silent = [
        f"{module}.{name}"
        for module in MODULES
        for name in getattr(cu, module).__all__
        if (inspect.isfunction(obj := getattr(getattr(cu, module), name)) or inspect.isclass(obj))
        and not re.search(r"[Ll]essons? \d\d", inspect.getdoc(obj) or "")
    ]
    assert not silent, f"docstrings that name no lesson ('Taught in lesson NN.'): {silent}"
