"""National caller reputation (public schema). Numbers are never stored here: only an HMAC of
the E.164 number under a national key (``key_id`` names the key, so keys can be rotated).

One row per (key, hashed number, regency, local day) with outcome counts; the lookup sums a
window of days. Rows older than the retention setting are deleted by a job.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, ForeignKey, Index, Integer, LargeBinary, String, Table

from app.db.base import PublicBase

REPUTATION_OUTCOMES = ("prank", "silent", "genuine")

caller_reputation = Table(
    "caller_reputation",
    PublicBase.metadata,
    Column("key_id", String(16), primary_key=True),
    Column("number_hash", LargeBinary(32), primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("day", Date, primary_key=True),
    *[Column(o, Integer, nullable=False, server_default="0", default=0) for o in REPUTATION_OUTCOMES],
    Index("ix_caller_reputation_day", "day"),
)
