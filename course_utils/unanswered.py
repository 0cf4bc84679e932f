"""Run All goes on past an unanswered exercise: the cell says "Not answered yet" instead of stopping the lesson.

A student notebook replaces every solution by nbgrader's stub
``raise NotImplementedError("Exercise not done yet: ...")`` (``nbgrader_config.py``), always inside a
function, so the stub raises where the function is called: in its test cell and in the demo cells that
use it. In a Jupyter or Colab kernel an error makes the execute reply "error", and the kernel then drops
the cells queued by Run All. ``report_unanswered_exercises`` (called by ``show_setup``, i.e. by the set-up
cell of every lesson) asks IPython to hand these exceptions to this module instead:

* the stub's ``NotImplementedError``: one line names the unanswered function and says the cell was skipped;
* a ``NameError`` for a name that a skipped cell would have assigned (``x = f(...)`` whose ``f`` is
  unanswered): reported the same way, naming the exercise it waits for (transitively);
* an ``AssertionError`` raised while handling one of these (a test cell expecting a ``ValueError``
  that got the stub instead): reported the same way.

After such a cell the execute reply is made "ok" again, so Run All continues. Every other exception keeps
the shell's normal traceback and still stops Run All. Nothing changes when nbgrader executes the notebook
(validate, autograde: ``NBGRADER_EXECUTION`` is set) or when ``COURSE_STOP_AT_UNANSWERED=1``: the stub's
traceback is shown and grading is exactly as before (an unanswered exercise scores 0).
"""

from __future__ import annotations

import ast
import linecache
import os
import re
import sys
from dataclasses import dataclass, field
from types import FrameType, TracebackType
from typing import Any

__all__ = ["report_unanswered_exercises"]

#: The start of the message of nbgrader's stub (``nbgrader_config.py``: ``ClearSolutions.code_stub``).
STUB_MESSAGE = "Exercise not done yet"
#: Set to a true value to see the stub's traceback and stop Run All at the first unanswered exercise.
OFF_ENV = "COURSE_STOP_AT_UNANSWERED"
#: The exceptions IPython hands to this module: the stub, a name it left unset, a test cell's failure it caused.
#: (Not ``Exception``: IPython would then hand it compile errors too, which it shows its own way.)
HANDLED: tuple[type[BaseException], ...] = (NotImplementedError, NameError, AssertionError)
#: Set by nbgrader while it validates or autogrades a notebook.
NBGRADER_ENV = "NBGRADER_EXECUTION"
#: How every report starts (the tools count these lines in executed notebooks).
NOTICE = "Not answered yet:"
#: The attribute of the shell that holds this module's state (so a second call registers nothing).
_STATE_ATTRIBUTE = "_course_unanswered_exercises"
_STUB_IN_TEXT = re.compile(r"line \d+, in ([\w.<>]+)\n\s*raise NotImplementedError\(\s*[\"']" + STUB_MESSAGE)


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in {"", "0", "false", "no", "off"}


def _switched_off() -> bool:
    return bool(os.environ.get(NBGRADER_ENV)) or _flag(OFF_ENV)


@dataclass
class _Reporter:
    """What the handlers remember between cells of one kernel."""

    shell: Any
    other_types: tuple[type[BaseException], ...]  # a custom handler that was there before (Colab has one)
    other_handler: Any
    waiting: dict[str, str] = field(default_factory=dict)  # name a skipped cell would have set -> exercise
    skipped: tuple[BaseException, str] | None = None  # the error that stopped the running cell, its exercise

    def handle(self, shell: Any, etype: type[BaseException], value: BaseException, tb: TracebackType | None,
               tb_offset: int | None = None) -> list[str]:
        """IPython's custom exception handler: report an unanswered exercise, anything else as before."""
        try:
            found = None if _switched_off() else self.exercise_behind(value, tb)
        except Exception:  # noqa: BLE001 - a bug here must never hide the student's own error
            found = None
        if found is None:
            if self.other_types and isinstance(value, self.other_types):
                return self.other_handler(etype, value, tb, tb_offset)
            shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
            return []
        exercise, cause = found
        self.skipped = (value, exercise)
        print(_notice(exercise, cause), file=sys.stderr, flush=True)
        return []

    def exercise_behind(self, value: BaseException, tb: TracebackType | None) -> tuple[str, BaseException] | None:
        """The unanswered exercise behind ``value`` and the error it raised; None for a genuine error.

        ``value`` itself or an exception it was raised while handling (a test cell that catches
        the stub and raises ``AssertionError("expected a ValueError, got NotImplementedError")``)
        must be the stub's ``NotImplementedError`` or a ``NameError`` of a name a skipped cell did not set.
        """
        seen: set[int] = set()
        error: BaseException | None = value
        while error is not None and id(error) not in seen:
            seen.add(id(error))
            if isinstance(error, NotImplementedError) and STUB_MESSAGE in str(error):
                return _stub_function(error, tb if error is value else error.__traceback__), error
            if isinstance(error, NameError) and not isinstance(error, UnboundLocalError):
                exercise = self.waiting.get(_missing_name(error) or "")
                if exercise is not None:
                    return exercise, error
            if not isinstance(value, AssertionError):  # only a test cell's assertion about the stub is followed
                return None
            error = error.__cause__ or error.__context__
        return None

    def before_cell(self) -> None:
        """``pre_execute``: a new cell starts (silent executions included), nothing skipped yet."""
        self.skipped = None

    def after_cell(self, result: Any) -> None:
        """``post_run_cell``: a skipped cell counts as run (reply "ok"); remember the names it did not set."""
        skipped, self.skipped = self.skipped, None
        if result is None:
            return
        raw_cell = getattr(getattr(result, "info", None), "raw_cell", None) or ""
        if skipped is not None and result.error_before_exec is None and result.error_in_exec is skipped[0]:
            result.error_in_exec = None  # what ipykernel's execute reply reads: status "ok", Run All goes on
            self.shell.last_execution_succeeded = True
            for name in _assigned_names(self.shell, raw_cell) - set(self.shell.user_ns):  # the ones not set
                self.waiting.setdefault(name, skipped[1])
        elif self.waiting and result.error_before_exec is None and result.error_in_exec is None:
            for name in _assigned_names(self.shell, raw_cell):  # set by now (answered): nothing waits
                self.waiting.pop(name, None)


