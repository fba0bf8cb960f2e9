"""Inside the sandbox: run a notebook's cells as a kernel would (docs/notebooks.md).

The zygote imports this module and calls prepare() before forking, so a run pays for
neither compiling it nor its snapshot; a notebook run's harness only imports `cell`,
`collect` and `put_file` from it. Each cell is one call `harness.cell(source, options)`:
the source as UTF-8 bytes (IPython syntax already turned into Python on the trusted
side), options [is_test, timeout_ms, output_cap, quiet, keep, instrument, step index].
It answers with UTF-8 JSON bytes, which the trusted side parses as untrusted. The
student's cells share one namespace, as in a kernel; each test cell runs in a fork of
that state (start_test), whose answer comes with the run's last call, `collect()`.

The trusted side imports this module too, for the pure functions both sides must agree
on: which statements of a test are expected-value checks (find_checks), and how a
checked value travels as plain data (to_data, from_data).
"""

import ast
import base64
import builtins
import contextlib
import decimal
import fractions
import io
import json
import math
import os
import re
import select
import signal
import struct
import sys
import time
import traceback
from operator import is_  # bound before any student cell could patch operator

import numpy as np

# Bound before any student cell could patch builtins: unchanged() checks them too.
all_, len_, map_ = builtins.all, builtins.len, builtins.map
USER = {"__name__": "__main__", "__builtins__": builtins}
# Modules tests lean on, as they were before any student cell ran (all preloaded by the
# zygote, so this costs a dictionary copy each): restored before every test cell. This
# module itself is guarded too (prepare), so a test never runs a patched harness function.
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
    "base64",
)
PRISTINE: dict = {}
CELL = "<cell>"
WRAP = "__rubric_checked__"  # the name a test's instrumented checks call (observe)
MAX_CHECK_BYTES = 4 << 20  # checked values sent up per cell, as JSON
MAX_FIGURES = 8  # PNGs kept per cell
MAX_FIGURE_BYTES = 1 << 20  # one PNG's size
GRACE_MS = 200  # beyond a test's time limit, before its process is killed
MAX_ANSWER = 64 << 20  # bytes read from a test's process
PENDING_ANSWER = {"status": "pending"}
LOST = {"status": "error", "result": None, "error": "", "stdout": "", "stderr": ""}
TIMED_OUT = {**LOST, "status": "timeout", "error": "the cell ran out of time"}
# Set in a notebook's sandbox only (a code run's environment stays the zygote's): the
# backend that captures figures (figures.py), and caches and font list in the run's /tmp.
MATPLOTLIB_ENV = {
    "MPLBACKEND": f"module://{__package__}.figures",
    "MPLCONFIGDIR": "/tmp/matplotlib",
}
SIZE = struct.Struct("<Q")  # the length before a test's answer
PENDING: list = []  # (step index, pid, pipe, deadline) of the tests running in a fork
MAX_PENDING = 2  # tests in flight at once: they share the run's memory and pids limits
DRAIN_SECONDS = 0.05
DONE: dict = {}  # step index -> answer of a test finished, until collect()
EXITED: list = []  # the tests' processes that answered, killed, not reaped yet
STATUSES: dict = {}  # pid -> wait status of a pending test's process reaped early
MAX_EXITING = 4
# What the running cell did besides its output: checked values, figures (and notes on them).
STATE = {"checks": [], "check_bytes": 0, "images": [], "notes": [], "shown": []}


def prepare():
    """Snapshot the guarded modules; the zygote calls this after preloading them."""
    PRISTINE.clear()
    for name in (*GUARDED, __name__):
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
        if name == "matplotlib":  # figures are always captured as the inline backend does
            return None
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
    """IPython's display(): a figure as PNG, anything else as its repr."""
    for obj in objects:
        if not add_figure(obj):
            print(repr(obj))


SHELL = Shell()
USER["get_ipython"] = lambda: SHELL
USER["display"] = display


