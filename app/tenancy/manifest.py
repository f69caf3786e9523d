"""Declarative regency manifests (tenants/*.toml): OPDs, categories → OPD routing, SLA overrides.

Applying is idempotent: the tenant is created if missing (its Kominfo status is only set on
creation, never overridden later), OPDs and categories are matched by ``code``, routing of each
listed category is made exactly the listed OPDs, SLA policies are matched by (priority,
category). Nothing the manifest does not mention is deleted. A second apply changes nothing and
writes no audit entry.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.admin.areas import ensure_kecamatan
from app.admin.service import check_webhook
from app.audit.service import record
from app.config import PROJECT_ROOT
from app.core.tenant import TIMEZONES
from app.db import uow
from app.db.database import Database
from app.dispatch.models import OPD_TYPES, Category, CategoryOpd, Opd
from app.sla.models import SlaPolicy, policy_scope
from app.sla.policies import DEFAULT_POLICIES
from app.tenancy.defaults import DEFAULT_CATEGORIES, DEFAULT_OPDS
from app.tenancy.models import Tenant
from app.tenancy.provision import NewTenant, provision_tenant
from app.tenancy.regions import Regency, regency

MANIFEST_DIR = PROJECT_ROOT / "tenants"
SLA_FIELDS = (
    "answer_s",
    "dispatch_s",
    "acknowledge_s",
    "arrival_s",
    "resolution_s",
    "warning_pct",
    "escalation_delay_s",
)
OPD_KEYS = {"code", "name", "type", "emergency_number", "escalation_contact", "webhook_url", "active"}
CATEGORY_KEYS = {"code", "name", "priority", "sort", "active", "opds"}


class ManifestError(ValueError):
    pass


@dataclass
class Manifest:
    path: Path
    region: Regency
    status: str
    launched: date | None
    opds: list[dict] = field(default_factory=list)
    categories: list[dict] = field(default_factory=list)
    sla: list[dict] = field(default_factory=list)
    map: dict = field(default_factory=dict)  # Tenant.map_* values from [tenant.map] (may be empty)

    @property
    def slug(self) -> str:
        return self.region.slug


@dataclass
class ApplyResult:
    slug: str
    created_tenant: bool = False
    changes: list[str] = field(default_factory=list)


def load(path: str | Path) -> Manifest:
    """Parse and check a manifest; every problem is reported at once with its location."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(f"{path}: {exc}") from exc
    problems: list[str] = []
    t = data.get("tenant") or {}
    reg = regency(str(t.get("region_code", "")))
    if reg is None:
        problems.append(f"[tenant].region_code {t.get('region_code')!r} is not a Kemendagri kab/kota code")
    status = t.get("status", "pending")
    if status not in ("pending", "verified", "active"):
        problems.append("[tenant].status must be pending, verified or active")
    launched = t.get("launched")
    if launched is not None and not isinstance(launched, date):
        problems.append("[tenant].launched must be a TOML date (2020-09-29)")
    if status == "active" and launched is None:
        problems.append("[tenant].launched is required when status is active")
    map_values = _check_map(t.get("map"), problems)
    opds, cats, slas = data.get("opd", []), data.get("category", []), data.get("sla", [])
    opd_codes: set[str] = set()
    for i, o in enumerate(opds):
        where = f"[[opd]] #{i + 1}"
        _check_coded(where, o, OPD_KEYS, opd_codes, problems)
        if o.get("type", "other") not in OPD_TYPES:
            problems.append(f"{where}: type {o.get('type')!r} not in {OPD_TYPES}")
        if o.get("webhook_url"):
            if msg := check_webhook(o["webhook_url"]):
                problems.append(f"{where}: {msg}")
    cat_codes: set[str] = set()
    known_opds = opd_codes | {o["code"] for o in DEFAULT_OPDS}
    for i, c in enumerate(cats):
        where = f"[[category]] #{i + 1}"
        _check_coded(where, c, CATEGORY_KEYS, cat_codes, problems)
        if c.get("priority", 2) not in (1, 2, 3, 4):
            problems.append(f"{where}: priority must be 1–4")
        for code in c.get("opds", []):
            if code not in known_opds:
                problems.append(f"{where}: routes to unknown OPD {code!r}")
    known_cats = cat_codes | {c[0] for c in DEFAULT_CATEGORIES}
    seen_sla = set()
    for i, s in enumerate(slas):
        where = f"[[sla]] #{i + 1}"
        if set(s) - set(SLA_FIELDS) - {"priority", "category"}:
            problems.append(
                f"{where}: unknown keys {sorted(set(s) - set(SLA_FIELDS) - {'priority', 'category'})}"
            )
        if s.get("priority") not in (1, 2, 3, 4):
            problems.append(f"{where}: priority must be 1–4")
        if s.get("category") is not None and s["category"] not in known_cats:
            problems.append(f"{where}: unknown category {s['category']!r}")
        for f in SLA_FIELDS:
            v = s.get(f)
            if v is not None and (not isinstance(v, int) or v <= 0 or (f == "warning_pct" and v > 99)):
                problems.append(
                    f"{where}: {f} must be a positive whole number (seconds; percent for warning_pct)"
                )
        key = (s.get("priority"), s.get("category"))
        if key in seen_sla:
            problems.append(f"{where}: duplicate policy for priority/category {key}")
        seen_sla.add(key)
    if problems:
        raise ManifestError(f"{path}:\n  " + "\n  ".join(problems))
    assert reg is not None  # an unknown region code is one of the problems above
    return Manifest(path, reg, status, launched, opds, cats, slas, map_values)


