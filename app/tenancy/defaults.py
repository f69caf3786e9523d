"""What every new regency starts with: the agencies and categories named in 112 launches.

A manifest in tenants/ (or the tenant admin) can add to or change these later.
"""

from __future__ import annotations

DEFAULT_OPDS: list[dict] = [
    {"code": "kominfo", "name": "Dinas Komunikasi dan Informatika", "type": "kominfo"},
    {"code": "bpbd", "name": "BPBD (Badan Penanggulangan Bencana Daerah)", "type": "bpbd"},
    {"code": "damkar", "name": "Pemadam Kebakaran", "type": "damkar", "emergency_number": "113"},
    {"code": "dinkes", "name": "Dinas Kesehatan", "type": "dinkes", "emergency_number": "119"},
    {"code": "ambulans", "name": "Ambulans Gawat Darurat", "type": "ambulans", "emergency_number": "118"},
    {"code": "satpolpp", "name": "Satuan Polisi Pamong Praja", "type": "satpolpp"},
    {"code": "dishub", "name": "Dinas Perhubungan", "type": "dishub"},
    {"code": "pupr", "name": "Dinas PUPR", "type": "pupr"},
    {"code": "dinsos", "name": "Dinas Sosial", "type": "dinsos"},
    {"code": "dpppa", "name": "DPPPA (Perlindungan Perempuan dan Anak)", "type": "dpppa"},
    {"code": "polisi", "name": "Kepolisian", "type": "polisi", "emergency_number": "110"},
    {"code": "basarnas", "name": "Basarnas", "type": "basarnas", "emergency_number": "115"},
    {"code": "pln", "name": "PLN", "type": "pln"},
    {"code": "pmi", "name": "PMI", "type": "pmi"},
]

# code, name, default priority, routed OPD codes
DEFAULT_CATEGORIES: list[tuple[str, str, int, list[str]]] = [
    ("fire", "Kebakaran", 1, ["damkar", "bpbd"]),
    ("traffic_accident", "Kecelakaan lalu lintas", 1, ["ambulans", "polisi", "dishub"]),
    ("flood", "Banjir", 2, ["bpbd", "dinsos", "pupr"]),
    ("fallen_tree", "Pohon tumbang", 2, ["bpbd", "pupr", "pln"]),
    ("earthquake", "Gempa bumi", 1, ["bpbd", "basarnas", "dinkes"]),
    ("landslide", "Tanah longsor", 1, ["bpbd", "basarnas", "pupr"]),
    ("medical", "Kegawatdaruratan medis", 1, ["ambulans", "dinkes"]),
    ("violence_crime", "Kekerasan / kriminalitas", 1, ["polisi", "satpolpp", "dpppa"]),
    ("other", "Kedaruratan lainnya", 3, ["satpolpp"]),
]
