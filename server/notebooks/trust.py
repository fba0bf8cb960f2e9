"""What the trusted side adds to a test's verdict (docs/notebooks.md, "Trust").

- A test's expected-value checks (server/sandbox/notebook.py find_checks) are made
  again here, on the values the sandbox sent as plain data and this process rebuilt:
  whatever the notebook did to `==`, numpy or numpy.testing does not reach them.
- Each test runs in a fork of the notebook's state, discarded after it; a test whose
  names later cells read also runs in the notebook's own process (`keeps_state`).
"""

from __future__ import annotations

import ast
import copy
import functools
import math
import re

import numpy as np
import numpy.testing  # noqa: F401  (np.testing.* in a check)

from server.sandbox.notebook import find_checks, from_data, replace_at

VALUE = "__value__"
NAMESPACE = {"__builtins__": {"abs": abs}, "np": np, "numpy": np, "math": math}
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.ExceptHandler)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Names through which a cell may reach any global without naming it.
DYNAMIC = {"globals", "exec", "eval", "vars", "locals", "__import__", "get_ipython", "*"}


@functools.lru_cache(maxsize=1024)
def expected_checks(source: str) -> tuple[tuple[ast.stmt, tuple], ...]:
    """The checks of a test (its statement and the path to the checked value), in order."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return ()
    return tuple((tree.body[index], path) for index, path in find_checks(tree))


def verify(source: str, observed: tuple) -> str:
    """'' when every check of the test holds on the values sent; else why not.

    Only for a test that completed in the sandbox: then each check ran exactly once.
    """
    expected = expected_checks(source)
    numbers = [entry[0] if type(entry) is list and len(entry) == 2 else None for entry in observed]
    if numbers != list(range(len(expected))):
        return "the test's checks did not all report their values"
    for (statement, path), (_, data) in zip(expected, observed, strict=True):
        if not holds(statement, path, data):
            line = f" (line {statement.lineno})"
            return f"AssertionError: {ast.unparse(statement)[:300]} fails{line}"
    return ""


def holds(statement: ast.stmt, path: tuple, data: object) -> bool:
    """Evaluate one check here, with the value rebuilt from the data sent."""
    try:
        value = from_data(data)
    except (ValueError, TypeError, RecursionError, OverflowError):
        return False
    probe = copy.deepcopy(statement)
    replace_at(probe, path, ast.Name(VALUE, ast.Load()))
    expression = ast.Expression(probe.test if isinstance(probe, ast.Assert) else probe.value)
    ast.fix_missing_locations(expression)
    try:
        outcome = eval(compile(expression, "<check>", "eval"), {**NAMESPACE, VALUE: value})
        return isinstance(probe, ast.Expr) or bool(outcome)
    except Exception:  # an assertion, or a comparison that raises, as in the notebook
        return False


def keeps_state(test_source: str, later_sources: list[str]) -> bool:
    """Tell whether later cells may read a name the test binds (then it runs in place too).

    Over-approximated: any identifier in a later cell's text (strings and magics too).
    """
    bound = bound_names(test_source)
    if bound & DYNAMIC:
        return True
    read = set()
    for source in later_sources:
        read.update(IDENTIFIER.findall(source))
    return bool(bound & read)


@functools.lru_cache(maxsize=1024)
def bound_names(source: str) -> frozenset[str]:
    """Global names a cell binds, deletes or declares global ('*' for a star import)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return frozenset()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            names.update(node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, DEFINITIONS) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.Name) and node.id in DYNAMIC:
            names.add(node.id)
    return frozenset(names)
