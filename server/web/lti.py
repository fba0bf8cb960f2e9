"""The LTI 1.3 tool endpoints: OIDC login, launch and the tool's key set."""

import logging
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from limits import parse_many

from server import security
from server.extensions import csrf, limiter
from server.lti import accounts, deeplink, keys, links, platforms, registration
from server.lti.launch import (
    DEEP_LINKING,
    STATE_LIFETIME,
    Browser,
    HttpLimits,
    LaunchRefused,
    auth_request_url,
    pending_login,
    start_login,
    storage_value,
    validate,
)
from server.security import SettingError
from server.web.auth import log_in

bp = Blueprint("lti", __name__, url_prefix="/lti")
log = logging.getLogger("rubric.lti")
STATE_COOKIE = "rubric_lti_state"
PROBE_COOKIE = "rubric_lti_probe"  # readable by the login page's script: are cookies kept?
# Over plain http only (development, loopback tests): the state again without Secure, for
# clients that drop Secure cookies there (HTTP libraries; browsers off localhost).
PLAIN_STATE_COOKIE = "rubric_lti_state_plain"


def _lti_rate_off() -> bool:
    return current_app.config["RUBRIC_LTI_RATE"].strip().lower() == "off"


def _lti_rate() -> str:
    # Flask-Limiter parses the limit before asking exempt_when, so "off" needs a valid one.
    return "1/second" if _lti_rate_off() else current_app.config["RUBRIC_LTI_RATE"]


# Per client address: every login writes a row, every launch may fetch the LMS's keys.
lti_rate_limit = limiter.limit(_lti_rate, exempt_when=_lti_rate_off)


@bp.record_once
def _check_rate(setup) -> None:
    """Refuse to start with a RUBRIC_LTI_RATE that Flask-Limiter would ignore (no limit)."""
    rate = str(setup.app.config["RUBRIC_LTI_RATE"]).strip()
    try:
        if rate.lower() != "off":
            parse_many(rate)
    except ValueError:
        message = f"RUBRIC_LTI_RATE: {rate!r} is not a limit such as 300/minute, or off"
        raise SettingError(message) from None


def refused(reason: str):
    """The 400 page naming what was wrong, and its log line."""
    log.warning("lti: refused %s %s: %s", request.method, request.path, reason)
    return render_template("lti_error.html", reason=reason), 400


def key_folder():
    """The folder of the tool's private keys."""
    return keys.key_dir(current_app.config, current_app.instance_path)


@bp.get("/jwks.json")
def jwks():
    """The tool's public keys: the current one and retired ones not yet expired."""
    response = jsonify(keys.jwks(key_folder()))
    response.cache_control.max_age = 300
    response.cache_control.public = True
    return response


# What Canvas may ask for with a developer key's token: grade passback and rosters.
SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
]


@bp.get("/config.json")
def canvas_config():
    """Canvas's JSON configuration of an LTI 1.3 developer key (paste its URL in Canvas)."""
    launch_url = url_for("lti.launch", _external=True)
    # The course navigation opens the course; assignment and link selection open the
    # picker (deep linking), which adds an assignment with its gradebook column.
    placements = [
        {
            "placement": placement,
            "message_type": message_type,
            "target_link_uri": launch_url,
            "text": "Rubric",
        }
        for placement, message_type in (
            ("course_navigation", "LtiResourceLinkRequest"),
            ("assignment_selection", "LtiDeepLinkingRequest"),
            ("link_selection", "LtiDeepLinkingRequest"),
        )
    ]
    return jsonify(
        {
            "title": "Rubric",
            "description": "Auto-graded quizzes and NumPy coding exercises.",
            "oidc_initiation_url": url_for("lti.login", _external=True),
            "target_link_uri": launch_url,
            "public_jwk_url": url_for("lti.jwks", _external=True),
            "scopes": SCOPES,
            "extensions": [
                {
                    "platform": "canvas.instructure.com",
                    "domain": request.host,
                    "privacy_level": "public",  # name and e-mail in the launch
                    "settings": {"placements": placements},
                }
            ],
            "custom_fields": {},
        }
    )


