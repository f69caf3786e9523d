"""`siaga112 serve` prints the demo accounts; piped into a log they stay copyable."""

from __future__ import annotations

import io

from rich.console import Console

from app import cli
from app.tenancy.demo import DemoAccount, demo_email

ACCOUNTS = [
    DemoAccount(
        "Kab. Musi Banyuasin",
        demo_email("supervisor", "kab_musi_banyuasin"),
        "supervisor",
        "/t/kab_musi_banyuasin/login",
    ),
    DemoAccount("Kota Solok", demo_email("damkar", "kota_solok"), "opd_staff", "/t/kota_solok/login"),
]


def test_accounts_are_one_per_line_and_unwrapped_when_not_a_terminal(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=out, width=40))  # narrower than any e-mail line
    cli._print_accounts(ACCOUNTS)
    lines = out.getvalue().splitlines()
    for account in ACCOUNTS:
        (line,) = [ln for ln in lines if account.email in ln]  # whole address on exactly one line
        assert line.split("\t") == [account.email, account.role, account.where, account.url]
    assert "│" not in out.getvalue() and "┃" not in out.getvalue()  # no table borders to copy around
