"""Recovery after each fault: the fault-injection run of tests/fault (own PostgreSQL from
initdb, own Redis, a web process and a worker, intake at 50 calls/s), printing for each fault
how long it was down, how long until intake answered 2xx again, and how long after the
dependency was back the SLA breaches whose deadline fell in the outage were recorded
(target: <= 10 s). Its own servers: it never touches the developer's database or Redis."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit, log, quick

TARGETS = {f"{k}_sla_recorded_after_s": "<= 10" for k in ("postgresql", "redis", "worker", "web")}


def main() -> dict:
    from tests.fault.scenario import run

    with tempfile.TemporaryDirectory(prefix="siaga112-fault-bench-") as work:
        result = asyncio.run(run(Path(work), report=log, intake_s=14.0 if quick() else 24.0))
    figures: dict = {
        "keys": len(result.answers),
        "requests": len(result.statuses),
        "answers_other_than_2xx_503_conn": sum(s not in (200, 201, 503, "conn") for s in result.statuses),
        "failed_then_stored_on_retry": sum(v[0] not in (200, 201) for v in result.answers.values()),
        "rows": result.rows,
        "duplicates": result.rows - result.distinct,
        "sla_breaches": result.breaches,
        "sla_overdue_unrecorded": result.unbreached_overdue,
        "national_minus_recount": result.national_total - result.recount_total,
    }
    for f in result.faults:
        name = f.name.split()[0]
        figures[f"{name}_down_s"] = round(f.back_at - f.down_at, 2)
        figures[f"{name}_first_2xx_after_s"] = (
            None if f.first_ok_after_s is None else round(f.first_ok_after_s, 2)
        )
        figures[f"{name}_sla_recorded_after_s"] = (
            None if f.sla_recorded_after_s is None else round(f.sla_recorded_after_s, 2)
        )
    return figures


if __name__ == "__main__":
    emit(main())