@bp.route("/login", methods=["GET", "POST"])
@csrf.exempt  # the LMS starts the login; the state and nonce protect it
@lti_rate_limit
def login():
    """Third-party initiated login: store state and nonce, send the browser to the LMS."""
    values = request.values
    issuer, hint = values.get("iss", ""), values.get("login_hint", "")
    target = values.get("target_link_uri", "")
    if not issuer or not hint or not target:
        return refused("the login needs iss, login_hint and target_link_uri")
    if len(target) > 1000:  # the length of the column that keeps it
        return refused("the target_link_uri is longer than 1000 characters")
    platform = platforms.find_platform(issuer, values.get("client_id") or None)
    if platform is None:
        return refused(f"unknown issuer {issuer!r} (or client id): register it first")
    deployment = values.get("lti_deployment_id")
    if deployment and not platforms.has_deployment(platform, deployment):
        return refused(f"unknown deployment {deployment!r} for this platform")
    state = start_login(platform, target)
    redirect_uri = url_for("lti.launch", _external=True)
    auth_url = auth_request_url(platform, state, redirect_uri, values)
    storage_target = values.get("lti_storage_target", "")[:200]
    if storage_target or _framed():
        # Inside the LMS's iframe the cookie may be blocked: a page checks it, keeps the
        # state in the platform's storage too, and offers a new window when neither works.
        page = _state_login_page(platform, state.state, auth_url, storage_target)
        response = current_app.make_response(page)
        _set_state_cookie(response, PROBE_COOKIE, "1", httponly=False)
    else:
        response = redirect(auth_url)
    # SameSite=None: the launch comes back as a cross-site POST; Partitioned keeps it
    # inside an LMS iframe where only unpartitioned third-party cookies are blocked.
    _set_state_cookie(response, STATE_COOKIE, state.state, httponly=True)
    if not request.is_secure:
        response.set_cookie(
            PLAIN_STATE_COOKIE,
            state.state,
            max_age=int(STATE_LIFETIME.total_seconds()),
            path="/lti/",
            httponly=True,
        )
    return response


# What a login in a new window is started again with (never the storage target: a
# top-level window has no platform frame around it, and needs none).
LOGIN_FIELDS = (
    "iss",
    "login_hint",
    "target_link_uri",
    "client_id",
    "lti_deployment_id",
    "lti_message_hint",
)
STORAGE_FIELD = "lti_storage_value"  # what Rubric's page read from the platform's storage


def _framed() -> bool:
    """Whether the browser says this page loads inside a frame (Fetch Metadata)."""
    return request.headers.get("Sec-Fetch-Dest", "") in ("iframe", "frame")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _storage_key(state: str) -> str:
    return f"rubric_lti_state_{state}"


def _state_login_page(platform, state: str, auth_url: str, storage_target: str) -> str:
    """The login page for a frame: storage, cookie check, then on to the platform."""
    return render_template(
        "lti_state_login.html",
        auth_url=auth_url,
        platform_origin=_origin(platform.auth_login_url),
        storage_target=storage_target,
        storage_key=_storage_key(state),
        storage_value=storage_value(current_app.secret_key, state),
        probe_cookie=PROBE_COOKIE,
        fields={name: request.values[name] for name in LOGIN_FIELDS if request.values.get(name)},
    )


def _cookie_state() -> str | None:
    """The state of the login this browser started, from its cookie, if it came back."""
    cookies = request.cookies
    return cookies.get(STATE_COOKIE) or cookies.get(PLAIN_STATE_COOKIE)


def _set_state_cookie(response, name: str, value: str, httponly: bool) -> None:
    """A login cookie for /lti/ that a cross-site launch post brings back."""
    response.set_cookie(
        name,
        value,
        max_age=int(STATE_LIFETIME.total_seconds()),
        path="/lti/",
        secure=True,
        httponly=httponly,
        samesite="None",
        partitioned=True,
    )


@bp.post("/launch")
@csrf.exempt  # the LMS posts the id_token here; the token's signature protects it
@lti_rate_limit
def launch():
    """Validate the id_token, log the user in, enrol them, and open the course or assignment."""
    config = current_app.config
    http = HttpLimits(
        timeout=config["RUBRIC_LTI_HTTP_TIMEOUT"],
        cooldown=config["RUBRIC_LTI_JWKS_COOLDOWN"],
    )
    form = request.form
    token, state = form.get("id_token", ""), form.get("state", "")
    cookie_state, stored = _cookie_state(), form.get(STORAGE_FIELD)
    try:
        if cookie_state is None and stored is None:
            # No cookie: the page reads the login's value back from the platform's storage.
            page = _state_launch_page(pending_login(token, state, http), token, state)
            response = current_app.make_response(page)
            _set_state_cookie(response, PROBE_COOKIE, "1", httponly=False)
            return response
        if cookie_state is None and not _from_rubric_page():
            raise LaunchRefused("the platform storage's answer did not come from Rubric's page")
        browser = Browser(cookie_state, stored, current_app.secret_key)
        valid = validate(token, state, browser, http)
    except LaunchRefused as exc:
        return refused(str(exc))
    if valid.claim("message_type") == DEEP_LINKING:
        return _forget_state(_deep_linking(valid))
    user = accounts.user_for(valid)
    where = links.destination(valid)
    log_in(user)
    log.info("lti: launch of user %s from %s", user.id, valid.platform.issuer)
    if where.course is None:
        return _forget_state(_unlinked(valid, user, where.context_id))
    accounts.enrol(user, where.course, accounts.launch_roles(valid), valid.platform.issuer)
    if where.assignment is not None:
        target = url_for("web.assignment", course=where.course.slug, slug=where.assignment.slug)
    else:
        target = url_for("web.course", course=where.course.slug)
    return _forget_state(redirect(target))


