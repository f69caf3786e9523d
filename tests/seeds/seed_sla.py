from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from app.sla.models import SlaClock, SlaPolicy


async def seed(session, ids: dict, marker: str) -> None:
    ids["policy"] = (
        await session.execute(
            insert(SlaPolicy)
            .values(
                scope=f"P2/C{ids['category']}",
                priority=2,
                category_id=ids["category"],
                answer_s=15,
                dispatch_s=120,
                acknowledge_s=300,
                arrival_s=600,
                resolution_s=7200,
                warning_pct=80,
                escalation_delay_s=300,
            )
            .returning(SlaPolicy.id)
        )
    ).scalar_one()
    t0 = datetime.now(UTC)
    ids["clock"] = (
        await session.execute(
            insert(SlaClock)
            .values(
                key=f"acknowledge:dispatch:{ids['dispatch']}",
                kind="acknowledge",
                subject="dispatch",
                subject_id=ids["dispatch"],
                dispatch_id=ids["dispatch"],
                incident_id=ids["incident"],
                opd_id=ids["opd"],
                category_id=ids["category"],
                priority=1,
                policy_id=ids["policy"],
                target_s=300,
                warning_pct=80,
                escalation_delay_s=300,
                started_at=t0,
                warn_at=t0 + timedelta(seconds=240),
                deadline=t0 + timedelta(seconds=300),
                escalate_at=t0 + timedelta(seconds=600),
                next_due_at=None,
                escalation_level=0,
                stopped_at=t0 + timedelta(seconds=60),
                close_reason="done",
                actual_ms=60_000,
                overrun_ms=-240_000,
                met=True,
            )
            .returning(SlaClock.id)
        )
    ).scalar_one()