# Expected-value checks: a test's top-level `assert f(x) == literal` and the like. The
# value the notebook computes is sent up as plain data and the comparison is made again
# in the trusted process, on values it rebuilt itself: a lying __eq__, a patched
# np.allclose or numpy.testing changes nothing there.
ASSERT_CALLS = {
    f"{module}.{name}"
    for module in ("np", "numpy")
    for name in ("allclose", "isclose", "array_equal", "array_equiv")
} | {"math.isclose"}
TESTING_CALLS = {
    f"{module}.testing.{name}"
    for module in ("np", "numpy")
    for name in (
        "assert_allclose",
        "assert_array_equal",
        "assert_array_almost_equal",
        "assert_almost_equal",
        "assert_approx_equal",
        "assert_equal",
    )
}


def is_literal(node):
    """Tell whether an expression is a plain literal (ast.literal_eval reads it)."""
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def dotted(node):
    """The dotted name of np.testing.assert_allclose and the like, or ''."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    return ".".join([node.id, *reversed(parts)])


def _one_computed(pairs):
    """The path of the only non-literal expression among (path, node) pairs, else None."""
    computed = [path for path, node in pairs if not is_literal(node)]
    return computed[0] if len(computed) == 1 and len(pairs) > 1 else None


def _call_check(call, names, prefix):
    """A call of an allowed function whose arguments are literals but one."""
    if not isinstance(call, ast.Call) or dotted(call.func) not in names:
        return None
    if any(isinstance(a, ast.Starred) for a in call.args):
        return None
    if any(k.arg is None for k in call.keywords):
        return None
    pairs = [((*prefix, "args", i), a) for i, a in enumerate(call.args)]
    pairs += [((*prefix, "keywords", i, "value"), k.value) for i, k in enumerate(call.keywords)]
    return _one_computed(pairs)


def _assert_check(test):
    """The path (from the assert's test) of the value an assert checks, or None."""
    if isinstance(test, ast.Call):
        return _call_check(test, ASSERT_CALLS, ("test",))
    if not isinstance(test, ast.Compare) or len(test.ops) != 1:
        return None
    left, right = test.left, test.comparators[0]
    if isinstance(test.ops[0], ast.Eq):
        return _one_computed([(("test", "left"), left), (("test", "comparators", 0), right)])
    absolute = (
        isinstance(test.ops[0], ast.Lt | ast.LtE)
        and is_literal(right)
        and isinstance(left, ast.Call)
        and isinstance(left.func, ast.Name)
        and left.func.id == "abs"
        and len(left.args) == 1
        and not left.keywords
        and isinstance(left.args[0], ast.BinOp)
        and isinstance(left.args[0].op, ast.Sub)
    )
    if not absolute:
        return None
    diff = left.args[0]
    base = ("test", "left", "args", 0)
    return _one_computed([((*base, "left"), diff.left), ((*base, "right"), diff.right)])


def find_checks(tree):
    """[(statement index, path to the checked expression)] of a test's simple checks.

    Only top-level statements (each runs exactly once when the cell completes): an
    assert of `value == literal`, `abs(value - literal) < literal`, or np.allclose,
    np.isclose, np.array_equal, math.isclose with literal arguments but the value; a
    numpy.testing.assert_* call of that shape.
    """
    found = []
    for index, statement in enumerate(tree.body):
        path = None
        if isinstance(statement, ast.Assert):
            path = _assert_check(statement.test)
        elif isinstance(statement, ast.Expr):
            path = _call_check(statement.value, TESTING_CALLS, ("value",))
        if path is not None:
            found.append((index, path))
    return found


def node_at(node, path):
    """The node found by following path (attribute names and list indexes)."""
    for step in path:
        node = node[step] if isinstance(step, int) else getattr(node, step)
    return node


def replace_at(node, path, new):
    """Put new where path leads."""
    holder = node_at(node, path[:-1])
    if isinstance(path[-1], int):
        holder[path[-1]] = new
    else:
        setattr(holder, path[-1], new)


def instrument(tree):
    """Wrap each checked value in a call that sends it up (observe)."""
    for number, (index, path) in enumerate(find_checks(tree)):
        statement = tree.body[index]
        old = node_at(statement, path)
        call = ast.Call(ast.Name(WRAP, ast.Load()), [ast.Constant(number), old], [])
        replace_at(statement, path, ast.copy_location(call, old))
    ast.fix_missing_locations(tree)


class NotData(Exception):
    """A value that cannot travel as plain data."""


NUMPY_SCALARS = frozenset(
    t for t in np.sctypeDict.values() if np.dtype(t).kind in "biufc" and not np.dtype(t).fields
)
ARRAY_KINDS = "biufcU"


def _b64(raw):
    return base64.b64encode(raw).decode("ascii")


def to_data(value, depth=0):
    """Plain JSON data for a value of exact builtin, NumPy or number types, else NotData.

    Only exact types: a subclass could lie in its methods; their contents are read
    with the types' own C methods.
    """
    kind = type(value)
    if depth > 32:
        raise NotData("nested too deeply")
    if value is None:
        return ["n"]
    if kind is bool:
        return ["b", bool.__bool__(value)]
    if kind is int:
        try:
            return ["i", int.__repr__(value)]
        except ValueError:
            raise NotData("an integer too long to check") from None
    if kind is float:
        return ["f", float.hex(value)]
    if kind is complex:
        return ["c", float.hex(value.real), float.hex(value.imag)]
    if kind is str:
        return ["s", str.__str__(value)]
    if kind is bytes:
        return ["y", _b64(value)]
    if kind in (list, tuple, set, frozenset):
        tag = {list: "l", tuple: "t", set: "S", frozenset: "F"}[kind]
        return [tag, [to_data(item, depth + 1) for item in value]]
    if kind is dict:
        return ["d", [[to_data(k, depth + 1), to_data(v, depth + 1)] for k, v in value.items()]]
    if kind is np.ndarray and value.dtype.kind in ARRAY_KINDS and value.dtype.fields is None:
        return ["a", value.dtype.str, list(value.shape), _b64(value.tobytes())]
    if kind in NUMPY_SCALARS:
        return ["g", value.dtype.str, _b64(value.tobytes())]
    if kind is fractions.Fraction:
        return ["q", int.__repr__(value.numerator), int.__repr__(value.denominator)]
    if kind is decimal.Decimal:
        return ["D", decimal.Decimal.__str__(value)]
    raise NotData(f"a {kind.__name__}")


INTEGER = re.compile(r"-?[0-9]{1,4300}")
DTYPE = re.compile(r"[<>|=][biufcU][0-9]{1,3}")
SIMPLE = {"n": 1, "b": 2, "i": 2, "f": 2, "c": 3, "s": 2, "y": 2, "g": 3, "q": 3, "D": 2}


def from_data(data, depth=0):
    """The value that to_data described, rebuilt from genuine types; ValueError if malformed."""
    if type(data) is not list or not data or type(data[0]) is not str or depth > 33:
        raise ValueError("not a value")
    tag, args = data[0], data[1:]
    if tag in SIMPLE:
        if len(data) != SIMPLE[tag] or not all(type(a) is str for a in args[tag == "b" :]):
            raise ValueError("not a value")
        return _simple(tag, args)
    if tag in ("l", "t", "S", "F") and len(data) == 2 and type(args[0]) is list:
        items = [from_data(item, depth + 1) for item in args[0]]
        return {"l": list, "t": tuple, "S": set, "F": frozenset}[tag](items)
    if tag == "d" and len(data) == 2 and type(args[0]) is list:
        pairs = args[0]
        if not all(type(p) is list and len(p) == 2 for p in pairs):
            raise ValueError("not a dictionary")
        return {from_data(k, depth + 1): from_data(v, depth + 1) for k, v in pairs}
    if tag == "a" and len(data) == 4:
        return _array(*args)
    raise ValueError("not a value")


def _simple(tag, args):
    if tag == "n":
        return None
    if tag == "b":
        if type(args[0]) is not bool:
            raise ValueError("not a bool")
        return args[0]
    if tag == "i":
        return _integer(args[0])
    if tag == "f":
        return float.fromhex(args[0])
    if tag == "c":
        return complex(float.fromhex(args[0]), float.fromhex(args[1]))
    if tag == "s":
        return args[0]
    if tag == "y":
        return base64.b64decode(args[0], validate=True)
    if tag == "g":
        dtype = _dtype(args[0])
        raw = base64.b64decode(args[1], validate=True)
        if dtype.kind == "U" or len(raw) != dtype.itemsize:
            raise ValueError("not a NumPy scalar")
        return np.frombuffer(raw, dtype)[0]
    if tag == "q":
        return fractions.Fraction(_integer(args[0]), _integer(args[1]))
    return decimal.Decimal(args[0])


def _integer(text):
    if not INTEGER.fullmatch(text):
        raise ValueError("not an integer")
    return int(text)


def _dtype(text):
    if type(text) is not str or not DTYPE.fullmatch(text):
        raise ValueError("not a dtype")
    return np.dtype(text)


def _array(dtype, shape, raw):
    dtype = _dtype(dtype)
    if type(shape) is not list or len(shape) > 32:
        raise ValueError("not a shape")
    if not all(type(n) is int and 0 <= n < 1 << 40 for n in shape) or type(raw) is not str:
        raise ValueError("not a shape")
    raw = base64.b64decode(raw, validate=True)
    if math.prod(shape) * dtype.itemsize != len(raw):
        raise ValueError("the array's bytes do not match its shape")
    return np.frombuffer(raw, dtype).reshape(shape).copy()


def observe(number, value):
    """Send a checked value up as data; the test goes on with that data rebuilt.

    The test then compares exactly what the trusted side will compare again.
    """
    try:
        data = to_data(value)
    except (NotData, RecursionError) as exc:
        raise AssertionError(
            f"the value checked is {exc}: a test's expected values are compared as plain"
            " data (numbers, strings, lists, tuples, dicts, sets, NumPy arrays)"
        ) from None
    size = len(json.dumps(data))
    if STATE["check_bytes"] + size > MAX_CHECK_BYTES:
        raise AssertionError("the values checked by this test are too large to compare")
    STATE["check_bytes"] += size
    STATE["checks"].append([number, data])
    return from_data(data)


def compile_cell(source, quiet=False, checks=False):
    """The cell's code, and its last expression's (None if it shows no value).

    quiet: the cell ends with ';', which silences IPython's display of that value.
    checks: instrument the test's expected-value checks (observe).
    """
    tree = ast.parse(source, CELL)
    if checks:
        instrument(tree)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr) and not quiet:
        last = compile(ast.Expression(tree.body.pop().value), CELL, "eval")
    return compile(tree, CELL, "exec"), last


