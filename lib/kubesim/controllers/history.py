"""ControllerRevision helpers shared by the StatefulSet (and DaemonSet) controllers.

Follows k/k ``pkg/controller/history/controller_history.go`` (``ControllerRevisionName``,
``NewControllerRevision``, ``HashControllerRevision``, ``EqualRevision``,
``FindEqualRevisions``, ``SortControllerRevisions``, ``realHistory.CreateControllerRevision``)
and ``k8s.io/apimachinery/pkg/util/rand`` (``SafeEncodeString``). Everything here is
pure: objects are the plain dicts the store holds.

Hash fidelity. Upstream stores a StatefulSet/DaemonSet revision as ``Data.Raw``: the
bytes of ``json.Marshal`` of a ``map[string]interface{}`` (``getPatch`` in
``stateful_set_utils.go`` / ``daemon/update.go``), i.e. compact JSON with every map's
keys sorted, HTML-escaped ``<``, ``>``, ``&`` and U+2028/U+2029. The hash is **FNV-1**
32-bit (``fnv.New32()``, not FNV-1a) over those bytes followed by the decimal
collision count, printed in decimal and mapped through the rand alphabet. Because
``Data.Object`` is nil on that path, ``hashutil.DeepHashObject`` (spew) is never
reached for these controllers. :func:`go_json` reproduces the bytes, so a revision
name equals the one a real cluster would give the same stored template (checked
against k/k ``pkg/controller/statefulset/testdata/compatibility_revision_1.3{3,4}.0.json``:
``test-c77f6d978`` and ``test-776999688b``). That equality holds as far as kubesim's
defaulting makes the stored template byte-identical to the Go serialization.

``pod-template-hash`` of Deployments (``controller.ComputeHash``: FNV-1a over spew's
``%#v`` dump of the Go ``PodTemplateSpec`` struct) is *not* reproduced here: spew
prints every Go field in struct declaration order with its Go type name, including
nil pointers and zero values, which needs the Go type definitions rather than the
OpenAPI schema kubesim has. :func:`fnv32a` is provided for a stable stand-in.
"""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping

from .. import clock

Obj = dict[str, Any]

# k8s.io/apimachinery/pkg/util/rand: consonants and digits without vowels or 0/1/3.
ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
HASH_LABEL = "controller.kubernetes.io/hash"  # ControllerRevisionHashLabel
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
_MAX_PREFIX = 223  # ControllerRevisionName keeps names within 253 bytes


def fnv32(data: bytes) -> int:
    """FNV-1 32-bit (Go ``hash/fnv.New32``): multiply, then xor."""
    h = _FNV_OFFSET
    for b in data:
        h = (h * _FNV_PRIME) & 0xFFFFFFFF
        h ^= b
    return h


def fnv32a(data: bytes) -> int:
    """FNV-1a 32-bit (Go ``hash/fnv.New32a``): xor, then multiply."""
    h = _FNV_OFFSET
    for b in data:
        h ^= b
        h = (h * _FNV_PRIME) & 0xFFFFFFFF
    return h


def safe_encode_string(s: str) -> str:
    """``rand.SafeEncodeString``: each rune maps to ``alphanums[rune % 27]``."""
    return "".join(ALPHANUMS[ord(ch) % len(ALPHANUMS)] for ch in s)


def _go_float(v: float) -> str:
    """encoding/json ``floatEncoder``: fixed notation in [1e-6, 1e21), else exponent (``e-07`` -> ``e-7``)."""
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError("json: unsupported value")
    a = abs(v)
    if a == 0:
        return "-0" if str(v).startswith("-") else "0"
    if 1e-6 <= a < 1e21:
        text = format(Decimal(repr(v)), "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text
    text = repr(v)
    mant, exp = text.split("e")
    if exp.startswith("-0") and len(exp) == 3:
        exp = "-" + exp[2:]
    return f"{mant}e{exp}"


def go_json(obj: Any) -> bytes:
    """Bytes of Go ``json.Marshal`` for a value decoded into ``interface{}``.

    Map keys sorted (byte order), no whitespace, ``<`` ``>`` ``&`` U+2028 U+2029
    escaped as ``\\u003c`` etc. (``encoding/json`` HTML-safe default), numbers as
    float64 prints them.
    """
    parts: list[str] = []
    _encode(obj, parts)
    text = "".join(parts)
    return text.encode("utf-8")


def _encode(v: Any, out: list[str]) -> None:
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, int):
        out.append(str(v))
    elif isinstance(v, float):
        out.append(_go_float(v))
    elif isinstance(v, str):
        out.append(_go_string(v))
    elif isinstance(v, Mapping):
        out.append("{")
        first = True
        for k in sorted(v, key=lambda s: str(s).encode("utf-8")):
            if not first:
                out.append(",")
            first = False
            out.append(_go_string(str(k)))
            out.append(":")
            _encode(v[k], out)
        out.append("}")
    elif isinstance(v, (list, tuple)):
        out.append("[")
        for i, item in enumerate(v):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"json: unsupported type {type(v).__name__}")


