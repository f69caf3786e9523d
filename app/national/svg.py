"""Server-side SVG charts and the province map: no chart library, no CDN, works without JS.

Every function returns ``Markup``; all text placed in the SVG is escaped.
"""

from __future__ import annotations

import json
import math
from datetime import date
from functools import lru_cache

from markupsafe import Markup, escape

from app.config import STATIC_DIR

GEOJSON = STATIC_DIR / "geo" / "indonesia-38-provinces.geojson"
MAP_CREDIT = "Indonesia GeoJSON & TopoJSON Maps (38 Provinces), CC BY 4.0"
# GeoJSON name → Kemendagri name (everything else is spelled the same; joined by name, not code).
GEO_ALIASES = {"DKI Jakarta": "Daerah Khusus Ibukota Jakarta"}

COLORS = {
    "total": "#1d4ed8",
    "emergency": "#c8102e",
    "prank_silent": "#f59e0b",
    "launch": "#0f766e",
    "met": "#1a7f37",
    "breached": "#c8102e",
}
SCALE = ("#eef2f7", "#c7dcef", "#8fbde0", "#4b94c9", "#1d64a8", "#0b3d75")  # 0 = no data
FONT = 'font-family="system-ui, sans-serif"'


def _fmt(n: float) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} jt".replace(".0 ", " ")
    if n >= 10_000:
        return f"{n / 1000:.0f} rb"
    if n >= 1000:
        return f"{n / 1000:.1f} rb".replace(".0 ", " ")
    return f"{n:.0f}"


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * exp >= v:
            return m * exp
    return 10 * exp


MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")


def _date_label(d: date, unit: str) -> str:
    return f"{MONTHS[d.month - 1]} {d.year}" if unit == "month" else f"{d.day} {MONTHS[d.month - 1]}"


def line_chart(
    dates: list[date],
    series: list[tuple[str, list[int], str]],
    unit: str = "day",
    width: int = 760,
    height: int = 240,
    title: str = "",
) -> Markup:
    """Lines over time; the first series is also drawn as a light area."""
    left, right, top, bottom = 52, 12, 14, 30
    w, h = width - left - right, height - top - bottom
    peak = max(4, _nice_max(max((max(v) for _, v, _ in series if v), default=0)))
    n = max(1, len(dates) - 1)

    def x(i: int) -> float:
        return left + w * i / n

    def y(v: float) -> float:
        return top + h - h * v / peak

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" {FONT}>'
    ]
    for k in range(5):
        v = peak * k / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e5e9f0"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="11" fill="#5b6475">{_fmt(v)}</text>'
        )
    step = max(1, len(dates) // 7)
    for i in range(0, len(dates), step):
        parts.append(
            f'<text x="{x(i):.1f}" y="{height - 10}" text-anchor="middle" font-size="11" fill="#5b6475">'
            f"{escape(_date_label(dates[i], unit))}</text>"
        )
    for idx, (label, values, color) in enumerate(series):
        if not values:
            continue
        pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        if idx == 0:
            parts.append(
                f'<polygon points="{x(0):.1f},{y(0):.1f} {pts} {x(len(values) - 1):.1f},{y(0):.1f}" '
                f'fill="{color}" opacity="0.10"/>'
            )
        parts.append(
            f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2" '
            f'stroke-linejoin="round"><title>{escape(label)}</title></polyline>'
        )
        if len(values) <= 62:
            for i, v in enumerate(values):
                parts.append(
                    f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.2" fill="{color}">'
                    f"<title>{escape(_date_label(dates[i], unit))}: {v:,} ({escape(label)})</title></circle>"
                )
    parts.append("</svg>")
    return Markup("".join(parts))


def sparkline(values: list[int], width: int = 120, height: int = 28, color: str = COLORS["total"]) -> Markup:
    if not values or max(values) == 0:
        return Markup(
            f'<svg class="spark" viewBox="0 0 {width} {height}"><line x1="0" x2="{width}" '
            f'y1="{height - 2}" y2="{height - 2}" stroke="#dde2ea"/></svg>'
        )
    peak, n = max(values), max(1, len(values) - 1)
    pts = " ".join(
        f"{width * i / n:.1f},{height - 2 - (height - 4) * v / peak:.1f}" for i, v in enumerate(values)
    )
    return Markup(
        f'<svg class="spark" viewBox="0 0 {width} {height}" aria-hidden="true">'
        f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="1.5"/></svg>'
    )


LAUNCH_MARKERS = 12


def launch_chart(launches: list[dict], total: int, width: int = 520, height: int = 220) -> Markup:
    """Cumulative launches over time, as a step line with the latest ordinal called out."""
    left, right, top, bottom = 40, 70, 14, 30
    w, h = width - left - right, height - top - bottom
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Peluncuran 112 kumulatif" {FONT}>'
    ]
    if not launches:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="#5b6475">'
            "Belum ada kabupaten/kota yang aktif</text></svg>"
        )
        return Markup("".join(parts))
    first = launches[0]["activated_at"].date()
    last = max(launches[-1]["activated_at"].date(), date(first.year + 1, 1, 1))
    span = max(1, (last - first).days)
    # Four gridlines with whole-number labels: the peak is four times a nice integer step.
    peak = 4 * math.ceil(_nice_max(len(launches) / 4))

    def x(d: date) -> float:
        return left + w * (d - first).days / span

    def y(v: float) -> float:
        return top + h - h * v / peak

    for k in range(5):
        v = peak * k / 4
        parts.append(
            f'<line x1="{left}" x2="{left + w}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e5e9f0"/>'
            f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="11" fill="#5b6475">{v:.0f}</text>'
        )
    for year in range(first.year + 1, last.year + 1):
        xx = x(date(year, 1, 1))
        parts.append(
            f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{top}" y2="{top + h}" stroke="#f0f2f6"/>'
            f'<text x="{xx:.1f}" y="{height - 10}" text-anchor="middle" font-size="11" fill="#5b6475">{year}</text>'
        )
    pts, prev = [f"{x(first):.1f},{y(0):.1f}"], 0
    for launch in launches:
        d = launch["activated_at"].date()
        pts.append(f"{x(d):.1f},{y(prev):.1f}")
        pts.append(f"{x(d):.1f},{y(launch['ordinal']):.1f}")
        prev = launch["ordinal"]
    pts.append(f"{x(last):.1f},{y(prev):.1f}")
    parts.append(
        f'<polyline points="{" ".join(pts)}" fill="none" stroke="{COLORS["launch"]}" stroke-width="2.2"/>'
    )
    # Markers only for the latest launches: hundreds of overlapping circles were ~40 KB of the page
    # and unreadable; every launch is in launches.csv.
    for launch in launches[-LAUNCH_MARKERS:]:
        d = launch["activated_at"].date()
        parts.append(
            f'<circle cx="{x(d):.1f}" cy="{y(launch["ordinal"]):.1f}" r="2.5" fill="{COLORS["launch"]}">'
            f"<title>ke-{launch['ordinal']} dari {total}: {escape(launch['name'])} "
            f"({d.isoformat()})</title></circle>"
        )
    parts.append(
        f'<text x="{x(last) + 6:.1f}" y="{y(prev) + 4:.1f}" font-size="12" font-weight="700" '
        f'fill="{COLORS["launch"]}">{prev} / {total}</text></svg>'
    )
    return Markup("".join(parts))