def run_code(source, quiet=False, checks=False, compiled=None):
    """Execute source (or its compile_cell code) in the shared namespace; return the last
    expression's value."""
    body, last = compiled or compile_cell(source, quiet, checks)
    if checks:
        USER[WRAP] = observe
    exec(body, USER)
    if last is None:
        return None
    value = eval(last, USER)
    if value is not None:
        USER["_"] = value
    return value


def unchanged(current, pristine):
    """Same keys and the very same values, by identity (never a student's __eq__).

    Checked before restoring because rewriting every entry of numpy's dictionary and
    the others costs the fork's copy-on-write of their pages (~7 ms per run).
    """
    return (
        len_(current) == len_(pristine)
        and all_(map_(is_, current, pristine))
        and all_(map_(is_, current.values(), pristine.values()))
    )


def restore_modules():
    """Put back the builtins and the guarded modules as they were before the student ran."""
    for name, (module, pristine) in PRISTINE.items():
        if sys.modules.get(name) is not module:
            sys.modules[name] = module
        current = module.__dict__
        if unchanged(current, pristine):
            continue
        for key in [k for k in current if k not in pristine]:
            # A submodule imported since (numpy.ma, by matplotlib) stays: without its
            # attribute numpy's __getattr__ would recurse importing it.
            if current[key] is not sys.modules.get(f"{name}.{key}"):
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


