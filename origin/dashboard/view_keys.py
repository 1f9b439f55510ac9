"""API keys (created here, shown once, revoked here) and provider keys (added and removed here;
only a name and the last four characters ever come back)."""

from __future__ import annotations

from html import escape
from typing import Any

from origin.dashboard import fmt
from origin.dashboard.layout import hidden_fields, read_only_note
from origin.providers.registry import PROVIDERS


def render_keys(
    keys: list[dict[str, Any]],
    project_id: str,
    created: str = "",
    error: str = "",
    can_manage: bool = True,
) -> str:
    shown = (
        f'<div class="notice"><b>Your new API key.</b> Copy it now: it is stored only as a hash and '
        f'will not be shown again.<code class="secret" id="new-key">{escape(created)}</code></div>'
        if created
        else ""
    )
    problem = f'<div class="error">{escape(error)}</div>' if error else ""
    rows = (
        "".join(
            f"<tr><td>{escape(str(k.get('name') or '—'))}</td><td class=mono>{escape(str(k['prefix']))}…</td>"
            f"<td class=hide-sm>{escape(fmt.when(k.get('created_at')))}</td>"
            f"<td>{_state(k)}</td>"
            f"<td>{_revoke(project_id, str(k['id']), _label(k)) if can_manage and not k.get('revoked_at') else ''}</td></tr>"
            for k in keys
        )
        or '<tr><td colspan="5" class="muted">No API keys yet.</td></tr>'
    )
    create = (
        f"""<div class="panel"><form method="post" action="/dashboard/keys" class="row">{hidden_fields(project_id)}
<div><label for="key-name">New key name</label><input id="key-name" name="name" placeholder="production"></div>
<button type="submit">Create key</button></form></div>"""
        if can_manage
        else read_only_note("create or revoke API keys")
    )
    return f"""<h1>API keys</h1><p class="sub">Keys your applications send to Prism as
<span class=mono>Authorization: Bearer prism_sk_…</span>.</p>{shown}{problem}
{create}
<div class="panel"><table><thead><tr><th>Name</th><th>Key</th><th class=hide-sm>Created</th><th>Status</th><th></th></tr>
</thead><tbody>{rows}</tbody></table></div>"""


def _state(key: dict[str, Any]) -> str:
    if key.get("revoked_at"):
        return f'<span class="pill err">revoked {escape(fmt.when(key["revoked_at"])[:10])}</span>'
    return '<span class="pill hit">active</span>'


def _label(key: dict[str, Any]) -> str:
    return str(key.get("name") or key["prefix"])


def _revoke(project_id: str, key_id: str, label: str) -> str:
    return (
        f'<form method="post" action="/dashboard/keys/revoke" style="display:inline">{hidden_fields(project_id)}'
        f'<input type="hidden" name="key_id" value="{escape(key_id)}">'
        f'<button type="submit" class="danger" aria-label="Revoke {escape(label)}" '
        "onclick=\"return confirm('Revoke this key? Requests using it will be refused.')\">Revoke</button></form>"
    )


def render_providers(
    keys: list[dict[str, Any]],
    project_id: str,
    notice: str = "",
    error: str = "",
    can_manage: bool = True,
) -> str:
    banner = f'<div class="notice">{escape(notice)}</div>' if notice else ""
    problem = f'<div class="error">{escape(error)}</div>' if error else ""
    options = "".join(
        f'<option value="{escape(p)}">{escape(p)}</option>' for p in sorted(PROVIDERS)
    )
    rows = (
        "".join(
            f"<tr><td>{escape(str(k['name']))}</td><td>{escape(str(k['provider']))}</td>"
            f"<td class=mono>••••{escape(str(k.get('key_hint') or ''))}</td>"
            f"<td class=hide-sm>{escape(str(k.get('base_url') or 'default'))}</td>"
            f"<td class=hide-sm>{escape(fmt.when(k.get('created_at')))}</td>"
            f"<td>{_remove(project_id, str(k['name'])) if can_manage else ''}</td></tr>"
            for k in keys
        )
        or '<tr><td colspan="6" class="muted">No provider keys yet. Add one above to call providers with your own key.</td></tr>'
    )
    add = (
        f"""<div class="panel"><form method="post" action="/dashboard/providers" class="filters">{hidden_fields(project_id)}
<div><label for="provider">Provider</label><select id="provider" name="provider">{options}</select></div>
<div><label for="pname">Name</label><input id="pname" name="name" placeholder="same as provider"></div>
<div><label for="base_url">Custom base URL</label><input id="base_url" name="base_url" placeholder="optional"></div>
<div><label for="api_key">API key</label><input id="api_key" name="api_key" type="password" autocomplete="off" required></div>
<div class="row"><button type="submit">Add key</button></div></form></div>"""
        if can_manage
        else read_only_note("add or remove provider keys")
    )
    return f"""<h1>Providers</h1><p class="sub">Your own provider keys (BYOK), encrypted at rest.
A key is never shown again: only its name and last four characters.</p>{banner}{problem}
{add}
<div class="panel"><table><thead><tr><th>Name</th><th>Provider</th><th>Key</th><th class=hide-sm>Base URL</th>
<th class=hide-sm>Added</th><th></th></tr></thead><tbody>{rows}</tbody></table></div>"""


def _remove(project_id: str, name: str) -> str:
    return (
        f'<form method="post" action="/dashboard/providers/remove" style="display:inline">{hidden_fields(project_id)}'
        f'<input type="hidden" name="name" value="{escape(name)}">'
        f'<button type="submit" class="secondary" aria-label="Remove {escape(name)}">Remove</button></form>'
    )


def render_login(error: str = "", next_path: str = "") -> str:
    problem = f'<div class="error">{escape(error)}</div>' if error else ""
    return f"""<div class="login"><div style="font-weight:700;color:#4338ca;margin-bottom:8px">◆ Prism</div>
<h1>Sign in</h1>{problem}<form method="post" action="/dashboard/login">
<input type="hidden" name="next" value="{escape(next_path)}">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required>
<label for="password">Password</label><input id="password" name="password" type="password"
autocomplete="current-password" required><button type="submit">Sign in</button></form></div>"""
