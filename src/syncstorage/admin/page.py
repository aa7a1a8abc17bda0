"""What every admin page shares: the layout, escaping, bounded form
parsing and the answers (HTML, redirects, errors).

Everything is rendered here on the server with every value escaped; the
pages need no script at all, and the Content-Security-Policy says so. Forms
post to this origin only.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
MAX_FORM_BYTES = 4096  # the largest form here is a token and a CSRF value
MAX_FORM_FIELDS = 8
FORM_TYPE = "application/x-www-form-urlencoded"

# The sections, in the order of the navigation bar: (path below admin_path, label)
SECTIONS = [("/users", "Users"), ("/nodes", "Nodes"), ("/activity", "Activity"), ("/operations", "Operations")]
ACCOUNTS_SECTION = ("/accounts", "Accounts")  # with accounts_enabled, after Users


class Refusal(Exception):
    """A request answered with an error page: status, one-line reason (also
    logged as the request's reason)."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form body of at most MAX_FORM_BYTES and MAX_FORM_FIELDS
    fields (the first of repeated names counts), else a Refusal."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM_TYPE:
        raise Refusal(415, f"admin form is not {FORM_TYPE}")
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_FORM_BYTES:
        raise Refusal(413, f"admin form larger than {MAX_FORM_BYTES} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise Refusal(413, f"admin form larger than {MAX_FORM_BYTES} bytes")
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, errors="strict")
    except ValueError:  # not ASCII, bad UTF-8 in an escape, too many fields
        raise Refusal(400, "malformed admin form") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


def html_response(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type="text/html; charset=utf-8", headers={**SECURITY_HEADERS, **(headers or {})})


def redirect(url: str, **query: str) -> Response:
    """303: after a form, the browser GETs the page (no re-post on reload)."""
    target = url + ("?" + urlencode(query) if query else "")
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)


class Layout:
    """The frame of every page: title, navigation, sign-out form."""

    def __init__(self, base: str, *, accounts: bool = False) -> None:
        self.base = base  # public path prefix + admin_path, escaped where used
        self.sections = [*SECTIONS[:1], ACCOUNTS_SECTION, *SECTIONS[1:]] if accounts else SECTIONS

    def url(self, path: str) -> str:
        return self.base + path

    def render(self, title: str, body: str, *, current: str | None = None, csrf: str | None = None) -> str:
        base = escape(self.base)
        nav = ""
        if csrf is not None:  # signed in
            links = "".join(
                f'<li><a href="{base}{path}"{_CURRENT if path == current else ""}>{label}</a></li>'
                for path, label in self.sections
            )
            nav = (
                f'<nav aria-label="Sections"><ul>{links}</ul>'
                f'<form method="post" action="{base}/sign-out" class="sign-out">{csrf_field(csrf)}'
                '<button type="submit">Sign out</button></form></nav>'
            )
        return _LAYOUT.format(title=escape(title), base=base, nav=nav, body=body)


def csrf_field(csrf: str) -> str:
    return f'<input type="hidden" name="csrf" value="{escape(csrf)}">'


def action_form(layout: Layout, path: str, csrf: str, label: str, fields: dict[str, str] | None = None, *, danger: bool = False) -> str:
    """A one-button form that POSTs an action, with the CSRF token."""
    hidden = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in (fields or {}).items())
    css = ' class="danger"' if danger else ""
    return (
        f'<form method="post" action="{escape(layout.url(path))}" class="inline">{csrf_field(csrf)}{hidden}'
        f"<button type=\"submit\"{css}>{escape(label)}</button></form>"
    )


def table(caption: str, headers: list[str], rows: list[list[str]], *, empty: str = "none") -> str:
    """An HTML table; cells are HTML already (escape values before)."""
    if not rows:
        return f"<p>{escape(caption)}: {escape(empty)}.</p>"
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    # data-label: on a phone each row is a card of "header: value" lines (admin.css)
    labels = [f' data-label="{escape(h)}"' for h in headers]
    body = "".join(
        "<tr>" + "".join(f"<td{label}>{cell}</td>" for label, cell in zip(labels, row)) + "</tr>" for row in rows
    )
    return (
        f'<div class="scroll" role="region" aria-label="{escape(caption)}" tabindex="0"><table>'
        f"<caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def notice(text: str | None) -> str:
    return f'<p class="notice" role="status">{escape(text)}</p>' if text else ""


_CURRENT = ' aria-current="page"'

_LAYOUT = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title} · Sync server admin</title>
<link rel="stylesheet" href="{base}/admin.css">
</head>
<body>
<header><p class="brand">Sync server admin</p>{nav}</header>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"""