# --- map ------------------------------------------------------------------------------------------

MAP_W = 900
LON0, LON1, LAT0, LAT1 = 94.8, 141.2, -11.2, 6.2
K = MAP_W / (LON1 - LON0)
MAP_H = round((LAT1 - LAT0) * K)


@lru_cache
def province_paths() -> dict[str, str]:
    """Kemendagri province name → SVG path, equirectangular (fine for a country on the equator)."""
    data = json.loads(GEOJSON.read_text(encoding="utf-8"))
    paths: dict[str, str] = {}
    for feature in data["features"]:
        name = feature["properties"]["PROVINSI"]
        name = GEO_ALIASES.get(name, name)
        d = []
        for polygon in feature["geometry"]["coordinates"]:
            for ring in polygon:
                # Whole viewBox units (1/900 of the width) and no repeated points: the map is
                # computed once per process and is the largest part of every page.
                pts: list[str] = []
                for lon, lat in ring:
                    pt = f"{round((lon - LON0) * K)},{round((LAT1 - lat) * K)}"
                    if not pts or pts[-1] != pt:
                        pts.append(pt)
                if len(pts) >= 3:
                    d.append("M" + "L".join(pts) + "Z")
        paths[name] = paths.get(name, "") + "".join(d)
    return paths


def shade(value: float | None, peak: float) -> str:
    if value is None or peak <= 0:
        return SCALE[0]
    if value <= 0:
        return SCALE[1]
    return SCALE[min(5, 2 + int(4 * value / peak * 0.999))]


def province_map(
    values: dict[str, float | None],
    labels: dict[str, str],
    selected: str | None = None,
    link: str = "/national?province=",
    peak: float | None = None,
) -> Markup:
    """Provinces shaded by ``values`` (None = no data); each links to the province filter."""
    from urllib.parse import quote

    real = [v for v in values.values() if v is not None]
    peak = peak if peak is not None else (max(real) if real else 0)
    parts = [
        f'<svg class="map" viewBox="0 0 {MAP_W} {MAP_H}" role="group" aria-label="Peta Indonesia per provinsi (klik provinsi untuk memfilter)" {FONT}>'
    ]
    for name, d in sorted(province_paths().items()):
        fill = shade(values.get(name), peak)
        cls = ' class="sel"' if name == selected else ""
        parts.append(
            f'<a href="{escape(link + quote(name))}" aria-label="{escape(name)}: {escape(labels.get(name, "–"))}">'
            f'<path d="{d}" fill="{fill}"{cls} '
            f'data-province="{escape(name)}"><title>{escape(name)}: {escape(labels.get(name, "–"))}</title>'
            f"</path></a>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def legend(peak: float, fmt) -> list[tuple[str, str]]:
    """(colour, label) pairs matching ``shade``."""
    out = [(SCALE[0], "tidak ada data"), (SCALE[1], "0")]
    for i in range(4):
        lo, hi = peak * i / 4, peak * (i + 1) / 4
        out.append((SCALE[2 + i], f"{fmt(lo)}–{fmt(hi)}"))
    return out
