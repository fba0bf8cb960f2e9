"""The tool's RSA signing keys: private keys in 0600 files, kids and lifetimes in the DB."""

import json
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path

import jwt
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from server.extensions import db
from server.models import LtiToolKey
from server.models.types import utcnow

# A retired key stays published this long: an hour for platforms' JWKS caches, plus
# the longest lifetime of a token Rubric signs with it (client assertions, deep links).
RETIRED_KEY_GRACE = timedelta(hours=1) + timedelta(minutes=10)


def key_dir(config, instance_path: str) -> Path:
    """Where the private keys live: RUBRIC_LTI_KEY_DIR, else instance/lti-keys."""
    return Path(config.get("RUBRIC_LTI_KEY_DIR") or Path(instance_path) / "lti-keys")


def _key_path(folder: Path, kid: str) -> Path:
    return folder / f"{kid}.pem"


def _write_private(path: Path, pem: bytes) -> None:
    """Create the file 0600 from the start, so the key is never readable by others."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


def _new_key(folder: Path) -> LtiToolKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    kid = secrets.token_urlsafe(16)
    _write_private(_key_path(folder, kid), pem)
    key = LtiToolKey(kid=kid, created_at=utcnow())
    db.session.add(key)
    db.session.flush()
    return key


def current_key(folder: Path) -> LtiToolKey:
    """Return the key Rubric signs with, generating the first one on first use."""
    key = db.session.scalar(
        sa.select(LtiToolKey)
        .where(LtiToolKey.retired_at.is_(None))
        .order_by(LtiToolKey.created_at.desc())
        .limit(1)
    )
    if key is None:
        key = _new_key(folder)
        db.session.commit()
    return key


def rotate(folder: Path, grace: timedelta = RETIRED_KEY_GRACE) -> LtiToolKey:
    """Make a new current key; the old ones stay published for `grace`."""
    now = utcnow()
    for old in db.session.scalars(sa.select(LtiToolKey).where(LtiToolKey.retired_at.is_(None))):
        old.retired_at, old.expires_at = now, now + grace
    key = _new_key(folder)
    db.session.commit()
    return key


def private_pem(folder: Path, kid: str) -> bytes:
    """Read a key's private PEM, for signing."""
    return _key_path(folder, kid).read_bytes()


def published_keys(now: datetime | None = None) -> list[LtiToolKey]:
    """The current key and the retired ones not yet expired."""
    now = now or utcnow()
    query = sa.select(LtiToolKey).where(
        sa.or_(LtiToolKey.expires_at.is_(None), LtiToolKey.expires_at > now)
    )
    return list(db.session.scalars(query.order_by(LtiToolKey.created_at)))


def public_jwk(folder: Path, kid: str) -> dict:
    """The public half of a key as a JWK with its kid, RS256 and use sig."""
    private = serialization.load_pem_private_key(private_pem(folder, kid), password=None)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    return jwk | {"kid": kid, "alg": "RS256", "use": "sig"}


def jwks(folder: Path) -> dict:
    """The tool's JWKS: every published key, generating the first key if there is none."""
    current_key(folder)
    return {"keys": [public_jwk(folder, key.kid) for key in published_keys()]}
