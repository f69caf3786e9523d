"""Where a regency's map opens and which tile server draws it.

An operator pinning an incident must see their own regency at once, not all of Indonesia. Each
tenant has a home view (centre + zoom; set on the admin map page or in ``tenants/*.toml``); without
one the map opens on the province's extent (from the bundled province outlines). Tiles come from a
URL template: the tenant's own, else the deployment's ``MAP_TILES_URL``, else none: the map then
shows the province outline and the pins and says the base map is unavailable. Only origins the
platform operator listed may be used (they are the page's CSP ``img-src``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import cache
from urllib.parse import urlparse

from app.config import PROJECT_ROOT, Settings

GEOJSON = PROJECT_ROOT / "app" / "static" / "geo" / "indonesia-38-provinces.geojson"
# The geojson's names for provinces the Kemendagri list spells differently (see app/national/svg.py).
PROVINCE_ALIASES = {"Daerah Khusus Ibukota Jakarta": "DKI Jakarta"}
INDONESIA = (-2.5, 118.0, 5)


@dataclass(frozen=True)
class MapView:
    lat: float
    lon: float
    zoom: int
    tiles_url: str  # "" = no tiles
    attribution: str
    province: str  # the outline's name in the bundled geojson

    def as_dict(self) -> dict:
        return asdict(self)


def tile_origin(url: str) -> str:
    parts = urlparse(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def allowed_tile_origins(settings: Settings) -> list[str]:
    """Origins the CSP lets images come from: MAP_TILES_URL's and MAP_TILE_ORIGINS."""
    extra = settings.map_tile_origins.replace(",", " ").split()
    origins = [tile_origin(settings.map_tiles_url)] + [tile_origin(o) or o for o in extra]
    return sorted({o for o in origins if o})


def _points(geometry: dict):
    for polygon in geometry.get("coordinates", []):
        for ring in polygon:
            yield from ring


@cache
def province_extents() -> dict[str, tuple[float, float, float, float]]:
    """Province name → (south, west, north, east) from the bundled outlines."""
    data = json.loads(GEOJSON.read_text())
    out = {}
    for feature in data["features"]:
        pts = list(_points(feature["geometry"]))
        lons, lats = [p[0] for p in pts], [p[1] for p in pts]
        out[feature["properties"]["PROVINSI"]] = (min(lats), min(lons), max(lats), max(lons))
    return out


def _fallback_centre(province: str) -> tuple[float, float, int]:
    ext = province_extents().get(PROVINCE_ALIASES.get(province, province))
    if ext is None:
        return INDONESIA
    south, west, north, east = ext
    span = max(north - south, east - west)
    zoom = 9 if span < 2 else 8 if span < 4 else 7 if span < 8 else 6
    return round((south + north) / 2, 5), round((west + east) / 2, 5), zoom


def map_view(tenant, settings: Settings) -> MapView:
    """``tenant``: a Tenant row (or anything with its map_* attributes and province)."""
    if tenant.map_lat is not None and tenant.map_lon is not None:
        lat, lon, zoom = tenant.map_lat, tenant.map_lon, tenant.map_zoom or 12
    else:
        lat, lon, zoom = _fallback_centre(tenant.province)
    if tenant.map_tiles_url:
        tiles, credit = tenant.map_tiles_url, tenant.map_tiles_attribution or ""
    else:
        tiles, credit = settings.map_tiles_url, settings.map_tiles_attribution
    province = PROVINCE_ALIASES.get(tenant.province, tenant.province)
    return MapView(float(lat), float(lon), int(zoom), tiles, credit, province)


def check_map_form(form: dict, settings: Settings) -> tuple[dict, dict[str, str]]:
    """The admin form (lat, lon, zoom, tiles_url, attribution) → (clean values, errors by field)."""
    errors: dict[str, str] = {}
    clean: dict = {}
    for name, low, high, label in (("lat", -11.5, 6.5, "Lintang"), ("lon", 94.5, 141.5, "Bujur")):
        raw = (form.get(name) or "").strip().replace(",", ".")
        try:
            value = float(raw)
            if not low <= value <= high:
                raise ValueError
            clean[f"map_{name}"] = round(value, 6)
        except ValueError:
            errors[name] = f"{label} harus angka di wilayah Indonesia ({low} s.d. {high})"
    try:
        zoom = int((form.get("zoom") or "").strip())
        if not 5 <= zoom <= 18:
            raise ValueError
        clean["map_zoom"] = zoom
    except ValueError:
        errors["zoom"] = "Zoom harus bilangan 5–18 (13 ≈ satu kota)"
    url = (form.get("tiles_url") or "").strip()
    credit = (form.get("attribution") or "").strip()
    if url:
        if not url.startswith("https://") or not all(k in url for k in ("{z}", "{x}", "{y}")):
            errors["tiles_url"] = "Templat harus https:// dan memuat {z}, {x} dan {y}"
        elif len(url) > 300:
            errors["tiles_url"] = "Templat paling panjang 300 karakter"
        elif tile_origin(url) not in allowed_tile_origins(settings):
            errors["tiles_url"] = (
                f"Server {tile_origin(url)} belum diizinkan oleh pengelola platform (MAP_TILE_ORIGINS)"
            )
        if not credit:
            errors["attribution"] = "Atribusi wajib diisi bila memakai server peta (syarat lisensi)"
    if len(credit) > 300:
        errors["attribution"] = "Atribusi paling panjang 300 karakter"
    clean["map_tiles_url"] = url or None
    clean["map_tiles_attribution"] = credit or None
    return clean, errors
