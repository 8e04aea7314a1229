"""The Kubernetes JSONPath subset that CRD ``additionalPrinterColumns`` use.

Follows client-go ``util/jsonpath`` (parser.go, jsonpath.go) as the CRD table convertor
runs it: the column's ``jsonPath`` wrapped in ``{…}``, ``AllowMissingKeys(true)``, and the
first value of the first result set. Supported: ``.field`` (``\\.`` escapes a dot),
``['key']``, ``.*``/``[*]``, ``..`` recursive descent, ``[i]``, ``[-1]``, ``[a:b:c]``, unions
``[a,b]``, and filters ``[?(@.type=="Ready")]`` with ``== != < > <= >=`` or existence.
An evaluation error (index out of range, filtering a non-list, comparing unlike kinds)
makes the cell null, as upstream.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_MISSING = object()
_TERMINATORS = set(" \t\r\n.,[]$@{}")
_SLICE = re.compile(r"^(-?\d*)(:-?\d*)?(:-?\d*)?$")
_DICT_KEY = re.compile(r"^'([^']*)'$")
_FILTER = re.compile(r"^([^!<>=]+)([!<>=]+)(.+?)$")


class JSONPathError(ValueError):
    pass


@lru_cache(maxsize=512)
def compile_path(expr: str) -> tuple:
    """Parse one action (the text inside ``{}``) into a tuple of nodes."""
    return tuple(_Parser(expr).parse())


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def parse(self) -> list[tuple]:
        nodes: list[tuple] = []
        t = self.text
        while self.pos < len(t):
            rest = t[self.pos:]
            if rest.startswith("[?("):
                nodes.append(self._filter())
            elif rest.startswith(".."):
                if nodes and nodes[-1][0] == "recursive":
                    raise JSONPathError("invalid multiple recursive descent")
                self.pos += 2
                nodes.append(("recursive",))
                if self.pos < len(t) and (t[self.pos].isalnum() or t[self.pos] == "_"):
                    self.pos -= 1  # let the field parser start at a virtual '.'
                    nodes.append(self._field())
            else:
                ch = t[self.pos]
                if ch in " @$":
                    self.pos += 1
                elif ch == "[":
                    nodes.extend(self._array())
                elif ch in "\"'":
                    nodes.append(("text", self._quote(ch)))
                elif ch == ".":
                    nodes.append(self._field())
                elif ch in "+-" or ch.isdigit():
                    nodes.append(self._number())
                elif ch.isalnum() or ch == "_":
                    start = self.pos
                    while self.pos < len(t) and t[self.pos] not in _TERMINATORS:
                        self.pos += 1
                    word = t[start:self.pos]
                    if word not in ("true", "false"):
                        raise JSONPathError(f"unrecognized identifier {word}")
                    nodes.append(("bool", word == "true"))
                else:
                    raise JSONPathError(f"unrecognized character in action: {ch!r}")
        return nodes

    def _field(self) -> tuple:
        t = self.text
        self.pos += 1  # the '.'
        start = self.pos
        while self.pos < len(t):
            ch = t[self.pos]
            if ch == "\\":
                self.pos += 2
                continue
            if ch in _TERMINATORS:
                break
            self.pos += 1
        value = t[start:self.pos]
        return ("wildcard",) if value == "*" else ("field", value.replace("\\", ""))

    def _quote(self, quote: str) -> str:
        t = self.text
        start = self.pos
        self.pos += 1
        while True:
            if self.pos >= len(t):
                raise JSONPathError("unterminated quoted string")
            if t[self.pos] == quote and t[self.pos - 1] != "\\":
                break
            self.pos += 1
        self.pos += 1
        body = t[start + 1:self.pos - 1]
        return re.sub(r"\\(.)", r"\1", body)

    def _number(self) -> tuple:
        t = self.text
        start = self.pos
        if t[self.pos] in "+-":
            self.pos += 1
        while self.pos < len(t) and (t[self.pos] == "." or t[self.pos].isdigit()):
            self.pos += 1
        text = t[start:self.pos]
        try:
            return ("int", int(text))
        except ValueError:
            try:
                return ("float", float(text))
            except ValueError:
                raise JSONPathError(f"cannot parse number {text}") from None

    def _array(self) -> list[tuple]:
        t = self.text
        end = t.find("]", self.pos)
        if end == -1:
            raise JSONPathError("unterminated array")
        inner = t[self.pos + 1:end]
        self.pos = end + 1
        if inner == "*":
            inner = ":"
        parts = inner.split(",")
        if len(parts) > 1:
            return [("union", tuple(compile_path(f"[{p.strip()}]") for p in parts))]
        key = _DICT_KEY.match(inner)
        if key:
            return list(compile_path("." + key.group(1)))
        m = _SLICE.match(inner)
        if not m:
            raise JSONPathError(f"invalid array index {inner}")
        groups = m.groups()
        params: list[tuple[bool, int, bool]] = []  # (known, value, derived)
        for i, g in enumerate(groups):
            if g:
                g = g[1:] if i > 0 else g
                params.append((False, 0, False) if i > 0 and g == "" else (True, int(g), False))
            elif i == 1:
                params.append((True, params[0][1] + 1, True))
            else:
                params.append((False, 0, False))
        return [("array", tuple(params))]

    def _filter(self) -> tuple:
        t = self.text
        self.pos += 3
        start = self.pos
        begin = end = False
        pair = ""
        while True:
            if self.pos >= len(t):
                raise JSONPathError("unterminated filter")
            ch = t[self.pos]
            self.pos += 1
            if ch in "\"'":
                if not begin:
                    begin, pair = True, ch
                    continue
                if t[self.pos - 2] != "\\" and ch == pair:
                    end = True
            elif ch == ")" and begin == end:
                break
        if self.pos >= len(t) or t[self.pos] != "]":
            raise JSONPathError("unclosed array expect ]")
        self.pos += 1
        text = t[start:self.pos - 2]
        m = _FILTER.match(text)
        if m is None:
            return ("filter", compile_path(text), "exists", ())
        return ("filter", compile_path(m.group(1)), m.group(2), compile_path(m.group(3)))


def evaluate(nodes: tuple, data: Any) -> list[Any]:
    """``JSONPath.FindResults(data)[0]`` for one compiled action; raises JSONPathError."""
    values = [data]
    for node in nodes:
        values = _walk(node, values)
    return values


def _walk(node: tuple, values: list[Any]) -> list[Any]:
    kind = node[0]
    if kind == "field":
        name = node[1]
        return [v[name] for v in values if isinstance(v, dict) and name in v]
    if kind == "array":
        return _array(node[1], values)
    if kind == "filter":
        return _filter(node, values)
    if kind == "wildcard":
        out: list[Any] = []
        for v in values:
            if isinstance(v, dict):
                out.extend(v.values())
            elif isinstance(v, list):
                out.extend(v)
            elif isinstance(v, str):
                out.extend(v.encode())  # Go indexes a string into bytes
        return out
    if kind == "recursive":
        return _recursive(values)
    if kind == "union":
        out = []
        for branch in node[1]:
            out.extend(evaluate_list(branch, values))
        return out
    if kind in ("text", "int", "float", "bool"):
        return [node[1]]
    raise JSONPathError(f"unexpected node {kind}")


def evaluate_list(nodes: tuple, values: list[Any]) -> list[Any]:
    for node in nodes:
        values = _walk(node, values)
    return values


def _array(params: tuple, values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v is None:
            continue
        if not isinstance(v, list):
            raise JSONPathError("not array or slice")
        (k0, start, _), (k1, end, derived), (k2, step, _) = params
        n = len(v)
        start = start if k0 else 0
        if start < 0:
            start += n
        end = end if k1 else n
        if end < 0 or (end == 0 and derived):
            end += n
        if end != start:
            if start >= n or start < 0:
                raise JSONPathError(f"array index out of bounds: index {start}, length {n}")
            if end > n or end < 0:
                raise JSONPathError(f"array index out of bounds: index {end - 1}, length {n}")
            if start > end:
                raise JSONPathError(f"starting index {start} is greater than ending index {end}")
        else:
            return out
        if k2 and step <= 0:
            raise JSONPathError("step must be > 0")
        out.extend(v[start:end:step if k2 else 1])
    return out


def _basic(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    raise JSONPathError("invalid type for comparison")


def _compare(op: str, left: Any, right: Any) -> bool:
    # forked text/template funcs.go Equal/Less: like kinds only; no ordering of bools
    kl, kr = _basic(left), _basic(right)
    if kl != kr:
        raise JSONPathError("incompatible types for comparison")
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if kl == "bool":
        raise JSONPathError("invalid type for comparison")
    if op == "<":
        return left < right
    if op == ">":
        return left > right
    if op == "<=":
        return left <= right
    if op == ">=":
        return left >= right
    raise JSONPathError(f"unrecognized filter operator {op}")


def _filter(node: tuple, values: list[Any]) -> list[Any]:
    _, left_nodes, op, right_nodes = node
    out: list[Any] = []
    for v in values:
        if not isinstance(v, list):
            raise JSONPathError("not array or slice and cannot be filtered")
        for item in v:
            lefts = evaluate_list(left_nodes, [item])
            if op == "exists":
                if lefts:
                    out.append(item)
                continue
            if not lefts:
                continue
            if len(lefts) > 1:
                raise JSONPathError("can only compare one element at a time")
            rights = evaluate_list(right_nodes, [item])
            if not rights:
                continue
            if len(rights) > 1:
                raise JSONPathError("can only compare one element at a time")
            if _compare(op, lefts[0], rights[0]):
                out.append(item)
    return out


def _recursive(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v is None:
            continue
        if isinstance(v, dict):
            children = list(v.values())
        elif isinstance(v, list):
            children = list(v)
        elif isinstance(v, str):
            children = list(v.encode())
        else:
            children = []
        if children:
            out.append(v)
            out.extend(_recursive(children))
    return out


def find_first(expr: str, data: Any) -> Any:
    """The first result of ``{expr}`` over ``data``; ``_MISSING`` when none or on error."""
    try:
        results = evaluate(compile_path(expr), data)
    except JSONPathError:
        return _MISSING
    return results[0] if results else _MISSING


MISSING = _MISSING
