"""Matplotlib in the sandbox: `%matplotlib inline` works, figures come back as PNG in the
cell's result, and the sandbox's rules still hold (writes only under the run's /tmp)."""

from __future__ import annotations

import base64
import io

import pytest

from server.notebooks.grade import grade_notebooks
from server.sandbox.notebook import MAX_FIGURES
from tests.notebooks.support import autotest, cell_with, imported, released, solution, submit

pytest.importorskip("matplotlib", reason="matplotlib is not installed")
from PIL import Image  # noqa: E402  (installed with matplotlib)

PLOT = "%matplotlib inline\nimport matplotlib.pyplot as plt\nimport numpy as np\n"


def grade(tmp_path, cells, answers):
    exercise = imported(tmp_path, {"hw": cells})
    nb = released(exercise, "hw")
    for grade_id, source in answers.items():
        cell_with(nb, grade_id).source = source
    result = grade_notebooks(exercise, submit(tmp_path, {"hw": nb}))
    return {c["name"]: c for c in result.to_dict()["parts"][0]["tests"]}


def image(data: str) -> Image.Image:
    """A PNG sent in a result, opened (which checks it is one)."""
    picture = Image.open(io.BytesIO(base64.b64decode(data, validate=True)))
    assert picture.format == "PNG"
    return picture


def test_a_plot_the_student_shows_comes_back_as_png_for_the_grader(tmp_path):
    answer = PLOT + "plt.plot(np.arange(5) ** 2)\nplt.title('squares')\nplt.show()"
    tests = grade(tmp_path, [solution("plot", "pass", points=2)], {"plot": answer})
    assert tests["plot"]["outcome"] == "needs_manual_grading"
    (png,) = tests["plot"]["figures_png"]
    width, height = image(png).size
    assert width > 100 and height > 100


def test_figures_left_open_or_returned_are_shown_once_each(tmp_path):
    test = (
        "import matplotlib.pyplot as plt\nplt.figure()\nplt.plot([1, 2])\n"
        "fig = plt.figure()\nplt.plot([2, 1])\nassert len(plt.get_fignums()) == 2\nfig"
    )
    tests = grade(tmp_path, [solution("a", "x = 1"), autotest("draws", test)], {"a": "x = 1"})
    assert tests["draws"]["outcome"] == "passed"  # the Figure's repr is not a number
    assert len(tests["draws"]["figures_png"]) == 2


def test_figures_of_a_hidden_test_are_not_shown(tmp_path):
    hidden = (
        "import matplotlib.pyplot as plt\n### BEGIN HIDDEN TESTS\n"
        "plt.plot([1, 2])\nplt.show()\n### END HIDDEN TESTS"
    )
    tests = grade(tmp_path, [solution("a", "x = 1"), autotest("secret", hidden)], {"a": "x = 1"})
    assert tests["secret"]["outcome"] == "passed" and "figures_png" not in tests["secret"]


def test_figures_per_cell_are_capped(tmp_path):
    many = PLOT + f"for i in range({MAX_FIGURES + 3}):\n    plt.figure()\n    plt.plot([i, 1])"
    tests = grade(tmp_path, [solution("plot", "pass", points=1)], {"plot": many})
    assert len(tests["plot"]["figures_png"]) == MAX_FIGURES


def test_matplotlib_writes_only_to_the_runs_tmp(tmp_path):
    test = (
        "import os, matplotlib\nimport matplotlib.pyplot as plt\n"
        "assert matplotlib.get_configdir() == '/tmp/matplotlib'\n"
        "assert os.listdir('/tmp/matplotlib')  # its font list, made in this run\n"
        "data = matplotlib.get_data_path()\n"
        "try:\n    open(os.path.join(data, 'planted'), 'w')\n"
        "except OSError:\n    pass\nelse:\n    raise AssertionError('wrote into matplotlib')\n"
        "print(plt.get_backend())"
    )
    tests = grade(tmp_path, [solution("a", "x = 1"), autotest("where", test)], {"a": "x = 1"})
    assert tests["where"]["outcome"] == "passed", tests["where"]["feedback"]
    assert tests["where"]["feedback"] == "module://rubric_sandbox.figures"
