"""Fixtures for the sandbox tests: a sandbox with every layer, and ones with layers off."""

import numpy as np
import pytest

from server.sandbox import Call, Limits, Sandbox

FAST = Limits(wall_seconds=2.0, cpu_seconds=1.0, memory_mb=128, output_bytes=4000)
X = np.arange(3.0)


def call(function: str = "f", *args: np.ndarray) -> Call:
    """Build a call with X as the argument unless others are given."""
    return Call(function, args or (X,))


@pytest.fixture(scope="session")
def sandbox():
    """One sandbox with every layer on, shared by the whole session (as in the service)."""
    box = Sandbox(skip_layers=frozenset())
    box.start()
    yield box
    box.close()


@pytest.fixture(scope="session")
def sandbox_without():
    """Make (once per set of layers) a sandbox with the named layers turned off."""
    made: dict[frozenset[str], Sandbox] = {}

    def make(*layers: str) -> Sandbox:
        key = frozenset(layers)
        if key not in made:
            made[key] = Sandbox(skip_layers=key)
            made[key].start()
        return made[key]

    yield make
    for box in made.values():
        box.close()


@pytest.fixture
def run(sandbox):
    """Run code with calls in the full sandbox, then prove the next run is unaffected."""

    def go(code: str, calls=(), limits: Limits = FAST):
        result = sandbox.run(code, list(calls), limits)
        after = sandbox.run("def f(x):\n    return x * 2\n", [call()], FAST)
        assert after.load_outcome == "ok" and after.results[0].outcome == "ok"
        np.testing.assert_array_equal(after.results[0].value, X * 2)
        return result

    return go
