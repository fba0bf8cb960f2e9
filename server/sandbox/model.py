"""The sandbox's public types: what goes in, what comes out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Outcomes of one call, and of loading the submission.
OK = "ok"
RUNTIME_ERROR = "runtime_error"
TIMEOUT = "timeout"
MEMORY_LIMIT = "memory_limit"
MISSING = "missing"
INVALID_OUTPUT = "invalid_output"
NOT_RUN = "not_run"
SYNTAX_ERROR = "syntax_error"
CRASHED = "crashed"

# What the untrusted child may itself claim; timeouts and crashes are seen from outside.
CHILD_CALL_OUTCOMES = (OK, RUNTIME_ERROR, MEMORY_LIMIT, MISSING, INVALID_OUTPUT)
CHILD_LOAD_OUTCOMES = (OK, SYNTAX_ERROR, RUNTIME_ERROR, MEMORY_LIMIT)

# Every isolation layer that RUBRIC_UNSAFE_SANDBOX_SKIP_LAYERS may name.
LAYERS = ("mount", "user", "pid", "net", "ipc", "uts", "seccomp", "rlimits", "cgroup")
SKIP_ENV = "RUBRIC_UNSAFE_SANDBOX_SKIP_LAYERS"


class SandboxUnavailable(RuntimeError):
    """The kernel lacks an isolation layer, so student code must not run here."""


@dataclass(frozen=True)
class Call:
    """One call of a student function with numeric array arguments."""

    function: str
    args: tuple[np.ndarray, ...]


@dataclass(frozen=True)
class Limits:
    """Resource limits of one run (one submission's calls in one sandbox)."""

    wall_seconds: float = 2.0
    cpu_seconds: float = 2.0
    memory_mb: int = 256
    output_bytes: int = 64_000


@dataclass
class CallResult:
    """What one call returned, as seen from the trusted side."""

    outcome: str
    value: np.ndarray | None = None
    args_after: tuple[np.ndarray, ...] | None = None
    error: str = ""


@dataclass
class RunResult:
    """The result of loading a submission and making its calls in one sandbox."""

    load_outcome: str
    load_error: str
    results: list[CallResult]
    stdout: str
    duration_ms: float
