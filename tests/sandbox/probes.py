"""Student code that reports what it could see or do, as JSON on stdout."""

import json

import numpy as np

from server.sandbox import Call

X = np.arange(3.0)


def probe(sandbox, body: str, limits=None) -> dict:
    """Run `body` (lines of a function that fills dict `out`) and return `out`."""
    from tests.sandbox.conftest import FAST

    lines = "\n".join("    " + line for line in body.strip("\n").splitlines())
    code = (
        f"import json, os, sys\ndef f(x):\n    out = {{}}\n{lines}\n"
        f"    print('PROBE' + json.dumps(out))\n    return 1\n"
    )
    result = sandbox.run(code, [Call("f", (X,))], limits or FAST)
    assert result.results[0].outcome == "ok", (result.results[0], result.stdout)
    line = next(x for x in result.stdout.splitlines() if x.startswith("PROBE"))
    return json.loads(line[len("PROBE") :])


LIBC = "import ctypes, errno\nlibc = ctypes.CDLL(None, use_errno=True)\n"


def errno_of(expression: str) -> str:
    """Lines that store in out[name] the errno name (or 'ok') of a libc call."""
    return (
        f"ret = {expression}\n"
        "out['ret'] = ret\n"
        "out['errno'] = 'ok' if ret >= 0 else errno.errorcode[ctypes.get_errno()]\n"
    )