def _deep_linking(valid):
    """An instructor adding activities: the picker, or first the course link."""
    if not deeplink.is_instructor(valid):
        return refused("only an instructor can add Rubric activities (deep linking)")
    user = accounts.user_for(valid)
    log_in(user)
    log.info("lti: deep linking by user %s from %s", user.id, valid.platform.issuer)
    pending = deeplink.start(valid, user, user.session_id)
    context = deeplink.linked_context(pending)
    if context is None:
        return _unlinked_page(pending, user)
    deeplink.keep_services(context, pending)
    accounts.enrol(user, context.course, accounts.launch_roles(valid), valid.platform.issuer)
    return redirect(url_for("lti.picker", token=pending.token))


def _unlinked(valid, user, context_id):
    """An unlinked LMS course: an instructor links it here, a student comes back later."""
    if not deeplink.is_instructor(valid) or not context_id:
        page = render_template(
            "lti_unlinked.html", issuer=valid.platform.issuer, context_id=context_id
        )
        return page
    return _unlinked_page(deeplink.start(valid, user, user.session_id), user)


def _unlinked_page(pending, user):
    """The instructor's choice: link a Rubric course they instruct, or create one."""
    return render_template(
        "lti_unlinked.html",
        issuer=deeplink.platform_of(pending).issuer,
        context_id=pending.context_id,
        pending=pending,
        courses=deeplink.courses_to_link(user),
        title=deeplink.suggested_title(pending),
    )


def _from_rubric_page() -> bool:
    """Whether a post came from Rubric's own page (Fetch Metadata, else Origin).

    The platform's storage value is only worth something when Rubric's script read it:
    another site's form could post any value it got from its own login.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    return request.headers.get("Origin") == _origin(request.host_url)


def _state_launch_page(platform, token: str, state: str) -> str:
    """The page that reads the login's value back from the platform's storage and posts it."""
    log.info("lti: launch without its state cookie; reading the platform's storage")
    return render_template(
        "lti_state_launch.html",
        id_token=token,
        state=state,
        field=STORAGE_FIELD,
        platform_origin=_origin(platform.auth_login_url),
        storage_key=_storage_key(state),
        probe_cookie=PROBE_COOKIE,
    )


@bp.errorhandler(429)
def _too_many(exc):
    """Too many logins or launches from one address: a page with Retry-After."""
    log.warning("lti: rate limit of %s reached by %s", request.path, request.remote_addr)
    page = render_template("lti_rate_limited.html", limit=getattr(exc, "description", ""))
    return page, 429


def _forget_state(response):
    """Drop the used state cookie."""
    response = current_app.make_response(response)  # a page, a redirect or (page, 400)
    response.delete_cookie(
        STATE_COOKIE, path="/lti/", secure=True, httponly=True, samesite="None", partitioned=True
    )
    if PLAIN_STATE_COOKIE in request.cookies:
        response.delete_cookie(PLAIN_STATE_COOKIE, path="/lti/", httponly=True)
    return response


# LTI Dynamic Registration (docs/lti.md, "Dynamic Registration").


def _registration_refused(reason: str):
    """The 400 page of a refused registration, and its log line."""
    log.warning("lti: refused registration %s: %s", request.method, reason)
    return render_template("lti_register_error.html", reason=reason, bare=True), 400


def _registration_values():
    """The code, the platform's configuration URL and its registration token, as given."""
    values = request.values
    return (
        values.get("code", ""),
        values.get("openid_configuration", ""),
        values.get("registration_token", ""),
    )


@bp.get("/register")
def register():
    """Dynamic Registration, step 1: check the link, show the platform, ask to confirm."""
    code, config_url, token = _registration_values()
    try:
        registration.check_code(current_app.config["SECRET_KEY"], code)
        if not config_url:
            raise registration.RegistrationRefused(
                "open this link from the LMS's tool registration (it adds openid_configuration)"
            )
        config = registration.fetch_platform_config(
            config_url, token, current_app.config["RUBRIC_LTI_HTTP_TIMEOUT"]
        )
    except registration.RegistrationRefused as exc:
        return _registration_refused(str(exc))
    return render_template(
        "lti_register.html", config=config, code=code, config_url=config_url, token=token, bare=True
    )


