"""Fault injection (marker ``fault``, run by CI): a whole deployment on this machine (own
PostgreSQL from initdb, own Redis, a web process and a worker) takes calls at 50/s while each
piece is killed and restarted. See tests/fault/scenario.py for what is checked."""

from __future__ import annotations

import pytest

from tests.fault.scenario import run

pytestmark = pytest.mark.fault
SLA_BOUND_S = 40


async def test_no_call_lost_no_silent_failure_through_faults(tmp_path):
    result = await run(tmp_path)
    statuses = result.statuses
    odd = sorted({s for s in statuses if s not in (200, 201, 503, "conn")}, key=str)
    assert not odd, f"answers other than 2xx/503/connection error: {odd}"
    # Some requests really met the faults (the run is not vacuous) and most went through.
    assert any(s in (503, "conn") for s in statuses), "no fault was visible to clients"
    assert sum(s == 201 for s in statuses) > 0.5 * len(result.answers)
    # Every key was stored exactly once (2xx ones at once, the others on retry with their key).
    assert all(v[-1] in (200, 201) for v in result.answers.values()), "a key never got a 2xx"
    assert result.rows == result.distinct == len(result.answers)
    # Every call has its answer clock, and (nobody answers in this run) every one is breached.
    assert result.calls_without_clock == 0
    assert result.unbreached_overdue == 0
    assert result.clock_states == {"answer/breached": result.rows}, result.clock_states
    assert result.breaches == result.rows
    # ... and soon after each recovery. The target is 10 s (bench/fault_recovery.py reports it);
    # asserted here is one reconciliation interval plus margin, because on a shared 2-core CI
    # machine the worker itself may run jobs seconds late under load. What this still catches:
    # a worker that died, or breaches left to a much later reconciliation.
    for f in result.faults:
        print(f"{f.name}: first 2xx after {f.first_ok_after_s}, SLA recorded after {f.sla_recorded_after_s}")
        assert f.sla_recorded_after_s is None or f.sla_recorded_after_s <= SLA_BOUND_S, (
            f.name,
            f.sla_recorded_after_s,
        )
    assert result.national_total == result.recount_total == result.rows
