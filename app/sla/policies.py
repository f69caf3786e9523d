"""SLA policies: defaults, most-specific-match selection, and validation of the admin form.

Selection works like helpdesk SLA engines: the policy for (priority, category) wins over the
one for (priority, any category); if a tenant has neither, the built-in defaults apply, so a
clock always gets a target.
"""

from __future__ import annotations

import re

from sqlalchemy import insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app import glossary
from app.bounds import ascii_digits, ascii_int
from app.sla.models import CLOCK_KINDS, SlaPolicy, policy_scope

KIND_LABELS = {
    "answer": "Menjawab panggilan (dering → dijawab)",
    "dispatch": "Penugasan (dijawab → OPD pertama dikirim)",
    "acknowledge": "Konfirmasi OPD (dikirim → diterima OPD)",
    "arrival": "Tiba di lokasi (dikirim → di lokasi)",
    "resolution": "Penyelesaian (dikirim → selesai)",
}
KIND_SHORT = {
    "answer": "Jawab",
    "dispatch": "Penugasan",
    "acknowledge": "Konfirmasi OPD",
    "arrival": "Tiba di lokasi",
    "resolution": "Selesai",
}

# NENA: 90 % of calls answered within 15 s; reaction on scene within 10 minutes (Permen/NTPD rule of thumb).
_P1 = dict(
    answer_s=15,
    dispatch_s=120,
    acknowledge_s=300,
    arrival_s=600,
    resolution_s=7200,
    warning_pct=80,
    escalation_delay_s=300,
)
DEFAULT_POLICIES: dict[int, dict] = {
    1: _P1,
    2: dict(_P1),
    3: dict(
        _P1, dispatch_s=300, acknowledge_s=600, arrival_s=1800, resolution_s=14400, escalation_delay_s=600
    ),
    4: dict(
        _P1, dispatch_s=900, acknowledge_s=1800, arrival_s=3600, resolution_s=86400, escalation_delay_s=1800
    ),
}
TARGET_FIELDS = tuple(f"{k}_s" for k in CLOCK_KINDS)


async def seed_default_policies(conn: AsyncConnection) -> None:
    """Called by tenant provisioning (``conn`` already bound to the new tenant's schema)."""
    await conn.execute(
        insert(SlaPolicy),
        [
            dict(priority=p, category_id=None, scope=policy_scope(p, None), **v)
            for p, v in DEFAULT_POLICIES.items()
        ],
    )


async def select_policy(session: AsyncSession, priority: int, category_id: int | None) -> SlaPolicy:
    """Most specific match: (priority, category) → (priority, any) → built-in default (id None)."""
    stmt = (
        select(SlaPolicy)
        .where(
            SlaPolicy.priority == priority,
            or_(SlaPolicy.category_id == category_id, SlaPolicy.category_id.is_(None)),
        )
        .order_by(SlaPolicy.category_id.is_(None))
        .limit(1)
    )
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is not None:
        return found
    return SlaPolicy(id=None, priority=priority, category_id=None, **DEFAULT_POLICIES.get(priority, _P1))


async def list_policies(session: AsyncSession) -> list[SlaPolicy]:
    return list(
        (
            await session.execute(
                select(SlaPolicy).order_by(
                    SlaPolicy.priority, SlaPolicy.category_id.is_not(None), SlaPolicy.category_id
                )
            )
        ).scalars()
    )


_DURATION = re.compile(
    r"^\s*(?:(\d+)\s*j(?:am)?)?\s*(?:(\d+)\s*m(?:nt|enit)?)?\s*(?:(\d+)\s*d(?:tk|etik)?)?\s*$",
    re.I | re.ASCII,
)
_DURATION_EN = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*(?:(\d+)\s*s)?\s*$", re.I | re.ASCII)


def parse_duration(text: str) -> int | None:
    """'15' (seconds), '15 dtk'/'15d'/'15s', '2 mnt'/'2m', '1 jam 30 mnt'/'1j30m'/'1h30m' → seconds;
    '' → None. Raises ValueError."""
    text = (text or "").strip().lower()
    if not text:
        return None
    if ascii_digits(text):
        return int(text)
    for rx in (_DURATION, _DURATION_EN):
        m = rx.match(text)
        if m and any(m.groups()):
            h, mi, s = (int(g or 0) for g in m.groups())
            return h * 3600 + mi * 60 + s
    raise ValueError(text)


format_duration = glossary.duration  # '4 mnt 5 dtk': what pages show and the form reads back


def policy_form_problems(form: dict[str, str]) -> tuple[dict[str, str], dict]:
    """Validate the admin form: (errors by field, clean values). Durations accept '15 dtk', '2 mnt',
    '1 jam' (and '15d', '2m', '1j'); each target is a duration or explicitly "not measured"
    (``<field>_off``). ``policy_id`` names the row being edited (empty: a new row)."""
    errors: dict[str, str] = {}
    clean: dict = {}
    pid = (form.get("policy_id") or "").strip()
    clean["policy_id"] = ascii_int(pid) if 0 < len(pid) < 10 else None
    clean["priority"] = ascii_int(form.get("priority", ""))
    if clean["priority"] not in (1, 2, 3, 4):
        errors["priority"] = "Prioritas harus P1–P4"
    cat = (form.get("category_id") or "").strip()
    clean["category_id"] = ascii_int(cat) if len(cat) < 10 else None
    if cat and clean["category_id"] is None:
        errors["category_id"] = "Kategori tidak valid"
    for name in TARGET_FIELDS:
        off = bool(form.get(f"{name}_off"))
        try:
            value = parse_duration(form.get(name, ""))
        except ValueError:
            errors[name] = "Format durasi tidak dikenal (contoh: 15 dtk, 2 mnt, 1 jam 30 mnt)"
            continue
        # "Not measured" is a choice the admin makes, never what an empty box silently means.
        if value is None and not off:
            errors[name] = "Isi target, atau centang “tidak diukur”"
        elif value is not None and off:
            errors[name] = "Target diisi tetapi “tidak diukur” dicentang: pilih salah satu"
        elif value is not None and not 1 <= value <= 7 * 24 * 3600:
            errors[name] = "Harus antara 1 detik dan 7 hari"
        clean[name] = value
    if all(clean.get(n) is None for n in TARGET_FIELDS) and not any(n in errors for n in TARGET_FIELDS):
        errors["answer_s"] = "Isi paling sedikit satu target"
    try:
        clean["warning_pct"] = int(form.get("warning_pct", "").strip().rstrip("%"))
        if not 1 <= clean["warning_pct"] <= 99:
            raise ValueError
    except ValueError:
        errors["warning_pct"] = "Ambang peringatan harus 1–99 %"
    try:
        delay = parse_duration(form.get("escalation_delay_s", ""))
        if delay is None or not 1 <= delay <= 7 * 24 * 3600:
            raise ValueError
        clean["escalation_delay_s"] = delay
    except ValueError:
        errors["escalation_delay_s"] = "Jeda eskalasi wajib diisi (contoh: 5 mnt)"
    return errors, clean
