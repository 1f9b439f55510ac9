"""The page chrome every dashboard page shares: header, navigation, project picker, styles."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from starlette.responses import HTMLResponse

NAV = (
    ("", "Overview"),
    ("/requests", "Requests"),
    ("/features", "Features"),
    ("/budgets", "Budgets & limits"),
    ("/cache", "Cache"),
    ("/keys", "API keys"),
    ("/providers", "Providers"),
    ("/members", "Members"),
    ("/activity", "Activity"),
    ("/account", "Account"),
)
# Without a project every page but the signed-in user's own has nothing to show.
NAV_WITHOUT_PROJECTS = (("/account", "Account"),)

STYLE = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",
Arial,sans-serif;color:#0f172a;background:#f4f6fb}
a{color:#4338ca;text-decoration:none}a:hover{text-decoration:underline}
header.top{display:flex;align-items:center;gap:16px;padding:12px 24px;background:#0f172a;color:#e2e8f0}
header.top .brand{font-weight:700;font-size:16px;color:#fff;letter-spacing:.3px}
header.top .brand b{color:#a5b4fc}
header.top .spacer{flex:1}
header.top select{background:#1e293b;color:#e2e8f0;border:1px solid #334155;border-radius:6px;padding:4px 8px}
header.top .who{color:#94a3b8;font-size:13px}
header.top button{background:transparent;color:#cbd5e1;border:1px solid #334155;border-radius:6px;
padding:4px 10px;cursor:pointer}
nav.tabs{display:flex;gap:4px;padding:0 24px;background:#fff;border-bottom:1px solid #e2e8f0;overflow-x:auto}
nav.tabs a{padding:12px 14px;color:#475569;border-bottom:2px solid transparent;white-space:nowrap}
nav.tabs a.on{color:#4338ca;border-bottom-color:#4338ca;font-weight:600}
main{max-width:1200px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:0 0 12px}
.sub{color:#64748b;margin:0 0 20px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:16px;margin-bottom:20px}
.card,.panel{background:#fff;border:1px solid #e2e8f0;border-radius:10px;padding:16px}
.panel{margin-bottom:20px;overflow-x:auto}
.card .label{color:#64748b;font-size:12px;text-transform:uppercase;letter-spacing:.5px}
.card .value{font-size:24px;font-weight:650;margin-top:4px;font-variant-numeric:tabular-nums}
.card .hint{color:#94a3b8;font-size:12px}
.card.savings{background:linear-gradient(135deg,#4338ca,#6366f1);color:#fff;border:0}
.card.savings .label,.card.savings .hint{color:#c7d2fe}
table{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:8px 10px;text-align:left;border-bottom:1px solid #eef2f7;white-space:nowrap}
th{color:#64748b;font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.4px;background:#f8fafc}
td.num,th.num{text-align:right}
tfoot td{font-weight:700;border-top:2px solid #e2e8f0}
tr:hover td{background:#fafbff}
.tag{display:inline-block;background:#eef2ff;color:#3730a3;border-radius:4px;padding:0 6px;margin:1px;font-size:12px}
.pill{display:inline-block;border-radius:999px;padding:1px 8px;font-size:12px;background:#f1f5f9;color:#334155}
.pill.hit{background:#dcfce7;color:#166534}.pill.err{background:#fee2e2;color:#991b1b}
.pill.miss{background:#f1f5f9;color:#475569}
form.filters{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;align-items:end}
label{display:block;font-size:12px;color:#475569;font-weight:600}
input,select{width:100%;padding:7px 9px;border:1px solid #cbd5e1;border-radius:6px;font:inherit;background:#fff}
button,.button{display:inline-block;background:#4338ca;color:#fff;border:0;border-radius:6px;padding:8px 14px;
font:inherit;font-weight:600;cursor:pointer;text-decoration:none}
button.secondary{background:#fff;color:#334155;border:1px solid #cbd5e1}
button.danger{background:#dc2626}
.row{display:flex;gap:10px;align-items:end;flex-wrap:wrap}
.row>*{flex:1;min-width:140px}.row>button,.row>.button{flex:0 0 auto}
.notice{background:#ecfdf5;border:1px solid #a7f3d0;color:#065f46;padding:12px 14px;border-radius:8px;margin-bottom:16px}
.error{background:#fef2f2;border:1px solid #fecaca;color:#991b1b;padding:12px 14px;border-radius:8px;margin-bottom:16px}
.secret{font-family:ui-monospace,Menlo,Consolas,monospace;background:#0f172a;color:#a5f3fc;padding:10px 12px;
border-radius:6px;word-break:break-all;display:block;margin-top:6px}
.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.muted{color:#94a3b8}
.figure{margin:0}.chart{width:100%;height:auto;display:block}
.chart .grid{stroke:#eef2f7}.chart .baseline{stroke:#cbd5e1}
.chart .axis{fill:#64748b;font-size:12px}
td.wrap{white-space:normal;min-width:160px}
.legend{display:flex;flex-wrap:wrap;gap:12px;margin-top:8px;font-size:12px;color:#475569}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.pager{display:flex;justify-content:space-between;margin-top:12px}
dl.receipt{display:grid;grid-template-columns:max-content 1fr;gap:6px 24px;margin:0}
dl.receipt dt{color:#64748b}dl.receipt dd{margin:0;font-variant-numeric:tabular-nums}
.stack label{margin-top:12px}.stack button{margin-top:16px}
.login{max-width:380px;margin:10vh auto;background:#fff;border:1px solid #e2e8f0;border-radius:12px;padding:28px}
.login h1{margin-bottom:16px}.login label{margin-top:12px}.login button{width:100%;margin-top:18px}
@media (max-width:640px){
 header.top{flex-wrap:wrap;padding:10px 14px;gap:8px}header.top .who{display:none}
 nav.tabs{padding:0 8px}main{padding:14px}
 .cards{grid-template-columns:1fr 1fr;gap:10px}.card .value{font-size:19px}
 th,td{padding:6px 8px}.hide-sm{display:none}
 .chart{min-width:520px}.chart .axis{font-size:15px}
}
"""


