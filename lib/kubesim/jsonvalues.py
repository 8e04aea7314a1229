"""Small helpers over decoded JSON values, shared by decoding, patching and apply."""

from __future__ import annotations

from typing import Any


def copy_json(v: Any) -> Any:
    """Deep copy of JSON data (much faster than ``copy.deepcopy`` for dict/list trees)."""
    t = type(v)
    if t is dict:
        return {k: copy_json(x) for k, x in v.items()}
    if t is list:
        return [copy_json(x) for x in v]
    return v


def json_kind(v: Any) -> str:
    """The JSON kind of a value as Go's decoder errors name it (object, array, string, number, bool, null)."""
    if isinstance(v, dict):
        return "object"
    if isinstance(v, list):
        return "array"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    return "null"
