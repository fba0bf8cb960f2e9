"""The test LTI platform, served on localhost, for a tool served on 127.0.0.1."""

import json

import jwt
import pytest
from werkzeug.wrappers import Request, Response

from .platform import new_private_key, public_pem, running_platform, serving


class ToolKeys:
    """A stand-in tool's key set, for testing the platform on its own."""

    def __init__(self) -> None:
        self.key = new_private_key()
        self.kid = "tool-key-1"

    def jwks(self) -> dict:
        """The public key set the tool publishes."""
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(_public(self.key)))
        return {"keys": [jwk | {"kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def __call__(self, environ, start_response):
        request = Request(environ)
        if request.path != "/lti/jwks.json":
            return Response(status=404)(environ, start_response)
        body = json.dumps(self.jwks())
        return Response(body, mimetype="application/json")(environ, start_response)


def _public(private_pem: str):
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_public_key(public_pem(private_pem).encode())


@pytest.fixture
def tool_keys():
    """A stand-in tool on 127.0.0.1 that only publishes its key set; yield it with its URL."""
    keys = ToolKeys()
    with serving(keys) as url:
        keys.url = url
        yield keys


@pytest.fixture
def bare_platform(tool_keys):
    """The platform, registered with the stand-in tool."""
    with running_platform(tool_keys.url) as platform:
        yield platform
