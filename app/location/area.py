"""How far a point lies outside a regency's province (for "far outside the regency's area").

Siaga112 ships no kabupaten/kota boundaries, only the 38 province polygons used by the national
map (simplified, `app/static/geo/`). A regency lies inside its province, and callers near a border
legitimately reach the neighbour's centre, so a fix is "far outside" only when it is more than
``FAR_OUTSIDE_KM`` outside the regency's PROVINCE polygon. That catches a swapped sign, a 0/0
fix or a handset reporting another island; it cannot catch a fix in the wrong regency of the
same province.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache

from app.config import PROJECT_ROOT

GEOJSON = PROJECT_ROOT / "app" / "static" / "geo" / "indonesia-38-provinces.geojson"
FAR_OUTSIDE_KM = 50.0
_EARTH_KM = 6371.0
Ring = list[tuple[float, float]]  # (lon, lat)


@lru_cache
def _provinces() -> dict[str, list[list[Ring]]]:
    data = json.loads(GEOJSON.read_text(encoding="utf-8"))
    out: dict[str, list[list[Ring]]] = {}
    for feature in data["features"]:
        geom = feature["geometry"]
        polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
        rings = [[[(float(x), float(y)) for x, y, *_ in ring] for ring in poly] for poly in polys]
        out.setdefault(str(feature["properties"]["KODE_PROV"]), []).extend(rings)
    return out


def _inside_ring(ring: Ring, lon: float, lat: float) -> bool:
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def _segment_km(lon: float, lat: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance to a segment on a local equirectangular projection (good to a few % at 50 km)."""
    k = math.cos(math.radians(lat))
    px, py = lon * k, lat
    ax, ay, bx, by = a[0] * k, a[1], b[0] * k, b[1]
    dx, dy = bx - ax, by - ay
    t = 0.0 if dx == dy == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.radians(math.hypot(px - (ax + t * dx), py - (ay + t * dy))) * _EARTH_KM


def km_outside_province(province_code: str, lat: float, lon: float) -> float | None:
    """0 inside the province, else the distance in km to its edge; None for an unknown province."""
    polys = _provinces().get(province_code)
    if not polys:
        return None
    for poly in polys:
        if _inside_ring(poly[0], lon, lat) and not any(_inside_ring(h, lon, lat) for h in poly[1:]):
            return 0.0
    return min(
        _segment_km(lon, lat, ring[i - 1], ring[i])
        for poly in polys
        for ring in poly
        for i in range(1, len(ring))
    )


def province_of(region_code: str | None) -> str | None:
    """'13.72' → '13'; test tenants with made-up codes get None (no area check)."""
    if not region_code or len(region_code) < 2 or not region_code[:2].isdigit():
        return None
    return region_code[:2]


def far_outside(region_code: str | None, lat: float, lon: float) -> bool:
    province = province_of(region_code)
    if province is None:
        return False
    km = km_outside_province(province, lat, lon)
    return km is not None and km > FAR_OUTSIDE_KM
