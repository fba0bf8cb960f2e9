"""Canvas's JSON configuration at /lti/config.json."""


def test_canvas_configuration_names_the_tools_urls(client):
    config = client.get("/lti/config.json", base_url="https://rubric.example.edu").get_json()
    assert config["oidc_initiation_url"] == "https://rubric.example.edu/lti/login"
    assert config["target_link_uri"] == "https://rubric.example.edu/lti/launch"
    assert config["public_jwk_url"] == "https://rubric.example.edu/lti/jwks.json"
    (canvas,) = config["extensions"]
    assert canvas["platform"] == "canvas.instructure.com"
    assert canvas["domain"] == "rubric.example.edu"
    placements = {p["placement"]: p for p in canvas["settings"]["placements"]}
    assert placements["course_navigation"]["message_type"] == "LtiResourceLinkRequest"
    for picker in ("assignment_selection", "link_selection"):
        assert placements[picker]["message_type"] == "LtiDeepLinkingRequest"
    for placement in placements.values():
        assert placement["target_link_uri"] == config["target_link_uri"]
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in config["scopes"]
