"""The Kominfo dashboard's prank-trend panel (by province; never a number or a hash)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.reputation.service import province_trends
from app.web.deps import KominfoDep, PublicSessionDep
from app.web.templating import render

router = APIRouter(tags=["national (HTML)"])


@router.get("/national/prank-trends", include_in_schema=False)
async def prank_trends(request: Request, user: KominfoDep, session: PublicSessionDep):
    return render(request, "reputation/_trends.html", {"prank_trends": await province_trends(session)})
