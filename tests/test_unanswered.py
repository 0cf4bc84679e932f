"""Tests of course_utils.unanswered: Run All goes on past an unanswered exercise, and only past one.

Most tests drive a real IPython ``InteractiveShell``; two run real Jupyter kernels through nbclient,
which is what JupyterLab and Colab talk to: the execute reply of a skipped cell must be "ok" (a kernel
drops the cells Run All queued after an "error" reply), and under nbgrader nothing may change.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config

import course_utils as cu
from course_utils import unanswered
from tools.course import REPO_ROOT

STUB = ('    # YOUR CODE HERE\n'
        '    raise NotImplementedError("Exercise not done yet: replace this line with your code, '
        'then run the cell again.")')
ANSWER_CELL = f"def to_gray(x):\n{STUB}"
WRONG_ERROR_TEST = ("try:\n    to_gray(-1)\nexcept ValueError:\n    pass\nexcept Exception as err:\n"
                    "    raise AssertionError(f'to_gray(-1): expected a ValueError, got {type(err).__name__}') from None")


@pytest.fixture(scope="module")
def ipython() -> Iterator[Any]:
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    yield shell
    InteractiveShell.clear_instance()


@pytest.fixture
def shell(ipython: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The shell, clean: no handler of this module, an empty namespace, the switches off."""
    monkeypatch.delenv(unanswered.NBGRADER_ENV, raising=False)
    monkeypatch.delenv(unanswered.OFF_ENV, raising=False)
    ipython.reset(new_session=False)
    yield ipython
    reporter = getattr(ipython, unanswered._STATE_ATTRIBUTE, None)
    if reporter is not None:
        ipython.events.unregister("pre_execute", reporter.before_cell)
        ipython.events.unregister("post_run_cell", reporter.after_cell)
        delattr(ipython, unanswered._STATE_ATTRIBUTE)
    ipython.set_custom_exc((), None)
    ipython.custom_exceptions = ()


def run(shell: Any, capsys: pytest.CaptureFixture[str], code: str) -> tuple[Any, str]:
    """Run ``code`` as a notebook cell: its ExecutionResult and everything it printed."""
    capsys.readouterr()
    result = shell.run_cell(code, store_history=True)
    captured = capsys.readouterr()
    return result, captured.out + captured.err


def notices(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(unanswered.NOTICE)]


def test_the_stub_is_the_one_nbgrader_writes() -> None:
    config = (REPO_ROOT / "nbgrader_config.py").read_text(encoding="utf-8")
    assert f'raise NotImplementedError("{unanswered.STUB_MESSAGE}: ' in config
    assert STUB.splitlines()[1].strip() in config  # the stub these tests use


def test_an_unanswered_exercise_is_reported_once_and_the_cell_counts_as_run(shell: Any, capsys) -> None:
    unanswered._install(shell)
    result, _ = run(shell, capsys, ANSWER_CELL)
    assert result.success
    result, out = run(shell, capsys, "assert to_gray(1) == 1\nprint('not reached')")
    assert result.success and result.error_in_exec is None and shell.last_execution_succeeded
    assert notices(out) == [out.strip()]
    assert "`to_gray` still raises NotImplementedError, so this cell was skipped" in out
    assert "Traceback" not in out and "not reached" not in out
    result, out = run(shell, capsys, "print('the lesson goes on')")
    assert result.success and out == "the lesson goes on\n"


def test_a_name_a_skipped_cell_did_not_set_is_reported_transitively(shell: Any, capsys) -> None:
    unanswered._install(shell)
    run(shell, capsys, ANSWER_CELL)
    result, out = run(shell, capsys, "before = 1\ngray, (first, *rest) = to_gray(2), [1, 2]\nafter = 3")
    assert result.success and notices(out)
    assert shell.user_ns["before"] == 1 and "after" not in shell.user_ns
    result, out = run(shell, capsys, "doubled = [gray * 2 for gray in range(2)]\nhalf = gray / 2")
    assert result.success and "this cell needs `gray`, which an earlier cell could not set because the exercise " \
        "`to_gray` is not answered" in out
    result, out = run(shell, capsys, "print(half)")
    assert result.success and "needs `half`" in out and "`to_gray`" in out
    result, out = run(shell, capsys, "print(after)")  # never set: its cell stopped at to_gray
    assert result.success and "needs `after`" in out
    reporter = getattr(shell, unanswered._STATE_ATTRIBUTE)
    assert set(reporter.waiting) == {"gray", "first", "rest", "after", "half"}  # not `before` nor `doubled`