MAP_KEYS = {"center", "zoom", "tiles_url", "attribution"}


def _check_map(m, problems: list[str]) -> dict:
    """[tenant.map] center = [lat, lon], zoom = 13, optional tiles_url + attribution (mapview)."""
    if m is None:
        return {}
    if not isinstance(m, dict) or set(m) - MAP_KEYS:
        problems.append(f"[tenant.map] allows only {sorted(MAP_KEYS)}")
        return {}
    center, zoom = m.get("center"), m.get("zoom", 12)
    if not (
        isinstance(center, list)
        and len(center) == 2
        and all(isinstance(v, (int, float)) for v in center)
        and -11.5 <= center[0] <= 6.5
        and 94.5 <= center[1] <= 141.5
    ):
        problems.append("[tenant.map].center must be [lat, lon] inside Indonesia")
        return {}
    if not isinstance(zoom, int) or not 5 <= zoom <= 18:
        problems.append("[tenant.map].zoom must be a whole number 5–18")
    url = m.get("tiles_url")
    if url is not None and not (
        str(url).startswith("https://") and all(k in url for k in ("{z}", "{x}", "{y}"))
    ):
        problems.append("[tenant.map].tiles_url must be an https:// template with {z}, {x} and {y}")
    if url and not m.get("attribution"):
        problems.append("[tenant.map].attribution is required with tiles_url (licence credit)")
    return {
        "map_lat": float(center[0]),
        "map_lon": float(center[1]),
        "map_zoom": zoom,
        "map_tiles_url": url or None,
        "map_tiles_attribution": m.get("attribution") or None,
    }


def _check_coded(where: str, entry: dict, allowed: set[str], seen: set, problems: list[str]) -> None:
    """What an [[opd]] and a [[category]] entry share: known keys, a code and a name, codes unique."""
    if set(entry) - allowed:
        problems.append(f"{where}: unknown keys {sorted(set(entry) - allowed)}")
    if not entry.get("code") or not entry.get("name"):
        problems.append(f"{where}: code and name are required")
    if entry.get("code") in seen:
        problems.append(f"{where}: duplicate code {entry['code']!r}")
    seen.add(entry.get("code"))


def discover(directory: Path = MANIFEST_DIR) -> list[Path]:
    return sorted(directory.glob("*.toml"))


def _launch_instant(launched: date, tz: str) -> datetime:
    return datetime.combine(launched, time(0), tzinfo=ZoneInfo(TIMEZONES[tz])).astimezone(UTC)


async def _ensure_tenant(db: Database, m: Manifest) -> bool:
    async with db.public() as s:
        exists = (await s.execute(select(Tenant.id).where(Tenant.region_code == m.region.code))).scalar()
    if exists:
        return False
    r = m.region
    await provision_tenant(
        db.engine, NewTenant(r.slug, r.short_name, r.code, r.province, r.timezone, m.status)
    )
    now = datetime.now(UTC)
    launched = _launch_instant(m.launched, r.timezone) if m.launched else None
    async with db.public() as s:
        await s.execute(
            update(Tenant)
            .where(Tenant.region_code == r.code)
            .values(
                verified_at=(launched or now) if m.status in ("verified", "active") else None,
                activated_at=launched if m.status == "active" else None,
            )
        )
        await uow.commit(s)
    return True


def _set(obj, values: dict, changes: list[str], label: str) -> None:
    diff = {k: v for k, v in values.items() if getattr(obj, k) != v}
    for k, v in diff.items():
        setattr(obj, k, v)
    if diff:
        changes.append(f"{label}: {', '.join(sorted(diff))}")