def href(path: str, project_id: str | None, **params: str | None) -> str:
    query = {k: v for k, v in {"project": project_id, **params}.items() if v not in (None, "")}
    suffix = f"?{urlencode(query)}" if query else ""
    return f"/dashboard{path}{suffix}"


def page(
    title: str,
    body: str,
    *,
    current: str,
    email: str,
    projects: list[dict[str, str]],
    project_id: str,
    status: int = 200,
) -> HTMLResponse:
    options = "".join(
        f'<option value="{escape(p["id"])}"{" selected" if p["id"] == project_id else ""}>'
        f"{escape(p['name'])}</option>"
        for p in projects
    )
    tabs = "".join(
        f'<a href="{escape(href(path, project_id))}"{" class=on" if path == current else ""}>'
        f"{label}</a>"
        for path, label in (NAV if projects else NAV_WITHOUT_PROJECTS)
    )
    picker = (
        f'<form method="get" action="/dashboard{escape(current)}"><select name="project" '
        f'aria-label="Project" onchange="this.form.submit()">{options}</select></form>'
        if projects
        else ""
    )
    html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{escape(title)} · Prism</title><style>{STYLE}</style></head><body>
<header class="top"><span class="brand">◆ <b>Prism</b></span>
{picker}
<span class="spacer"></span><span class="who">{escape(email)}</span>
<form method="post" action="/dashboard/logout"><button type="submit">Sign out</button></form>
</header><nav class="tabs">{tabs}</nav><main>{body}</main></body></html>"""
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def bare(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{escape(title)} · Prism</title><style>{STYLE}</style></head><body>{body}</body></html>"""
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def read_only_note(what: str) -> str:
    """Shown to a member in place of the forms they may not use (context.py refuses them too)."""
    return (
        f'<div class="panel muted">Only an owner or admin of this organisation can {what}; '
        "your role is member.</div>"
    )


def hidden_fields(project_id: str, **fields: str) -> str:
    """The hidden inputs every dashboard form posts: its project, then `fields`."""
    extra = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items()
    )
    return f'<input type="hidden" name="project" value="{escape(project_id)}">{extra}'