def _go_string(s: str) -> str:
    # Python's escaping of ", \\, \n, \r, \t, \b, \f and other C0 controls as \u00XX
    # matches Go >= 1.22; Go additionally escapes the HTML-sensitive characters.
    text = json.dumps(s, ensure_ascii=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def hash_controller_revision(raw: bytes, probe: int | None = None) -> str:
    """``HashControllerRevision`` for a revision whose ``Data.Raw`` is ``raw``."""
    data = raw
    if probe is not None:
        data = raw + str(int(probe)).encode()
    return safe_encode_string(str(fnv32(data)))


def controller_revision_name(prefix: str, hash_: str) -> str:
    """``<prefix>-<hash>``, the prefix cut to 223 bytes."""
    if len(prefix.encode()) > _MAX_PREFIX:
        prefix = prefix.encode()[:_MAX_PREFIX].decode("utf-8", "ignore")
    return f"{prefix}-{hash_}"


def controller_ref(parent: Obj, api_version: str, kind: str) -> Obj:
    """``metav1.NewControllerRef``."""
    meta = parent.get("metadata") or {}
    return {"apiVersion": api_version, "kind": kind, "name": meta.get("name", ""), "uid": meta.get("uid", ""),
            "controller": True, "blockOwnerDeletion": True}


def controller_of(obj: Obj) -> Obj | None:
    """``metav1.GetControllerOf``: the owner reference with ``controller: true``."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            return ref
    return None


def revision_raw(revision: Obj) -> bytes:
    """The ``Data.Raw`` bytes of a stored revision (its ``data`` re-marshalled as Go does)."""
    data = revision.get("data")
    if data is None:
        return b""
    return go_json(data)


def new_controller_revision(parent: Obj, *, api_version: str, kind: str, template_labels: Mapping[str, str] | None,
                            data: Any, revision: int, collision_count: int | None) -> Obj:
    """``NewControllerRevision``: labels = template labels + hash label, controller ref, name ``<parent>-<hash>``."""
    raw = go_json(data)
    hash_ = hash_controller_revision(raw, collision_count)
    labels = dict(template_labels or {})
    labels[HASH_LABEL] = hash_
    meta = parent.get("metadata") or {}
    return {
        "apiVersion": "apps/v1", "kind": "ControllerRevision",
        "metadata": {"name": controller_revision_name(meta.get("name", ""), hash_),
                     "namespace": meta.get("namespace", ""), "labels": labels,
                     "ownerReferences": [controller_ref(parent, api_version, kind)]},
        "data": copy.deepcopy(data),
        "revision": int(revision),
    }


_INT32 = re.compile(r"^[+-]?[0-9]+$")


def _label_hash(revision: Obj) -> int | None:
    # EqualRevision parses the hash label with strconv.ParseInt(hs, 10, 32); the safe
    # encoding is mostly letters, so this usually fails and only the data decides.
    hs = ((revision.get("metadata") or {}).get("labels") or {}).get(HASH_LABEL)
    if hs is None or not _INT32.match(hs):
        return None
    v = int(hs)
    if not -(2 ** 31) <= v < 2 ** 31:
        return None
    return v & 0xFFFFFFFF


def equal_revision(lhs: Obj | None, rhs: Obj | None, raw: Callable[[Obj], bytes] | None = None) -> bool:
    """``EqualRevision``: hash labels (when both parse) and then the raw data bytes.

    ``raw`` stands in for :func:`revision_raw` (a caller caching the bytes per revision).
    """
    if lhs is None or rhs is None:
        return lhs is rhs
    lh, rh = _label_hash(lhs), _label_hash(rhs)
    if lh is not None and rh is not None and lh != rh:
        return False
    raw = raw or revision_raw
    return raw(lhs) == raw(rhs)


def find_equal_revisions(revisions: Iterable[Obj], needle: Obj,
                         raw: Callable[[Obj], bytes] | None = None) -> list[Obj]:
    """``FindEqualRevisions``, order preserved (``raw`` as in :func:`equal_revision`)."""
    return [r for r in revisions if equal_revision(r, needle, raw)]


def _sort_key(r: Obj) -> tuple[int, float, str]:
    meta = r.get("metadata") or {}
    ts = clock.parse_time(meta.get("creationTimestamp"))
    return (int(r.get("revision") or 0), ts.timestamp() if ts else 0.0, meta.get("name", ""))


def sort_controller_revisions(revisions: Iterable[Obj]) -> list[Obj]:
    """``SortControllerRevisions``: by revision, then creation time, then name (stable)."""
    return sorted(revisions, key=_sort_key)


def next_revision(sorted_revisions: list[Obj]) -> int:
    """``nextRevision``: 1 + the last (highest) revision number, or 1."""
    if not sorted_revisions:
        return 1
    return int(sorted_revisions[-1].get("revision") or 0) + 1


def owned_revisions(parent: Obj, revisions: Iterable[Obj], selector: Any) -> list[Obj]:
    """``ListControllerRevisions``: revisions matching ``selector`` owned by ``parent`` or by no controller."""
    uid = (parent.get("metadata") or {}).get("uid")
    out = []
    for r in revisions:
        labels = (r.get("metadata") or {}).get("labels") or {}
        if not selector.matches(labels):
            continue
        ref = controller_of(r)
        if ref is None or ref.get("uid") == uid:
            out.append(r)
    return out


def resolve_collisions(candidate: Obj, parent: Obj, existing: Mapping[str, Obj], collision_count: int,
                       data: Any) -> tuple[Obj, int, bool]:
    """``CreateControllerRevision``'s loop, decided on known objects.

    ``existing`` maps names of revisions already in the namespace to their objects.
    Returns (revision, collisionCount, exists): a same-named revision with the same
    data is reused as is; one with other data bumps the count and renames.
    """
    cur = candidate
    count = collision_count
    meta = parent.get("metadata") or {}
    raw = go_json(data)
    for _ in range(1000):
        name = cur["metadata"]["name"]
        other = existing.get(name)
        if other is None:
            return cur, count, False
        if revision_raw(other) == raw:
            return other, count, True
        count += 1
        hash_ = hash_controller_revision(raw, count)
        cur = copy.deepcopy(cur)
        # Only the name changes: realHistory keeps the hash label of the first attempt.
        cur["metadata"]["name"] = controller_revision_name(meta.get("name", ""), hash_)
    raise RuntimeError("too many ControllerRevision name collisions")