def test_a_test_cell_that_turns_the_stub_into_an_assertion_is_reported(shell: Any, capsys) -> None:
    unanswered._install(shell)
    run(shell, capsys, ANSWER_CELL)
    result, out = run(shell, capsys, WRONG_ERROR_TEST)
    assert result.success and notices(out) and "`to_gray`" in out and "AssertionError" not in out


def test_methods_are_named_with_their_class(shell: Any, capsys) -> None:
    unanswered._install(shell)
    run(shell, capsys, f"class Net:\n    def __init__(self, size):\n    {STUB.replace(chr(10), chr(10) + '    ')}")
    result, out = run(shell, capsys, "net = Net(3)")
    assert result.success and "the exercise `Net.__init__` still raises" in out
    result, out = run(shell, capsys, "net")
    assert result.success and "needs `net`" in out and "`Net.__init__`" in out


@pytest.mark.parametrize("code, ename", [
    ("print(undefined_name)", "NameError"),
    ("assert 1 + 1 == 3, 'arithmetic'", "AssertionError"),
    ("raise NotImplementedError('a library feature that does not exist')", "NotImplementedError"),
    ("def f():\n    return g_missing\nf()", "NameError"),
    ("def f():\n    x += 1\nf()", "UnboundLocalError"),
    ("1 / 0", "ZeroDivisionError"),
])
def test_a_genuine_error_keeps_its_traceback_and_fails_the_cell(shell: Any, capsys, code: str, ename: str) -> None:
    result, before = run(shell, capsys, code)  # the shell's own traceback, without this module
    assert not result.success and type(result.error_in_exec).__name__ == ename
    unanswered._install(shell)
    run(shell, capsys, ANSWER_CELL)
    run(shell, capsys, "x = to_gray(1)")  # something is waiting, to be sure it does not catch these
    result, after = run(shell, capsys, code)
    assert not result.success and type(result.error_in_exec).__name__ == ename
    assert not notices(after)

    def same(text: str) -> str:
        return re.sub(r"\[\d+\]", "[N]", text)

    assert same(after) == same(before) and ename in after


def test_an_answered_exercise_is_no_longer_waited_for(shell: Any, capsys) -> None:
    unanswered._install(shell)
    run(shell, capsys, ANSWER_CELL)
    run(shell, capsys, "gray = to_gray(2)")
    run(shell, capsys, "def to_gray(x):\n    return x")
    result, _ = run(shell, capsys, "gray = to_gray(2)")
    assert result.success and shell.user_ns["gray"] == 2
    assert "gray" not in getattr(shell, unanswered._STATE_ATTRIBUTE).waiting
    result, out = run(shell, capsys, "del gray\ngray")
    assert not result.success and isinstance(result.error_in_exec, NameError) and not notices(out)


@pytest.mark.parametrize("variable, value", [(unanswered.NBGRADER_ENV, "autograde"), (unanswered.OFF_ENV, "1")])
def test_switched_off_under_nbgrader_or_on_request(shell: Any, capsys, monkeypatch: pytest.MonkeyPatch,
                                                   variable: str, value: str) -> None:
    monkeypatch.setattr(unanswered, "_kernel_shell", lambda: shell)
    assert unanswered.report_unanswered_exercises() is True
    assert unanswered.report_unanswered_exercises() is True  # a second call changes nothing
    reporter = getattr(shell, unanswered._STATE_ATTRIBUTE)
    assert shell.events.callbacks["post_run_cell"].count(reporter.after_cell) == 1
    assert shell.events.callbacks["pre_execute"].count(reporter.before_cell) == 1
    run(shell, capsys, ANSWER_CELL)
    monkeypatch.setenv(variable, value)
    assert unanswered.report_unanswered_exercises() is False
    result, out = run(shell, capsys, "to_gray(1)")  # set after the set-up cell: the stub raises again
    assert isinstance(result.error_in_exec, NotImplementedError) and "Traceback" in out and not notices(out)
    assert "Exercise not done yet" in out


