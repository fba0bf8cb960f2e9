"""A small, safe arithmetic evaluator for answers computed from quiz parameters.

Content is never `eval`-ed: the expression is parsed with `ast` and only numbers,
parameter names, arithmetic operators and a few math functions are allowed.
"""

import ast
import math
import operator

FUNCTIONS = {
    "abs": abs,
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "min": min,
    "max": max,
    "round": round,
}
CONSTANTS = {"pi": math.pi, "e": math.e}
BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.Mod: operator.mod,
}
UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
MAX_LENGTH = 500
MAX_EXPONENT = 100  # keeps `9**9**9` from eating the CPU


class ExpressionError(ValueError):
    """The expression is not allowed or cannot be evaluated."""


def parse(source: str) -> ast.Expression:
    """Parse an expression, refusing anything beyond plain arithmetic."""
    if len(source) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"invalid expression: {exc.msg}") from None
    for node in ast.walk(tree):
        _check_node(node)
    return tree


def names(tree: ast.Expression) -> set[str]:
    """Return the parameter names an expression uses."""
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    return used - FUNCTIONS.keys() - CONSTANTS.keys()


def evaluate(source: str, variables: dict[str, float]) -> float:
    """Evaluate an arithmetic expression with the given variables."""
    tree = parse(source)
    try:
        value = _eval(tree.body, variables)
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise ExpressionError(f"cannot evaluate {source!r}: {exc}") from None
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise ExpressionError(f"{source!r} does not give a finite number")
    return float(value)


def _check_node(node: ast.AST) -> None:
    allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Call, ast.Load)
    allowed += tuple(BINARY) + tuple(UNARY)
    if not isinstance(node, allowed):
        raise ExpressionError(f"{type(node).__name__} is not allowed in an expression")
    if isinstance(node, ast.Constant) and (
        isinstance(node.value, bool) or not isinstance(node.value, int | float)
    ):
        raise ExpressionError(f"only numbers are allowed, not {node.value!r}")
    if isinstance(node, ast.Call) and not (
        isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS and not node.keywords
    ):
        raise ExpressionError(f"only these functions are allowed: {', '.join(sorted(FUNCTIONS))}")


def _eval(node: ast.AST, variables: dict[str, float]) -> float:
    match node:
        case ast.Constant(value=value):
            return value
        case ast.Name(id=name):
            if name in variables:
                return variables[name]
            if name in CONSTANTS:
                return CONSTANTS[name]
            raise ExpressionError(f"unknown name {name!r}")
        case ast.UnaryOp(op=op, operand=operand):
            return UNARY[type(op)](_eval(operand, variables))
        case ast.BinOp(left=left, op=ast.Pow(), right=right):
            base, exponent = _eval(left, variables), _eval(right, variables)
            if abs(exponent) > MAX_EXPONENT:
                raise ExpressionError(f"exponent {exponent} is larger than {MAX_EXPONENT}")
            return base**exponent
        case ast.BinOp(left=left, op=op, right=right):
            return BINARY[type(op)](_eval(left, variables), _eval(right, variables))
        case ast.Call(func=ast.Name(id=name), args=args):
            return FUNCTIONS[name](*(_eval(arg, variables) for arg in args))
    raise ExpressionError(f"{type(node).__name__} is not allowed")
