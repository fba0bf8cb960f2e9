"""The trusted grader: send a submission's calls to the sandbox, judge what comes back.

Student code never runs in this process. Only arrays cross the sandbox wall; the
expected values and the known mistakes' outputs were computed once, at load time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from server.grading.compare import judge, same_output
from server.grading.exercise import Exercise, MistakeOutput, TestCase, show, show_call_arg
from server.grading.result import GradingResult, Outcome, PartResult, Status, TestResult
from server.memo import IdentityMemo
from server.sandbox import Call, CallResult, Limits, RunResult, get_sandbox


class GraderError(RuntimeError):
    """The grader itself failed (not the submission): the service keeps it and retries."""


# A failed module load: every test of every function gets this outcome.
LOAD_OUTCOMES = {
    "syntax_error": Outcome.RUNTIME_ERROR,
    "runtime_error": Outcome.RUNTIME_ERROR,
    "crashed": Outcome.RUNTIME_ERROR,
    "timeout": Outcome.TIMEOUT,
    "memory_limit": Outcome.MEMORY_LIMIT,
}
LOAD_FEEDBACK = {
    "syntax_error": "Your file has a syntax error: {error}",
    "runtime_error": "Your file raised an error while loading: {error}",
    "crashed": "Your file stopped the sandbox while loading. {error}",
    "timeout": "Your file took too long to load (limit {wall:g} s).",
    "memory_limit": "Your file used more than {memory} MB while loading.",
}
# A hidden test says only its outcome, in words fixed per outcome: anything the student's
# code computed (a shape, a value, a line number, an exception's name or message, which
# argument it changed, whether the call ran or was lost after an earlier crash) could
# encode the hidden inputs. The outcome itself is the one steerable thing left.
HIDDEN_FEEDBACK = {
    Outcome.WRONG_ANSWER: "Wrong answer on a hidden test.",
    Outcome.RUNTIME_ERROR: "Your function raised an error or stopped on a hidden test.",
    Outcome.TIMEOUT: "Your function ran out of time on a hidden test.",
    Outcome.MEMORY_LIMIT: "Your function used too much memory on a hidden test.",
    Outcome.INVALID_OUTPUT: "Your function did not return an array of integers or reals.",
    Outcome.MUTATED_INPUT: "Your function modified one of its inputs; return a new array.",
    Outcome.MISSING: "Function not found: define it at the top level of your file.",
}
SANDBOX_OUTCOMES = {o.value: o for o in Outcome}
# One submission's sandbox runs share this many times the exercise's wall limit: one
# limit for a function that hangs and one for a fresh run of the others, instead of a
# fresh full limit for every function after each hang.
BUDGET_WALL_LIMITS = 2.0
# A run is not started with less time than this left: it could hardly load the file.
MIN_RUN_SECONDS = 0.05
OUT_OF_TIME = "not run: the submission's sandbox time was used up"


def sandbox_limits(exercise: Exercise) -> Limits:
    """Translate the exercise's limits into the sandbox's."""
    lim = exercise.limits
    return Limits(
        wall_seconds=lim.wall_seconds,
        cpu_seconds=lim.cpu_seconds,
        memory_mb=lim.memory_mb,
        output_bytes=lim.output_bytes,
    )


@dataclass(frozen=True)
class Returned:
    """What became of one call, in the sandbox's outcome vocabulary."""

    outcome: str
    value: np.ndarray | None = None
    args_after: tuple[np.ndarray, ...] | None = None
    error: str = ""
    lost: bool = False  # never ran: its function's sandbox was stopped, or no time was left


