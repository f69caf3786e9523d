"""National rollups: per tenant, per local day counters in PUBLIC, so the ministry's dashboard
never has to read 514 tenant schemas.

Maintained from the tenant's own transaction by ``app.national.handlers``: each change appends a
delta row to ``national_pending`` (a plain INSERT, so concurrent intake never waits on a shared
counter row), and ``app.national.rollup.fold`` (arq cron, every few seconds) folds the deltas into
the day rows. Recomputed from the tenant's schema by ``app.national.rollup.rebuild_tenant``
(nightly, CLI).
``day`` is the calendar day in the tenant's time zone (WIB/WITA/WIT), not UTC.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, ForeignKey, Identity, Index, Integer, String, Table
from sqlalchemy.dialects.postgresql import JSONB

from app.calls.models import OUTCOMES
from app.db.base import PublicBase

UNCLASSIFIED = "unclassified"
CALL_OUTCOMES = (*OUTCOMES, UNCLASSIFIED)

# Upper bounds (seconds) of the answer-time histogram, roughly log-spaced; the last bucket is open.
# Fixed forever: rows from different days and tenants are summed bucket by bucket, so p50/p90 are
# read off the cumulative histogram (resolution = the bucket width, which is documented).
ANSWER_BUCKETS_S = (2, 3, 5, 7, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600)
N_BUCKETS = len(ANSWER_BUCKETS_S) + 1


def outcome_col(outcome: str | None) -> str:
    return f"calls_{outcome or UNCLASSIFIED}"


def bucket_col(i: int) -> str:
    return f"answer_b{i:02d}"


def bucket_index(seconds: float) -> int:
    for i, bound in enumerate(ANSWER_BUCKETS_S):
        if seconds <= bound:
            return i
    return len(ANSWER_BUCKETS_S)


OUTCOME_COLS = [outcome_col(o) for o in CALL_OUTCOMES]
BUCKET_COLS = [bucket_col(i) for i in range(N_BUCKETS)]
COUNTER_COLS = [
    "calls_total",
    *OUTCOME_COLS,
    "calls_answered",
    "answer_ms_sum",
    *BUCKET_COLS,
    "incidents",
    "dispatches",
    "handovers",
    "sla_met",
    "sla_breached",
]


def _counter(name: str) -> Column:
    kind = BigInteger if name == "answer_ms_sum" else Integer
    return Column(name, kind, nullable=False, server_default="0", default=0)


def _tenant_fk() -> Column:
    return Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)


national_daily = Table(
    "national_daily",
    PublicBase.metadata,
    _tenant_fk(),
    Column("day", Date, primary_key=True),
    *[_counter(c) for c in COUNTER_COLS],
    Index("ix_national_daily_day", "day"),
)

# Incidents by category code (codes are per tenant; the defaults share codes across tenants).
national_daily_category = Table(
    "national_daily_category",
    PublicBase.metadata,
    _tenant_fk(),
    Column("day", Date, primary_key=True),
    Column("category_code", String(40), primary_key=True),
    _counter("incidents"),
    Index("ix_national_daily_category_day", "day"),  # the dashboard reads a date range of all tenants
)

# Dispatches by OPD type (damkar, bpbd, ambulans …).
national_daily_opd = Table(
    "national_daily_opd",
    PublicBase.metadata,
    _tenant_fk(),
    Column("day", Date, primary_key=True),
    Column("opd_type", String(16), primary_key=True),
    _counter("dispatches"),
    Index("ix_national_daily_opd_day", "day"),
)

# Calls and answer times by the call's channel (voice, sms, whatsapp, app, walk_in): text-to-112
# conversations are calls with channel sms/whatsapp, counted in national_daily too and split here.
CHANNEL_COLS = ["calls_total", "calls_answered", "answer_ms_sum", *BUCKET_COLS]
national_daily_channel = Table(
    "national_daily_channel",
    PublicBase.metadata,
    _tenant_fk(),
    Column("day", Date, primary_key=True),
    Column("channel", String(8), primary_key=True),
    *[_counter(c) for c in CHANNEL_COLS],
    Index("ix_national_daily_channel_day", "day"),
)

# Append-only deltas not folded yet. kind: "daily" (key "") | "category" (key = category code) |
# "opd" (key = OPD type) | "channel" (key = call channel, deltas over CHANNEL_COLS); deltas: {counter column: n}. No foreign key on purpose: the FK check
# would lock the tenant's registry row in every intake transaction; the fold drops deltas of a
# tenant that no longer exists.
national_pending = Table(
    "national_pending",
    PublicBase.metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("tenant_id", Integer, nullable=False),
    Column("day", Date, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("key", String(40), nullable=False, server_default=""),
    Column("deltas", JSONB, nullable=False),
)

ROLLUP_TABLES = (national_daily, national_daily_category, national_daily_opd, national_daily_channel)
