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
from dataclasses import dataclass
from types import CodeType

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
def expected_checks(source: str) -> tuple[Check, ...]:
    """The checks of a test, in order, each compiled once with its value as a name."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return ()
    return tuple(_compiled(tree.body[index], path) for index, path in find_checks(tree))


@dataclass(frozen=True)
class Check:
    """One expected-value check: the statement (for messages), and its test as code."""

    statement: ast.stmt
    code: CodeType
    raises_only: bool  # a numpy.testing call: it holds when it raises nothing


def _compiled(statement: ast.stmt, path: tuple) -> Check:
    probe = copy.deepcopy(statement)
    replace_at(probe, path, ast.Name(VALUE, ast.Load()))
    expression = ast.Expression(probe.test if isinstance(probe, ast.Assert) else probe.value)
    ast.fix_missing_locations(expression)
    code = compile(expression, "<check>", "eval")
    return Check(statement, code, isinstance(probe, ast.Expr))


def verify(source: str, observed: tuple) -> str:
    """'' when every check of the test holds on the values sent; else why not.

    Only for a test that completed in the sandbox: then each check ran exactly once.
    """
    expected = expected_checks(source)
    numbers = [entry[0] if type(entry) is list and len(entry) == 2 else None for entry in observed]
    if numbers != list(range(len(expected))):
        return "the test's checks did not all report their values"
    for check, (_, data) in zip(expected, observed, strict=True):
        if not holds(check, data):
            statement = check.statement
            return f"AssertionError: {ast.unparse(statement)[:300]} fails (line {statement.lineno})"
    return ""


def holds(check: Check, data: object) -> bool:
    """Evaluate one check here, with the value rebuilt from the data sent."""
    try:
        value = from_data(data)
    except (ValueError, TypeError, RecursionError, OverflowError):
        return False
    try:
        outcome = eval(check.code, {**NAMESPACE, VALUE: value})
        return check.raises_only or bool(outcome)
    except Exception:  # an assertion, or a comparison that raises, as in the notebook
        return False


def keeps_state(test_source: str, later_sources: list[str]) -> bool:
    """Tell whether later cells may read a name the test binds (then it runs in place too).

    Over-approximated: any identifier in a later cell's text (strings and magics too).
    """
    bound = bound_names(test_source)
    if bound & DYNAMIC:
        return True
    return any(bound & identifiers(source) for source in later_sources)


@functools.lru_cache(maxsize=4096)
def identifiers(source: str) -> frozenset[str]:
    """Every identifier in a cell's text."""
    return frozenset(IDENTIFIER.findall(source))


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