# Figures, as IPython's inline backend shows them: plt.show(), display(fig), a Figure
# as the cell's value, and whatever figures are still open when the cell ends.
def add_figure(obj):
    """Keep a matplotlib Figure as PNG in the cell's answer; False for anything else."""
    figure_module = sys.modules.get("matplotlib.figure")
    if figure_module is None or not isinstance(obj, figure_module.Figure):
        return False
    if any(shown is obj for shown in STATE["shown"]):
        return True  # a Figure as the cell's value is open too: shown once, as IPython does
    STATE["shown"].append(obj)
    if len(STATE["images"]) >= MAX_FIGURES:
        STATE["notes"].append(f"[more than {MAX_FIGURES} figures: the others are not kept]")
        return True
    buffer = io.BytesIO()
    obj.savefig(buffer, format="png", bbox_inches="tight")
    png = buffer.getvalue()
    if len(png) > MAX_FIGURE_BYTES:
        STATE["notes"].append(f"[a figure of {len(png)} bytes is not kept: over 1 MB]")
    else:
        STATE["images"].append(_b64(png))
    return True


def show_figures(*_, **__):
    """plt.show(): every open figure into the cell's answer, then closed."""
    helpers = sys.modules.get("matplotlib._pylab_helpers")
    if helpers is None:
        return
    try:
        for manager in helpers.Gcf.get_all_fig_managers():
            add_figure(manager.canvas.figure)
    finally:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close("all")


