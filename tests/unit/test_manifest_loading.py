"""tenants/*.toml manifests as data: every one loads, bad ones are refused with where and why
(pure parsing and checks, no server; applying them is tests/onboarding/test_manifest.py)."""

from __future__ import annotations

import pytest

from app.tenancy import manifest

SEEDED = {
    "kota_solok": "13.72",
    "kota_padang": "13.71",
    "kab_musi_banyuasin": "16.06",
    "kota_palembang": "16.71",
    "kota_pekanbaru": "14.71",
    "kab_mojokerto": "35.16",
}


def test_one_manifest_per_seeded_regency():
    loaded = {m.slug: m for m in map(manifest.load, manifest.discover())}
    assert {s: m.region.code for s, m in loaded.items()} == SEEDED
    solok = loaded["kota_solok"]
    assert {"earthquake", "flood", "fallen_tree"} <= {c["code"] for c in solok.categories}
    assert loaded["kota_palembang"].status == "verified" and loaded["kota_palembang"].launched is None


@pytest.mark.parametrize(
    "bad, message",
    [
        ('[tenant]\nregion_code = "99.99"\n', "not a Kemendagri"),
        ('[tenant]\nregion_code = "13.72"\nstatus = "active"\n', "launched is required"),
        (
            '[tenant]\nregion_code = "13.72"\n[[category]]\ncode = "x"\nname = "X"\nopds = ["nope"]\n',
            "unknown OPD",
        ),
        (
            '[tenant]\nregion_code = "13.72"\n[[opd]]\ncode = "a"\nname = "A"\nwebhook_url = "http://x.id/h"\n',
            "https",
        ),
        ('[tenant]\nregion_code = "13.72"\n[[sla]]\npriority = 1\narrival_s = -5\n', "positive"),
        ("[tenant\n", "m.toml"),
    ],
)
def test_bad_manifests_are_refused_with_a_location(tmp_path, bad, message):
    path = tmp_path / "m.toml"
    path.write_text(bad)
    with pytest.raises(manifest.ManifestError, match=message):
        manifest.load(path)
