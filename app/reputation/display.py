"""What the console shows of a caller's national record, and the answering order it suggests."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.reputation import service


async def annotate(session: AsyncSession, rows: list[dict]) -> None:
    """Add ``national`` (record, summary, measure) to each ringing row of app.telephony (in place).
    ``prank_count`` (this regency's 30-day prank/silent count) is the local record."""
    cache: dict[str, dict] = {}
    for row in rows:
        number = row["call"].caller_number
        if number not in cache:
            record = await service.national_record(session, number)
            cache[number] = {
                "record": record,
                "summary": service.summary(record),
                "measure": service.suggest(record, row.get("prank_count", 0)),
            }
        row["national"] = cache[number]


def answering_order(rows: list[dict]) -> list[dict]:
    """When several calls ring, a caller at step 2+ of the scale is placed after the others (stable
    otherwise: oldest first). Only the ORDER changes; every call still rings and can be answered."""
    return sorted(rows, key=lambda r: "national" in r and r["national"]["measure"].level >= 2)
