"""Password hashing (argon2id) and the password policy, in one place."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verifying against this keeps login timing the same whether or not the account exists.
_DUMMY_HASH = _hasher.hash("siaga112-timing-equaliser")

MIN_LENGTH = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def password_problems(password: str, email: str = "") -> list[str]:
    """Human-readable reasons a password is refused (empty list: acceptable)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Kata sandi minimal {MIN_LENGTH} karakter")
    if len(password) > 256:
        problems.append("Kata sandi maksimal 256 karakter")
    if password.isdigit() or password.isalpha():
        problems.append("Kata sandi harus memuat huruf dan angka/simbol")
    local = email.split("@")[0].lower()
    if local and len(local) >= 4 and local in password.lower():
        problems.append("Kata sandi tidak boleh memuat nama akun")
    return problems
