"""The student edition holds what students need and no solution, hidden test or grading file."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tools.build_student_edition import FORBIDDEN_PATHS, build, verify_edition
from tools.course import REPO_ROOT, find_lessons, source_path
from tools.regenerate import compare_trees
from tools.repo_url import read_settings

# nbgrader generation and grading: the maintainers' environment only (not the oldest stack)
pytestmark = pytest.mark.maintainer_stack


@pytest.fixture(scope="module")
def edition(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("edition") / "student-edition"
    problems = build(dest, REPO_ROOT, check=False)  # notebooks/ freshness is proved by test_grading (d)
    assert not problems, "\n".join(problems)
    return dest


def test_edition_has_the_student_files_only(edition: Path) -> None:
    for name in ("notebooks", "course_utils", "README.md", "pyproject.toml"):
        assert (edition / name).exists(), name
    if (REPO_ROOT / "environment.yml").exists():
        assert (edition / "environment.yml").exists()
    for name in FORBIDDEN_PATHS:
        assert not (edition / name).exists(), name
    assert not list(edition.rglob("__pycache__"))
    assert "my-work/" in (edition / ".gitignore").read_text(encoding="utf-8").splitlines()  # students' own copies
    assert not compare_trees(REPO_ROOT / "notebooks", edition / "notebooks")


def test_edition_holds_no_solution_or_hidden_test(edition: Path) -> None:
    assert verify_edition(edition, REPO_ROOT) == []


def test_the_check_catches_a_leaked_solution(edition: Path, tmp_path: Path) -> None:
    """The scan must fail when a source notebook slips into the edition."""
    lessons = find_lessons(REPO_ROOT)
    assert lessons
    leaky = tmp_path / "leaky"
    shutil.copytree(edition, leaky)
    shutil.copy2(source_path(lessons[0]), leaky / "notebooks" / lessons[0] / f"{lessons[0]}.ipynb")
    problems = verify_edition(leaky, REPO_ROOT)
    assert any("BEGIN SOLUTION" in p or "HIDDEN TESTS" in p for p in problems), problems


def test_colab_links_point_at_the_edition(edition: Path) -> None:
    settings = read_settings(REPO_ROOT)
    readme = (edition / "README.md").read_text(encoding="utf-8")
    assert "{{" not in readme
    for lesson in find_lessons(REPO_ROOT):
        assert settings.colab_url(lesson) in readme, lesson
    links = re.findall(r"https://colab\.research\.google\.com/github/[^\s)]+", readme)
    prefix = f"https://colab.research.google.com/github/{settings.github_path}/blob/{settings.release_ref}/notebooks/"
    assert links and all(link.startswith(prefix) for link in links), links
    assert settings.pip_spec in readme
