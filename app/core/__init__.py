"""The named core: small values every layer may use (nothing here imports a domain or the web)."""
