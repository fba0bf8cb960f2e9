"""The exercise format: one folder per exercise, loaded and validated into an Exercise.

A folder holds exercise.toml, prompt.md and starter.py (shown to students) and
reference.py, tests.py and mistakes/*.py (instructor-only). docs/authoring.md describes each file.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import tomllib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ValidationError

from server.content.models import CaseFields, ExerciseFile, problems, signature_params, where
from server.grading import trusted
from server.grading.compare import NUMERIC_KINDS, Tolerance, judge
from server.grading.result import Outcome

MISTAKE_FILE = re.compile(r"^mistakes/[^/]+\.py$")
REQUIRED_FILES = ("exercise.toml", "prompt.md", "starter.py", "reference.py", "tests.py")


class ExerciseError(ValueError):
    """An exercise folder is invalid; the message names the file and the field."""

    def __init__(self, file: str | Path, where: str, message: str):
        self.file, self.where, self.problem = str(file), where, message
        super().__init__(f"{self.file}: {where}: {message}" if where else f"{self.file}: {message}")


@dataclass(frozen=True)
class Case:
    """A test case as tests.py writes it: a call of one function with its inputs."""

    name: str
    function: str
    args: tuple
    visible: bool = False
    points: float | None = None  # None: share the function's remaining points equally
    rtol: float | None = None  # None: the exercise's tolerance
    atol: float | None = None
    hint: str = ""  # generic hint shown when the test fails (hidden tests show only this)


@dataclass(frozen=True)
class Limits:
    """Resource limits for one sandbox run of this exercise."""

    wall_seconds: float
    cpu_seconds: float
    memory_mb: int
    output_bytes: int


@dataclass(frozen=True)
class FunctionSpec:
    """A function students implement."""

    name: str
    signature: str
    params: tuple[str, ...]
    points: float
    summary: str = ""


@dataclass(frozen=True)
class MistakeOutput:
    """What a known mistake produced on one test where it fails."""

    mistake: str
    hint: str
    value: np.ndarray = field(repr=False)
    mutated: bool


@dataclass(frozen=True)
class TestCase:
    """A loaded test case with its expected value and the known mistakes' outputs."""

    name: str
    function: str
    params: tuple[str, ...]
    args: tuple[np.ndarray, ...] = field(repr=False)
    visible: bool
    points: float
    tolerance: Tolerance
    hint: str
    expected: np.ndarray = field(repr=False)
    mistakes: tuple[MistakeOutput, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class Mistake:
    """A known wrong implementation and the hint its author should read."""

    name: str
    hint: str
    functions: tuple[str, ...]
    source: str = field(repr=False)


@dataclass(frozen=True)
class Exercise:
    """A validated exercise, with expected values and mistake outputs precomputed."""

    path: Path
    slug: str
    title: str
    points: float
    prompt: str = field(repr=False)
    starter: str = field(repr=False)
    functions: tuple[FunctionSpec, ...]
    tolerance: Tolerance
    limits: Limits
    tests: tuple[TestCase, ...] = field(repr=False)
    mistakes: tuple[Mistake, ...] = field(repr=False)
    content_hash: str
    reference_source: str = field(repr=False)
    _reference: dict[str, Callable] = field(repr=False, compare=False)
    # Files under data/ (e.g. the lambda sweep's data set), as text: shipped, not run.
    data: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def tests_for(self, function: str) -> tuple[TestCase, ...]:
        """Return the test cases of one function, in order."""
        return tuple(t for t in self.tests if t.function == function)

    def call_reference(self, function: str, *args: Any) -> np.ndarray:
        """Run the trusted reference on inputs (e.g. the reference weight-decay trajectory)."""
        result = trusted.call(self._reference[function], tuple(np.asarray(a) for a in args))
        if result.value is None:
            raise ValueError(f"reference {function} failed: {result.error}")
        return result.value

    def public(self) -> dict:
        """Return what a student may see: no reference, no hidden case, no hidden answer."""
        return {
            "slug": self.slug,
            "title": self.title,
            "points": self.points,
            "prompt": self.prompt,
            "starter": self.starter,
            "functions": [_public_function(self, f) for f in self.functions],
        }


def _public_function(exercise: Exercise, spec: FunctionSpec) -> dict:
    """Describe one function and its visible examples for students."""
    tests = exercise.tests_for(spec.name)
    return {
        "name": spec.name,
        "signature": spec.signature,
        "params": list(spec.params),
        "points": spec.points,
        "summary": spec.summary,
        "examples": [example(t) for t in tests if t.visible],
        "hidden_tests": sum(not t.visible for t in tests),
    }


def example(test: TestCase) -> dict:
    """Describe a visible test with its inputs and expected value."""
    args = ", ".join(show_call_arg(a) for a in test.args)
    return {
        "name": test.name,
        "call": f"{test.function}({args})",
        "args": [a.tolist() for a in test.args],
        "expected": test.expected.tolist(),
        "expected_repr": show(test.expected),
        "points": test.points,
        "rtol": test.tolerance.rtol,
        "atol": test.tolerance.atol,
    }


def show(value: np.ndarray) -> str:
    """Format an array briefly for feedback."""
    if value.ndim == 0:
        return repr(value.item())
    text = _one_line(np.array2string(value, precision=8, threshold=24, edgeitems=3, separator=", "))
    return text if value.dtype == np.float64 else f"{text} ({value.dtype})"


def show_call_arg(value: np.ndarray) -> str:
    """Format an input the way a student would write it in a call."""
    if value.ndim == 0:
        return repr(value.item())
    dtype = "" if value.dtype == np.float64 else f", dtype=np.{value.dtype}"
    return f"np.array({_one_line(np.array2string(value, separator=', ', threshold=24))}{dtype})"


def _one_line(text: str) -> str:
    """Join the rows numpy prints on separate lines."""
    return re.sub(r"\n\s*", " ", text)


# ---- loading -------------------------------------------------------------------------


def load_exercise(path: str | Path) -> Exercise:
    """Load and validate an exercise folder, running its reference and mistakes once."""
    root = Path(path)
    return load_bundle(read_bundle(root), root)


def load_bundle(bundle: Mapping[str, str], root: Path) -> Exercise:
    """Load an exercise from its files ({relative path: text}); root names it in errors."""
    for name in REQUIRED_FILES:
        if name not in bundle:
            raise ExerciseError(root / name, "", "missing file")
    meta = _read_toml(root / "exercise.toml", bundle["exercise.toml"])
    if meta["slug"] != root.name:
        raise ExerciseError(
            root / "exercise.toml", "slug", f"{meta['slug']!r} must equal the folder name"
        )
    functions = meta["functions"]
    reference = _load_reference(root / "reference.py", bundle["reference.py"], functions)
    cases = _load_cases(root / "tests.py", bundle["tests.py"], functions, meta["tolerance"])
    mistakes, mistake_fns = _load_mistakes(root, bundle, functions)
    tests = tuple(
        _prepare_case(root / "reference.py", c, reference, mistakes, mistake_fns) for c in cases
    )
    return Exercise(
        path=root,
        slug=meta["slug"],
        title=meta["title"],
        points=meta["points"],
        prompt=bundle["prompt.md"],
        starter=bundle["starter.py"],
        functions=functions,
        tolerance=meta["tolerance"],
        limits=meta["limits"],
        tests=tests,
        mistakes=mistakes,
        content_hash=bundle_hash(bundle),
        reference_source=bundle["reference.py"],
        _reference=reference,
        data={name: text for name, text in bundle.items() if name.startswith("data/")},
    )


CACHE_SIZE = 32  # exercise versions kept loaded per process
_cache: OrderedDict[str, Exercise] = OrderedDict()
_cache_lock = threading.Lock()  # also serialises loads: warnings filters are process-global


def cached_exercise(path: str | Path) -> Exercise:
    """Return the exercise in a folder, loading it again only when a file of it changed."""
    root = Path(path).resolve()
    return cached_bundle(read_bundle(root), root)


def cached_bundle(bundle: Mapping[str, str], root: Path) -> Exercise:
    """Return the exercise made of these files, loading each version once per process."""
    key = f"{root}\0{bundle_hash(bundle)}"
    with _cache_lock:
        if key not in _cache:
            _cache[key] = load_bundle(bundle, root)
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
        _cache.move_to_end(key)
        return _cache[key]


def read_bundle(path: str | Path) -> dict[str, str]:
    """Read every file of an exercise folder as {relative path: text} (what a version keeps)."""
    root = Path(path)
    if not root.is_dir():
        raise ExerciseError(root, "", "not a directory")
    files = sorted(p for p in root.rglob("*") if p.is_file() and not _ignored(root, p))
    return {file.relative_to(root).as_posix(): _read_text(file) for file in files}


def bundle_hash(bundle: Mapping[str, str]) -> str:
    """Hash every file (names and text), so any change makes a new version."""
    digest = hashlib.sha256()
    for name in sorted(bundle):
        digest.update(name.encode() + b"\0")
        digest.update(hashlib.sha256(bundle[name].encode("utf-8", "surrogatepass")).digest())
    return digest.hexdigest()


def content_hash(path: str | Path) -> str:
    """Hash an exercise folder's files (equal to its Exercise.content_hash)."""
    return bundle_hash(read_bundle(path))


def _ignored(root: Path, file: Path) -> bool:
    """Skip caches and editor droppings that do not change the exercise."""
    parts = file.relative_to(root).parts
    return any(p == "__pycache__" or p.startswith(".") for p in parts) or file.suffix == ".pyc"


def _read_text(path: Path) -> str:
    """Read a UTF-8 file, naming it when it is not text."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ExerciseError(path, "", f"not UTF-8 text ({exc.reason})") from None


def _read_toml(path: Path, text: str) -> dict:
    """Parse exercise.toml and validate it against the ExerciseFile model."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ExerciseError(path, "", f"invalid TOML: {exc}") from None
    meta = _validated(path, ExerciseFile, data)
    functions = tuple(
        FunctionSpec(f.name, f.signature, signature_params(f.signature), f.points, f.summary)
        for f in meta.functions
    )
    for i, spec in enumerate(functions):  # names are unique: cases and scores refer to them
        if spec.name in [f.name for f in functions[:i]]:
            raise ExerciseError(path, f"functions[{i}].name", f"duplicate function {spec.name!r}")
    return {
        "slug": meta.slug,
        "title": meta.title,
        "points": meta.points,
        "functions": functions,
        "tolerance": Tolerance(meta.tolerance.rtol, meta.tolerance.atol),
        "limits": Limits(**meta.limits.model_dump()),
    }


def _validated(path: Path, model: type[BaseModel], data: object, prefix: str = "") -> Any:
    """Validate data against a model, raising the first problem as an ExerciseError."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        loc, message = problems(error, model)[0]
        raise ExerciseError(path, prefix + where(loc), message) from None


def _exec(path: Path, source: str, label: str) -> Any:
    """Execute an instructor file, turning any failure into an ExerciseError."""
    try:
        return trusted.exec_source(source, path, label)
    except SyntaxError as exc:
        raise ExerciseError(path, f"line {exc.lineno}", f"SyntaxError: {exc.msg}") from None
    except Exception as exc:  # noqa: BLE001 - instructor file failed to import: report it
        raise ExerciseError(path, "", f"failed to run: {type(exc).__name__}: {exc}") from None


def _load_reference(
    path: Path, source: str, functions: tuple[FunctionSpec, ...]
) -> dict[str, Callable]:
    """Import reference.py and find every function to implement."""
    module = _exec(path, source, "reference")
    found = {}
    for spec in functions:
        function = getattr(module, spec.name, None)
        if not callable(function):
            raise ExerciseError(path, spec.name, "function not defined")
        found[spec.name] = function
    return found


def _load_cases(
    path: Path, source: str, functions: tuple[FunctionSpec, ...], tol: Tolerance
) -> list[dict]:
    """Run tests.py's cases(rng) with its SEED, then validate and score every case."""
    module = _exec(path, source, "tests")
    seed = getattr(module, "SEED", None)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ExerciseError(path, "SEED", "must be an integer (cases are made from a seeded RNG)")
    make = getattr(module, "cases", None)
    if not callable(make):
        raise ExerciseError(path, "cases", "must be a function cases(rng) returning Case objects")
    try:
        raw = list(make(np.random.default_rng(seed)))
    except Exception as exc:  # noqa: BLE001 - report the instructor's error with the file
        raise ExerciseError(path, "cases", f"raised {type(exc).__name__}: {exc}") from None
    specs = {f.name: f for f in functions}
    cases = [_case(path, i, c, specs, tol) for i, c in enumerate(raw)]
    _check_names(path, cases)
    for spec in functions:
        _share_points(path, spec, [c for c in cases if c["function"] == spec.name])
    return cases


def _case(path: Path, index: int, case: object, specs: dict, tol: Tolerance) -> dict:
    """Validate one Case and turn its inputs into read-only numeric arrays."""
    if not isinstance(case, Case):
        raise ExerciseError(path, f"cases()[{index}]", f"is a {type(case).__name__}, not a Case")
    name = _validated(path, CaseFields, {"name": case.name}, f"cases()[{index}].").name
    where = f"case {name!r}"
    fields = {k: getattr(case, k) for k in CaseFields.model_fields}
    fields = _validated(path, CaseFields, fields, f"{where}.")
    if case.function not in specs:
        raise ExerciseError(path, f"{where}.function", f"unknown function {case.function!r}")
    spec = specs[case.function]
    if not isinstance(case.args, tuple | list) or len(case.args) != len(spec.params):
        expected = f"must be {len(spec.params)} values {spec.params}"
        raise ExerciseError(path, f"{where}.args", expected)
    args = tuple(_input(path, f"{where}.args[{i}]", a) for i, a in enumerate(case.args))
    rtol = tol.rtol if fields.rtol is None else fields.rtol
    atol = tol.atol if fields.atol is None else fields.atol
    return {
        "name": name,
        "function": spec.name,
        "params": spec.params,
        "args": args,
        "visible": bool(case.visible),
        "points": fields.points,
        "tolerance": Tolerance(rtol, atol),
        "hint": fields.hint,
    }


def _input(path: Path, where: str, value: object) -> np.ndarray:
    """Turn a case input into a read-only numeric ndarray (the only thing the sandbox takes)."""
    try:
        array = np.array(value)
    except (ValueError, TypeError) as exc:  # ragged lists and the like
        raise ExerciseError(path, where, f"not an array: {exc}") from None
    if array.dtype.kind not in NUMERIC_KINDS:
        raise ExerciseError(path, where, f"must be numeric, got dtype {array.dtype}")
    array.flags.writeable = False  # shared by every grading thread: nobody may change it
    return array


def _check_names(path: Path, cases: list[dict]) -> None:
    """Require unique case names, since students and instructors refer to tests by name."""
    seen = set()
    for case in cases:
        key = (case["function"], case["name"])
        if key in seen:
            raise ExerciseError(path, f"case {case['name']!r}", "duplicate name for this function")
        seen.add(key)


def _share_points(path: Path, spec: FunctionSpec, cases: list[dict]) -> None:
    """Give cases without points an equal share of what the function has left."""
    where = f"cases of {spec.name}"
    if not any(not c["visible"] for c in cases):
        raise ExerciseError(path, where, "need at least one hidden case")
    given = math.fsum(c["points"] for c in cases if c["points"] is not None)
    shared = [c for c in cases if c["points"] is None]
    left = spec.points - given
    if shared and left <= 1e-9:
        raise ExerciseError(path, where, f"points given ({given:g}) leave none for the others")
    if not shared and not math.isclose(given, spec.points):
        raise ExerciseError(path, where, f"points add up to {given:g}, not {spec.points:g}")
    for case in shared:
        case["points"] = left / len(shared)


def _load_mistakes(
    root: Path, bundle: Mapping[str, str], functions: tuple[FunctionSpec, ...]
) -> tuple[tuple[Mistake, ...], dict[str, dict[str, Callable]]]:
    """Import every mistakes/*.py: a HINT string and one or more wrong functions."""
    mistakes, callables = [], {}
    for name in sorted(n for n in bundle if MISTAKE_FILE.match(n)):
        file, stem = root / name, name.removeprefix("mistakes/").removesuffix(".py")
        module = _exec(file, bundle[name], f"mistake_{stem}")
        hint = getattr(module, "HINT", None)
        if not isinstance(hint, str) or not hint.strip():
            raise ExerciseError(file, "HINT", "must be a non-empty string (shown to students)")
        defined = {
            f.name: getattr(module, f.name)
            for f in functions
            if callable(getattr(module, f.name, None))
        }
        if not defined:
            raise ExerciseError(file, "", "defines none of the exercise's functions")
        mistakes.append(Mistake(stem, hint.strip(), tuple(defined), bundle[name]))
        callables[stem] = defined
    return tuple(mistakes), callables


def _prepare_case(
    reference_path: Path,
    case: dict,
    reference: dict,
    mistakes: tuple[Mistake, ...],
    mistake_fns: dict[str, dict[str, Callable]],
) -> TestCase:
    """Compute a case's expected value and the outputs of the mistakes it catches."""
    expected = _expected(reference_path, case, reference[case["function"]])
    outputs = []
    for mistake in mistakes:
        function = mistake_fns[mistake.name].get(case["function"])
        if function is not None:
            output = _mistake_output(mistake, function, case, expected)
            outputs += [output] if output else []
    return TestCase(**case, expected=expected, mistakes=tuple(outputs))


def _expected(path: Path, case: dict, function: Callable) -> np.ndarray:
    """Run the reference on a case; it must return numbers and leave its inputs alone."""
    result = trusted.call(function, case["args"])
    where = f"{case['function']} on case {case['name']!r}"
    if result.value is None:
        raise ExerciseError(path, where, f"raised {result.error}")
    verdict = judge(result.value, case["args"], result.args_after, result.value, case["tolerance"])
    if verdict.outcome is not Outcome.PASSED:
        raise ExerciseError(path, where, verdict.reason)
    result.value.flags.writeable = False
    return result.value


def _mistake_output(
    mistake: Mistake, function: Callable, case: dict, expected: np.ndarray
) -> MistakeOutput | None:
    """Record a mistake's output on a case where it fails, so a student's can be matched."""
    result = trusted.call(function, case["args"])
    if result.value is None:
        return None  # a mistake that raises cannot be recognised from an output
    verdict = judge(result.value, case["args"], result.args_after, expected, case["tolerance"])
    if verdict.outcome not in (Outcome.WRONG_ANSWER, Outcome.MUTATED_INPUT):
        return None
    mutated = verdict.outcome is Outcome.MUTATED_INPUT
    return MistakeOutput(mistake.name, mistake.hint, result.value, mutated)
