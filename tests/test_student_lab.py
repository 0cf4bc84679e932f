"""The student's JupyterLab (``./course lab``): own copies, Validate on, instructor pages off, a clean log.

A real Jupyter server is started on a free local port the way ``./course lab`` starts it (the
student configuration in tools/jupyter-student/, the lessons copied into a git-ignored my-work/),
asked for its pages over HTTP, and stopped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tools.course import REPO_ROOT, quick_env

pytestmark = pytest.mark.maintainer_stack  # nbgrader's server extensions live in the maintainers' environment

TOKEN = "course-test-token"
LESSON = "00_images_as_tensors"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, *, method: str = "GET", timeout: float = 30) -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, headers={"Authorization": f"token {TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", errors="replace")


@pytest.fixture(scope="module")
def student_lab(tmp_path_factory: pytest.TempPathFactory):
    """A course clone in a scratch folder, served by `./course lab` (the real script, its environment)."""
    clone = tmp_path_factory.mktemp("clone") / "course"
    clone.mkdir()
    for name in ("course", "nbgrader_config.py", "pyproject.toml", "requirements-lock.txt", "requirements-oldest.txt"):
        shutil.copy2(REPO_ROOT / name, clone / name)
    for folder in ("course_utils", "tools", "notebooks"):
        shutil.copytree(REPO_ROOT / folder, clone / folder, ignore=shutil.ignore_patterns("__pycache__"))
    port = _free_port()
    env = quick_env({"PYTHON": sys.executable, "JUPYTER_RUNTIME_DIR": str(clone / ".runtime"),
                     "JUPYTER_CONFIG_DIR": str(clone / ".jupyter-user")}, root=clone)
    env.pop("JUPYTER_CONFIG_PATH", None)
    log = (clone / "server.log").open("w")
    proc = subprocess.Popen(["bash", str(clone / "course"), "lab", "--no-browser", f"--port={port}",
                             f"--IdentityProvider.token={TOKEN}", "--ServerApp.open_browser=False"],
                            cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if _get(f"{base}/api/status", timeout=2)[0] == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        os.killpg(proc.pid, 15)
        pytest.fail("the student JupyterLab did not start:\n" + (clone / "server.log").read_text()[-3000:])
    yield clone, base
    os.killpg(proc.pid, 15)
    proc.wait(timeout=30)
    log.close()


def test_lessons_are_copied_into_my_work_and_it_is_git_ignored(student_lab) -> None:
    clone, base = student_lab
    for lesson in (REPO_ROOT / "notebooks").iterdir():
        copy = clone / "my-work" / lesson.name / f"{lesson.name}.ipynb"
        assert copy.read_bytes() == (lesson / f"{lesson.name}.ipynb").read_bytes(), lesson.name
    status, body = _get(f"{base}/api/contents")
    assert status == 200 and {item["name"] for item in json.loads(body)["content"]} >= {LESSON}
    ignored = subprocess.run(["git", "check-ignore", "-q", "my-work/x.ipynb"], cwd=REPO_ROOT, check=False)
    assert ignored.returncode == 0, "my-work/ must be in .gitignore"


def test_instructor_pages_are_off_and_validate_is_on(student_lab) -> None:
    clone, base = student_lab
    status, page = _get(f"{base}/lab")
    assert status == 200
    config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page,
                                  re.DOTALL).group(1))
    disabled = config.get("disabledExtensions", [])
    for plugin in ("formgrader", "create-assignment", "assignment-list", "course-list"):
        assert f"@jupyter/nbgrader:{plugin}" in disabled, (plugin, disabled)
    assert "@jupyter/nbgrader:validate-assignment" not in disabled
    assert _get(f"{base}/formgrader")[0] == 404
    assert _get(f"{base}/assignments")[0] == 404 and _get(f"{base}/courses")[0] == 404
    # Validate runs the student's notebook and answers (the unanswered exercises fail, as they should)
    status, body = _get(f"{base}/assignments/validate?path={LESSON}/{LESSON}.ipynb", method="POST", timeout=300)
    assert status == 200, body[:500]
    result = json.loads(body)
    assert result["success"] is True and "failed" in json.dumps(result["value"]), body[:500]


def test_no_errors_in_the_server_log_and_no_gradebook(student_lab) -> None:
    clone, base = student_lab
    for page in ("lab", "lab/tree/00_images_as_tensors", "api/contents", "lab/api/settings"):
        assert _get(f"{base}/{page}")[0] == 200, page
    time.sleep(1)
    text = (clone / "server.log").read_text(encoding="utf-8")
    bad = [line for line in text.splitlines() if re.search(r"\[E |ERROR|Traceback|ExchangeError", line)]
    assert not bad, "errors in the student server's log:\n" + "\n".join(bad[:20])
    assert not (clone / "grading" / "gradebook.db").exists(), "the student server created a gradebook"
