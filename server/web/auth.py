"""Log-in and log-out with e-mail and password."""

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from server.accounts import authenticate
from server.extensions import db, login_manager
from server.models import User
from server.web import bp

login_manager.login_view = "web.login"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Return the logged-in user from the session cookie."""
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


class LoginForm(FlaskForm):
    """E-mail and password."""

    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired()])


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the log-in form and log the user in."""
    if current_user.is_authenticated:
        return redirect(url_for("web.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        flash("Wrong e-mail or password.", "error")
    return render_template("login.html", form=form), 200 if not form.errors else 400


@bp.post("/logout")
@login_required
def logout():
    """Log the user out."""
    logout_user()
    return redirect(url_for("web.login"))


def _safe_next(target: str | None) -> str:
    """Only follow local paths after log-in, never another site."""
    # Browsers drop tabs and newlines and read "\\" as "/", so "/\\evil.example" or
    # "/\t/evil.example" would become "//evil.example": refuse them all.
    if not target or "\\" in target or any(ord(c) < 33 for c in target):
        return url_for("web.index")
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.netloc:
        return target
    return url_for("web.index")
