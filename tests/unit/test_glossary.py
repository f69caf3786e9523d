"""Every page speaks Bahasa Indonesia: dates through the glossary (strftime's month and day names
are English whatever the page's language), and no English UI word in a template's visible text."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

from app import glossary
from app.config import PROJECT_ROOT

TEMPLATES = sorted((PROJECT_ROOT / "templates").rglob("*.html"))
# English words a page must not show. Loanwords Indonesian UIs use as they are (status, admin,
# email, filter, reset, SSO's "Single Sign-On") are not listed.
ENGLISH = {
    "submit", "cancel", "save", "delete", "edit", "search", "loading", "error", "logout", "password",
    "settings", "dashboard", "back", "next", "close", "previous", "send", "update", "create",
    "remove", "confirm", "success", "failed", "warning", "welcome", "home", "help", "name", "date",
    "phone", "address", "description", "report", "user", "users", "open", "closed", "new", "add",
    "view", "details", "select", "choose", "upload", "download", "yes", "register", "please",
    "required", "invalid", "optional", "apply", "clear", "all", "none", "total", "today", "week",
    "month", "year", "page", "the", "and", "your", "you", "this", "that", "with",
}  # fmt: skip


def _visible_text(html: str) -> str:
    html = re.sub(r"{#.*?#}|{%.*?%}|{{.*?}}", " ", html, flags=re.S)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    shown = " ".join(re.findall(r'(?:placeholder|title|aria-label|alt)="([^"]*)"', html))
    return re.sub(r"<[^>]+>", " ", html) + " " + shown


def test_dates_read_in_indonesian():
    assert glossary.day(date(2026, 12, 3)) == "3 Des 2026"
    assert glossary.day(date(2025, 5, 17)) == "17 Mei 2025"
    assert glossary.day(None) == "–"


def test_local_time_names_months_and_days_in_indonesian():
    """The caller history said '04 Dec 05:21': local_time's formats go through the glossary too."""
    from app.web.templating import local_time

    at = datetime(2026, 12, 3, 22, 21, tzinfo=UTC)  # 4 Dec 05:21 in Jakarta, a Friday
    assert local_time(at, fmt="%d %b %H:%M") == "04 Des 05:21"
    assert local_time(at, fmt="%A, %d %B %Y") == "Jumat, 04 Desember 2026"
    assert local_time(at, fmt="100%% %a") == "100% Jum"
    assert "Dec" not in local_time(at)


def test_no_template_formats_a_month_or_day_name_with_strftime():
    named = re.compile(r"strftime\([^)]*%[aAbBp]")
    offenders = [str(p.relative_to(PROJECT_ROOT)) for p in TEMPLATES if named.search(p.read_text())]
    assert offenders == [], "use the |day filter (app/glossary.py) instead of %b/%B/%a/%A"


def test_no_english_ui_words_in_templates():
    found = {
        (str(p.relative_to(PROJECT_ROOT)), word)
        for p in TEMPLATES
        for word in re.findall(r"[A-Za-z]+", _visible_text(p.read_text()))
        if word.lower() in ENGLISH
    }
    assert sorted(found) == []


def test_the_template_scan_sees_text(tmp_path: Path):
    """The scan must find an English word where one is (or the test above could never fail)."""
    sample = '<p>{{ x }} Please <b>Save</b></p><input placeholder="Search">{% if y %}Cancel{% endif %}'
    words = {w.lower() for w in re.findall(r"[A-Za-z]+", _visible_text(sample))}
    assert {"please", "save", "search", "cancel"} <= words


def test_no_fragment_leaves_focus_to_htmx():
    """htmx focuses a swapped-in [autofocus] after settling, without preventScroll: it scrolled the
    console away from a refused field and from "Panggilan masuk". Fragments mark data-autofocus and
    the page script focuses it (app/static/js/console.js)."""
    bare = re.compile(r"(?<![-\w])autofocus\b")
    fragments = [p for p in TEMPLATES if p.name.startswith("_")]
    assert fragments
    offenders = [str(p.relative_to(PROJECT_ROOT)) for p in fragments if bare.search(p.read_text())]
    assert offenders == []
    assert bare.search("<select required autofocus>") and not bare.search("<select data-autofocus>")
