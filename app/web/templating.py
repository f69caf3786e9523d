"""One Jinja2 environment for every page, with the helpers templates need."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates

from app import glossary
from app.calls.phone import NUMBER_UNAVAILABLE
from app.config import PROJECT_ROOT
from app.web.csrf import csrf_token

templates = Jinja2Templates(directory=str(PROJECT_ROOT / "templates"))


def local_time(value: datetime | None, tz: str = "Asia/Jakarta", fmt: str = "%d %b %Y %H:%M:%S") -> str:
    if value is None:
        return "–"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return glossary.strftime(value.astimezone(ZoneInfo(tz)), fmt)


def elapsed(since: datetime | None, until: datetime | None = None) -> str:
    if since is None:
        return "–"
    end = until or datetime.now(UTC)
    seconds = max(0, int((end - since).total_seconds()))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def caller(call) -> str:
    """The caller's number, or "nomor tidak tersedia" with what the network delivered."""
    number = getattr(call, "caller_number", None)
    if number:
        return number
    raw = getattr(call, "caller_number_raw", None)
    return f"{NUMBER_UNAVAILABLE.capitalize()} ({raw})" if raw else NUMBER_UNAVAILABLE.capitalize()


templates.env.globals["csrf_token"] = csrf_token
templates.env.filters["local_time"] = local_time
templates.env.filters["elapsed"] = elapsed
templates.env.filters["caller"] = caller
templates.env.filters["label"] = glossary.label
templates.env.filters["dur"] = glossary.duration
templates.env.filters["day"] = glossary.day
templates.env.filters["audit_action"] = glossary.audit_action
templates.env.globals["audit_change"] = glossary.audit_change
templates.env.globals["glossary_items"] = lambda vocabulary: list(glossary.VOCABULARIES[vocabulary].items())


def render(request: Request, name: str, context: dict | None = None, status_code: int = 200, headers=None):
    ctx = {
        "request": request,
        "principal": getattr(request.state, "principal", None),
        "tenant": getattr(request.state, "tenant", None),
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, name, ctx, status_code=status_code, headers=headers)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"