def run_cell(source, timeout_ms, cap, quiet, checks, compiled=None):
    """Run one cell here; return its answer as a dict."""
    out, err = Capped(cap), Capped(cap)
    saved = sys.stdout, sys.stderr
    answer = {"status": "ok", "result": None, "error": ""}
    STATE.update(checks=[], check_bytes=0, images=[], notes=[], shown=[])
    signal.signal(signal.SIGALRM, on_alarm)
    try:
        sys.stdout, sys.stderr = out, err
        signal.setitimer(signal.ITIMER_REAL, timeout_ms / 1000)
        value = run_code(source, quiet, checks, compiled)
        if value is not None:
            answer["result"] = repr(value)[:cap]
            add_figure(value)
        show_figures()
    except CellTimeout:
        answer.update(TIMED_OUT)
    except MemoryError as exc:
        answer.update(status="memory_limit", error=describe(exc)[:cap])
    except BaseException as exc:  # SystemExit and KeyboardInterrupt too, as a kernel reports them
        answer.update(status="error", error=describe(exc)[:cap])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout, sys.stderr = saved
    notes = "".join(f"{note}\n" for note in STATE["notes"])
    answer.update(stdout=out.getvalue() + notes, stderr=err.getvalue())
    answer.update(checks=STATE["checks"], images=STATE["images"])
    return answer


def encode(answer):
    return json.dumps(answer).encode("utf-8")


def start_test(index, source, timeout_ms, cap, quiet, checks):
    """Fork a process for a test; False when none can be made (see run_isolated).

    It runs while this process goes on with the next cells (MAX_PENDING at a time):
    a fork is a snapshot, so what comes after cannot change its verdict.
    """
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # a notebook may have ignored it: reap here
    reap()
    while len(PENDING) >= MAX_PENDING:
        finish(PENDING.pop(0))
    try:  # here, not in the fork, whose every page touched would be copied first
        compiled = compile_cell(source, quiet, checks)
    except BaseException:  # the fork compiles it again and reports why it fails
        compiled = None
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return False
    if pid == 0:  # the test's own process
        try:
            os.close(read_end)
            os.setpgid(0, 0)  # what it forks is killed with it
            data = encode(run_cell(source, timeout_ms, cap, quiet, checks, compiled))
            view = memoryview(SIZE.pack(len(data)) + data)
            while view:
                view = view[os.write(write_end, view) :]
        finally:
            os._exit(0)
    os.close(write_end)
    PENDING.append((index, pid, read_end, time.monotonic() + (timeout_ms + GRACE_MS) / 1000))
    return True


def finish(test):
    """Wait for a test's answer (killing it at its limit), keep it in DONE; reap later."""
    index, pid, read_end, deadline = test
    try:  # one that waited for a reader past its limit still gets to finish writing
        data = read_child(read_end, max(deadline, time.monotonic() + DRAIN_SECONDS))
    finally:
        os.close(read_end)
        kill_group(pid)
    if data is None:
        answer = {**LOST, "error": ended(pid)}
    else:  # answered: reaped at a later test, while this process goes on
        EXITED.append(pid)
        try:
            answer = json.loads(data)
        except ValueError:
            answer = None
        if type(answer) is not dict:
            answer = {**LOST, "error": "the test's answer is unreadable"}
    answer["forked"] = True
    DONE[index] = answer
    return answer


