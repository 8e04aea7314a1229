"""Label and field selectors as the API server parses them (API-08).

Label syntax follows apimachinery ``pkg/labels/selector.go`` (``=``, ``==``,
``!=``, ``in``, ``notin``, ``key``, ``!key``); field selectors follow
``pkg/fields/selector.go`` (``=``, ``==``, ``!=``, comma means AND).
Parse errors are 400 BadRequest with upstream-like text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .errors import BadRequest

_KEY = r"(?:[a-z0-9A-Z](?:[-a-z0-9A-Z_.]*[a-z0-9A-Z])?/)?[a-z0-9A-Z](?:[-a-z0-9A-Z_.]*[a-z0-9A-Z])?"
_VALUE = r"(?:[a-z0-9A-Z](?:[-a-z0-9A-Z_.]*[a-z0-9A-Z])?)?"


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # =, !=, in, notin, exists, !
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        has = self.key in labels
        if self.op == "=":
            return has and labels[self.key] == self.values[0]
        if self.op == "!=":
            return not has or labels[self.key] != self.values[0]
        if self.op == "in":
            return has and labels[self.key] in self.values
        if self.op == "notin":
            return not has or labels[self.key] not in self.values
        if self.op == "exists":
            return has
        if self.op == "!":
            return not has
        if self.op in ("gt", "lt"):
            if not has:
                return False
            try:
                v = int(labels[self.key])
            except ValueError:
                return False
            return v > int(self.values[0]) if self.op == "gt" else v < int(self.values[0])
        return False


class LabelSelector:
    """A parsed label selector; the empty selector matches everything."""

    def __init__(self, reqs: list[Requirement]) -> None:
        self.reqs = reqs

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.reqs)

    @property
    def empty(self) -> bool:
        return not self.reqs


_TOKEN = re.compile(r"\s*(\(|\)|,|!=|==|=|!|[^\s(),!=]+)")


def parse_label_selector(text: str | None) -> LabelSelector:
    if not text or not text.strip():
        return LabelSelector([])
    tokens = _tokenize(text)
    reqs: list[Requirement] = []
    i = 0

    def err(msg: str) -> BadRequest:
        return BadRequest(f"unable to parse requirement: {msg}")

    while i < len(tokens):
        tok = tokens[i]
        if tok == "!":
            if i + 1 >= len(tokens):
                raise err("found '', expected: identifier")
            key = tokens[i + 1]
            _check_key(key)
            reqs.append(Requirement(key, "!"))
            i += 2
        else:
            key = tok
            if key in (",", "(", ")", "=", "==", "!="):
                raise BadRequest(f"unable to parse requirement: found '{key}', expected: !, identifier")
            _check_key(key)
            i += 1
            if i >= len(tokens) or tokens[i] == ",":
                reqs.append(Requirement(key, "exists"))
            else:
                op = tokens[i]
                i += 1
                if op in ("=", "=="):
                    val = tokens[i] if i < len(tokens) and tokens[i] != "," else ""
                    if val:
                        i += 1
                    _check_value(val)
                    reqs.append(Requirement(key, "=", (val,)))
                elif op == "!=":
                    val = tokens[i] if i < len(tokens) and tokens[i] != "," else ""
                    if val:
                        i += 1
                    _check_value(val)
                    reqs.append(Requirement(key, "!=", (val,)))
                elif op in ("in", "notin"):
                    if i >= len(tokens) or tokens[i] != "(":
                        raise err(f"found '{tokens[i] if i < len(tokens) else ''}', expected: '('")
                    i += 1
                    values: list[str] = []
                    while i < len(tokens) and tokens[i] != ")":
                        if tokens[i] != ",":
                            _check_value(tokens[i])
                            values.append(tokens[i])
                        i += 1
                    if i >= len(tokens):
                        raise err("found '', expected: ')'")
                    i += 1
                    reqs.append(Requirement(key, op, tuple(values)))
                elif op in ("gt", "lt"):
                    val = tokens[i] if i < len(tokens) else ""
                    i += 1
                    if not re.fullmatch(r"-?\d+", val):
                        raise err(f"for 'Gt', 'Lt' operators, the value must be an integer")
                    reqs.append(Requirement(key, op, (val,)))
                else:
                    raise err(f"found '{op}', expected: in, notin, =, ==, !=, gt, lt")
        if i < len(tokens):
            if tokens[i] != ",":
                raise err(f"found '{tokens[i]}', expected: ',' or 'end of string'")
            i += 1
            if i >= len(tokens):
                raise err("found '', expected: !, identifier")
    return LabelSelector(reqs)


def _tokenize(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            break
        if m.group(1):
            out.append(m.group(1))
        pos = m.end()
        if pos < len(text) and text[pos:].strip() == "":
            break
    return out


def _check_key(key: str) -> None:
    if not re.fullmatch(_KEY, key) or len(key.split("/")[-1]) > 63:
        raise BadRequest(
            f"unable to parse requirement: invalid label key \"{key}\": name part must consist of alphanumeric "
            "characters, '-', '_' or '.', and must start and end with an alphanumeric character "
            "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        )


def _check_value(val: str) -> None:
    if len(val) > 63 or not re.fullmatch(_VALUE, val):
        raise BadRequest(
            f"unable to parse requirement: values[0][{val}]: Invalid value: \"{val}\": a valid label must be an "
            "empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
            "an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation "
            "is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        )


def selector_from_label_selector(sel: Mapping[str, Any] | None) -> LabelSelector:
    """A ``metav1.LabelSelector`` (matchLabels + matchExpressions) as a matcher.

    ``None`` matches nothing and ``{}`` everything, as in ``LabelSelectorAsSelector``.
    """
    if sel is None:
        return LabelSelector([Requirement("", "in", ())])
    reqs = [Requirement(k, "=", (str(v),)) for k, v in sorted((sel.get("matchLabels") or {}).items())]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in sel.get("matchExpressions") or []:
        op = ops.get(expr.get("operator", ""))
        if op is None:
            continue
        reqs.append(Requirement(expr.get("key", ""), op, tuple(expr.get("values") or ())))
    return LabelSelector(reqs)


def format_label_selector(sel: Mapping[str, Any] | None) -> str:
    """Render a ``metav1.LabelSelector`` as the string form kubectl and Scale.status.selector use."""
    if not sel:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for expr in sel.get("matchExpressions") or []:
        op = expr.get("operator")
        key = expr.get("key")
        vals = ",".join(sorted(expr.get("values") or []))
        if op == "In":
            parts.append(f"{key} in ({vals})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({vals})")
        elif op == "Exists":
            parts.append(f"{key}")
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(sorted(parts))


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    op: str  # = or !=
    value: str


class FieldSelector:
    def __init__(self, reqs: list[FieldRequirement]) -> None:
        self.reqs = reqs

    def matches(self, fields: Mapping[str, str]) -> bool:
        for r in self.reqs:
            v = fields.get(r.field, "")
            if r.op == "=" and v != r.value:
                return False
            if r.op == "!=" and v == r.value:
                return False
        return True

    @property
    def empty(self) -> bool:
        return not self.reqs

    def value_of(self, field: str) -> str | None:
        for r in self.reqs:
            if r.field == field and r.op == "=":
                return r.value
        return None


def parse_field_selector(text: str | None, supported: Callable[[str], bool]) -> FieldSelector:
    """Parse ``a=b,c!=d``; fields the kind cannot select on are a 400 as upstream."""
    if not text or not text.strip():
        return FieldSelector([])
    reqs: list[FieldRequirement] = []
    for part in _split_unescaped(text):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"([^=!]+?)\s*(!=|==|=)\s*(.*)", part)
        if not m:
            raise BadRequest(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, value = m.group(1).strip(), m.group(2), _unescape(m.group(3))
        if not supported(field):
            raise BadRequest(f"field label not supported: {field}")
        reqs.append(FieldRequirement(field, "!=" if op == "!=" else "=", value))
    return FieldSelector(reqs)


def _split_unescaped(text: str) -> list[str]:
    parts, cur, esc = [], [], False
    for ch in text:
        if esc:
            cur.append("\\" + ch)
            esc = False
        elif ch == "\\":
            esc = True
        elif ch == ",":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _unescape(v: str) -> str:
    return re.sub(r"\\(.)", r"\1", v)
