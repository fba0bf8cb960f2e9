"""The pure parts of test isolation: which statements are checks, how values travel, and
which tests must also run in the notebook's own process (no sandbox needed)."""

from __future__ import annotations

import ast
import math
from fractions import Fraction

import numpy as np
import pytest

from server.notebooks.trust import bound_names, keeps_state, verify
from server.sandbox.notebook import NotData, find_checks, from_data, instrument, to_data


def checked(source: str) -> list[str]:
    """The source of each expression a test's checks send up."""
    tree = ast.parse(source)
    instrument(tree)
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "__rubric_checked__"
    ]
    return [ast.unparse(c.args[1]) for c in calls]


@pytest.mark.parametrize(
    ("source", "values"),
    [
        ("assert squares(2) == [1, 4]", ["squares(2)"]),
        ("assert [1, 4] == squares(2), 'message'", ["squares(2)"]),
        ("assert f(x) == -1.5", ["f(x)"]),
        ("assert np.allclose(f(x), [0.5, 1e-3], atol=1e-6)", ["f(x)"]),
        ("assert numpy.isclose([1.0], f(x))", ["f(x)"]),
        ("assert math.isclose(f(2), 0.25, rel_tol=1e-9)", ["f(2)"]),
        ("np.testing.assert_allclose(model.predict(X), [1, 2])", ["model.predict(X)"]),
        ("numpy.testing.assert_array_equal(g(), ((1, 2), (3, 4)))", ["g()"]),
        ("assert abs(half(1) - 0.5) < 1e-9", ["half(1)"]),
        ("assert abs(0.5 - half(1)) <= 1e-9", ["half(1)"]),
        ("x = f(1)\nassert x == {'a': 1}\nprint(x)", ["x"]),
    ],
)
def test_simple_checks_are_found(source, values):
    assert checked(source) == values


@pytest.mark.parametrize(
    "source",
    [
        "assert f(x) == g(x)",  # no literal: nothing to compare outside
        "assert f(x) != 3",
        "assert 1 < f(x) < 3",
        "assert f(x)",
        "if True:\n    assert f(x) == 3",  # not top-level: may run any number of times
        "for i in range(3):\n    assert f(i) == 3",
        "assert np.allclose(f(x), g(x))",
        "assert np.allclose(*f(x))",
        "assert other.allclose(f(x), 1)",
        "assert_equal(f(x), 3)",  # a bare name: whose function, nobody knows
        "np.testing.assert_allclose(f(x), 1, **options)",
        "assert abs(f(x) - g(x)) < 1e-9",
        "assert 3 == 3",
    ],
)
def test_other_statements_are_not_checks(source):
    assert find_checks(ast.parse(source)) == []


VALUES = [
    None,
    True,
    0,
    -(10**40),
    1.5,
    float("inf"),
    1 + 2j,
    "text",
    b"\x00bytes",
    [1, (2.0, "x")],
    (),
    {"a": [1], 2: None},
    {1, 2},
    frozenset({"x"}),
    np.arange(6.0).reshape(2, 3),
    np.array([True, False]),
    np.array(["ab", "c"]),
    np.zeros((0, 3), np.int32),
    np.float32(0.25),
    np.int64(-3),
    np.bool_(True),
    Fraction(1, 3),
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_plain_data_travels_as_it_is(value):
    back = from_data(to_data(value))
    assert type(back) is type(value)
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and np.array_equal(back, value)
    else:
        assert back == value


def test_nan_stays_nan_and_lists_stay_apart_from_tuples():
    assert math.isnan(from_data(to_data(float("nan"))))
    assert from_data(to_data([1, 2])) != (1, 2)


class Liar:
    def __eq__(self, other):
        return True


class LyingList(list):
    def __eq__(self, other):
        return True


class LyingArray(np.ndarray):
    pass


@pytest.mark.parametrize(
    "value",
    [Liar(), LyingList([1]), [1, Liar()], {"k": Liar()}, np.zeros(2).view(LyingArray)],
    ids=["object", "list subclass", "inside a list", "inside a dict", "ndarray subclass"],
)
def test_anything_else_is_not_data(value):
    with pytest.raises(NotData):
        to_data(value)


@pytest.mark.parametrize(
    "data",
    [
        "x",
        [],
        ["?"],
        ["i", "1e5"],
        ["i", 5],
        ["f", "nan?"],
        ["l", "notalist"],
        ["d", [[["s", "k"]]]],
        ["d", [[["l", []], ["n"]]]],  # a list as a key: unhashable
        ["a", "<f8", [2], "AAAA"],  # the bytes do not fill the shape
        ["a", "|O8", [1], "AAAAAAAAAAA="],  # object arrays never
        ["a", "<f8", [-1], ""],
        ["g", "<f8", "AAAA"],
        ["b", "yes"],
    ],
)
def test_malformed_data_is_refused(data):
    with pytest.raises((ValueError, TypeError)):
        from_data(data)


def test_deep_nesting_is_refused():
    data = ["n"]
    for _ in range(100):
        data = ["l", [data]]
    with pytest.raises(ValueError):
        from_data(data)


SOURCE = "assert squares(2) == [1, 4]\nassert np.allclose(mean(), 2.5)"


def test_the_trusted_side_compares_the_values_sent():
    right = [[0, to_data([1, 4])], [1, to_data(np.float64(2.5))]]
    assert verify(SOURCE, tuple(right)) == ""
    wrong = [[0, to_data([1, 4])], [1, to_data(2.6)]]
    assert verify(SOURCE, tuple(wrong)).startswith("AssertionError: assert np.allclose")
    assert "did not all report" in verify(SOURCE, tuple(right[:1]))
    assert "did not all report" in verify(SOURCE, (right[1], right[0]))
    assert verify(SOURCE, ([0, ["?"]], right[1])) != ""  # unreadable data fails the check


def test_a_comparison_that_raises_fails_as_in_the_notebook():
    # [1, 4] == an array of two: an array; `assert` on it raises ValueError in a notebook.
    assert verify("assert squares(2) == [1, 4]", ([0, to_data(np.array([1, 4]))],)) != ""
    assert verify("assert squares(1) == [1]", ([0, to_data(np.array([1]))],)) == ""


def test_names_a_test_binds():
    source = (
        "import numpy as np\nfrom math import sqrt\nimport os.path\n"
        "def helper(v):\n    global counter\n    return v\n"
        "x, (y, z) = 1, (2, 3)\nfor i in []:\n    pass\nclass K:\n    pass\n"
        "try:\n    pass\nexcept ValueError as exc:\n    pass\ndel w\n"
    )
    assert bound_names(source) >= {
        "np",
        "sqrt",
        "os",
        "helper",
        "counter",
        "x",
        "y",
        "z",
        "i",
        "K",
        "exc",
        "w",
    }


@pytest.mark.parametrize(
    ("test", "later", "keep"),
    [
        ("def twice(v):\n    return 2 * v", ["assert twice(1) == 2"], True),
        ("def twice(v):\n    return 2 * v", ["assert half(1) == 0.5"], False),
        ("orig = squares\ndel squares\nsquares = orig", ["sum_of_squares(3)"], False),
        ("import numpy as np", ["np.zeros(2)"], True),
        ("from helpers import *", ["anything()"], True),
        ("globals()['x'] = 1", ["print(1)"], True),
        ("value = 3", ["get_ipython().run_line_magic('time', 'value + 1')"], True),
        ("assert half(2) == 1", ["half(3)"], False),
    ],
)
def test_a_test_is_kept_in_place_only_when_later_cells_read_its_names(test, later, keep):
    assert keeps_state(test, later) is keep
