"""Inside the sandbox: load the submission as module `submission` and make its calls.

Everything here runs after isolation, in the untrusted child. It only formats what it
sends; the trusted side trusts none of it and parses every byte again.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import traceback
import types

import numpy as np

from . import frames
from .model import INVALID_OUTPUT, MEMORY_LIMIT, MISSING, OK, RUNTIME_ERROR, SYNTAX_ERROR

OUTCOME_CODES = {
    OK: 0,
    RUNTIME_ERROR: 1,
    MEMORY_LIMIT: 2,
    MISSING: 3,
    INVALID_OUTPUT: 4,
    SYNTAX_ERROR: 5,
}
CALL_HEADER = struct.Struct("<IB")  # call index, outcome code
FILENAME = "submission.py"
# A call named "harness.NAME" calls NAME of the harness module: trusted-authored code
# run after the submission in the same sandbox (so its output is as untrusted as any).
HARNESS_PREFIX = "harness."
MAX_ERROR = 2000


def read_exact(fd: int, size: int) -> bytes:
    """Read exactly size bytes from fd, or raise EOFError."""
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("request cut short")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> tuple[bytes, bytes]:
    """Read one frame from fd."""
    tag, size = frames.HEADER.unpack(read_exact(fd, frames.HEADER.size))
    if size > frames.MAX_FRAME:
        raise frames.ProtocolError("request frame over the cap")
    return tag, read_exact(fd, size)


def read_request(fd: int) -> tuple[str, str, list[tuple[str, list[np.ndarray]]]]:
    """Read the source code, the optional harness and the calls sent by the trusted side."""
    tag, payload = read_frame(fd)
    if tag != b"CODE":
        raise frames.ProtocolError("request must start with CODE")
    code, harness, calls = payload.decode("utf-8"), "", []
    frame = read_frame(fd)
    if frame[0] == b"HRNS":
        harness, frame = frame[1].decode("utf-8"), read_frame(fd)
    while frame[0] == b"CALL":
        name, *args = frames.parse_record(frame[1], min_parts=1)
        calls.append((name.decode("utf-8"), [frames.load_array(a) for a in args]))
        frame = read_frame(fd)
    return code, harness, calls


def error_line(exc: BaseException) -> str:
    """Describe an exception with the line of the submission it came from."""
    try:
        text = f"{type(exc).__name__}: {exc}"
    except BaseException:  # a student __str__ may itself raise
        text = type(exc).__name__
    text = text[:MAX_ERROR]
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == FILENAME]
    return f"{text} (line {lines[-1]})" if lines else text


def load(
    code: str, name: str = "submission", filename: str = FILENAME
) -> tuple[str, str, types.ModuleType]:
    """Execute the source as module `name`; return outcome, error and the module."""
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module
    try:
        compiled = compile(code, filename, "exec")
    except SyntaxError as exc:
        return (
            SYNTAX_ERROR,
            f"{type(exc).__name__}: {exc.msg} (line {exc.lineno}, column {exc.offset})",
            module,
        )
    except ValueError as exc:  # e.g. a null byte in the source
        return SYNTAX_ERROR, f"SyntaxError: {exc}", module
    try:
        exec(compiled, module.__dict__)
    except MemoryError as exc:
        return MEMORY_LIMIT, error_line(exc), module
    except BaseException as exc:  # SystemExit too: leaving early is the student's error
        return RUNTIME_ERROR, error_line(exc), module
    return OK, "", module


def numeric(value: object) -> np.ndarray:
    """Convert a return value to a numeric array or raise TypeError saying why not."""
    array = np.asarray(value)
    if type(array) is not np.ndarray or array.dtype.kind not in frames.NUMERIC_KINDS:
        raise TypeError(f"returned {type(value).__name__} (dtype {array.dtype})")
    return array


def call(module: types.ModuleType, name: str, args: list[np.ndarray]) -> tuple[str, str, list]:
    """Make one call; return outcome, error and the arrays to send back."""
    if name.startswith(HARNESS_PREFIX):
        module = sys.modules.get("harness", types.ModuleType("harness"))
        name = name.removeprefix(HARNESS_PREFIX)
    function = module.__dict__.get(name)
    if not callable(function):
        return MISSING, f"no function named {name}", []
    try:
        value = function(*args)
    except MemoryError as exc:
        return MEMORY_LIMIT, error_line(exc), []
    except BaseException as exc:
        return RUNTIME_ERROR, error_line(exc), []
    try:
        return OK, "", [numeric(value), *args]
    except BaseException as exc:
        return INVALID_OUTPUT, error_line(exc), []


def result_frame(index: int, outcome: str, error: str, arrays: list) -> bytes:
    """Encode the result of call number index."""
    try:
        parts = [frames.dump_array(a) for a in arrays]
        payload = frames.record(
            [
                CALL_HEADER.pack(index, OUTCOME_CODES[outcome]),
                error.encode("utf-8", "replace"),
                *parts,
            ]
        )
        return frames.frame(b"RSLT", payload)
    except (frames.ProtocolError, MemoryError, ValueError) as exc:
        return result_frame(index, INVALID_OUTPUT, f"result not sendable: {exc}", [])


def send(fd: int, data: bytes) -> None:
    """Write all of data to fd."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def serve(fd: int) -> None:
    """Read the request, load the submission, answer every call in order."""
    code, harness, calls = read_request(fd)
    outcome, error, module = load(code)
    if outcome == OK and harness:
        load(harness, "harness", "harness.py")  # a broken harness makes its calls missing
    load_payload = frames.record([bytes([OUTCOME_CODES[outcome]]), error.encode("utf-8")])
    send(fd, frames.frame(b"LOAD", load_payload))
    if outcome == OK:
        for index, (name, args) in enumerate(calls):
            send(fd, result_frame(index, *call(module, name, args)))
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):  # the student may have replaced them
            stream.flush()


def warm_up() -> None:
    """Run this module's code paths once, so that their lazy imports happen in the zygote.

    The zygote calls it before forking anything, so no sandbox reads those from disk.
    """
    outcome, _, module = load("def f(x):\n    return x\n")
    array = frames.load_array(frames.dump_array(np.arange(3.0)))
    result_frame(0, *call(module, "f", [array]))
    error_line(ZeroDivisionError("warm-up"))
    sys.modules.pop("submission", None)