def test_off_outside_a_kernel(shell: Any, capsys) -> None:
    assert unanswered._kernel_shell() is None  # an IPython shell, but no kernel: a terminal
    assert unanswered.report_unanswered_exercises() is False
    cu.show_setup()
    assert not hasattr(shell, unanswered._STATE_ATTRIBUTE) and shell.custom_exceptions == ()


def test_a_custom_handler_that_was_there_keeps_its_exceptions(shell: Any, capsys) -> None:
    """Colab registers one for ImportError (google/colab/_shell_customizations.py)."""
    seen: list[str] = []

    def colab_like(shell_: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> list[str]:
        seen.append(etype.__name__)
        return ["custom"]

    shell.set_custom_exc((ImportError, NameError), colab_like)
    unanswered._install(shell)
    result, _ = run(shell, capsys, "import a_module_that_does_not_exist_here")
    assert not result.success and seen == ["ModuleNotFoundError"]
    run(shell, capsys, ANSWER_CELL)
    result, out = run(shell, capsys, "gray = to_gray(1)")
    assert result.success and notices(out) and seen == ["ModuleNotFoundError"]
    result, out = run(shell, capsys, "gray")  # waits for to_gray: reported here
    assert result.success and notices(out) and seen == ["ModuleNotFoundError"]
    result, out = run(shell, capsys, "print(undefined_name)")  # a genuine NameError: the other handler's
    assert not result.success and not notices(out) and seen == ["ModuleNotFoundError", "NameError"]


def test_a_stub_reraised_by_a_dataloader_worker_is_named(shell: Any, capsys) -> None:
    unanswered._install(shell)
    run(shell, capsys, "import torch\nclass Pairs(torch.utils.data.Dataset):\n    def __len__(self):\n"
                       f"        return 4\n    def __getitem__(self, index):\n    {STUB.replace(chr(10), chr(10) + '    ')}")
    result, out = run(shell, capsys, "batch = next(iter(torch.utils.data.DataLoader(Pairs(), num_workers=1)))")
    assert result.success and "the exercise `__getitem__` still raises NotImplementedError" in out, out


def test_assigned_names_are_the_top_level_ones(shell: Any) -> None:
    cell = ("import os.path, numpy as np\nfrom math import pi as PI, tau\na = b = 1\nc, (d, *e) = 1, (2, 3)\n"
            "f += 1\ng: int = 2\nfor h in range(2):\n    i = h\nwith open('x') as j:\n    pass\n"
            "try:\n    pass\nexcept Exception as k:\n    pass\nif (m := 3):\n    pass\n"
            "def n(p):\n    q = p\nclass R:\n    s = 1\nt = [u for u in range(3)]\nv = lambda w: w\n"
            "%time x = 1\n")
    assert unanswered._assigned_names(shell, cell) == {
        "os", "np", "PI", "tau", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "m", "n", "R", "t", "v"}
    assert unanswered._assigned_names(shell, "this is not python") == set()


def test_missing_name_without_the_name_attribute() -> None:
    assert unanswered._missing_name(NameError("name 'q' is not defined")) == "q"
    assert unanswered._missing_name(NameError("something else")) is None


# --- real kernels (what JupyterLab and Colab run) ----------------------------------------------------

def _kernel_env(monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    for variable in (unanswered.NBGRADER_ENV, unanswered.OFF_ENV):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in extra.items():
        monkeypatch.setenv(variable, value)


def _client(cells: list[str], path: Path) -> tuple[Any, list[str]]:
    from nbclient import NotebookClient

    nb = new_notebook(cells=[new_code_cell(code) for code in cells])
    statuses: list[str] = []

    def on_cell_executed(cell: Any, cell_index: int, execute_reply: dict) -> None:
        statuses.append(execute_reply["content"]["status"])

    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(path)}}, on_cell_executed=on_cell_executed)
    return client, statuses


