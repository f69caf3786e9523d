"""The SLA policy editor's rules: durations as people type them, and a form that can never
switch a measurement off by leaving a box empty."""

from __future__ import annotations

import pytest

from app.sla.policies import TARGET_FIELDS, parse_duration, policy_form_problems


@pytest.mark.parametrize(
    "text,seconds",
    [("15", 15), ("15 dtk", 15), ("2 mnt", 120), ("1 jam 30 mnt", 5400), ("1h30m", 5400), ("", None)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_an_unknown_duration_is_refused():
    with pytest.raises(ValueError):
        parse_duration("sebentar")


def _form(**over) -> dict[str, str]:
    form = {"priority": "1", "category_id": "", "warning_pct": "80", "escalation_delay_s": "5 mnt"}
    form |= {name: "5 mnt" for name in TARGET_FIELDS}
    return form | over


def test_a_complete_form_is_clean():
    errors, clean = policy_form_problems(_form())
    assert errors == {} and clean["priority"] == 1 and clean["policy_id"] is None
    assert all(clean[name] == 300 for name in TARGET_FIELDS)


def test_an_empty_target_is_a_problem_unless_not_measured_is_ticked():
    name = TARGET_FIELDS[1]
    errors, _ = policy_form_problems(_form(**{name: ""}))
    assert name in errors
    errors, clean = policy_form_problems(_form(**{name: "", f"{name}_off": "1"}))
    assert name not in errors and clean[name] is None
    errors, _ = policy_form_problems(_form(**{f"{name}_off": "1"}))  # filled AND ticked
    assert name in errors


@pytest.mark.parametrize(
    "field,value",
    [
        ("priority", "5"),
        ("priority", ""),
        ("warning_pct", "100"),
        ("category_id", "x"),
        ("escalation_delay_s", ""),
    ],
)
def test_each_bad_field_is_named(field, value):
    errors, _ = policy_form_problems(_form(**{field: value}))
    assert field in errors
