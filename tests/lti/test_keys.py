"""The tool's key: generated on first use (0600), published at /lti/jwks.json, rotated."""

import stat
from datetime import timedelta

import jwt

from server.lti import keys
from server.models.types import utcnow


def folder_of(app):
    return keys.key_dir(app.config, app.instance_path)


def test_the_first_key_is_generated_on_first_use_and_private(app, client, platform):
    assert not folder_of(app).exists()
    published = client.get("/lti/jwks.json").get_json()["keys"]
    assert len(published) == 1
    (key,) = published
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    path = folder_of(app) / f"{key['kid']}.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "d" not in key  # only the public half


def test_the_published_key_verifies_what_the_private_key_signs(app, client, platform):
    key = client.get("/lti/jwks.json").get_json()["keys"][0]
    token = jwt.encode(
        {"iss": "rubric"},
        keys.private_pem(folder_of(app), key["kid"]),
        algorithm="RS256",
        headers={"kid": key["kid"]},
    )
    public = jwt.PyJWK(key)
    assert jwt.decode(token, public, algorithms=["RS256"]) == {"iss": "rubric"}


def test_the_jwks_is_the_same_key_until_rotated(client, platform):
    first = client.get("/lti/jwks.json").get_json()
    assert client.get("/lti/jwks.json").get_json() == first


def test_a_rotated_key_stays_published_until_its_grace_ends(app, client, platform):
    old = keys.current_key(folder_of(app)).kid
    new = keys.rotate(folder_of(app)).kid
    assert keys.current_key(folder_of(app)).kid == new
    kids = [k["kid"] for k in client.get("/lti/jwks.json").get_json()["keys"]]
    assert kids == [old, new]
    later = utcnow() + keys.RETIRED_KEY_GRACE + timedelta(seconds=1)
    assert [k.kid for k in keys.published_keys(later)] == [new]
