"""Console forms: the same pydantic schemas as the API, with errors keyed by field for the page."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def clean(form: Any, fields: tuple[str, ...], lists: tuple[str, ...] = ()) -> dict:
    """Form values for ``fields`` only; empty strings mean "not given"."""
    out: dict = {}
    for name in fields:
        if name in lists:
            values = [v for v in form.getlist(name) if isinstance(v, str) and v.strip()]
            out[name] = values
            continue
        value = form.get(name)
        if isinstance(value, str) and value.strip():
            out[name] = value.strip()
    return out


def parse(model: type[M], data: dict) -> tuple[M | None, dict[str, str]]:
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for e in exc.errors():
            field = str(e["loc"][0]) if e["loc"] else "__all__"
            msg = e["msg"].removeprefix("Value error, ")
            errors.setdefault(field, msg)
        return None, errors
