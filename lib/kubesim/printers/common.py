"""Shared cell formatting for the table printers.

Each helper names the upstream Go function whose output it reproduces. They work on
the v1 JSON of an object (dicts), never on typed models, and are written for speed:
a list of 1,000 pods is printed on every ``kubectl get pods``.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any, Callable

from .docs import SWAGGER_DOCS

Obj = dict[str, Any]
Cells = list[Any]
# A printer returns the cells of one row (always the wide set: the API server prints with
# GenerateOptions{Wide: true}, pkg/printers/storage TableConvertor) and optional row conditions.
RowFn = Callable[[Obj, float], Cells]

_EMPTY: dict[str, Any] = {}
_EMPTY_LIST: list[Any] = []


# --- column definitions --------------------------------------------------------------------

def col(name: str, type_: str = "string", doc: str = "", *, priority: int = 0, fmt: str = "",
        text: str = "") -> dict[str, Any]:
    """One ``metav1.TableColumnDefinition``; ``doc`` is a SWAGGER_DOCS key, ``text`` a literal."""
    return {"name": name, "type": type_, "format": fmt,
            "description": SWAGGER_DOCS[doc] if doc else text, "priority": priority}


def name_col(priority: int = 0) -> dict[str, Any]:
    return col("Name", doc="meta/v1.ObjectMeta.name", fmt="name", priority=priority)


def age_col() -> dict[str, Any]:
    return col("Age", doc="meta/v1.ObjectMeta.creationTimestamp")


CONTAINERS_TEXT = "Names of each container in the template."
IMAGES_TEXT = "Images referenced by each container in the template."


# --- time ----------------------------------------------------------------------------------

_TS_CACHE: dict[str, float | None] = {}
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\Z")


def parse_time(value: Any) -> float | None:
    """RFC 3339 timestamp -> POSIX seconds; None for empty/null (Go's zero ``metav1.Time``).

    Raises ValueError for text that ``time.Parse(time.RFC3339, …)`` would reject.
    """
    if not value:
        return None
    try:
        return _TS_CACHE[value]
    except KeyError:
        pass
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError(f"not an RFC 3339 time: {value!r}")
    text = value
    if text[-1] in "Zz":
        text = text[:-1] + "+00:00"
    frac = text.find(".")
    if frac != -1:  # fromisoformat takes at most 6 fractional digits; Go keeps 9
        end = frac + 1
        while end < len(text) and text[end].isdigit():
            end += 1
        text = text[:frac] + text[frac:end][:7] + text[end:]
    ts = datetime.fromisoformat(text.replace("t", "T")).timestamp()
    if len(_TS_CACHE) > 50_000:
        _TS_CACHE.clear()
    _TS_CACHE[value] = ts
    return ts


def human_duration(seconds: float) -> str:
    """apimachinery ``pkg/util/duration.HumanDuration`` (seconds instead of a time.Duration)."""
    s = int(seconds)  # Go: int(d.Seconds()), truncation toward zero
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def since(value: Any, now: float) -> str:
    """printers.go ``translateTimestampSince`` (also ``translateMicroTimestampSince``)."""
    try:
        ts = parse_time(value)
    except ValueError:
        return "<unknown>"  # such a value could never have been stored upstream
    if ts is None:
        return "<unknown>"
    return human_duration(now - ts)


def age(obj: Obj, now: float) -> str:
    return since((obj.get("metadata") or _EMPTY).get("creationTimestamp"), now)


# --- labels and selectors ------------------------------------------------------------------

def format_labels(labels: dict[str, str] | None) -> str:
    """apimachinery ``labels.FormatLabels``: sorted ``k=v`` joined by ``,`` or ``<none>``."""
    if not labels:
        return "<none>"
    return ",".join(sorted(f"{k}={v}" for k, v in labels.items()))


def selector_string(sel: dict[str, Any] | None) -> str:
    """``metav1.LabelSelectorAsSelector(sel).String()`` ('' for nil and for match-everything)."""
    if not sel:
        return ""
    reqs: list[tuple[str, str]] = []
    for k, v in (sel.get("matchLabels") or _EMPTY).items():
        reqs.append((k, f"{k}={v}"))
    for expr in sel.get("matchExpressions") or _EMPTY_LIST:
        key, op = expr.get("key", ""), expr.get("operator", "")
        values = list(expr.get("values") or ())
        joined = values[0] if len(values) == 1 else ",".join(sorted(values))
        if op == "In":
            reqs.append((key, f"{key} in ({joined})"))
        elif op == "NotIn":
            reqs.append((key, f"{key} notin ({joined})"))
        elif op == "Exists":
            reqs.append((key, key))
        elif op == "DoesNotExist":
            reqs.append((key, "!" + key))
        else:
            return "<invalid>"  # LabelSelectorAsSelector error; callers map it
    reqs.sort(key=lambda r: r[0])
    return ",".join(r[1] for r in reqs)


def format_label_selector(sel: dict[str, Any] | None) -> str:
    """``metav1.FormatLabelSelector``: the selector string or ``<none>`` (``<error>`` if invalid)."""
    s = selector_string(sel)
    if s == "<invalid>":
        return "<error>"
    return s or "<none>"


# --- containers ----------------------------------------------------------------------------

def container_cells(pod_spec: dict[str, Any] | None) -> tuple[str, str]:
    """printers.go ``layoutContainerCells``: names and images joined by ``,``."""
    containers = (pod_spec or _EMPTY).get("containers") or _EMPTY_LIST
    return (",".join(c.get("name", "") for c in containers),
            ",".join(c.get("image", "") for c in containers))


def template_spec(obj: Obj) -> dict[str, Any]:
    return (((obj.get("spec") or _EMPTY).get("template") or _EMPTY).get("spec") or _EMPTY)


# --- quantities and int-or-string ----------------------------------------------------------

_QTY = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([numkMGTPE])|([eE][+-]?\d+))?\Z")
_BIN = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DEC = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DEC_SUFFIX = {v: k for k, v in _DEC.items()} | {0: ""}
_BIN_SUFFIX = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
_NANO = Decimal("1e-9")
_QTY_CACHE: dict[Any, str] = {}


def quantity(value: Any) -> str:
    """``resource.Quantity.String()``: the canonical form (``1.5Gi`` -> ``1536Mi``, ``0.5`` -> ``500m``).

    A missing quantity prints as ``0`` (the zero Quantity), as in Go.
    """
    if value is None or value == "":
        return "0"
    try:
        return _QTY_CACHE[value]
    except (KeyError, TypeError):
        pass
    text = str(value).strip() if not isinstance(value, bool) else ""
    m = _QTY.match(text)
    if not m:
        return text  # invalid quantities cannot be stored upstream; show them unchanged
    try:
        num = Decimal(m.group(1))
    except InvalidOperation:
        return text
    if m.group(2):
        fmt, num = "bin", num * (1024 ** _BIN[m.group(2)])
    elif m.group(3):
        fmt, num = "dec", num.scaleb(_DEC[m.group(3)])
    elif m.group(4):
        fmt, num = "exp", num.scaleb(int(m.group(4)[1:]))
    else:
        fmt = "dec"
    num = num.quantize(_NANO, rounding=ROUND_CEILING) if num.as_tuple().exponent < -9 else num
    out = _canonical(num, fmt)
    if len(_QTY_CACHE) < 10_000:
        _QTY_CACHE[value] = out
    return out


def _canonical(num: Decimal, fmt: str) -> str:
    # apimachinery resource.Quantity.CanonicalizeBytes
    if num == 0:
        return "0"
    if fmt == "bin":
        if -1024 < num < 1024 or num != num.to_integral_value():
            fmt = "dec"
        else:
            amount, exp = int(num), 0
            while amount % 1024 == 0 and exp < 6:
                amount //= 1024
                exp += 1
            return f"{amount}{_BIN_SUFFIX[exp]}"
    sign, digits, exponent = num.normalize().as_tuple()
    mantissa = int("".join(map(str, digits))) * (-1 if sign else 1)
    exponent = int(exponent)
    if exponent % 3 == 1:
        mantissa, exponent = mantissa * 10, exponent - 1
    elif exponent % 3 == 2:
        mantissa, exponent = mantissa * 100, exponent - 2
    if fmt == "exp":
        return f"{mantissa}" if exponent == 0 else f"{mantissa}e{exponent}"
    suffix = _DEC_SUFFIX.get(exponent)
    return f"{mantissa}{suffix}" if suffix is not None else f"{mantissa}e{exponent}"


def int_or_string(value: Any) -> str:
    """``intstr.IntOrString.String()``."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def bool_ptr(value: Any) -> str:
    """printers.go ``printBoolPtr``: ``True``/``False`` or ``<unset>`` for nil."""
    if value is None:
        return "<unset>"
    return "True" if value else "False"


def condition_true(conditions: list[dict[str, Any]] | None, ctype: str) -> bool:
    """printers.go ``hasJobCondition``: the first condition of that type decides."""
    for c in conditions or _EMPTY_LIST:
        if c.get("type") == ctype:
            return c.get("status") == "True"
    return False
