"""Run instructor code (reference, tests, mistakes) in the trusted grader process.

Only files from an exercise folder come here, never a submission: student code runs
only in server.sandbox. Modules are executed from source into a fresh namespace and
are not registered in sys.modules, so no __pycache__ is written into the exercise
folder and nothing instructor-side can be inherited by a process forked later.
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class TrustedCall:
    """The outcome of calling instructor code on copies of a test's inputs."""

    value: np.ndarray | None
    args_after: tuple[np.ndarray, ...]
    error: str = ""


def exec_source(source: str, path: Path, label: str) -> types.ModuleType:
    """Execute instructor source into a new module object; exceptions propagate."""
    module = types.ModuleType(f"rubric_exercise_{label}")
    module.__file__ = str(path)
    code = compile(source, str(path), "exec")
    exec(code, module.__dict__)  # noqa: S102 - instructor content, reviewed like source code
    return module


def call(function: Callable, args: tuple[np.ndarray, ...]) -> TrustedCall:
    """Call function on fresh writable copies of args, as the sandbox does for students."""
    copies = tuple(np.array(a, copy=True) for a in args)
    try:
        # Known mistakes are meant to misbehave (mean of an empty array...): stay quiet.
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            value = function(*copies)
        return TrustedCall(np.asarray(value), copies)
    except Exception as exc:  # noqa: BLE001 - any failure of a mistake is just "no output"
        return TrustedCall(None, copies, f"{type(exc).__name__}: {exc}")