@dataclass
class Budget:
    """The sandbox time one submission may still spend, over all of its runs."""

    limits: Limits  # the exercise's limits for one run
    left: float  # seconds of wall clock
    runs: list[tuple[Limits, RunResult]] = field(default_factory=list)  # each run, as given

    @classmethod
    def of(cls, limits: Limits) -> Budget:
        """Start a submission's budget: BUDGET_WALL_LIMITS times the exercise's wall limit."""
        return cls(limits, BUDGET_WALL_LIMITS * limits.wall_seconds)

    def next_limits(self) -> Limits | None:
        """Return the next run's limits (what is left, at most one run's), or None if spent.

        The first run always gets the exercise's limits, however small they are.
        """
        if self.runs and self.left < MIN_RUN_SECONDS:
            return None
        wall = min(self.limits.wall_seconds, self.left)
        # CPU time is bounded too: a run cannot have more of it than the budget has left.
        cpu = min(self.limits.cpu_seconds, self.left)
        return replace(self.limits, wall_seconds=wall, cpu_seconds=cpu)

    def spend(self, limits: Limits, run: RunResult) -> None:
        """Count a finished run against the budget, by the sandbox's own wall-clock figure."""
        self.runs.append((limits, run))
        self.left -= run.duration_ms / 1000


def grade_submission(exercise: Exercise, code: str) -> GradingResult:
    """Grade one submission's source code against every test of the exercise."""
    return grade_with_extras(exercise, code)[0]


def grade_with_extras(
    exercise: Exercise,
    code: str,
    extra: list[Call] = (),
    harness: str = "",
    budget: Budget | None = None,
) -> tuple[GradingResult, list[Returned]]:
    """Grade a submission and, in the same sandbox run, make extra (e.g. harness) calls.

    The extra calls come after the visible tests and before the hidden ones: their
    results are shown in full, so they must run before the student's code has seen a
    hidden input. A stalled extra call costs only itself (its sandbox is replaced, within
    the budget). Their results are returned raw (untrusted) for the caller to check.
    """
    start = time.perf_counter()
    order = run_order(exercise)
    calls = [Call(exercise.tests[i].function, exercise.tests[i].args) for i in order]
    split = sum(exercise.tests[i].visible for i in order)
    calls[split:split] = extra
    budget = budget or Budget.of(sandbox_limits(exercise))
    first, results = run_calls(code, calls, budget.limits, harness, budget)
    if first.load_outcome != "ok":
        return _load_failure(exercise, first, start), []
    extras = results[split : split + len(extra)]
    ran = zip(order, results[:split] + results[split + len(extra) :], strict=True)
    graded = [result for _, result in sorted(ran, key=lambda pair: pair[0])]  # exercise's order
    parts = judge_results(exercise, graded)
    elapsed = (time.perf_counter() - start) * 1000
    return GradingResult(exercise.slug, Status.GRADED, _summary(parts), parts, elapsed), extras


def run_order(exercise: Exercise) -> list[int]:
    """Return the exercise's test indices in the order they run: every visible test first.

    A function's code can keep what it was called with; a visible test's full feedback
    must not be able to show what an earlier hidden test's inputs were.
    """
    return sorted(range(len(exercise.tests)), key=lambda i: not exercise.tests[i].visible)


def judge_results(exercise: Exercise, results: list[Returned]) -> tuple[PartResult, ...]:
    """Judge one result per test case (in the exercise's order), grouped per function."""
    graded: dict[str, list[TestResult]] = {f.name: [] for f in exercise.functions}
    for test, result in zip(exercise.tests, results, strict=True):
        graded.setdefault(test.function, []).append(grade_test(test, result))
    return tuple(PartResult(f.name, tuple(graded[f.name])) for f in exercise.functions)


