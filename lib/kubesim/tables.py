"""Server-side ``meta.k8s.io/v1`` Table output (API-05).

kubectl asks for ``application/json;as=Table;v=v1;g=meta.k8s.io`` on every human-readable
``get`` (and on ``get -w``); without a Table it falls back to NAME/AGE. Three convertors,
chosen the way the upstream registries choose them:

* built-in kinds with a printer: k/k ``pkg/printers/internalversion/printers.go``
  (``kubesim.printers``), always printed wide (``printers/storage.TableConvertor`` passes
  ``GenerateOptions{Wide: true}``; kubectl hides ``priority > 0`` columns without ``-o wide``);
* custom resources: apiextensions-apiserver ``registry/customresource/tableconvertor``
  over the version's ``additionalPrinterColumns``, defaulted to one ``Age`` column
  (``serveDefaultColumnsIfEmpty``);
* everything else (LimitRange, Role, ClusterRole, CRDs themselves): apiserver
  ``registry/rest.NewDefaultTableConvertor``: ``Name`` and ``Created At`` (a ``date``
  column holding the RFC 3339 time).

Row objects follow apiserver ``endpoints/handlers/response.go`` ``asTable``:
``includeObject=Metadata`` (default) sends a ``PartialObjectMetadata`` sharing the stored
metadata dict (serialize the table before mutating the object), ``Object`` the object
itself, ``None`` a null object.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from .printers import PRINTERS, ROW_CONDITIONS
from .printers.common import col, human_duration, name_col, parse_time
from .printers.jsonpath import MISSING, find_first
from .resources import ResourceType

__all__ = ["column_definitions", "row", "table", "human_duration", "INCLUDE_OBJECT_POLICIES"]

INCLUDE_OBJECT_POLICIES = ("None", "Metadata", "Object")

_DEFAULT_COLUMNS = [
    name_col(),
    col("Created At", "date", "meta/v1.ObjectMeta.creationTimestamp"),
]
_CRD_AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


# --- column definitions --------------------------------------------------------------------

def _crd_columns(rt: ResourceType) -> list[dict[str, Any]]:
    # apiextensions tableconvertor.New over serveDefaultColumnsIfEmpty(version.additionalPrinterColumns)
    cols = [name_col()]
    for c in _crd_printer_columns(rt):
        path = c.get("jsonPath", "")
        if c is _CRD_AGE:
            description = col("Age", doc="meta/v1.ObjectMeta.creationTimestamp")["description"]
        else:
            description = c.get("description") or f"Custom resource definition column (in JSONPath format): {path}"
        cols.append({"name": c.get("name", ""), "type": c.get("type", ""), "format": c.get("format", "") or "",
                     "description": description, "priority": int(c.get("priority") or 0)})
    return cols


def _crd_printer_columns(rt: ResourceType) -> list[dict[str, Any]]:
    return list((rt.crd or {}).get("additionalPrinterColumns") or ()) or [_CRD_AGE]


def column_definitions(rt: ResourceType) -> list[dict[str, Any]]:
    """The Table ``columnDefinitions`` for a resource type (fresh dicts, safe to mutate)."""
    if rt.crd is not None:
        return _crd_columns(rt)
    printer = PRINTERS.get((rt.group, rt.kind))
    columns = printer[0] if printer else _DEFAULT_COLUMNS
    return [dict(c) for c in columns]


# --- rows ----------------------------------------------------------------------------------

def _row_object(rt: ResourceType, obj: dict[str, Any], include_object: str) -> Any:
    if include_object == "Object":
        if "kind" in obj and "apiVersion" in obj:
            return obj
        return {"kind": rt.kind, "apiVersion": rt.api_version, **obj}  # kubectl decodes it by kind
    if include_object == "None":
        return None
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def _default_cells(obj: dict[str, Any], now: float) -> list[Any]:
    # rest.defaultTableConvertor: name and creationTimestamp.UTC().Format(time.RFC3339)
    meta = obj.get("metadata") or {}
    try:
        ts = parse_time(meta.get("creationTimestamp"))
    except ValueError:
        ts = None
    if ts is None:
        created = "0001-01-01T00:00:00Z"  # Go's zero time, formatted
    else:
        created = datetime.fromtimestamp(int(ts), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [meta.get("name", ""), created]


def _crd_cells(rt: ResourceType, obj: dict[str, Any], now: float) -> list[Any]:
    cells: list[Any] = [(obj.get("metadata") or {}).get("name", "")]
    for c in _crd_printer_columns(rt):
        value = find_first(c.get("jsonPath", ""), obj)
        if value is MISSING:
            cells.append(None)
        elif c.get("type") == "string":
            cells.append(_print_jsonpath_value(value))
        else:
            cells.append(_cell_for_json_value(c.get("type", ""), value, now))
    return cells


def _cell_for_json_value(type_: str, value: Any, now: float) -> Any:
    """apiextensions tableconvertor ``cellForJSONValue``."""
    if value is None or isinstance(value, bool) and type_ != "boolean":
        return None
    if type_ == "integer":
        return int(value) if isinstance(value, (int, float)) else None
    if type_ == "number":
        return float(value) if isinstance(value, (int, float)) else None
    if type_ == "boolean":
        return value if isinstance(value, bool) else None
    if type_ == "string":
        return value if isinstance(value, str) else None
    if type_ == "date" and isinstance(value, str):
        try:
            ts = parse_time(value)
        except ValueError:
            return "<invalid>"
        return "<unknown>" if ts is None else human_duration(now - ts)
    return None


def _print_jsonpath_value(value: Any) -> str:
    """client-go ``JSONPath.PrintResults`` for one value (maps/lists as JSON, else fmt.Fprint)."""
    if isinstance(value, (dict, list)):
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
                .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    if value is None:
        return "<no value>"  # template.PrintableValue of an invalid value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    return str(value)


def _go_float(value: float) -> str:
    """fmt's ``%v`` for a float64: strconv ``'g'`` shortest digits, ``%e`` form when exp < -4 or >= 6."""
    if value != value or value in (float("inf"), float("-inf")):
        return {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}[repr(value)]
    if value == 0:
        return "0" if str(value)[0] != "-" else "-0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    ds = "".join(map(str, digits))
    exp = len(ds) + int(exponent) - 1
    neg = "-" if sign else ""
    if exp < -4 or exp >= 6:
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{neg}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    dp = exp + 1
    if dp <= 0:
        return f"{neg}0.{'0' * -dp}{ds}"
    if dp >= len(ds):
        return f"{neg}{ds}{'0' * (dp - len(ds))}"
    return f"{neg}{ds[:dp]}.{ds[dp:]}"


