"""Indonesia's 38 provinces and 514 kabupaten/kota (Kemendagri codes), from idn-area-data 4.0.1.

The CSVs live in data/idn-area/ with their licences (data ODbL, code MIT).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache

from app.config import PROJECT_ROOT

DATA = PROJECT_ROOT / "data" / "idn-area"

# Province codes by time zone (everything else is WIB).
WITA_PROVINCES = {"51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"}
WIT_PROVINCES = {"81", "82", "91", "92", "93", "94", "95", "96"}


@dataclass(frozen=True)
class Regency:
    code: str  # "13.72"
    name: str  # "Kota Solok" / "Kabupaten Musi Banyuasin"
    province_code: str
    province: str

    @property
    def is_kota(self) -> bool:
        return self.name.startswith("Kota ")

    @property
    def short_name(self) -> str:
        return self.name.replace("Kabupaten ", "Kab. ", 1)

    @property
    def timezone(self) -> str:
        return timezone_for_province(self.province_code)

    @property
    def slug(self) -> str:
        return slug_for(self.name)


def timezone_for_province(code: str) -> str:
    if code in WIT_PROVINCES:
        return "WIT"
    if code in WITA_PROVINCES:
        return "WITA"
    return "WIB"


def slug_for(name: str) -> str:
    """ "Kota Solok" → kota_solok, "Kabupaten Musi Banyuasin" → kab_musi_banyuasin."""
    base = re.sub(r"^Kabupaten\s+", "kab ", name.strip(), flags=re.I)
    base = re.sub(r"[^a-z0-9]+", "_", base.lower()).strip("_")
    return base[:47]


@lru_cache
def provinces() -> dict[str, str]:
    with open(DATA / "provinces.csv", newline="", encoding="utf-8") as fh:
        return {row["code"]: row["name"] for row in csv.DictReader(fh)}


@lru_cache
def regencies() -> dict[str, Regency]:
    provs = provinces()
    with open(DATA / "regencies.csv", newline="", encoding="utf-8") as fh:
        return {
            row["code"]: Regency(row["code"], row["name"], row["province_code"], provs[row["province_code"]])
            for row in csv.DictReader(fh)
        }


@lru_cache
def districts(regency_code: str) -> list[str]:
    """Kecamatan names of one regency, for address pick lists."""
    with open(DATA / "districts.csv", newline="", encoding="utf-8") as fh:
        return [row["name"] for row in csv.DictReader(fh) if row["regency_code"] == regency_code]


def regency(code: str) -> Regency | None:
    return regencies().get(code)
