"""The exercise format: loading, validation errors, what students may see, versions."""

import json
from pathlib import Path

import numpy as np
import pytest

from server.grading.exercise import ExerciseError, content_hash, load_exercise


def edit(path: Path, old: str, new: str) -> None:
    """Replace text in a file, failing loudly if the text is not there."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def append(path: Path, text: str) -> None:
    """Append text to a file."""
    path.write_text(path.read_text() + text)


BROKEN = {
    "missing toml": (lambda r: (r / "exercise.toml").unlink(), "exercise.toml", "missing file"),
    "missing prompt": (lambda r: (r / "prompt.md").unlink(), "prompt.md", "missing file"),
    "bad toml": (
        lambda r: append(r / "exercise.toml", "\n[[functions]\n"),
        "exercise.toml",
        "invalid TOML",
    ),
    "unknown field": (
        lambda r: edit(r / "exercise.toml", "title =", "titel = 'x'\ntitle ="),
        "exercise.toml",
        "titel",
    ),
    "negative points": (
        lambda r: edit(r / "exercise.toml", "points = 4", "points = -4"),
        "exercise.toml",
        "functions[2].points",
    ),
    "points do not add up": (
        lambda r: edit(r / "exercise.toml", "points = 10", "points = 11"),
        "exercise.toml",
        "points: is 11",
    ),
    "signature names another function": (
        lambda r: edit(r / "exercise.toml", 'signature = "l2_penalty(w', 'signature = "pen(w'),
        "exercise.toml",
        "functions[0].signature",
    ),
    "slug is not the folder": (
        lambda r: edit(r / "exercise.toml", 'slug = "l2-regularization"', 'slug = "other"'),
        "exercise.toml",
        "slug",
    ),
    "rtol not a number": (
        lambda r: edit(r / "exercise.toml", "rtol = 1e-6", 'rtol = "tight"'),
        "exercise.toml",
        "tolerance.rtol",
    ),
    "limit too large": (
        lambda r: edit(r / "exercise.toml", "wall_seconds = 2.0", "wall_seconds = 600"),
        "exercise.toml",
        "limits.wall_seconds",
    ),
    "reference lacks a function": (
        lambda r: edit(r / "reference.py", "def weight_decay_step", "def step"),
        "reference.py",
        "weight_decay_step: function not defined",
    ),
    "reference syntax error": (
        lambda r: append(r / "reference.py", "\ndef broken(:\n"),
        "reference.py",
        "line 20",
    ),
    "reference raises on a case": (
        lambda r: edit(
            r / "reference.py",
            "return lam * np.sum(w**2)",
            "assert w.size != 3, 'boom'\n    return lam * np.sum(w**2)",
        ),
        "reference.py",
        "l2_penalty on case 'lesson example': raised AssertionError: boom",
    ),
    "reference modifies its input": (
        lambda r: edit(
            r / "reference.py",
            "return data_grad + 2 * lam * w",
            "w *= 2\n    return data_grad + lam * w",
        ),
        "reference.py",
        "l2_gradient on case 'lesson example': modified argument(s) [1]",
    ),
    "tests without SEED": (
        lambda r: edit(r / "tests.py", "SEED = 20240917", "SEEDS = 1"),
        "tests.py",
        "SEED",
    ),
    "case of an unknown function": (
        lambda r: edit(r / "tests.py", '"l2_penalty", (w, lam)', '"l2_penaltyy", (w, lam)'),
        "tests.py",
        "case 'lesson example'.function: unknown function 'l2_penaltyy'",
    ),
    "case with too few inputs": (
        lambda r: edit(r / "tests.py", '"l2_penalty", (w, lam)', '"l2_penalty", (w,)'),
        "tests.py",
        "case 'lesson example'.args",
    ),
    "non-numeric input": (
        lambda r: edit(r / "tests.py", '"l2_penalty", (w, lam)', '"l2_penalty", (str(w), lam)'),
        "tests.py",
        "case 'lesson example'.args[0]: must be numeric",
    ),
    "ragged input": (
        lambda r: edit(
            r / "tests.py", '"l2_penalty", (w, lam)', '"l2_penalty", ([[1], [2, 3]], lam)'
        ),
        "tests.py",
        "case 'lesson example'.args[0]: not an array",
    ),
    "duplicate case names": (
        lambda r: edit(r / "tests.py", 'case("matrix of weights"', 'case("lesson example"'),
        "tests.py",
        "duplicate name",
    ),
    "no hidden case": (
        lambda r: edit(r / "tests.py", "visible=visible, **tol)", "visible=True, **tol)"),
        "tests.py",
        "cases of l2_penalty: need at least one hidden case",
    ),
    "explicit points exceed the function's": (
        lambda r: edit(
            r / "tests.py", "(w, lam), visible=visible", "(w, lam), points=1, visible=visible"
        ),
        "tests.py",
        "cases of l2_penalty: points add up to 12",
    ),
    "mistake without HINT": (
        lambda r: edit(r / "mistakes" / "mean_instead_of_sum.py", "HINT =", "TIP ="),
        "mean_instead_of_sum.py",
        "HINT",
    ),
    "mistake without a function": (
        lambda r: edit(r / "mistakes" / "mean_instead_of_sum.py", "def l2_penalty", "def pen"),
        "mean_instead_of_sum.py",
        "defines none of the exercise's functions",
    ),
}


@pytest.mark.parametrize("breakage", BROKEN.values(), ids=BROKEN.keys())
def test_format_errors_name_file_and_field(exercise_copy, breakage):
    """Each broken exercise gives an ExerciseError naming the file and the field."""
    change, file, field = breakage
    root = exercise_copy()
    change(root)
    with pytest.raises(ExerciseError) as info:
        load_exercise(root)
    message = str(info.value)
    assert file in message and field in message, message


def test_not_a_directory(tmp_path):
    """A path that is not a folder is refused."""
    with pytest.raises(ExerciseError, match="not a directory"):
        load_exercise(tmp_path / "nope")


def test_l2_loads_with_the_issue_s_functions_and_points(l2):
    """The bundled exercise has the three functions with 3, 3 and 4 points."""
    assert [(f.name, f.points) for f in l2.functions] == [
        ("l2_penalty", 3.0),
        ("l2_gradient", 3.0),
        ("weight_decay_step", 4.0),
    ]
    assert l2.points == 10.0
    for f in l2.functions:
        assert sum(t.points for t in l2.tests_for(f.name)) == pytest.approx(f.points)


def test_l2_hidden_tests_cover_the_issue_s_inputs(l2):
    """Hidden tests use 0-d to 3-d and empty inputs, float64, float32 and integers, lam = 0."""
    hidden = [t for t in l2.tests if not t.visible]
    ndims = {a.ndim for t in hidden for a in t.args[:1]}
    dtypes = {a.dtype.kind + str(a.dtype.itemsize) for t in hidden for a in t.args}
    assert {0, 1, 2, 3} <= ndims
    assert any(t.args[0].size == 0 for t in hidden)
    assert {"f8", "f4", "i8"} <= dtypes
    for name in ("l2_penalty", "l2_gradient", "weight_decay_step"):
        lam_zero = [t for t in hidden if t.function == name and float(t.args[-1]) == 0.0]
        assert lam_zero, name
    magnitudes = [np.abs(t.args[0]).max() for t in hidden if t.args[0].size]
    assert max(magnitudes) > 1e50 and min(magnitudes) < 1e-50


def test_large_step_separates_decay_order_far_beyond_tolerance(l2):
    """Some hidden step test makes "decay after the data step" differ by far more than rtol."""
    gaps = []
    for t in l2.tests_for("weight_decay_step"):
        w, g, lr, lam = t.args
        wrong = (w - lr * g) * (1 - 2 * lr * lam)
        if not t.visible and w.size:
            scale = np.abs(t.expected).max()
            gaps.append(np.abs(wrong - t.expected).max() / scale / t.tolerance.rtol)
    assert max(gaps) > 1e4


def test_visible_example_uses_the_lesson_numbers(l2):
    """A visible weight_decay_step example uses alpha = 0.01, lambda = 0.1 (factor 0.998)."""
    lesson = [t for t in l2.tests_for("weight_decay_step") if t.visible]
    assert any(float(t.args[2]) == 0.01 and float(t.args[3]) == 0.1 for t in lesson)
    t = lesson[0]
    np.testing.assert_allclose(t.expected, t.args[0] * 0.998 - 0.01 * t.args[1])


def test_cases_are_reproducible(l2):
    """Loading twice makes the same inputs and expected values (seeded RNG)."""
    again = load_exercise(l2.path)
    for a, b in zip(l2.tests, again.tests, strict=True):
        assert a.name == b.name
        assert all(np.array_equal(x, y) for x, y in zip(a.args, b.args, strict=True))
        assert np.array_equal(a.expected, b.expected)


def test_public_view_hides_reference_hidden_cases_and_their_answers(l2):
    """public() shows prompt, starter, signatures and visible examples, nothing secret."""
    public = l2.public()
    text = json.dumps(public)
    assert public["starter"] == l2.starter
    assert "w \\leftarrow w\\,(1 - 2\\alpha\\lambda)" in public["prompt"]
    assert "return lam * np.sum(w**2)" not in text  # the reference's body
    assert not [m.name for m in l2.mistakes if m.hint in text]
    for part in public["functions"]:
        visible = [t.name for t in l2.tests_for(part["name"]) if t.visible]
        assert [e["name"] for e in part["examples"]] == visible
    secret = [
        repr(float(t.expected.flat[0]))
        for t in l2.tests
        if not t.visible and t.expected.size and t.expected.flat[0] % 1 != 0
    ]
    assert len(secret) > 20 and not [s for s in secret if s in text]
    penalty = public["functions"][0]
    assert penalty["signature"] == "l2_penalty(w, lam) -> float" and penalty["points"] == 3.0
    assert penalty["examples"][0]["expected"] == pytest.approx(0.525)
    assert penalty["hidden_tests"] == 10


def test_content_hash_changes_with_any_file(exercise_copy):
    """Editing any file, or adding one, gives a new content hash."""
    root = exercise_copy()
    before = content_hash(root)
    assert load_exercise(root).content_hash == before
    append(root / "mistakes" / "l1_instead_of_l2.py", "\n# a comment\n")
    after_edit = content_hash(root)
    (root / "notes.md").write_text("instructor notes")
    assert len({before, after_edit, content_hash(root)}) == 3


def test_loading_writes_no_bytecode_into_the_exercise(exercise_copy):
    """Instructor files are executed from source: no __pycache__ appears next to them."""
    root = exercise_copy()
    load_exercise(root)
    assert not list(root.rglob("__pycache__"))


def test_instructor_modules_are_not_registered_in_sys_modules(l2):
    """The reference and tests are not importable by name from anywhere else."""
    import sys

    assert not [name for name in sys.modules if name.startswith("rubric_exercise_")]


def test_case_points_can_be_explicit(exercise_copy):
    """Cases with points keep them; the others share what is left."""
    root = exercise_copy()
    edit(
        root / "tests.py",
        'case("lesson example", LESSON_W, 0.1, visible=True)',
        'Case("lesson example", "l2_penalty", (LESSON_W, 0.1), visible=True, points=0.8)',
    )
    exercise = load_exercise(root)
    points = [t.points for t in exercise.tests_for("l2_penalty")]
    assert points[0] == 0.8 and points[1:] == pytest.approx([0.2] * 11)


def test_cached_exercise_reloads_only_when_a_file_changes(exercise_copy):
    """The cache returns the same object until the folder's content changes."""
    from server.grading.exercise import cached_exercise

    root = exercise_copy()
    first = cached_exercise(root)
    assert cached_exercise(root) is first
    append(root / "prompt.md", "\nOne more line.\n")
    second = cached_exercise(root)
    assert second is not first and second.content_hash != first.content_hash
    assert second.prompt.endswith("One more line.\n")