def _notice(exercise: str, value: BaseException) -> str:
    if isinstance(value, NameError):
        return (f"{NOTICE} this cell needs `{_missing_name(value)}`, which an earlier cell could not set because "
                f"the exercise `{exercise}` is not answered, so this cell was skipped and Run All goes on. "
                "Answer the exercise (its tests score 0 until then), then run the cells from there again.")
    return (f"{NOTICE} the exercise `{exercise}` still raises NotImplementedError, so this cell was skipped "
            "and Run All goes on. Answer the exercise (its tests score 0 until then), then run this cell again.")


def _missing_name(error: NameError) -> str | None:
    name = getattr(error, "name", None)
    if name:
        return str(name)
    match = re.search(r"name '(\w+)' is not defined", str(error))
    return match.group(1) if match else None


def _stub_function(error: NotImplementedError, tb: TracebackType | None) -> str:
    """The name of the function whose stub raised: the innermost frame whose line raises it."""
    frames: list[tuple[FrameType, int]] = []
    while tb is not None:
        frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    for frame, lineno in reversed(frames):
        if "raise NotImplementedError(" in linecache.getline(frame.f_code.co_filename, lineno):
            return _function_name(frame)
    match = _STUB_IN_TEXT.search(str(error))  # re-raised elsewhere, e.g. from a DataLoader worker
    if match:
        return match.group(1)
    return _function_name(frames[-1][0]) if frames else "an exercise"


def _function_name(frame: FrameType) -> str:
    code = frame.f_code
    qualified = getattr(code, "co_qualname", None)  # Python 3.11+
    if qualified:
        return str(qualified)
    owner = frame.f_locals.get("self")
    return f"{type(owner).__name__}.{code.co_name}" if owner is not None else code.co_name


def _assigned_names(shell: Any, raw_cell: str) -> set[str]:
    """The names a cell assigns at its top level (not inside its functions or classes)."""
    try:
        tree = ast.parse(shell.transform_cell(raw_cell))
    except Exception:  # noqa: BLE001 - a cell IPython could not parse assigns nothing we can know
        return set()
    names: set[str] = set()
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        pending.extend(ast.iter_child_nodes(node))
    return names


def _kernel_shell() -> Any:
    """The IPython shell of a Jupyter/Colab kernel, or None (plain Python, a terminal IPython, a script)."""
    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    shell = get_ipython()
    return shell if getattr(shell, "kernel", None) is not None else None


def _install(shell: Any) -> _Reporter:
    """Register the handlers on ``shell`` once; a second call returns the reporter already there."""
    reporter = getattr(shell, _STATE_ATTRIBUTE, None)
    if reporter is not None:
        return reporter
    other_types = tuple(shell.custom_exceptions)
    reporter = _Reporter(shell, other_types, shell.CustomTB if other_types else None)
    shell.set_custom_exc((*HANDLED, *other_types), reporter.handle)
    shell.events.register("pre_execute", reporter.before_cell)
    shell.events.register("post_run_cell", reporter.after_cell)
    setattr(shell, _STATE_ATTRIBUTE, reporter)
    return reporter


def report_unanswered_exercises() -> bool:
    """In a notebook, let Run All go on past unanswered exercises; True when this is on.

    A cell stopped by an exercise's ``raise NotImplementedError("Exercise not done yet ...")``, or by a
    name that such a cell did not get to set, prints one "Not answered yet" line instead of a traceback
    and counts as run, so the rest of the lesson runs and can be read before every exercise is done.
    Any other error is shown and stops Run All as usual. Off outside a Jupyter/Colab kernel, while
    nbgrader validates or grades (``NBGRADER_EXECUTION``: grading is unchanged) and when
    ``COURSE_STOP_AT_UNANSWERED=1``. Calling it again (re-running the set-up cell) changes nothing.

    Taught in lesson 00.
    """
    if _switched_off():
        return False
    shell = _kernel_shell()
    if shell is None:
        return False
    _install(shell)
    return True
