"""Small leaks, attacked as a student would: where the service lives, and the host's name."""

import os
import socket
from pathlib import Path

from tests.sandbox.probes import probe

CHECKOUT = str(Path(__file__).resolve().parents[2])  # the host path of server/'s checkout

LOOK_EVERYWHERE = f"""
import inspect, sysconfig
needle = {CHECKOUT!r}
def texts(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        yield from (v for v in value if isinstance(v, str))
found = []
for name, module in list(sys.modules.items()):
    for key, value in list(vars(module).items()):
        found += [f'{{name}}.{{key}}' for text in texts(value) if needle in text]
    spec = getattr(module, '__spec__', None)
    if spec is not None:
        for text in (spec.origin, spec.cached, getattr(spec.loader, 'path', None)):
            if isinstance(text, str) and needle in text:
                found.append(f'{{name}}.__spec__')
for hook in list(sys.meta_path) + list(sys.path_hooks):
    if 'editable' in repr(hook) or needle in repr(hook):
        found.append(repr(hook))
found += [frame.filename for frame in inspect.stack() if needle in frame.filename]
found += [key for key, path in sysconfig.get_paths().items() if needle in path]
found += [name for name in sys.modules if 'editable' in name]
out['found'] = sorted(set(found) - {{'submission.needle'}})
"""


def test_nothing_inside_names_where_the_service_lives(sandbox):
    # The editable install's finder mapped `server` to the checkout; the sandbox's own
    # modules, NumPy's files and sys's prefixes named it too.
    assert probe(sandbox, LOOK_EVERYWHERE)["found"] == []


def test_the_hostname_is_not_the_hosts(sandbox):
    body = "import socket\nout['uname'] = os.uname().nodename\nout['host'] = socket.gethostname()\n"
    out = probe(sandbox, body)
    assert out == {"uname": "sandbox", "host": "sandbox"}
    assert socket.gethostname() != "sandbox" and os.uname().nodename != "sandbox"