def row(rt: ResourceType, obj: dict[str, Any], now: datetime, include_object: str = "Metadata") -> dict[str, Any]:
    """One ``metav1.TableRow``: ``{"cells": [...], "conditions"?: [...], "object": ...}``."""
    return _row(rt, obj, now.timestamp(), include_object)


def _row(rt: ResourceType, obj: dict[str, Any], now: float, include_object: str) -> dict[str, Any]:
    if rt.crd is not None:
        cells = _crd_cells(rt, obj, now)
        conditions = None
    else:
        key = (rt.group, rt.kind)
        printer = PRINTERS.get(key)
        cells = printer[1](obj, now) if printer else _default_cells(obj, now)
        cond_fn = ROW_CONDITIONS.get(key)
        conditions = cond_fn(obj) if cond_fn else None
    out: dict[str, Any] = {"cells": cells}
    if conditions:
        out["conditions"] = [dict(c) for c in conditions]
    out["object"] = _row_object(rt, obj, include_object)
    return out


def table(rt: ResourceType, objs: list[dict[str, Any]], *, resource_version: str, now: datetime,
          include_object: str = "Metadata", continue_token: str | None = None, remaining: int | None = None,
          no_headers: bool = False) -> dict[str, Any]:
    """A full ``meta.k8s.io/v1`` Table for a list (or, with one object, for a get).

    ``no_headers`` mirrors ``TableOptions.NoHeaders``: a watch sends column definitions
    only with its first event (apiserver handlers/watch.go), the rest carry null.
    """
    if include_object not in INCLUDE_OBJECT_POLICIES:
        raise ValueError(f"includeObject must be one of {INCLUDE_OBJECT_POLICIES}, not {include_object!r}")
    ts = now.timestamp()
    metadata: dict[str, Any] = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    if remaining is not None:
        metadata["remainingItemCount"] = remaining
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": None if no_headers else column_definitions(rt),
        "rows": [_row(rt, o, ts, include_object) for o in objs],
    }