def _upsert(
    s: AsyncSession,
    existing: dict,
    model,
    code: str,
    values: dict,
    changes: list[str],
    kind: str,
    **on_create,
) -> None:
    """Create the ``model`` row with this code, or set those of ``values`` that differ (each noted)."""
    obj = existing.get(code)
    if obj is None:
        existing[code] = obj = model(code=code, **values, **on_create)
        s.add(obj)
        changes.append(f"{kind} {code}: created")
    else:
        _set(obj, values, changes, f"{kind} {code}")


async def _apply_opds(s: AsyncSession, m: Manifest, changes: list[str]) -> dict[str, int]:
    existing = {o.code: o for o in (await s.execute(select(Opd))).scalars()}
    for row in m.opds:
        values = {
            "name": row["name"],
            "type": row.get("type", "other"),
            "emergency_number": row.get("emergency_number"),
            "escalation_contact": row.get("escalation_contact"),
            "webhook_url": row.get("webhook_url"),
            "is_active": row.get("active", True),
        }
        _upsert(s, existing, Opd, row["code"], values, changes, "opd")
    await s.flush()
    return {code: o.id for code, o in existing.items()}


async def _apply_categories(
    s: AsyncSession, m: Manifest, opd_ids: dict[str, int], changes: list[str]
) -> dict[str, int]:
    existing = {c.code: c for c in (await s.execute(select(Category))).scalars()}
    for row in m.categories:
        values = {
            "name": row["name"],
            "default_priority": row.get("priority", 2),
            "is_active": row.get("active", True),
        }
        if "sort" in row:
            values["sort_order"] = row["sort"]
        _upsert(
            s,
            existing,
            Category,
            row["code"],
            values,
            changes,
            "category",
            **({} if "sort_order" in values else {"sort_order": 100}),
        )
    await s.flush()
    for row in m.categories:
        if "opds" not in row:
            continue
        cat_id = existing[row["code"]].id
        want = {opd_ids[c] for c in row["opds"]}
        have = set(
            (await s.execute(select(CategoryOpd.opd_id).where(CategoryOpd.category_id == cat_id))).scalars()
        )
        for opd_id in have - want:
            await s.delete(await s.get(CategoryOpd, (cat_id, opd_id)))
        s.add_all([CategoryOpd(category_id=cat_id, opd_id=o) for o in sorted(want - have)])
        if want != have:
            changes.append(f"routing {row['code']}: {sorted(row['opds'])}")
    await s.flush()
    return {code: c.id for code, c in existing.items()}


async def _apply_sla(s: AsyncSession, m: Manifest, cat_ids: dict[str, int], changes: list[str]) -> None:
    if not m.sla:
        return
    for row in m.sla:
        cat_id = cat_ids[row["category"]] if row.get("category") else None
        scope = policy_scope(row["priority"], cat_id)
        pol = (await s.execute(select(SlaPolicy).where(SlaPolicy.scope == scope))).scalar()
        values = {f: row[f] for f in SLA_FIELDS if f in row}
        label = f"sla P{row['priority']}/{row.get('category') or '*'}"
        if pol is None:
            base = dict(DEFAULT_POLICIES.get(row["priority"], DEFAULT_POLICIES[1]))
            s.add(SlaPolicy(scope=scope, priority=row["priority"], category_id=cat_id, **(base | values)))
            changes.append(f"{label}: created")
        else:
            _set(pol, values, changes, label)
    await s.flush()


async def apply(db: Database, m: Manifest) -> ApplyResult:
    """Bring the regency in line with its manifest; one tenant transaction for the configuration."""
    result = ApplyResult(m.slug, created_tenant=await _ensure_tenant(db, m))
    if m.map:
        async with db.public() as pub:
            row = (await pub.execute(select(Tenant).where(Tenant.region_code == m.region.code))).scalar_one()
            _set(row, m.map, result.changes, "map")
            await uow.commit(pub)

    async with db.tenant(m.slug) as s:
        changes = result.changes
        opd_ids = await _apply_opds(s, m, changes)
        cat_ids = await _apply_categories(s, m, opd_ids, changes)
        await _apply_sla(s, m, cat_ids, changes)
        if added := await ensure_kecamatan(s, m.region.code):
            changes.append(f"kecamatan: {added} added")
        if changes:
            await record(
                s,
                "manifest.apply",
                actor_label=f"manifest {m.path.name}",
                entity="tenant",
                entity_id=m.slug,
                after={"changes": changes},
            )
        await uow.commit(s)
    return result


async def apply_path(db: Database, path: str | Path) -> ApplyResult:
    return await apply(db, load(path))