def test_an_exercise_loads_the_same_from_its_stored_files(l2):
    """A version kept as {path: text} (as the service stores it) loads to the same exercise."""
    from server.grading.exercise import bundle_hash, load_bundle, read_bundle

    bundle = read_bundle(l2.path)
    assert "mistakes/l1_instead_of_l2.py" in bundle and bundle_hash(bundle) == l2.content_hash
    again = load_bundle(bundle, Path("stored") / "l2-regularization")
    assert again.content_hash == l2.content_hash and again.public() == l2.public()
    assert [m.name for m in again.mistakes] == [m.name for m in l2.mistakes]
    assert all(
        np.array_equal(a.expected, b.expected) for a, b in zip(again.tests, l2.tests, strict=True)
    )


def test_non_utf8_file_is_named(exercise_copy):
    """Every file of a version must be text, since versions are stored as text."""
    root = exercise_copy()
    (root / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(ExerciseError, match=r"picture\.png: not UTF-8 text"):
        load_exercise(root)


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        ("rtol = 1e-6", "rtol = -1e-6", "tolerance.rtol: must be a number >= 0"),
        ("memory_mb = 256", "memory_mb = 256.5", "limits.memory_mb: must be an integer"),
        ("wall_seconds = 2.0", "wall_seconds = 600", "limits.wall_seconds: must be at most 60"),
        ("[limits]", "[limits]\nwall = 1", "limits.wall: unknown field (expected one of"),
        ('name = "l2_gradient"', 'name = "l2-gradient"', "'l2-gradient' is not a Python identi"),
        (
            'name = "l2_gradient"\nsignature = "l2_gradient(',
            'name = "l2_penalty"\nsignature = "l2_penalty(',
            "functions[1].name: duplicate function 'l2_penalty'",
        ),
        ("points = 3", 'points = "3"', "functions[0].points: must be a number"),
        ('slug = "l2-regularization"', 'slug = "L2"', "slug: use lowercase letters, digits"),
    ],
)
def test_an_exercise_toml_problem_reads_as_one_line(exercise_copy, old, new, line):
    root = exercise_copy()
    toml = root / "exercise.toml"
    assert old in toml.read_text()
    toml.write_text(toml.read_text().replace(old, new, 1))
    with pytest.raises(ExerciseError) as caught:
        load_exercise(root)
    assert str(toml) in str(caught.value) and line in str(caught.value), str(caught.value)


def test_a_case_with_negative_points_is_named(exercise_copy):
    root = exercise_copy()
    tests = root / "tests.py"
    old = '"l2_penalty", (w, lam), visible=visible'
    assert old in tests.read_text()
    tests.write_text(tests.read_text().replace(old, old + ", points=-1", 1))
    with pytest.raises(ExerciseError, match=r"case 'lesson example'\.points: must be a number > 0"):
        load_exercise(root)
