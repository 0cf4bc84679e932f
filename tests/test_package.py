"""The package's top level (issue 17): lazy imports (PEP 562) and one table of public names."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import course_utils as cu


@pytest.mark.parametrize("module", list(cu.EXPORTS))
def test_the_export_table_matches_each_modules_all(module: str) -> None:
    assert tuple(importlib.import_module(f"course_utils.{module}").__all__) == cu.EXPORTS[module]


def test_every_public_name_resolves_to_the_object_its_module_defines() -> None:
    for module, names in cu.EXPORTS.items():
        for name in names:
            assert getattr(cu, name) is getattr(importlib.import_module(f"course_utils.{module}"), name)
    assert set(cu.__all__) <= set(dir(cu))
    assert cu.batches.__name__ == "course_utils.batches" and cu.checks.__name__ == "course_utils.checks"


def test_an_unknown_name_raises_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="module 'course_utils' has no attribute 'fitt'"):
        cu.fitt  # noqa: B018
    assert not hasattr(cu, "train_one_epoch")


def test_importing_the_package_loads_no_heavy_library() -> None:
    heavy = "('torch', 'torchvision', 'torchmetrics', 'matplotlib', 'open_clip')"
    code = ("import sys, course_utils\n"
            f"print(','.join(m for m in {heavy} if m in sys.modules))\n"
            "course_utils.fit\n"
            f"print(','.join(m for m in {heavy} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "", f"import course_utils loaded {out[0]}"
    assert out[1] == "torch"  # the training loop needs torch, not torchvision, torchmetrics or matplotlib


def test_every_public_function_and_class_names_the_lesson_that_teaches_it() -> None:
    """Like d2l's package, each helper says where the course teaches it (issue 17)."""
    import inspect
    import re

    silent = [name for name in cu.__all__ if (inspect.isfunction(obj := getattr(cu, name)) or inspect.isclass(obj))
              and not re.search(r"[Ll]essons? \d\d", inspect.getdoc(obj) or "")]
    assert not silent, f"docstrings that name no lesson ('Taught in lesson NN.'): {silent}"
