"""Field checks shared by the signup wizard, the resubmission form and the admin pages.

Each ``check_*`` returns ``(clean_values, errors)`` where ``errors`` maps a form field name to a
message in Bahasa Indonesia, ready for the ``field`` macro.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from app.auth.passwords import password_problems

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
NIP_RE = re.compile(r"^\d{18}$", re.ASCII)
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
DOCUMENT_NAME_RE = re.compile(r"^[0-9a-f]{32}\.pdf$")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def clean_text(value: str | None, max_len: int) -> str:
    return " ".join((value or "").split())[: max_len + 1]


def check_required(errors: dict, name: str, value: str, label: str, max_len: int) -> None:
    if not value:
        errors[name] = f"{label} wajib diisi"
    elif len(value) > max_len:
        errors[name] = f"{label} maksimal {max_len} karakter"


def check_email(errors: dict, name: str, value: str, label: str = "Email") -> str:
    value = value.strip().lower()
    if not value:
        errors[name] = f"{label} wajib diisi"
    elif len(value) > 254 or not EMAIL_RE.match(value):
        errors[name] = f"{label} tidak valid (contoh: nama@kominfo.solokkota.go.id)"
    return value


def normalize_phone(value: str) -> str | None:
    """Indonesian numbers as +62…; None if it cannot be a phone number."""
    digits = re.sub(r"[\s\-().]", "", value or "")
    if digits.startswith("+62"):
        digits = "0" + digits[3:]
    elif digits.startswith("62"):
        digits = "0" + digits[2:]
    if not re.fullmatch(r"0\d{7,13}", digits, re.ASCII):
        return None
    return "+62" + digits[1:]


def check_phone(
    errors: dict, name: str, value: str, label: str = "Nomor telepon", required: bool = True
) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            errors[name] = f"{label} wajib diisi"
        return None
    phone = normalize_phone(value)
    if phone is None:
        errors[name] = f"{label} tidak valid (contoh: 0812 3456 7890 atau (0755) 20112)"
    return phone


def check_date(errors: dict, name: str, value: str, label: str, allow_future: bool = False) -> date | None:
    value = (value or "").strip()
    if not value:
        errors[name] = f"{label} wajib diisi"
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        errors[name] = f"{label} tidak valid (format TTTT-BB-HH)"
        return None
    if parsed.year < 2000:
        errors[name] = f"{label} terlalu lama (sebelum tahun 2000)"
    elif not allow_future and parsed > datetime.now(UTC).date():
        errors[name] = f"{label} tidak boleh di masa depan"
    return parsed


def check_contact(form: dict) -> tuple[dict, dict]:
    errors: dict = {}
    name = clean_text(form.get("contact_name"), 200)
    check_required(errors, "contact_name", name, "Nama petugas", 200)
    nip = re.sub(r"\s", "", form.get("contact_nip") or "")
    if nip and not NIP_RE.match(nip):
        errors["contact_nip"] = "NIP terdiri dari 18 angka (boleh dikosongkan)"
    email = check_email(errors, "contact_email", form.get("contact_email") or "")
    phone = check_phone(errors, "contact_phone", form.get("contact_phone") or "")
    return {
        "contact_name": name,
        "contact_nip": nip or None,
        "contact_email": email,
        "contact_phone": phone,
    }, errors


def check_legal(form: dict) -> tuple[dict, dict]:
    errors: dict = {}
    number = clean_text(form.get("legal_number"), 120)
    check_required(errors, "legal_number", number, "Nomor Perbup/SK", 120)
    legal_date = check_date(errors, "legal_date", form.get("legal_date") or "", "Tanggal Perbup/SK")
    return {"legal_number": number, "legal_date": legal_date}, errors


def check_admin(form: dict) -> tuple[dict, dict]:
    errors: dict = {}
    name = clean_text(form.get("admin_name"), 200)
    check_required(errors, "admin_name", name, "Nama admin", 200)
    email = check_email(errors, "admin_email", form.get("admin_email") or "")
    password = form.get("admin_password") or ""
    problems = password_problems(password, email)
    if problems:
        errors["admin_password"] = "; ".join(problems)
    elif password != (form.get("admin_password2") or ""):
        errors["admin_password2"] = "Konfirmasi kata sandi tidak sama"
    return {"admin_name": name, "admin_email": email, "admin_password": password}, errors


@dataclass
class StoredDocument:
    name: str
    size: int
    sha256: str


def check_document(content: bytes | None, errors: dict, name: str = "document") -> None:
    if not content:
        errors[name] = "Unggah dokumen Perbup/SK (PDF, maksimal 5 MB)"
    elif len(content) > MAX_DOCUMENT_BYTES:
        errors[name] = f"Berkas terlalu besar ({len(content) / 1024 / 1024:.1f} MB); maksimal 5 MB"
    elif not content.startswith(b"%PDF-"):
        errors[name] = "Berkas bukan PDF (isi berkas tidak diawali %PDF-); unggah dokumen dalam format PDF"


def store_document(upload_dir: Path, content: bytes) -> StoredDocument:
    """Write a checked PDF under a random name: the client's filename is never used on disk."""
    folder = Path(upload_dir) / "legal"
    folder.mkdir(parents=True, exist_ok=True)
    name = secrets.token_hex(16) + ".pdf"
    tmp = folder / (name + ".part")
    tmp.write_bytes(content)
    tmp.chmod(0o640)
    tmp.rename(folder / name)
    return StoredDocument(name, len(content), hashlib.sha256(content).hexdigest())


def document_file(upload_dir: Path, name: str | None) -> Path | None:
    if not name or not DOCUMENT_NAME_RE.match(name):
        return None
    path = Path(upload_dir) / "legal" / name
    return path if path.is_file() else None
