"""HTML routes of onboarding: the public signup wizard and Kominfo's verification desk."""

from fastapi import APIRouter

from app.onboarding.kominfo_views import router as kominfo_router
from app.onboarding.signup_views import router as signup_router

router = APIRouter()
router.include_router(signup_router)
router.include_router(kominfo_router)
