"""Run untrusted student code in an isolated child of a warm fork server.

Only numeric arrays cross the wall, as .npy bytes in length-prefixed frames.
docs/sandbox.md describes the layers and the test that shows each one blocking.
"""

from .client import Sandbox, get_sandbox
from .model import Call, CallResult, Limits, RunResult, SandboxUnavailable

__all__ = [
    "Call",
    "CallResult",
    "Limits",
    "RunResult",
    "Sandbox",
    "SandboxUnavailable",
    "get_sandbox",
]
