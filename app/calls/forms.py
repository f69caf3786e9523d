"""Console forms: the same pydantic schemas as the API, with errors keyed by field for the page."""

from __future__ import annotations

import re
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from app.bounds import ascii_digits

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


_DECIMAL = re.compile(r"-?[0-9]{1,3}(\.[0-9]{1,12})?")


def _is_int(prop: dict) -> bool:
    return prop.get("type") == "integer" or any(_is_int(p) for p in prop.get("anyOf", ()))


def _is_number(prop: dict) -> bool:
    return prop.get("type") == "number" or any(_is_number(p) for p in prop.get("anyOf", ()))


@cache
def _typed_fields(model: type[BaseModel]) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(integer, integer-list, number) fields of ``model``. The API takes JSON numbers only
    (app.bounds.StrictInt, strict lat/lon), so the form's ASCII strings become numbers here and
    nothing else does (``١``, ``true`` stay as typed and are refused)."""
    props = model.model_json_schema()["properties"]
    ints = frozenset(k for k, p in props.items() if _is_int(p))
    lists = frozenset(k for k, p in props.items() if p.get("type") == "array" and _is_int(p.get("items", {})))
    numbers = frozenset(k for k, p in props.items() if _is_number(p))
    return ints, lists, numbers


def _as_int(value: Any) -> Any:
    return int(value) if isinstance(value, str) and ascii_digits(value) and len(value) < 12 else value


def _as_number(value: Any) -> Any:
    return float(value) if isinstance(value, str) and _DECIMAL.fullmatch(value) else value


def _typed(model: type[BaseModel], data: dict) -> dict:
    ints, lists, numbers = _typed_fields(model)
    out = {}
    for k, v in data.items():
        if k in lists and isinstance(v, list):
            v = [_as_int(x) for x in v]
        elif k in ints:
            v = _as_int(v)
        elif k in numbers:
            v = _as_number(v)
        out[k] = v
    return out


def parse(model: type[M], data: dict) -> tuple[M | None, dict[str, str]]:
    data = _typed(model, data)
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for e in exc.errors():
            field = str(e["loc"][0]) if e["loc"] else "__all__"
            msg = e["msg"].removeprefix("Value error, ")
            errors.setdefault(field, msg)
        return None, errors
