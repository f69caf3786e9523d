"""The unit tier: pure logic with fakes, no server. Every test here fails if it opens a network
connection (PostgreSQL, Redis or anything else), so a test that needs one belongs beside the
integration tests of its domain instead."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(self, address):
        raise AssertionError(f"a unit test opened a connection to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
