"""The public signup wizard at /signup: six htmx steps, saved after each one.

Progress lives in a ``signup_applications`` draft row; the browser holds only a random resume
token (session cookie, and a link the applicant can keep). Each step re-renders itself with
errors beside the fields (422) or moves to the next step. Without JavaScript the same forms post
normally and get whole pages back.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from app.auth.passwords import hash_password
from app.db import uow
from app.onboarding import service
from app.onboarding.models import SignupApplication
from app.onboarding.validation import (
    MAX_DOCUMENT_BYTES,
    check_admin,
    check_contact,
    check_document,
    check_legal,
    clean_text,
    hash_token,
    new_token,
    store_document,
)
from app.security.proxies import origin_of
from app.tenancy.defaults import DEFAULT_OPDS
from app.tenancy.models import Tenant
from app.tenancy.regions import provinces, regencies, regency
from app.web.csrf import verify_csrf
from app.web.deps import DbDep, PublicSessionDep, SettingsDep
from app.web.errors import NotFound
from app.web.forms import form_fields, read_upload
from app.web.templating import is_htmx, render

router = APIRouter(dependencies=[Depends(verify_csrf)], tags=["onboarding (HTML)"])
SESSION_KEY = "signup"
LAST_STEP = len(service.WIZARD_STEPS)


async def _current(request: Request, session) -> SignupApplication | None:
    token = request.session.get(SESSION_KEY)
    if not token:
        return None
    a = (
        await session.execute(
            select(SignupApplication).where(SignupApplication.resume_token_hash == hash_token(token))
        )
    ).scalar()
    if a is None or a.status != "draft":
        request.session.pop(SESSION_KEY, None)
        return None
    return a


def _regency_options(province_code: str | None, taken: dict[str, str]) -> list[dict]:
    if not province_code:
        return []
    return [
        {"code": r.code, "name": r.name, "taken": taken.get(r.code)}
        for r in sorted(regencies().values(), key=lambda r: (not r.is_kota, r.name))
        if r.province_code == province_code
    ]


async def _step_context(session, a: SignupApplication | None, step: int, form: dict | None) -> dict:
    form = form or {}
    ctx: dict = {
        "step": step,
        "steps": service.WIZARD_STEPS,
        "a": a,
        "form": form,
        "reached": a.step if a else 1,
        "resume_token": None,
    }
    if step == 1:
        taken = await service.registered_regions(session)
        code = form.get("region_code") or (a.region_code if a else None)
        reg = regency(code) if code else None
        prov = form.get("province_code") or (reg.province_code if reg else None)
        ctx.update(
            provinces=sorted(provinces().items(), key=lambda p: p[1]),
            province_code=prov,
            region_code=code,
            regencies=_regency_options(prov, taken),
        )
    elif step == 4:
        chosen = form.get("opd_codes")
        if chosen is None:
            chosen = (a.opds or {}).get("codes") if a and a.opds else service.DEFAULT_OPD_CODES
        custom = form.get("custom_opds")
        if custom is None:
            custom = "\n".join((a.opds or {}).get("custom") or []) if a and a.opds else ""
        ctx.update(default_opds=DEFAULT_OPDS, chosen=set(chosen or ()), custom_opds=custom)
    elif step == LAST_STEP and a is not None:
        names = {o["code"]: o["name"] for o in DEFAULT_OPDS}
        ctx.update(
            regency=regency(a.region_code or ""),
            missing=service.missing_steps(a),
            opd_names=[names[c] for c in (a.opds or {}).get("codes", []) if c in names]
            + list((a.opds or {}).get("custom", [])),
        )
    return ctx


async def _render_step(request: Request, session, a, step: int, *, errors=None, form=None, status_code=200):
    ctx = await _step_context(session, a, step, form)
    ctx["errors"] = errors or {}
    ctx["resume_token"] = request.session.get(SESSION_KEY)
    name = "onboarding/_wizard_body.html" if is_htmx(request) else "onboarding/wizard.html"
    return render(request, name, ctx | {"title": "Pendaftaran layanan 112"}, status_code=status_code)


def _go(request: Request, step: int):
    """After a successful POST: htmx gets the next step in place, a plain form a redirect."""
    return RedirectResponse(f"/signup?step={step}", status_code=303)


@router.get("/signup")
async def signup_page(request: Request, session: PublicSessionDep, step: int | None = None):
    a = await _current(request, session)
    reached = a.step if a else 1
    show = min(max(step or reached, 1), reached)
    return await _render_step(request, session, a, show)


@router.get("/signup/step/{step}")
async def signup_step(request: Request, session: PublicSessionDep, step: int):
    a = await _current(request, session)
    if step < 1 or step > LAST_STEP:
        raise NotFound()
    return await _render_step(request, session, a, min(step, a.step if a else 1))


@router.get("/signup/regencies")
async def signup_regencies(request: Request, session: PublicSessionDep, province_code: str = ""):
    """The kab/kota options of one province (htmx swaps them into the second select)."""
    taken = await service.registered_regions(session)
    return render(
        request,
        "onboarding/_regency_options.html",
        {"regencies": _regency_options(province_code, taken), "region_code": None},
    )


@router.get("/signup/resume/{token}")
async def signup_resume(request: Request, session: PublicSessionDep, token: str):
    a = (
        await session.execute(
            select(SignupApplication).where(SignupApplication.resume_token_hash == hash_token(token))
        )
    ).scalar()
    if a is None or a.status != "draft":
        raise NotFound("Tautan pendaftaran tidak dikenal atau pendaftaran sudah dikirim")
    request.session[SESSION_KEY] = token
    return RedirectResponse("/signup", status_code=303)


async def _save(session, a: SignupApplication, values: dict, next_step: int) -> None:
    for key, value in values.items():
        setattr(a, key, value)
    a.step = max(a.step, next_step)
    a.updated_at = datetime.now(UTC)
    await uow.commit(session)


@router.post("/signup/step/1")
async def signup_region(request: Request, session: PublicSessionDep):
    data, _ = await form_fields(request)
    errors = {}
    code = (data.get("region_code") or "").strip()
    reg = regency(code)
    if not data.get("province_code"):
        errors["province_code"] = "Pilih provinsi"
    if reg is None:
        errors["region_code"] = "Pilih kabupaten/kota dari daftar resmi Kemendagri"
    elif reg.province_code != data.get("province_code"):
        errors["region_code"] = "Kabupaten/kota tidak berada di provinsi yang dipilih"
    else:
        taken = await service.region_taken(session, code)
        if taken:
            errors["region_code"] = service.taken_message(reg.short_name, taken)
    a = await _current(request, session)
    if errors:
        return await _render_step(request, session, a, 1, errors=errors, form=data, status_code=422)
    if a is None:
        token = new_token()
        a = SignupApplication(resume_token_hash=hash_token(token), status="draft", step=1)
        session.add(a)
        request.session[SESSION_KEY] = token
    await _save(session, a, {"region_code": code}, 2)
    return await _after(request, session, a, 2)


async def _after(request: Request, session, a: SignupApplication, step: int):
    if is_htmx(request):
        return await _render_step(request, session, a, step)
    return _go(request, step)


async def _require_draft(request: Request, session) -> SignupApplication:
    a = await _current(request, session)
    if a is None:
        raise NotFound("Pendaftaran belum dimulai atau sudah dikirim; mulai dari langkah 1 di /signup")
    return a


@router.post("/signup/step/2")
async def signup_contact(request: Request, session: PublicSessionDep):
    a = await _require_draft(request, session)
    data, _ = await form_fields(request)
    values, errors = check_contact(data)
    if errors:
        return await _render_step(request, session, a, 2, errors=errors, form=data, status_code=422)
    await _save(session, a, values, 3)
    return await _after(request, session, a, 3)


@router.post("/signup/step/3")
async def signup_legal(request: Request, session: PublicSessionDep, settings: SettingsDep):
    a = await _require_draft(request, session)
    declared = int(request.headers.get("content-length") or 0)
    if declared > MAX_DOCUMENT_BYTES + 256 * 1024:
        # Refuse before parsing the body: a huge upload never reaches the disk.
        return await _render_step(
            request,
            session,
            a,
            3,
            status_code=413,
            form={"legal_number": a.legal_number, "legal_date": a.legal_date},
            errors={"document": f"Berkas terlalu besar ({declared / 1024 / 1024:.1f} MB); maksimal 5 MB"},
        )
    data, form = await form_fields(request)
    values, errors = check_legal(data)
    content = await read_upload(form, "document", MAX_DOCUMENT_BYTES + 1)
    if content or not a.document_path:
        check_document(content, errors)
    if errors:
        return await _render_step(
            request,
            session,
            a,
            3,
            errors=errors,
            form=data,
            status_code=413 if "terlalu besar" in errors.get("document", "") else 422,
        )
    if content:
        stored = store_document(settings.upload_dir, content)
        values.update(document_path=stored.name, document_size=stored.size, document_sha256=stored.sha256)
    await _save(session, a, values, 4)
    return await _after(request, session, a, 4)


def parse_opds(form, data: dict) -> tuple[dict, dict]:
    errors = {}
    codes = [c for c in form.getlist("opd_codes") if c in service.DEFAULT_OPD_CODES]
    custom_raw = data.get("custom_opds") or ""
    custom: list[str] = []
    for line in custom_raw.splitlines():
        name = clean_text(line, 200)
        if not name:
            continue
        if len(name) > 200:
            errors["custom_opds"] = "Nama OPD maksimal 200 karakter per baris"
        elif name.lower() not in {c.lower() for c in custom}:
            custom.append(name)
    if len(custom) > 30:
        errors["custom_opds"] = "Maksimal 30 OPD tambahan"
    if not codes and not custom:
        errors["opd_codes"] = "Pilih minimal satu OPD yang menandatangani komitmen layanan"
    elif "kominfo" not in codes:
        errors["opd_codes"] = "Dinas Kominfo (pengelola pusat panggilan 112) wajib ikut menandatangani"
    return {"codes": codes, "custom": custom}, errors


@router.post("/signup/step/4")
async def signup_opds(request: Request, session: PublicSessionDep):
    a = await _require_draft(request, session)
    data, form = await form_fields(request)
    selection, errors = parse_opds(form, data)
    if errors:
        return await _render_step(
            request,
            session,
            a,
            4,
            errors=errors,
            status_code=422,
            form={"opd_codes": selection["codes"], "custom_opds": data.get("custom_opds", "")},
        )
    await _save(session, a, {"opds": selection}, 5)
    return await _after(request, session, a, 5)


@router.post("/signup/step/5")
async def signup_admin(request: Request, session: PublicSessionDep):
    a = await _require_draft(request, session)
    data, _ = await form_fields(request)
    values, errors = check_admin(data)
    if errors:
        data.pop("admin_password", None)
        data.pop("admin_password2", None)
        return await _render_step(request, session, a, 5, errors=errors, form=data, status_code=422)
    await _save(
        session,
        a,
        {
            "admin_name": values["admin_name"],
            "admin_email": values["admin_email"],
            "admin_password_hash": hash_password(values["admin_password"]),
        },
        6,
    )
    return await _after(request, session, a, 6)


@router.post("/signup/submit")
async def signup_submit(request: Request, session: PublicSessionDep, db: DbDep):
    a = await _require_draft(request, session)
    missing = service.missing_steps(a)
    if missing:
        return await _render_step(
            request,
            session,
            a,
            LAST_STEP,
            status_code=422,
            errors={"submit": "Data belum lengkap: " + "; ".join(missing.values())},
        )
    try:
        tenant = await service.submit_application(db, a, origin_of(request), request.app.state.registry)
    except service.StateError as exc:
        return await _render_step(
            request, session, a, LAST_STEP, status_code=409, errors={"submit": str(exc)}
        )
    request.session.pop(SESSION_KEY, None)
    request.session["signup_done"] = tenant.slug
    if is_htmx(request):
        return render(
            request, "onboarding/_done.html", {"done": tenant}, headers={"HX-Push-Url": "/signup/done"}
        )
    return RedirectResponse("/signup/done", status_code=303)


@router.get("/signup/done")
async def signup_done(request: Request, session: PublicSessionDep):
    slug = request.session.get("signup_done")
    tenant = (await session.execute(select(Tenant).where(Tenant.slug == slug))).scalar() if slug else None
    if tenant is None:
        return RedirectResponse("/signup", status_code=303)
    return render(request, "onboarding/done.html", {"done": tenant, "title": "Pendaftaran terkirim"})
