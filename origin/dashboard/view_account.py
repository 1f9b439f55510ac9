"""The Account page: who is signed in, and the form that changes their password. The form's
fields always come back empty: a password typed here is never written into a page."""

from __future__ import annotations

from html import escape

from origin.dashboard.layout import hidden_fields

# What the page promises; account.py holds the same rules to them.
MIN_PASSWORD = 8
MAX_PASSWORD_BYTES = 72  # bcrypt's limit, which Supabase Auth enforces


def _notice(changed: bool, error: str) -> str:
    if error:
        return f'<div class="error" role="alert">{escape(error)}</div>'
    if changed:
        return (
            '<div class="notice" role="status"><b>Your password was changed.</b> Every other '
            "session of this account was signed out; this one goes on.</div>"
        )
    return ""


def _field(name: str, label: str, autocomplete: str, minlength: int = 0) -> str:
    least = f' minlength="{minlength}"' if minlength else ""
    return (
        f'<label for="{name}">{label}</label><input id="{name}" name="{name}" type="password" '
        f'autocomplete="{autocomplete}" required{least}>'
    )


def render(email: str, project_id: str, changed: bool = False, error: str = "") -> str:
    # The hidden username field lets a password manager file the new password under the right
    # account; the server reads only the three password fields.
    return f"""<h1>Account</h1><p class="sub">Signed in as <b id="account-email">{escape(email)}</b>.</p>
{_notice(changed, error)}<div class="panel" style="max-width:460px"><h2>Change password</h2>
<form method="post" action="/dashboard/account" class="stack">{hidden_fields(project_id)}
<input type="text" name="username" value="{escape(email)}" autocomplete="username" hidden readonly>
{_field("current_password", "Current password", "current-password")}
{_field("new_password", "New password", "new-password", MIN_PASSWORD)}
{_field("new_password_again", "New password again", "new-password", MIN_PASSWORD)}
<p class="muted">At least {MIN_PASSWORD} characters (at most {MAX_PASSWORD_BYTES} bytes), and not
the one you have now. Changing it signs out every other session of this account, such as one
opened with a temporary password whoever added you was shown.</p>
<button type="submit">Change password</button></form></div>"""
