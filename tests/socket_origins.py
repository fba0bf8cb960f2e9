"""Say where an unclosed socket was connected, when the collector finds one.

A ResourceWarning for a socket names its addresses, not the code that opened it. In
two CI runs one surfaced only when the session's last collection found it, failing a
run whose tests had all passed, and it has not been reproduced since. This records
the stack of every connect in the test process by local port, and prints it beside
such a warning, so that the next one says where it comes from.
"""

import socket
import sys
import traceback

import pytest

_connected_at: dict[int, str] = {}  # local port -> where the socket was connected
_connect = socket.socket.connect


def _recording_connect(self: socket.socket, address) -> None:
    _connect(self, address)
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _connected_at[self.getsockname()[1]] = "".join(traceback.format_stack(limit=12)[:-1])


def origin(message: str) -> str | None:
    """Return where the socket a ResourceWarning names was connected, if known."""
    marker = "laddr=("
    if marker not in message:
        return None
    port = message.split(marker, 1)[1].split(")", 1)[0].rsplit(",", 1)[-1].strip()
    return _connected_at.get(int(port)) if port.isdigit() else None


@pytest.hookimpl(trylast=True)  # after pytest's own hook, which this one passes on to
def pytest_configure(config) -> None:
    socket.socket.connect = _recording_connect
    previous = sys.unraisablehook

    def hook(unraisable) -> None:
        where = origin(str(unraisable.exc_value))
        if where:
            sys.stderr.write(f"\n{unraisable.exc_value}\nconnected at:\n{where}\n")
        previous(unraisable)

    sys.unraisablehook = hook