def run_calls(
    code: str, calls: list[Call], limits: Limits, harness: str = "", budget: Budget | None = None
) -> tuple[RunResult, list[Returned]]:
    """Run calls in as few sandboxes as possible: one, unless a call kills its sandbox.

    The function whose call killed the sandbox loses its remaining calls; every other
    function's unrun calls go to a fresh sandbox, so a crash costs only its own tests,
    as long as the submission's budget (BUDGET_WALL_LIMITS wall limits in all) lasts:
    calls it leaves no time for are timeouts. Returns the first run (its load outcome
    decides everything) and one result per call.
    """
    budget = budget or Budget.of(limits)
    first = _run(code, calls, budget, harness)
    if first.load_outcome != "ok":
        return first, []
    results: dict[int, Returned] = {}
    pending = _settle(first, list(range(len(calls))), calls, results)
    while pending and budget.next_limits() is not None:
        again = _run(code, [calls[i] for i in pending], budget, harness)
        pending = _settle(again, pending, calls, results)
    results |= {i: Returned("timeout", error=OUT_OF_TIME, lost=True) for i in pending}
    return first, [results[i] for i in range(len(calls))]


def _settle(
    run: RunResult, pending: list[int], calls: list[Call], results: dict[int, Returned]
) -> list[int]:
    """Record one run's results for the pending calls; return the calls still to run."""
    if run.load_outcome != "ok":  # a fresh sandbox failed to load what loaded before
        outcome = "timeout" if run.load_outcome == "timeout" else "runtime_error"
        why = f"not run: the sandbox failed to restart ({run.load_outcome})"
        results |= {i: Returned(outcome, error=why, lost=True) for i in pending}
        return []
    got = dict(zip(pending, run.results, strict=True))
    unrun = [i for i in pending if got[i].outcome == "not_run"]
    results |= {i: _returned(got[i]) for i in pending if i not in unrun}
    if not unrun:
        return []
    culprit = _culprit(pending, unrun[0])
    dead = calls[culprit].function
    why = "an earlier test of this function stopped the sandbox"
    results |= {i: _lost(results.get(culprit), why) for i in unrun if calls[i].function == dead}
    return [i for i in unrun if calls[i].function != dead]


def _run(code: str, calls: list[Call], budget: Budget, harness: str = "") -> RunResult:
    """Run one sandbox on what is left of the budget; an infrastructure failure is GraderError."""
    limits = budget.next_limits()
    try:
        run = get_sandbox().run(code, calls, limits, harness)
    except Exception as exc:
        raise GraderError(f"sandbox failed: {type(exc).__name__}: {exc}") from exc
    budget.spend(limits, run)
    if run.load_outcome == "ok" and len(run.results) != len(calls):
        raise GraderError(f"sandbox returned {len(run.results)} results for {len(calls)} calls")
    return run


def _culprit(pending: list[int], first_unrun: int) -> int:
    """Return the call that was running when the sandbox died: the one before the first unrun."""
    position = pending.index(first_unrun)
    return pending[position - 1] if position else first_unrun


def _returned(result: CallResult) -> Returned:
    """Copy the sandbox's result into the grader's own type."""
    return Returned(result.outcome, result.value, result.args_after, result.error or "")


def _lost(killer: Returned | None, why: str) -> Returned:
    """Give an unrun call the failure of the call that stopped its sandbox."""
    dead = killer is not None and killer.outcome not in ("ok", "not_run", "missing")
    return Returned(killer.outcome if dead else "runtime_error", error=f"not run: {why}", lost=True)


def grade_test(test: TestCase, result: Returned) -> TestResult:
    """Judge one call's result against a test case."""
    if result.outcome == "ok":
        verdict = judge(result.value, test.args, result.args_after, test.expected, test.tolerance)
        outcome, reason = verdict.outcome, verdict.reason
        if verdict.changed:
            reason = "it changed " + " and ".join(test.params[i] for i in verdict.changed)
    else:
        outcome, reason = SANDBOX_OUTCOMES.get(result.outcome, Outcome.RUNTIME_ERROR), result.error
    if outcome is Outcome.PASSED:
        return TestResult(test.name, outcome, test.points, test.points, test.visible, "")
    mistake = _matching_mistake(test, outcome, result)
    lines = [mistake.hint] if mistake else []
    if test.visible:
        lines.append(_visible_detail(test, outcome, reason, result))
    else:
        lines.append(_hidden_detail(outcome))
    lines += [test.hint] if test.hint else []
    name = mistake.mistake if mistake else None
    return TestResult(test.name, outcome, 0.0, test.points, test.visible, "\n".join(lines), name)