def _text(cell: nbformat.NotebookNode) -> str:
    return "".join(str(o.get("text", "")) for o in cell.outputs if o.output_type == "stream")


def test_in_a_kernel_run_all_goes_on_and_genuine_errors_still_stop_it(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from nbclient.exceptions import CellExecutionError

    _kernel_env(monkeypatch)
    lesson = [
        "import course_utils as cu\ncu.show_setup()\ncu.show_setup()  # the set-up cell, run twice",
        "from course_utils import unanswered\nip = get_ipython()\n"
        "print(unanswered.report_unanswered_exercises(), ip.custom_exceptions,\n"
        "      sum(getattr(c, '__self__', None).__class__.__name__ == '_Reporter'\n"
        "          for c in ip.events.callbacks['post_run_cell']))",
        ANSWER_CELL,
        "assert to_gray(1) == 1  # its test cell",
        "gray = to_gray(2)\nprint('not reached')",
        "doubled = gray * 2",
        "print(doubled)",
        WRONG_ERROR_TEST,
        "print('the lesson goes on')",
    ]
    client, statuses = _client(lesson, tmp_path)
    with client.setup_kernel():
        for index, cell in enumerate(client.nb.cells):
            client.execute_cell(cell, index)  # allow_errors=False: raises at an "error" reply, as Run All stops
        assert statuses == ["ok"] * len(lesson)
        cells = client.nb.cells
        assert not [o for c in cells for o in c.outputs if o.output_type == "error"]
        assert "True (<class 'NotImplementedError'>, <class 'NameError'>, <class 'AssertionError'>) 1" in _text(cells[1])
        assert [len(notices(_text(c))) for c in cells] == [0, 0, 0, 1, 1, 1, 1, 1, 0]
        assert "`to_gray` still raises" in _text(cells[3]) and "not reached" not in _text(cells[4])
        assert "needs `gray`" in _text(cells[5]) and "needs `doubled`" in _text(cells[6])
        assert _text(cells[8]) == "the lesson goes on\n"
        for code, ename in (("print(undefined_name)", "NameError"), ("assert 1 + 1 == 3", "AssertionError"),
                            ("raise NotImplementedError('not the stub')", "NotImplementedError")):
            cell = new_code_cell(code)
            client.nb.cells.append(cell)
            with pytest.raises(CellExecutionError) as error:
                client.execute_cell(cell, len(client.nb.cells) - 1)
            assert error.value.ename == ename and statuses[-1] == "error"
            assert [o.ename for o in cell.outputs if o.output_type == "error"] == [ename]


@pytest.mark.parametrize("execution", ["validate", "autograde"])
def test_under_nbgrader_the_stub_raises_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  execution: str) -> None:
    """nbgrader sets NBGRADER_EXECUTION for validate and autograde (nbgrader/validator.py, converters/autograde.py)."""
    from nbclient.exceptions import CellExecutionError

    _kernel_env(monkeypatch, NBGRADER_EXECUTION=execution)
    lesson = ["from course_utils import unanswered\nprint(unanswered.report_unanswered_exercises())",
              ANSWER_CELL, "to_gray(1)"]
    client, statuses = _client(lesson, tmp_path)
    with pytest.raises(CellExecutionError) as error:
        client.execute()
    assert error.value.ename == "NotImplementedError" and "Exercise not done yet" in error.value.evalue
    assert statuses == ["ok", "ok", "error"] and _text(client.nb.cells[0]) == "False\n"
    assert not notices(_text(client.nb.cells[2]))
