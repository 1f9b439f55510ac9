"""The Members page: who is in the organisation, and for owners and admins the forms that add,
re-role and remove them. A form is shown only where the rules would allow it (an admin gets no
owner option and no controls on owners, nobody gets controls on their own row); the database
checks the same rules again (0034_org_members_manage.sql), so a hand-made post is refused."""

from __future__ import annotations

from html import escape
from typing import Any

from origin.dashboard import fmt
from origin.dashboard.layout import hidden_fields, read_only_note
from origin.dashboard.team import ROLES, Added


def _role_options(viewer_role: str, selected: str = "member") -> str:
    # Only an owner may make someone an owner.
    roles = ROLES if viewer_role == "owner" else tuple(r for r in ROLES if r != "owner")
    return "".join(
        f'<option value="{r}"{" selected" if r == selected else ""}>{r}</option>' for r in roles
    )


def _added(added: Added | None) -> str:
    if added is None:
        return ""
    email = escape(added.email)
    if not added.password:
        return (
            f'<div class="notice"><b>{email} was added.</b> They sign in with the password they '
            "already have.</div>"
        )
    return (
        f'<div class="notice"><b>{email} was added</b> with a new account. Give them this '
        "temporary password now: it is stored only as a hash and will not be shown again."
        f'<code class="secret" id="new-password">{escape(added.password)}</code></div>'
    )


def _controls(member: dict[str, Any], project_id: str, viewer_role: str) -> str:
    user_id, role = str(member["user_id"]), str(member["role"])
    label = escape(str(member["email"]))
    change = (
        f'<form method="post" action="/dashboard/members/role" class="row" style="display:inline-flex">'
        f"{hidden_fields(project_id, user_id=user_id)}"
        f'<select name="role" aria-label="Role of {label}">{_role_options(viewer_role, role)}</select>'
        f'<button type="submit" class="secondary">Change role</button></form>'
    )
    remove = (
        f'<form method="post" action="/dashboard/members/remove" style="display:inline">'
        f"{hidden_fields(project_id, user_id=user_id)}"
        f'<button type="submit" class="danger" aria-label="Remove {label}" '
        "onclick=\"return confirm('Remove this member from the organisation?')\">Remove</button>"
        "</form>"
    )
    return f"{change} {remove}"


def _may_change(member: dict[str, Any], viewer_id: str, viewer_role: str) -> bool:
    if str(member["user_id"]) == viewer_id or viewer_role not in ("owner", "admin"):
        return False
    return viewer_role == "owner" or member["role"] != "owner"


def _row(member: dict[str, Any], project_id: str, viewer_id: str, viewer_role: str) -> str:
    you = ' <span class="muted">(you)</span>' if str(member["user_id"]) == viewer_id else ""
    controls = (
        _controls(member, project_id, viewer_role)
        if _may_change(member, viewer_id, viewer_role)
        else ""
    )
    return (
        f"<tr><td>{escape(str(member['email']))}{you}</td>"
        f'<td><span class="pill">{escape(str(member["role"]))}</span></td>'
        f"<td class=hide-sm>{escape(fmt.when(member.get('created_at')))}</td>"
        f"<td>{controls}</td></tr>"
    )


def render(
    members: list[dict[str, Any]],
    project_id: str,
    viewer_id: str,
    viewer_role: str,
    added: Added | None = None,
    error: str = "",
) -> str:
    problem = f'<div class="error">{escape(error)}</div>' if error else ""
    rows = "".join(_row(m, project_id, viewer_id, viewer_role) for m in members) or (
        '<tr><td colspan="4" class="muted">No members to show.</td></tr>'
    )
    add = (
        f"""<div class="panel"><form method="post" action="/dashboard/members" class="row">{hidden_fields(project_id)}
<div><label for="member-email">Email</label><input id="member-email" name="email" type="email" required
placeholder="teammate@example.com" autocomplete="off"></div>
<div><label for="member-role">Role</label><select id="member-role" name="role">{_role_options(viewer_role)}</select></div>
<button type="submit">Add member</button></form></div>"""
        if viewer_role in ("owner", "admin")
        else read_only_note("add, re-role or remove members")
    )
    return f"""<h1>Members</h1><p class="sub">Everyone in this project's organisation. Owners and
admins change its projects and its members; members only look. Only an owner grants or takes
away owner, nobody changes their own role, and an organisation always keeps an owner.</p>
{_added(added)}{problem}{add}
<div class="panel"><table><thead><tr><th>Email</th><th>Role</th><th class=hide-sm>Member since</th><th></th></tr>
</thead><tbody>{rows}</tbody></table></div>"""