def _matching_mistake(test: TestCase, outcome: Outcome, result: Returned) -> MistakeOutput | None:
    """Find the known mistake whose output on this input equals the student's."""
    if outcome not in (Outcome.WRONG_ANSWER, Outcome.MUTATED_INPUT):
        return None
    mutated = outcome is Outcome.MUTATED_INPUT
    for output in test.mistakes:
        if output.mutated == mutated and same_output(result.value, output.value, test.tolerance):
            return output
    return None


def _visible_detail(test: TestCase, outcome: Outcome, reason: str, result: Returned) -> str:
    """Show a visible test's call with expected and actual values, or the error."""
    call, expected = _shown_test(test)
    if outcome is Outcome.WRONG_ANSWER:
        return (
            f"{call}: expected {expected}, got {show(result.value)} "
            f"({reason}; rtol={test.tolerance.rtol:g}, atol={test.tolerance.atol:g})."
        )
    if outcome is Outcome.MUTATED_INPUT:
        return f"{call}: {reason}; return a new array instead."
    if outcome is Outcome.INVALID_OUTPUT:
        return f"{call} did not return an array of numbers: {reason}."
    return f"{call}: {outcome.value.replace('_', ' ')}: {reason}".rstrip(": ")


def _read_only(test: TestCase) -> bool:
    """Tell whether none of a test's arrays can be changed in place."""
    return not any(a.flags.writeable for a in (*test.args, test.expected))


# A test's arrays are read-only, so its call and expected value read the same in every
# grading: format them once, not again for each failing submission (~60 µs a test).
_shown: IdentityMemo[tuple[str, str]] = IdentityMemo(_read_only)


def _shown_test(test: TestCase) -> tuple[str, str]:
    """Return a visible test's call and expected value as feedback text, formatted once."""
    return _shown.get(test, lambda: _format_test(test))


def _format_test(test: TestCase) -> tuple[str, str]:
    """Format a test's call and expected value as feedback shows them."""
    return f"{test.function}({', '.join(show_call_arg(a) for a in test.args)})", show(test.expected)


def _hidden_detail(outcome: Outcome) -> str:
    """Describe a hidden test's failure by its outcome alone (see HIDDEN_FEEDBACK)."""
    return HIDDEN_FEEDBACK.get(outcome, "Failed a hidden test.")


def _load_failure(exercise: Exercise, run: RunResult, start: float) -> GradingResult:
    """Grade a file that did not load: score 0, the error with its line and column."""
    outcome = LOAD_OUTCOMES.get(run.load_outcome, Outcome.RUNTIME_ERROR)
    template = LOAD_FEEDBACK.get(run.load_outcome, "Your file could not be loaded. {error}")
    message = template.format(
        error=run.load_error.strip(),
        wall=exercise.limits.wall_seconds,
        memory=exercise.limits.memory_mb,
    )
    not_run = "Not run: your file did not load."
    parts = tuple(
        PartResult(
            f.name,
            tuple(
                TestResult(t.name, outcome, 0.0, t.points, t.visible, not_run)
                for t in exercise.tests_for(f.name)
            ),
        )
        for f in exercise.functions
    )
    elapsed = (time.perf_counter() - start) * 1000
    return GradingResult(exercise.slug, Status.GRADED, message, parts, elapsed)


def _summary(parts: tuple[PartResult, ...]) -> str:
    """Write the submission-level feedback."""
    failing = [
        f"{p.name} ({sum(t.outcome is not Outcome.PASSED for t in p.tests)} failed)"
        for p in parts
        if p.score < p.max_score
    ]
    if not failing:
        return "All tests passed."
    return "Some tests failed: " + ", ".join(failing) + "."
