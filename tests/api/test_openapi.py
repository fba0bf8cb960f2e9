"""The OpenAPI document is valid and describes every API route."""

import re

from openapi_spec_validator import validate


def test_document_is_valid_openapi(client):
    document = client.get("/api/v1/openapi.json").json
    validate(document)


def test_every_api_route_is_documented(app, client):
    documented = client.get("/api/v1/openapi.json").json["paths"]
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        assert path in documented, f"{path} is not in openapi.json"
        methods = rule.methods - {"HEAD", "OPTIONS"}
        assert {m.lower() for m in methods} <= documented[path].keys(), path
