"""Run untrusted student code in an isolated child of a warm fork server.

Only numeric arrays cross the wall, as .npy bytes in length-prefixed frames.
See README.md in this directory for the layers and how each is tested.
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
