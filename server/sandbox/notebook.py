"""Inside the sandbox: run a notebook's cells as a kernel would (docs/notebooks.md).

The zygote imports this module and calls prepare() before forking, so a run pays for
neither compiling it nor its snapshot; a notebook run's harness only imports `cell` and
`put_file` from it. Each cell is one call `harness.cell(source, options)`: the source
as UTF-8 bytes (IPython syntax already turned into Python on the trusted side), options
[is_test, timeout_ms, output_cap, quiet]. It answers with UTF-8 JSON bytes, which the
trusted side parses as untrusted. All cells share one namespace, as in a kernel.
"""

import ast
import builtins
import io
import json
import os
import signal
import sys
import traceback
from operator import is_  # bound before any student cell could patch operator

import numpy as np

USER = {"__name__": "__main__", "__builtins__": builtins}
# Modules tests lean on, as they were before any student cell ran (all preloaded by the
# zygote, so this costs a dictionary copy each): restored before every test cell.
GUARDED = (
    "builtins",
    "math",
    "cmath",
    "numpy",
    "numpy.linalg",
    "numpy.random",
    "random",
    "statistics",
    "operator",
    "functools",
    "itertools",
    "collections",
    "re",
    "json",
    "copy",
    "decimal",
    "fractions",
)
PRISTINE: dict = {}
CELL = "<cell>"


def prepare():
    """Snapshot the guarded modules; the zygote calls this after preloading them."""
    PRISTINE.clear()
    for name in GUARDED:
        if name in sys.modules:
            PRISTINE[name] = (sys.modules[name], dict(sys.modules[name].__dict__))


class CellTimeout(BaseException):
    """The cell ran past its time; a BaseException so that `except Exception` lets it by."""


class Capped(io.StringIO):
    """A stream that keeps only its first `cap` characters."""

    def __init__(self, cap):
        super().__init__()
        self.cap = cap

    def write(self, text):
        text = str(text)
        room = self.cap - self.tell()
        if room > 0:
            super().write(text[:room])
        return len(text)


class Shell:
    """The little of IPython's get_ipython() that notebooks call (magics, !commands, ?)."""

    def run_line_magic(self, name, line):
        if name in ("time", "timeit"):
            return run_code(line)
        print(f"[%{name} is not available when grading; skipped]")

    def run_cell_magic(self, name, line, body):
        if name in ("time", "timeit", "capture"):
            return run_code(body)
        print(f"[%%{name} is not available when grading; skipped]")

    def system(self, command):
        print("[shell commands do not run when grading; skipped]")

    def getoutput(self, command):
        self.system(command)
        return []


def display(*objects, **_):
    """IPython's display(), as text."""
    for obj in objects:
        print(repr(obj))


SHELL = Shell()
USER["get_ipython"] = lambda: SHELL
USER["display"] = display


def run_code(source, quiet=False):
    """Execute source in the shared namespace; return the last expression's value.

    quiet: the cell ends with ';', which silences IPython's display of that value.
    """
    tree = ast.parse(source, CELL)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr) and not quiet:
        last = ast.Expression(tree.body.pop().value)
    exec(compile(tree, CELL, "exec"), USER)
    if last is None:
        return None
    value = eval(compile(last, CELL, "eval"), USER)
    if value is not None:
        USER["_"] = value
    return value


def unchanged(current, pristine):
    """Same keys and the very same values, by identity (never a student's __eq__).

    Checked before restoring because rewriting every entry of numpy's dictionary and
    the others costs the fork's copy-on-write of their pages (~7 ms per run).
    """
    return (
        len(current) == len(pristine)
        and all(map(is_, current, pristine))
        and all(map(is_, current.values(), pristine.values()))
    )


def restore_modules():
    """Put back the builtins and the guarded modules as they were before the student ran.

    The builtins first and always (GUARDED starts with them): unchanged() relies on them.
    """
    for name, (module, pristine) in PRISTINE.items():
        if sys.modules.get(name) is not module:
            sys.modules[name] = module
        current = module.__dict__
        if name != "builtins" and unchanged(current, pristine):
            continue
        for key in [k for k in current if k not in pristine]:
            del current[key]
        current.update(pristine)
    USER["__builtins__"] = builtins


def on_alarm(signum, frame):
    raise CellTimeout()


def describe(exc):
    """Type and message, plus the cell's line."""
    try:
        text = f"{type(exc).__name__}: {exc}"
    except BaseException:
        text = type(exc).__name__
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == CELL]
    return text + (f" (line {lines[-1]})" if lines else "")


def put_file(name, data):
    """Write one of the assignment's files where the notebook runs (the sandbox's /tmp)."""
    path = bytes(name).decode("utf-8")
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path, "wb") as file:
        file.write(bytes(data))
    return np.zeros(0, dtype=np.uint8)


def cell(source, options):
    """Run one cell; return what it did as JSON bytes."""
    is_test, timeout_ms, cap, quiet = (int(x) for x in options)
    if is_test:
        restore_modules()
    out, err = Capped(cap), Capped(cap)
    saved = sys.stdout, sys.stderr
    answer = {"status": "ok", "result": None, "error": ""}
    signal.signal(signal.SIGALRM, on_alarm)
    try:
        sys.stdout, sys.stderr = out, err
        signal.setitimer(signal.ITIMER_REAL, timeout_ms / 1000)
        value = run_code(bytes(source).decode("utf-8"), quiet)
        if value is not None:
            answer["result"] = repr(value)[:cap]
    except CellTimeout:
        answer.update(status="timeout", error="the cell ran out of time")
    except MemoryError as exc:
        answer.update(status="memory_limit", error=describe(exc)[:cap])
    except BaseException as exc:  # SystemExit and KeyboardInterrupt too, as a kernel reports them
        answer.update(status="error", error=describe(exc)[:cap])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout, sys.stderr = saved
    answer.update(stdout=out.getvalue(), stderr=err.getvalue())
    return np.frombuffer(json.dumps(answer).encode("utf-8"), dtype=np.uint8)