@bp.post("/register")
@csrf.exempt  # inside the LMS's iframe the session cookie may not come; the code protects it
def register_confirm():
    """Dynamic Registration, step 2: register with the platform, store it, close the window."""
    code, config_url, token = _registration_values()
    timeout = current_app.config["RUBRIC_LTI_HTTP_TIMEOUT"]
    urls = registration.ToolUrls(
        login=url_for("lti.login", _external=True),
        launch=url_for("lti.launch", _external=True),
        jwks=url_for("lti.jwks", _external=True),
    )
    try:
        code_id = registration.check_code(current_app.config["SECRET_KEY"], code)
        config = registration.fetch_platform_config(config_url, token, timeout)
        payload = registration.tool_configuration(urls, SCOPES)
        client_id, deployment_id = registration.post_registration(config, token, payload, timeout)
        found, created = registration.register(config, client_id, deployment_id, code_id)
    except registration.RegistrationRefused as exc:
        return _registration_refused(str(exc))
    return render_template(
        "lti_register_done.html", platform=found, created=created, deployment_id=deployment_id,
        bare=True,
    )  # fmt: skip


# Deep linking and linking an LMS course from the browser (docs/lti.md, "Deep linking").


def _pending(token: str):
    """The signed-in user's pending launch of this log-in session, or a Refused."""
    if not current_user.is_authenticated:
        raise deeplink.Refused("you are not signed in here: open the activity again from the LMS")
    return deeplink.pending_for(token, current_user, current_user.session_id)


@bp.get("/link/<token>")
def link_page(token: str):
    """The unlinked LMS course's page again (after a reload)."""
    try:
        pending = _pending(token)
    except deeplink.Refused as exc:
        return refused(str(exc))
    return _unlinked_page(pending, current_user)


@bp.post("/link/<token>")
def link_course(token: str):
    """Link the LMS course to a Rubric course, existing or new; then go on."""
    form = request.form
    try:
        pending = _pending(token)
        if form.get("action") == "create":
            course = deeplink.create_course(pending, current_user, form.get("title", ""))
        else:
            course = deeplink.link_existing(pending, current_user, form.get("course", ""))
        if not deeplink.is_deep_linking(pending):
            deeplink.take(pending)
    except deeplink.Refused as exc:
        return refused(str(exc))
    log.info("lti: user %s linked an LMS course to %s", current_user.id, course.slug)
    if deeplink.is_deep_linking(pending):
        return redirect(url_for("lti.picker", token=token))
    return redirect(url_for("web.course", course=course.slug))


@bp.get("/deep-link/<token>")
def picker(token: str):
    """The picker: the linked course's assignments, to add as LMS activities."""
    try:
        pending = _pending(token)
        course = deeplink.picker_course(pending, current_user)
    except deeplink.Refused as exc:
        return refused(str(exc))
    return render_template(
        "lti_picker.html", pending=pending, course=course, choices=deeplink.choices(course)
    )


@bp.post("/deep-link/<token>")
def picked(token: str):
    """Sign the chosen assignments as content items and post them back to the LMS."""
    try:
        pending = _pending(token)
        course = deeplink.picker_course(pending, current_user)
        chosen = deeplink.chosen(pending, course, request.form.getlist("assignment"))
        deeplink.take(pending)
    except deeplink.Refused as exc:
        return refused(str(exc))
    launch_url = url_for("lti.launch", _external=True)
    items = [deeplink.content_item(choice, launch_url) for choice in chosen]
    token_jwt = deeplink.response_token(pending, items, key_folder())
    log.info("lti: user %s added %d activities from %s", current_user.id, len(items), course.slug)
    page = render_template("lti_deep_link_return.html", url=pending.return_url, jwt=token_jwt)
    response = current_app.make_response(page)
    response.headers["Content-Security-Policy"] = _csp_posting_to(pending.return_url)
    return response


def _csp_posting_to(url: str) -> str:
    """The app's policy, with form-action also allowing the LMS's return URL's origin.

    The answer is a form the browser posts to the LMS; CSP's form-action 'self' would
    block it, so this one page allows exactly that origin as well.
    """
    parts = urlsplit(url)
    ancestors = security.frame_ancestors(current_app.config["RUBRIC_FRAME_ANCESTORS"])
    policy = security.content_security_policy(ancestors)
    origin = f"{parts.scheme}://{parts.netloc}"
    return policy.replace("form-action 'self'", f"form-action 'self' {origin}")
