"""Feedback that reads well: summary first, hints once, identical failures as one row."""

import html as markup
import re

from server.grading.exercise import load_exercise

from .test_exercise_pages import (
    EXERCISE_DIR,
    FORGOT_TWO,
    REFERENCE,
    post_code,
    submission_id,
    wait_graded,
)

HINT = "don't forget the factor 2"
WITHOUT_STEP = REFERENCE.split("def weight_decay_step")[0]
BOTH_WITHOUT_TWO = FORGOT_TWO.replace("(1 - 2 * lr * lam)", "(1 - lr * lam)")
SLOW_TO_LOAD = "import time\ntime.sleep(30)\n" + REFERENCE


def part_html(html: str, function: str) -> str:
    """Return the section of the result about one function."""
    sections = re.findall(r'<section class="part .*?</section>', html, re.S)
    return next(s for s in sections if f"<code>{function}</code>" in s.split("</h3>")[0])


def test_a_missing_function_is_one_row_for_all_its_hidden_tests(student):
    view = wait_graded(student, submission_id(post_code(student, WITHOUT_STEP)))
    hidden = [
        t
        for t in load_exercise(EXERCISE_DIR).tests
        if t.function == "weight_decay_step" and not t.visible
    ]
    step = part_html(view["html"], "weight_decay_step")
    assert f">{len(hidden)} hidden tests<" in step
    assert step.count("Function not found") == 1
    for test in hidden:
        assert test.name in step  # every grouped test is still named


def test_summary_comes_first_and_a_known_mistake_hint_is_said_once_per_function(student):
    view = wait_graded(student, submission_id(post_code(student, BOTH_WITHOUT_TWO)))
    html = markup.unescape(view["html"])
    summary = html.split('<section class="part')[0]
    assert "<code>l2_penalty</code> passes" in summary
    assert "<code>l2_gradient</code> fails" in summary
    assert HINT in summary  # the one hint that matters, before any test
    assert part_html(html, "l2_gradient").count(HINT) == 1
    assert part_html(html, "weight_decay_step").count(HINT) == 1


def test_the_score_is_shown_once(student):
    view = wait_graded(student, submission_id(post_code(student, REFERENCE)))
    shown = view["status_text"] + view["html"]
    assert len(re.findall(r"10\s*/\s*10", shown)) == 1


def test_tests_that_never_ran_are_not_called_too_slow(student):
    view = wait_graded(student, submission_id(post_code(student, SLOW_TO_LOAD)), timeout=60)
    html = view["html"]
    assert "took too long to load" in html
    assert "Too slow" not in html and "Not run" in html
    assert view["score"] == 0
