"""Call recordings: posted (or fetched) from the telephony integrator, kept in object storage,
played only to allowed roles with every access audited, deleted after the regency's retention."""
