"""The regency admin's pages under /t/{slug}/admin/ (plus the public one-time account link page).

Plain forms that post and redirect; on a problem the same page comes back with each message
beside its field (422) and nothing is saved.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from app.admin import service
from app.admin.areas import area_tree
from app.admin.models import Kelurahan
from app.audit.service import record
from app.auth.models import User
from app.auth.passwords import hash_password, password_problems
from app.db import uow
from app.dispatch.models import OPD_TYPES, Category, CategoryOpd, Opd
from app.onboarding import service as onboarding
from app.onboarding.validation import (
    MAX_DOCUMENT_BYTES,
    check_contact,
    check_document,
    check_legal,
    store_document,
)
from app.security.proxies import origin_of
from app.tenancy.mapview import allowed_tile_origins, check_map_form, map_view
from app.tenancy.models import Tenant
from app.web.csrf import verify_csrf
from app.web.deps import AdminDep, DbDep, PublicSessionDep, SettingsDep, TenantDep, TenantSessionDep
from app.web.errors import NotFound
from app.web.forms import form_fields, read_upload
from app.web.params import PathId
from app.web.templating import render

router = APIRouter(prefix="/t/{slug}", dependencies=[Depends(verify_csrf)], tags=["tenant admin (HTML)"])


def _page(request: Request, name: str, section: str, ctx: dict, status_code: int = 200):
    return render(
        request,
        f"admin/{name}",
        {"section": section, "errors": {}, "form": {}} | ctx,
        status_code=status_code,
    )


# --- home: status of the regency and the Kominfo review -----------------------------------------


async def _home(request, tenant, public, admin, *, errors=None, form=None, status_code=200):
    row = (await public.execute(select(Tenant).where(Tenant.slug == tenant.slug))).scalar_one()
    application = await onboarding.application_of(public, row.id)
    return _page(
        request,
        "home.html",
        "home",
        {
            "title": f"Admin — {tenant.name}",
            "t": row,
            "a": application,
            "errors": errors or {},
            "form": form or {},
            "rank": await onboarding.launch_rank(public, row),
            "ok": request.query_params.get("ok"),
        },
        status_code=status_code,
    )


@router.get("/admin/")
async def admin_home(request: Request, tenant: TenantDep, public: PublicSessionDep, admin: AdminDep):
    return await _home(request, tenant, public, admin)


@router.get("/admin", include_in_schema=False)
async def admin_home_noslash(tenant: TenantDep, admin: AdminDep):
    return RedirectResponse(f"/t/{tenant.slug}/admin/", status_code=303)


@router.post("/admin/application")
async def admin_resubmit(
    request: Request,
    tenant: TenantDep,
    public: PublicSessionDep,
    db: DbDep,
    settings: SettingsDep,
    admin: AdminDep,
):
    """Correct the application after Kominfo sent it back; it returns to the verification queue."""
    if int(request.headers.get("content-length") or 0) > MAX_DOCUMENT_BYTES + 256 * 1024:
        return await _home(
            request,
            tenant,
            public,
            admin,
            status_code=413,
            errors={"document": "Berkas terlalu besar; maksimal 5 MB"},
        )
    data, form = await form_fields(request)
    values, errors = check_contact(data)
    legal, legal_errors = check_legal(data)
    values |= legal
    errors |= legal_errors
    content = await read_upload(form, "document", MAX_DOCUMENT_BYTES + 1)
    if content:
        check_document(content, errors)
    if errors:
        return await _home(
            request,
            tenant,
            public,
            admin,
            errors=errors,
            form=data,
            status_code=413 if "terlalu besar" in errors.get("document", "") else 422,
        )
    if content:
        stored = store_document(settings.upload_dir, content)
        values |= {
            "document_path": stored.name,
            "document_size": stored.size,
            "document_sha256": stored.sha256,
        }
    try:
        await onboarding.resubmit(db, tenant.slug, values, request.state.principal, origin_of(request))
    except onboarding.StateError as exc:
        return await _home(
            request, tenant, public, admin, errors={"document": str(exc)}, form=data, status_code=409
        )
    return RedirectResponse(f"/t/{tenant.slug}/admin/?ok=resubmitted", status_code=303)


# --- OPDs ------------------------------------------------------------------------------------


@router.get("/admin/opds")
async def opd_list(request: Request, tenant: TenantDep, session: TenantSessionDep, admin: AdminDep):
    opds = (await session.execute(select(Opd).order_by(Opd.is_active.desc(), Opd.name))).scalars().all()
    return _page(
        request, "opds.html", "opds", {"title": "OPD", "opds": opds, "ok": request.query_params.get("ok")}
    )


def _opd_form(request, opd, form, errors, status_code=200):
    return _page(
        request,
        "opd_form.html",
        "opds",
        {
            "title": "OPD baru" if opd is None else f"OPD — {opd.name}",
            "opd": opd,
            "types": OPD_TYPES,
            "form": form,
            "errors": errors,
        },
        status_code=status_code,
    )


def _opd_values(opd: Opd | None) -> dict:
    if opd is None:
        return {"type": "other", "is_active": "on"}
    return {
        "code": opd.code,
        "name": opd.name,
        "type": opd.type,
        "emergency_number": opd.emergency_number or "",
        "escalation_contact": opd.escalation_contact or "",
        "webhook_url": opd.webhook_url or "",
        "is_active": "on" if opd.is_active else "",
    }


@router.get("/admin/opds/new")
async def opd_new(request: Request, tenant: TenantDep, admin: AdminDep):
    return _opd_form(request, None, _opd_values(None), {})


async def _get(session, model, ident: int):
    obj = await session.get(model, ident)
    if obj is None:
        raise NotFound()
    return obj


@router.get("/admin/opds/{opd_id}")
async def opd_edit(
    request: Request, tenant: TenantDep, session: TenantSessionDep, admin: AdminDep, opd_id: PathId
):
    opd = await _get(session, Opd, opd_id)
    return _opd_form(request, opd, _opd_values(opd), {})


@router.post("/admin/opds")
@router.post("/admin/opds/{opd_id}")
async def opd_save(
    request: Request, tenant: TenantDep, session: TenantSessionDep, admin: AdminDep, opd_id: int | None = None
):
    opd = await _get(session, Opd, opd_id) if opd_id is not None else None
    data, _ = await form_fields(request)
    values, errors = service.check_opd(data, creating=opd is None)
    if not errors:
        saved, errors = await service.save_opd(session, opd, values, admin, origin_of(request))
    if errors:
        return _opd_form(request, opd, data, errors, status_code=422)
    assert saved is not None  # save_opd returns the row whenever it reports no error
    return RedirectResponse(f"/t/{tenant.slug}/admin/opds?ok={saved.code}", status_code=303)


# --- categories and their routing -------------------------------------------------------------


@router.get("/admin/categories")
async def category_list(request: Request, tenant: TenantDep, session: TenantSessionDep, admin: AdminDep):
    cats = (
        (await session.execute(select(Category).order_by(Category.sort_order, Category.name))).scalars().all()
    )
    rows = (
        await session.execute(
            select(CategoryOpd.category_id, Opd.name)
            .join(Opd, Opd.id == CategoryOpd.opd_id)
            .order_by(Opd.name)
        )
    ).all()
    routing: dict[int, list[str]] = {}
    for cid, name in rows:
        routing.setdefault(cid, []).append(name)
    return _page(
        request,
        "categories.html",
        "categories",
        {
            "title": "Kategori & routing",
            "categories": cats,
            "routing": routing,
            "ok": request.query_params.get("ok"),
        },
    )


async def _category_form(request, session, cat, form, routed, errors, status_code=200):
    opds = (await session.execute(select(Opd).where(Opd.is_active).order_by(Opd.name))).scalars().all()
    return _page(
        request,
        "category_form.html",
        "categories",
        {
            "title": "Kategori baru" if cat is None else f"Kategori — {cat.name}",
            "cat": cat,
            "form": form,
            "routed": set(routed),
            "opds": opds,
            "errors": errors,
        },
        status_code=status_code,
    )


@router.get("/admin/categories/new")
async def category_new(request: Request, tenant: TenantDep, session: TenantSessionDep, admin: AdminDep):
    return await _category_form(
        request, session, None, {"default_priority": 2, "sort_order": 100, "is_active": "on"}, [], {}
    )


@router.get("/admin/categories/{category_id}")
async def category_edit(
    request: Request, tenant: TenantDep, session: TenantSessionDep, admin: AdminDep, category_id: PathId
):
    cat = await _get(session, Category, category_id)
    form = {
        "code": cat.code,
        "name": cat.name,
        "default_priority": cat.default_priority,
        "sort_order": cat.sort_order,
        "is_active": "on" if cat.is_active else "",
    }
    return await _category_form(request, session, cat, form, await service.routing_of(session, cat.id), {})


@router.post("/admin/categories")
@router.post("/admin/categories/{category_id}")
async def category_save(
    request: Request,
    tenant: TenantDep,
    session: TenantSessionDep,
    admin: AdminDep,
    category_id: int | None = None,
):
    cat = await _get(session, Category, category_id) if category_id is not None else None
    data, form = await form_fields(request)
    active_ids = set((await session.execute(select(Opd.id).where(Opd.is_active))).scalars())
    values, routed, errors = service.check_category(form, active_ids, creating=cat is None)
    if not errors:
        saved, errors = await service.save_category(session, cat, values, routed, admin, origin_of(request))
    if errors:
        return await _category_form(request, session, cat, data, routed, errors, status_code=422)
    assert saved is not None  # save_category returns the row whenever it reports no error
    return RedirectResponse(f"/t/{tenant.slug}/admin/categories?ok={saved.code}", status_code=303)


# --- users ---------------------------------------------------------------------------------


async def _users(
    request, tenant, session, admin, *, errors=None, form=None, link=None, status_code=200, row_errors=None
):
    users = (
        (await session.execute(select(User).order_by(User.is_active.desc(), User.role, User.full_name)))
        .scalars()
        .all()
    )
    opds = (await session.execute(select(Opd).where(Opd.is_active).order_by(Opd.name))).scalars().all()
    return _page(
        request,
        "users.html",
        "users",
        {
            "title": "Pengguna",
            "users": users,
            "opds": opds,
            "opd_names": {o.id: o.name for o in opds},
            "roles": service.ROLE_LABELS,
            "errors": errors or {},
            "form": form or {"role": "operator"},
            "link": link,
            "me": admin,
            "row_errors": row_errors or {},
            "ok": request.query_params.get("ok"),
        },
        status_code=status_code,
    )


@router.get("/admin/users")
async def user_list(request: Request, tenant: TenantDep, session: TenantSessionDep, admin: AdminDep):
    return await _users(request, tenant, session, admin)


async def _active_opd_ids(session) -> set[int]:
    return set((await session.execute(select(Opd.id).where(Opd.is_active))).scalars())


@router.post("/admin/users")
async def user_invite(request: Request, tenant: TenantDep, session: TenantSessionDep, admin: AdminDep):
    data, _ = await form_fields(request)
    values, errors = service.check_user(data, await _active_opd_ids(session), creating=True)
    link = None
    if not errors:
        link, errors = await service.invite_user(session, tenant.slug, values, admin, origin_of(request))
    if errors:
        return await _users(request, tenant, session, admin, errors=errors, form=data, status_code=422)
    return await _users(
        request,
        tenant,
        session,
        admin,
        link={"url": link, "email": values["email"], "purpose": "invite"},
        status_code=201,
    )


@router.post("/admin/users/{user_id}/role")
async def user_role(
    request: Request, tenant: TenantDep, session: TenantSessionDep, admin: AdminDep, user_id: PathId
):
    user = await _get(session, User, user_id)
    data, _ = await form_fields(request)
    values, errors = service.check_user(data, await _active_opd_ids(session), creating=False)
    if not errors:
        errors = await service.change_role(session, user, values, admin, origin_of(request))
    if errors:
        return await _users(
            request, tenant, session, admin, row_errors={user_id: " ".join(errors.values())}, status_code=422
        )
    return RedirectResponse(f"/t/{tenant.slug}/admin/users?ok=role", status_code=303)


@router.post("/admin/users/{user_id}/deactivate")
@router.post("/admin/users/{user_id}/activate")
async def user_active(
    request: Request, tenant: TenantDep, session: TenantSessionDep, admin: AdminDep, user_id: PathId
):
    user = await _get(session, User, user_id)
    active = request.url.path.endswith("/activate")
    problem = await service.set_active(session, user, active, admin, origin_of(request))
    if problem:
        return await _users(request, tenant, session, admin, row_errors={user_id: problem}, status_code=409)
    return RedirectResponse(
        f"/t/{tenant.slug}/admin/users?ok={'activated' if active else 'deactivated'}", status_code=303
    )


@router.post("/admin/users/{user_id}/reset")
async def user_reset(
    request: Request, tenant: TenantDep, session: TenantSessionDep, admin: AdminDep, user_id: PathId
):
    user = await _get(session, User, user_id)
    if not user.is_active:
        return await _users(
            request,
            tenant,
            session,
            admin,
            status_code=409,
            row_errors={user_id: "Aktifkan akun ini dulu sebelum mengatur ulang kata sandi"},
        )
    link = await service.reset_password(session, tenant.slug, user, admin, origin_of(request))
    return await _users(
        request, tenant, session, admin, link={"url": link, "email": user.email, "purpose": "reset"}
    )


# --- kecamatan / kelurahan ---------------------------------------------------------------------


async def _areas(request, session, *, errors=None, form=None, status_code=200):
    return _page(
        request,
        "areas.html",
        "areas",
        {
            "title": "Wilayah",
            "tree": await area_tree(session),
            "errors": errors or {},
            "form": form or {},
            "ok": request.query_params.get("ok"),
        },
        status_code=status_code,
    )


@router.get("/admin/areas")
async def area_list(request: Request, tenant: TenantDep, session: TenantSessionDep, admin: AdminDep):
    await service.seed_kecamatan(session, tenant.region_code)
    return await _areas(request, session)


@router.post("/admin/areas/kecamatan")
async def area_add_kecamatan(request: Request, tenant: TenantDep, session: TenantSessionDep, admin: AdminDep):
    data, _ = await form_fields(request)
    errors = await service.add_kecamatan(session, data, admin, origin_of(request))
    if errors:
        return await _areas(request, session, errors=errors, form=data, status_code=422)
    return RedirectResponse(f"/t/{tenant.slug}/admin/areas?ok=kecamatan", status_code=303)


@router.post("/admin/areas/kelurahan")
async def area_add_kelurahan(request: Request, tenant: TenantDep, session: TenantSessionDep, admin: AdminDep):
    data, _ = await form_fields(request)
    errors = await service.add_kelurahan(session, data, admin, origin_of(request))
    if errors:
        return await _areas(request, session, errors=errors, form=data, status_code=422)
    return RedirectResponse(f"/t/{tenant.slug}/admin/areas?ok=kelurahan", status_code=303)


@router.post("/admin/areas/kelurahan/{kelurahan_id}/delete")
async def area_delete_kelurahan(
    request: Request, tenant: TenantDep, session: TenantSessionDep, admin: AdminDep, kelurahan_id: PathId
):
    kel = await _get(session, Kelurahan, kelurahan_id)
    await service.delete_kelurahan(session, kel, admin, origin_of(request))
    return RedirectResponse(f"/t/{tenant.slug}/admin/areas?ok=deleted", status_code=303)


# --- one-time account links (public: the person has no password yet) ---------------------------


def _account_page(request, tenant, user, problem=None, errors=None, status_code=200, done=False):
    return render(
        request,
        "admin/account_link.html",
        {
            "title": "Atur kata sandi",
            "user": user,
            "problem": problem,
            "errors": errors or {},
            "done": done,
            "login_url": f"/t/{tenant.slug}/login",
        },
        status_code=status_code,
    )


@router.get("/account/{token}")
async def account_link(request: Request, tenant: TenantDep, session: TenantSessionDep, token: str):
    link, user, problem = await service.link_user(session, token)
    if link is None:
        raise NotFound("Tautan tidak dikenal")
    return _account_page(request, tenant, user, problem, status_code=410 if problem else 200)


@router.post("/account/{token}")
async def account_set_password(request: Request, tenant: TenantDep, session: TenantSessionDep, token: str):
    link, user, problem = await service.link_user(session, token)
    if link is None:
        raise NotFound("Tautan tidak dikenal")
    if problem or user is None:
        return _account_page(request, tenant, user, problem or "Tautan tidak berlaku", status_code=410)
    data, _ = await form_fields(request)
    password = data.get("password") or ""
    errors = {}
    if problems := password_problems(password, user.email):
        errors["password"] = "; ".join(problems)
    elif password != data.get("password2"):
        errors["password2"] = "Konfirmasi kata sandi tidak sama"
    if errors:
        return _account_page(request, tenant, user, errors=errors, status_code=422)
    done = await service.consume_link(session, token, hash_password(password), origin_of(request))
    if done is None:
        return _account_page(
            request,
            tenant,
            user,
            "Tautan ini baru saja dipakai. Minta admin mengirim tautan baru.",
            status_code=410,
        )
    return _account_page(request, tenant, done, done=True)


# --- map: home view and tile source (app.tenancy.mapview) ----------------------------------------


async def _map_page(request, row, settings, *, form=None, errors=None, saved=False, status_code=200):
    view = map_view(row, settings)
    return render(
        request,
        "admin/map.html",
        {
            "section": "map",
            "view": view,
            "form": form
            or {
                "lat": row.map_lat if row.map_lat is not None else "",
                "lon": row.map_lon if row.map_lon is not None else "",
                "zoom": row.map_zoom or "",
                "tiles_url": row.map_tiles_url or "",
                "attribution": row.map_tiles_attribution or "",
            },
            "errors": errors or {},
            "saved": saved,
            "allowed_origins": allowed_tile_origins(settings),
            "default_tiles": settings.map_tiles_url,
        },
        status_code=status_code,
    )


async def _tenant_row(public, tenant) -> Tenant:
    return (await public.execute(select(Tenant).where(Tenant.id == tenant.id).with_for_update())).scalar_one()


@router.get("/admin/map")
async def map_settings(
    request: Request, tenant: TenantDep, public: PublicSessionDep, admin: AdminDep, settings: SettingsDep
):
    return await _map_page(
        request, await _tenant_row(public, tenant), settings, saved="saved" in request.query_params
    )


@router.post("/admin/map")
async def map_settings_save(
    request: Request,
    tenant: TenantDep,
    public: PublicSessionDep,
    session: TenantSessionDep,
    admin: AdminDep,
    settings: SettingsDep,
):
    data, _ = await form_fields(request)
    row = await _tenant_row(public, tenant)
    clean, errors = check_map_form(data, settings)
    if errors:
        return await _map_page(request, row, settings, form=data, errors=errors, status_code=422)
    before = {k: getattr(row, k) for k in clean}
    for k, v in clean.items():
        setattr(row, k, v)
    await record(
        session,
        "tenant.map_saved",
        actor_id=admin.id,
        actor_label=admin.full_name,
        origin=origin_of(request),
        entity="tenant",
        entity_id=tenant.slug,
        before=before,
        after=clean,
    )
    await uow.commit(public)
    await uow.commit(session)
    return RedirectResponse(f"/t/{tenant.slug}/admin/map?saved=1", status_code=303)
