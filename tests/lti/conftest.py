"""Fixtures of the LTI tests: a registered stand-in platform and its key-set server."""

import pytest

from server.lti import launch, platforms
from tests.lti.platform import KeySetServer, StandInPlatform


@pytest.fixture
def keyset_server():
    """A JWKS served over real HTTP on loopback."""
    server = KeySetServer()
    yield server
    server.close()


@pytest.fixture
def platform(app, keyset_server, tmp_path):
    """The stand-in platform, registered, with the tool's keys in a temporary folder."""
    app.config["RUBRIC_LTI_KEY_DIR"] = str(tmp_path / "lti-keys")
    launch.forget_key_sets()
    lms = StandInPlatform(jwks=keyset_server)
    platforms.add_platform(platforms.Registration(**lms.registration()))
    yield lms
    launch.forget_key_sets()
