"""A stand-in LMS for the launch tests: its RSA key, its JWKS over real HTTP, signed tokens.

Until the independent test platform lands, tokens are signed here with a test key and
the JWKS is served by a werkzeug server on loopback, so PyJWKClient really fetches it.
"""

import json
import threading
import time
import uuid
from dataclasses import dataclass, field

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"


def new_key():
    """A fresh RSA 2048 private key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key, kid: str) -> dict:
    """The JWK of a key's public half."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return jwk | {"kid": kid, "alg": "RS256", "use": "sig"}


@dataclass
class KeySetServer:
    """Serves /jwks.json on 127.0.0.1; `delay` makes it answer slowly (a hung platform)."""

    keys: list[dict] = field(default_factory=list)
    delay: float = 0.0
    fetches: int = 0
    body: str | None = None  # answer this instead of the key set (a broken platform)

    def __post_init__(self):
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    @Request.application
    def _app(self, request: Request) -> Response:
        self.fetches += 1
        time.sleep(self.delay)
        body = self.body if self.body is not None else json.dumps({"keys": self.keys})
        return Response(body, content_type="application/json")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@dataclass
class StandInPlatform:
    """An LMS's registration values and the means to sign its id_tokens."""

    jwks: KeySetServer
    issuer: str = "https://lms.example.edu"
    client_id: str = "rubric-client"
    deployment_id: str = "deployment-1"
    kid: str = "platform-key-1"
    key: object = field(default_factory=new_key)

    def __post_init__(self):
        self.jwks.keys = [public_jwk(self.key, self.kid)]

    def registration(self) -> dict:
        """The values `rubric lti platform add` takes."""
        return {
            "issuer": self.issuer,
            "client_id": self.client_id,
            "deployment_ids": (self.deployment_id,),
            "auth_login_url": f"{self.jwks.base}/auth",
            "auth_token_url": f"{self.jwks.base}/token",
            "keyset_url": f"{self.jwks.base}/jwks.json",
            "name": "Test LMS",
        }

    def claims(self, nonce: str, target: str, **changes) -> dict:
        """A valid resource-link launch's claims for a student; `changes` override."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": "student-1",
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "name": "Ada Student",
            "email": "ada@lms.example.edu",
            CLAIM + "message_type": "LtiResourceLinkRequest",
            CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": self.deployment_id,
            CLAIM + "target_link_uri": target,
            CLAIM + "resource_link": {"id": "link-1", "title": "Week 1"},
            CLAIM + "roles": [LEARNER],
            CLAIM + "context": {"id": "lms-course-1", "title": "ML 101"},
        }
        return claims | changes

    def sign(self, claims: dict, key=None, kid: str | None = None) -> str:
        """An id_token signed RS256 with the platform's key (or another, to forge)."""
        headers = {"kid": kid or self.kid}
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers=headers)


def unique(prefix: str) -> str:
    """A value no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
