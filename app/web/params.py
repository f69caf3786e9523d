"""Typed request parameters shared by every route (bounds from app.bounds, so the OpenAPI
document states them and a value the database column cannot hold is a 422 naming the field)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from app.bounds import INT4_MAX

# Every id column is a PostgreSQL integer: 1 … 2^31-1.
PathId = Annotated[int, Path(ge=1, le=INT4_MAX)]
QueryId = Annotated[int, Query(ge=1, le=INT4_MAX)]
