"""Run visible tests: only the visible examples run, with their full feedback; the sweep too."""

from server.grading.precheck import check_visible

WRONG_ON_ANY_OTHER_INPUT = (
    "\n_right = l2_penalty\n"
    "def l2_penalty(w, lam):\n"
    "    if {shapes} and np.shape(w) not in {shapes}:\n"
    "        raise RuntimeError('an input the page does not show')\n"
    "    return _right(w, lam)\n"
)


def names(checked: dict) -> set[tuple[str, str]]:
    return {(p["name"], t["name"]) for p in checked["parts"] for t in p["tests"]}


def test_only_the_visible_tests_run_and_show_their_values(l2, reference_source):
    visible = {(t.function, t.name) for t in l2.tests if t.visible}
    shapes = tuple({t.args[0].shape for t in l2.tests if t.visible and t.function == "l2_penalty"})
    code = reference_source + "\nimport numpy as np\n"
    code += WRONG_ON_ANY_OTHER_INPUT.format(shapes=repr(shapes))
    checked = check_visible(l2, code)
    assert checked["loaded"] and names(checked) == visible
    assert all(t["outcome"] == "passed" for p in checked["parts"] for t in p["tests"])
    assert checked["sweep"]["student_error"] == ""


def test_a_wrong_visible_answer_shows_the_call_and_values(l2, reference_source):
    checked = check_visible(l2, reference_source.replace("2 * lam * w", "lam * w"))
    failed = [t for p in checked["parts"] for t in p["tests"] if t["outcome"] != "passed"]
    assert failed and all(t["visible"] for t in failed)
    assert all("expected" in t["feedback"] and "got" in t["feedback"] for t in failed)


def test_a_file_that_does_not_load_names_only_visible_tests(l2):
    checked = check_visible(l2, "def l2_penalty(w, lam)\n    return 0\n")
    assert not checked["loaded"] and "syntax error" in checked["feedback"]
    assert all(t["visible"] for p in checked["parts"] for t in p["tests"])
    assert "sweep" not in checked
