"""Settings, read once from the environment (prefix-free names such as DATABASE_URL)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core.networks import parse_networks

APP_DIR = Path(__file__).resolve().parent
STATIC_DIR = APP_DIR / "static"


def _resource_root() -> Path:
    """Where alembic.ini, migrations/, templates/, data/ and tenants/ are: the checkout's top level,
    or, in an installed wheel, the copies that setup.py bundles into the package (app/_bundled)."""
    checkout = APP_DIR.parent
    return checkout if (checkout / "alembic.ini").is_file() else APP_DIR / "_bundled"


PROJECT_ROOT = _resource_root()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: str = Field("development", description="development | test | production")
    # Empty means: start the embedded PostgreSQL / Redis (see app/embedded.py).
    database_url: str = ""
    redis_url: str = ""
    data_dir: Path = PROJECT_ROOT / ".siaga112"
    secret_key: str = ""
    # The domain under which <slug>.<domain> host names bind a request to a tenant.
    tenant_domain: str = ""
    # Secure cookies need HTTPS; None means "on everywhere except local development".
    cookie_secure: bool | None = None
    session_max_age_s: int = 12 * 3600
    db_pool_size: int = 10
    db_max_overflow: int = 10
    # Recycle pooled connections so each one's catalog cache (≈0.8 MB per touched schema) stays bounded.
    db_pool_recycle_s: int = 900
    # psycopg's server-side prepared statements (app/db/engine.py::connect_args): None = never,
    # which is what PgBouncer in transaction mode needs; 5 is psycopg's own default.
    db_prepare_threshold: int | None = None
    # `siaga112 db upgrade` holds a SESSION advisory lock for the whole deploy: give it a direct
    # PostgreSQL URL when DATABASE_URL points at PgBouncer in transaction mode (default: DATABASE_URL).
    migrate_database_url: str = ""
    # Namespace of every Redis key, queue and channel (app/namespace.py); empty: derived from
    # the database name and the Redis DB index, so two deployments on one Redis never mix.
    redis_prefix: str = ""
    tenant_cache_ttl_s: float = 5.0
    # Objects allocated between cyclic-GC passes (CPython's default is 700). A web process makes
    # tens of thousands of short-lived objects per second; at 700 the collector runs hundreds of
    # times a second and its full passes stall every request in flight (intake p99 80–130 ms under
    # load vs 20–30 ms at 50,000, bench/call_intake.py). 0 keeps CPython's default.
    gc_gen0_threshold: int = 50_000
    # National caller reputation (app/reputation, docs/reputation.md). Keys as "id:secret,id:secret";
    # the FIRST is current (new rows), the others still match lookups until rotation is finished.
    # Empty outside production: one key derived from SECRET_KEY (id "dev").
    national_hash_keys: str = ""
    reputation_window_days: int = 30
    reputation_retention_days: int = 90
    # Empty means <data_dir>/uploads (so DATA_DIR moves the uploads with the rest of the data).
    upload_dir: Path = Path("")
    # Addresses/CIDRs of the reverse proxies allowed to set the client address and scheme
    # (X-Forwarded-For/-Proto), comma-separated. Empty: nobody, the socket peer is the client.
    # Production: the load balancer's subnets (infra/terraform sets TRUSTED_PROXIES on the web task).
    trusted_proxies: str = ""
    # Largest request body accepted on any route (bytes); the onboarding upload has its own 5 MB
    # limit inside it. Bigger bodies get 413 before the app reads them.
    max_body_bytes: int = 6 * 1024 * 1024
    # On SIGTERM: seconds in-flight requests get to finish; after that nothing more is committed
    # and the process exits within 2 s (app.core.draining). GRACEFUL_SHUTDOWN_S.
    graceful_shutdown_s: float = 20.0
    # Calls' received/answered times must lie within this window around now (as the telephony
    # webhook's replay window does): a call dated 1969 would start SLA clocks already breached.
    call_time_past_s: int = 24 * 3600
    call_time_future_s: int = 300
    # Outbound HTTP (OPD webhooks, channel adapters) may reach these networks even though they
    # are not public (comma-separated CIDRs). Empty in production; tests allow loopback.
    outbound_allow_networks: str = ""
    host: str = "127.0.0.1"
    port: int = 8112
    # --- alert channels (app/channels, docs/channels.md) ---
    # Where links in messages point (the one-tap acknowledgement link); empty: http://HOST:PORT.
    public_base_url: str = ""
    # Provider base URLs are settings so tests (and a regional proxy) can point them elsewhere.
    whatsapp_api_base: str = "https://graph.facebook.com/v19.0"
    telegram_api_base: str = "https://api.telegram.org"
    # Fernet key (urlsafe base64, 32 bytes) encrypting channel credentials; empty: derived from SECRET_KEY.
    channel_secrets_key: str = ""
    # VAPID private key for web push (PEM or raw base64url); empty: generated into DATA_DIR in development.
    vapid_private_key: str = ""
    vapid_subject: str = "mailto:admin@siaga112.go.id"
    # Push endpoints a browser may register (SSRF guard); "*.x" matches sub-domains.
    webpush_allowed_hosts: str = (
        "fcm.googleapis.com,updates.push.services.mozilla.com,*.push.apple.com,*.notify.windows.com"
    )
    ack_link_ttl_s: int = 2 * 3600
    # summary e-mail (app/channels/summary.py): period length and the UTC hour the cron runs
    channel_summary_period_h: int = 24
    channel_summary_hour_utc: int = 0  # 07:00 WIB
    # Map tiles (console, admin map page): a URL template such as
    # https://tiles.example.go.id/{z}/{x}/{y}.png and the credit its licence requires. Empty: no
    # tiles (the map still shows the province outline and pins). The public OpenStreetMap servers
    # are not a default: their usage policy does not allow a production service.
    map_tiles_url: str = ""
    map_tiles_attribution: str = ""
    # Further tile origins a regency may choose on its admin map page (space/comma separated,
    # e.g. "https://peta.kotasolok.go.id"); the page CSP allows exactly these and map_tiles_url's.
    map_tile_origins: str = ""

    @field_validator("trusted_proxies", "outbound_allow_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)  # raises ValueError naming the bad entry
        return value

    @model_validator(mode="after")
    def _secret_required_in_production(self) -> Settings:
        if self.upload_dir == Path(""):
            self.upload_dir = Path(self.data_dir) / "uploads"
        if self.cookie_secure is None:
            self.cookie_secure = self.environment != "development"
        if not self.secret_key:
            if self.environment == "production":
                raise ValueError("SECRET_KEY must be set in production")
            self.secret_key = _dev_secret(self.data_dir)
        elif self.environment == "production" and len(self.secret_key) < 32:
            raise ValueError("SECRET_KEY must be at least 32 characters in production")
        if self.environment == "production" and not self.national_hash_keys:
            raise ValueError("NATIONAL_HASH_KEYS must be set in production (see docs/reputation.md)")
        if self.reputation_retention_days < self.reputation_window_days:
            raise ValueError("REPUTATION_RETENTION_DAYS must be at least REPUTATION_WINDOW_DAYS")
        return self


def _dev_secret(data_dir: Path) -> str:
    """A per-checkout secret kept beside the embedded data, so sessions survive restarts."""
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        path.write_text(value)
        path.chmod(0o600)
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