def run_isolated(source, timeout_ms, cap, quiet, checks):
    """Run a test in a fork of the notebook's state and wait for it; its process is discarded.

    None when no process can be made (no cgroup: the sandbox's seccomp refuses fork;
    or the run's pids are used up): the test then runs in this process.
    """
    if not start_test(-1, source, timeout_ms, cap, quiet, checks):
        return None
    return DONE.pop(-1) if finish(PENDING.pop()) else None


def collect():
    """The answers of every test run in a fork since the last collect, as JSON bytes."""
    while PENDING:
        finish(PENDING.pop(0))
    answers = [[index, answer] for index, answer in DONE.items()]
    DONE.clear()
    return np.frombuffer(encode({"answers": answers}), dtype=np.uint8)


def read_child(fd, deadline):
    """The answer the test's process sends (a length, then JSON); None if it sent none.

    A test out of time gets TIMED_OUT (its process is then killed).
    """
    data = bytearray()
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while len(data) < SIZE.size or len(data) < SIZE.size + SIZE.unpack_from(data)[0]:
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(max(1, int(left * 1000))):
            return encode(TIMED_OUT)
        chunk = os.read(fd, 1 << 20)
        if not chunk or len(data) > MAX_ANSWER:
            return None
        data += chunk
    return bytes(data[SIZE.size :])


def kill_group(pid):
    """Kill the test's process and whatever it forked (its process group)."""
    for target in (-pid, pid):
        with contextlib.suppress(OSError):
            os.kill(target, signal.SIGKILL)


def reap():
    """Reap the tests' processes killed since, and what they forked (reparented here)."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        if pid in EXITED:
            EXITED.remove(pid)
        elif any(test[1] == pid for test in PENDING):
            STATUSES[pid] = status  # a test still to be read: ended() says how it ended
    while len(EXITED) > MAX_EXITING:  # still being torn down: wait, pids are few
        with contextlib.suppress(ChildProcessError):
            os.waitpid(EXITED.pop(0), 0)


def ended(pid):
    """Reap the test's process, which sent no answer; say how it ended."""
    try:
        status = STATUSES.pop(pid) if pid in STATUSES else os.waitpid(pid, 0)[1]
    except ChildProcessError:  # reaped already
        return "the test's process ended without an answer"
    reap()
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) != signal.SIGKILL:
        return f"the test's process was killed by {signal.Signals(os.WTERMSIG(status)).name}"
    if os.WIFEXITED(status):
        return f"the test ended its process (exit status {os.WEXITSTATUS(status)})"
    return "the test's process was killed (out of memory or time)"


def cell(source, options):
    """Run one cell; return what it did as JSON bytes ({"status": "pending"} for a test
    running in its fork: its answer comes with collect())."""
    is_test, timeout_ms, cap, quiet, keep, checks, index = (int(x) for x in options)
    if "MPLBACKEND" not in os.environ:
        os.environ.update(MATPLOTLIB_ENV)
    source = bytes(source).decode("utf-8")
    answer = None
    if is_test:
        # Restored here rather than in the test's process: this one's pages are its own
        # by now, the fork's would each be copied again (~2.5 ms a test).
        restore_modules()
        if not keep and start_test(index, source, timeout_ms, cap, quiet, checks):
            return np.frombuffer(encode(PENDING_ANSWER), dtype=np.uint8)
        answer = run_isolated(source, timeout_ms, cap, quiet, checks) if keep else None
        if answer is not None and answer.get("status") in ("ok", "error"):
            restore_modules()  # later cells use what the test defines: run it here too
            run_cell(source, timeout_ms, cap, quiet, False)
    if answer is None:
        answer = run_cell(source, timeout_ms, cap, quiet, checks)
        answer["forked"] = False
    return np.frombuffer(encode(answer), dtype=np.uint8)
