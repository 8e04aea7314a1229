"""Server-side apply and ``metadata.managedFields``, after structured-merge-diff.

``kubectl apply --server-side`` and ``kubectl get -o yaml --show-managed-fields``
expose the field ownership model directly, so kubesim keeps it the way the
apiserver does: field sets in the ``FieldsV1`` trie form, one entry per
(manager, operation, apiVersion, subresource), conflicts reported with the
upstream texts. Followed sources:

* structured-merge-diff ``merge/update.go`` (``Updater.Apply``/``Update``/``prune``),
  ``typed/merge.go`` (list merge order), ``typed/compare.go``,
  ``typed/tofieldset.go``, ``typed/remove.go``, ``fieldpath/serialize-pe.go``,
  ``fieldpath/element.go`` (path display);
* apimachinery ``pkg/util/managedfields/internal``: ``conflict.go`` (messages),
  ``managedfields.go`` (identifiers, entry order), ``stripmeta.go``,
  ``skipnonapplied.go`` (``before-first-apply``), ``lastappliedmanager.go`` and
  ``lastappliedupdater.go`` (client-side to server-side apply migration),
  ``capmanagers.go`` (``ancient-changes``), ``fieldmanager.go``;
* apiserver ``pkg/endpoints/handlers/create.go`` (``prefixFromUserAgent``).

A field path is a tuple of serialized path elements (``f:spec``,
``k:{"name":"web"}``, ``v:"x"``, ``i:0``); a field set is a Python ``set`` of
paths. Schema nodes (:class:`SchemaNode`) say which lists are atomic, sets or
maps; ``None`` nodes are "deduced" (maps granular, lists atomic).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from .errors import ApplyConflict, BadRequest
from .jsonvalues import copy_json
from .schemanode import SchemaNode

Path = tuple[str, ...]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
BEFORE_FIRST_APPLY = "before-first-apply"
ANCIENT_CHANGES = "ancient-changes"
MAX_UPDATE_MANAGERS = 10
FIELD_MANAGER_MAX_LENGTH = 128

# stripmeta.go: never owned by anyone.
_STRIPPED: frozenset[Path] = frozenset({
    ("f:apiVersion",), ("f:kind",), ("f:metadata",),
    *((("f:metadata", f"f:{n}") for n in ("name", "namespace", "creationTimestamp", "selfLink", "uid",
                                         "clusterName", "generation", "managedFields", "resourceVersion"))),
})

_ABSENT: Any = object()
_CONTAINERS = (dict, list)


# -- schema helpers -------------------------------------------------------------------------

def _child(node: SchemaNode | None, key: str) -> SchemaNode | None:
    return node.field(key) if node is not None else None


def _declared(node: SchemaNode | None, key: str) -> bool:
    if node is None:
        return False
    props = node.raw.get("properties")
    return isinstance(props, dict) and key in props


def _atomic_map(node: SchemaNode | None) -> bool:
    return node is not None and node.map_type == "atomic"


def _list_info(node: SchemaNode | None) -> tuple[str, tuple[str, ...]]:
    """(``atomic``|``set``|``map``, keys): kube-openapi schemaconv rules, patch strategy as fallback."""
    if node is None:
        return "atomic", ()
    lt = node.list_type
    if lt == "map":
        return "map", node.list_map_keys
    if lt in ("set", "atomic"):
        return lt, ()
    if lt is None and node.patch_strategy in ("merge", "merge,retainKeys"):
        key = node.patch_merge_key
        return ("map", (key,)) if key else ("set", ())
    return "atomic", ()




def _gojson(v: Any) -> str:
    """Compact JSON as Go's encoder writes it (sorted keys, HTML-escaped)."""
    s = json.dumps(v, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _item_pe(item: Any, rel: str, keys: tuple[str, ...], item_node: SchemaNode | None) -> str:
    """The path element of a list item (``listItemToPathElement``)."""
    if rel == "map" and isinstance(item, dict):
        fields: dict[str, Any] = {}
        for k in keys:
            if k in item:
                fields[k] = item[k]
            else:
                default = _key_default(item_node, k)
                if default is not _ABSENT:
                    fields[k] = default
        return "k:" + _gojson(fields)
    return "v:" + _gojson(item)


def _key_default(item_node: SchemaNode | None, key: str) -> Any:
    """A map key's schema default (e.g. a container port's ``protocol: TCP``)."""
    sub = _child(item_node, key)
    if sub is not None and "default" in sub.raw:
        return sub.raw["default"]
    if key == "protocol":
        return "TCP"
    return _ABSENT


def _go_string(v: Any) -> str:
    """``value.ToString`` (strings quoted as Go's %q)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, list):
        return "[" + ",".join(_go_string(x) for x in v) + "]"
    if isinstance(v, dict):
        return "".join(f"{k}={_go_string(x)}" for k, x in v.items())
    return str(v)


def pe_display(pe: str) -> str:
    """Render one path element as in conflict messages (``PathElement.String``)."""
    kind, _, rest = pe.partition(":")
    if kind == "f":
        return "." + rest
    if kind == "i":
        return f"[{rest}]"
    try:
        val = json.loads(rest)
    except ValueError:
        return f"[{rest}]"
    if kind == "k" and isinstance(val, dict):
        return "[" + ",".join(f"{k}={_go_string(v)}" for k, v in sorted(val.items())) + "]"
    return f"[={_go_string(val)}]"


def path_display(path: Path) -> str:
    """``.spec.template.spec.containers[name="web"].image``."""
    return "".join(pe_display(pe) for pe in path)


# -- field sets -----------------------------------------------------------------------------

def _collect(v: Any, node: SchemaNode | None, path: Path, out: set[Path]) -> None:
    """``typed.ToFieldSet``: leaves, list items, map keys and empty/null values are members."""
    if isinstance(v, dict):
        if _atomic_map(node):
            out.add(path)
            return
        for k, x in v.items():
            p = path + ("f:" + k,)
            _collect(x, _child(node, k), p, out)
            if x is None or (isinstance(x, dict) and not x) or not _declared(node, k):
                out.add(p)
    elif isinstance(v, list):
        rel, keys = _list_info(node)
        if rel == "atomic":
            out.add(path)
            return
        item_node = node.items() if node is not None else None
        seen: set[str] = set()
        for item in v:
            pe = _item_pe(item, rel, keys, item_node)
            p = path + (pe,)
            if pe in seen:
                continue
            seen.add(pe)
            _collect(item, item_node, p, out)
            out.add(p)
    elif path:
        out.add(path)


def field_paths(obj: dict[str, Any], node: SchemaNode | None) -> set[Path]:
    """The set of field paths ``obj`` sets (its ``ToFieldSet``)."""
    out: set[Path] = set()
    _collect(obj, node, (), out)
    return out


def fieldset(obj: dict[str, Any], node: SchemaNode | None) -> dict[str, Any]:
    """``obj``'s field set in the ``fieldsV1`` form used by ``metadata.managedFields``."""
    return paths_to_fields(field_paths(obj, node))


def _pe_sort_key(pe: str) -> tuple[int, str]:
    return ({"f": 0, "k": 1, "v": 2, "i": 3}.get(pe[:1], 4), pe)


_FIELDS_MEMO: dict[frozenset[Path], bytes] = {}
_FIELDS_MEMO_MAX = 1024
_TRIES_MAX = 2048  # the tries of a thousand pods' status writers (pod IPs make each one distinct)


def paths_to_fields(paths: Iterable[Path]) -> dict[str, Any]:
    """Set of paths -> ``fieldsV1`` trie (``.`` marks a member that also has children).

    Memoized (most writes repeat a field set: lease renewals, status updates, events); each call
    still returns a fresh trie, decoded from the remembered JSON.
    """
    key = frozenset(paths)
    hit = _FIELDS_MEMO.get(key)
    if hit is not None:
        return json.loads(hit)
    out = _paths_to_fields(key)
    _remember(_FIELDS_MEMO, key, json.dumps(out, separators=(",", ":"), ensure_ascii=False).encode(),
              _FIELDS_MEMO_MAX)
    return out


def _remember(memo: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    """``memo[key] = value``, first forgetting the oldest entry when full (the hot ones come back)."""
    if len(memo) >= limit:
        try:
            del memo[next(iter(memo))]
        except (RuntimeError, KeyError, StopIteration):  # another thread changed it meanwhile
            pass
    memo[key] = value


def _paths_to_fields(paths: Iterable[Path]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    members: set[Path] = set()
    for p in paths:
        node = root
        for pe in p:
            node = node.setdefault(pe, {})
        members.add(p)

    def render(node: dict[str, Any], prefix: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if node and prefix in members:
            out["."] = {}
        for pe in sorted(node, key=_pe_sort_key):
            out[pe] = render(node[pe], prefix + (pe,))
        return out

    return render(root, ())


def fields_to_paths(fields: Any) -> set[Path]:
    """``fieldsV1`` trie -> set of paths; malformed input raises ``ValueError``."""
    out: set[Path] = set()

    def walk(node: Any, prefix: Path) -> None:
        if not isinstance(node, dict):
            raise ValueError("fieldsV1 must be an object")
        if not node and prefix:
            out.add(prefix)
        for pe, sub in node.items():
            if pe == ".":
                if prefix:
                    out.add(prefix)
                continue
            if len(pe) < 2 or pe[1] != ":" or pe[0] not in "fkvi":
                raise ValueError(f"unknown path element {pe!r}")
            walk(sub, prefix + (pe,))

    walk(fields, ())
    return out


def _with_named_parents(paths: set[Path], node: SchemaNode | None) -> set[Path]:
    """``EnsureNamedFieldsAreMembers``: add every ancestor that is a declared struct field."""
    out = set(paths)
    cache: dict[Path, SchemaNode | None] = {(): node}

    def node_at(p: Path) -> SchemaNode | None:
        if p in cache:
            return cache[p]
        parent = node_at(p[:-1])
        pe = p[-1]
        if parent is None:
            n = None
        elif pe.startswith("f:"):
            n = parent.field(pe[2:])
        else:
            n = parent.items()
        cache[p] = n
        return n

    for p in paths:
        for i in range(1, len(p)):
            pe = p[i - 1]
            if pe.startswith("f:") and _declared(node_at(p[:i - 1]), pe[2:]):
                out.add(p[:i])
    return out


# -- compare / merge / remove ----------------------------------------------------------------

@dataclass
class Comparison:
    added: set[Path] = field(default_factory=set)
    modified: set[Path] = field(default_factory=set)
    removed: set[Path] = field(default_factory=set)


def compare(lhs: Any, rhs: Any, node: SchemaNode | None) -> Comparison:
    """``TypedValue.Compare``: what changed from ``lhs`` to ``rhs``, path by path."""
    c = Comparison()
    _compare(lhs, rhs, node, (), c)
    return c


def _same_value(l: Any, r: Any) -> bool:
    """``l`` and ``r`` are the same JSON value, so comparing them finds nothing.

    Python's ``==`` runs in C but equates ``1``, ``1.0`` and ``True``, which give different
    path elements inside set and map lists; the encoded forms tell them apart (a key order
    that differs only falls back to the full walk).
    """
    if l.__class__ is not r.__class__ or l != r:
        return False
    if l.__class__ is str:
        return True
    # ``repr`` tells 1, 1.0 and True apart as the encoded forms do (and key order too), several
    # times faster than encoding: for JSON values equal reprs mean identical trees.
    return repr(l) == repr(r)


def _compare(l: Any, r: Any, node: SchemaNode | None, path: Path, c: Comparison) -> None:
    if (l.__class__ is dict or l.__class__ is list) and _same_value(l, r):
        return  # an unchanged subtree (most of an object on a status write) adds no path
    leaf = True
    lt = dict if isinstance(l, dict) else list if isinstance(l, list) else None
    rt = dict if isinstance(r, dict) else list if isinstance(r, list) else None
    kind = lt or rt
    same_kind = (l is _ABSENT or lt is kind) and (r is _ABSENT or rt is kind)
    if kind is dict and same_kind:
        lm = l if l is not _ABSENT else {}
        rm = r if r is not _ABSENT else {}
        if not _atomic_map(node) and (lm or rm):
            leaf = False
            for k in {**lm, **rm}:
                lv, rv = lm.get(k, _ABSENT), rm.get(k, _ABSENT)
                if not isinstance(lv, _CONTAINERS) and not isinstance(rv, _CONTAINERS):
                    # Scalars (or absent) on both sides: what the recursion would record, inline.
                    if lv is _ABSENT:
                        c.added.add(path + ("f:" + k,))
                    elif rv is _ABSENT:
                        c.removed.add(path + ("f:" + k,))
                    elif lv != rv:
                        c.modified.add(path + ("f:" + k,))
                    continue
                if (lv.__class__ is dict or lv.__class__ is list) and _same_value(lv, rv):
                    continue  # an unchanged subtree (the recursion would return at once)
                _compare(lv, rv, _child(node, k), path + ("f:" + k,), c)
    elif kind is list and same_kind:
        ll = l if l is not _ABSENT else []
        rl = r if r is not _ABSENT else []
        rel, keys = _list_info(node)
        if rel != "atomic" and (ll or rl):
            leaf = False
            item_node = node.items() if node is not None else None
            li = _index_items(ll, rel, keys, item_node)
            ri = _index_items(rl, rel, keys, item_node)
            for pe in {**li, **ri}:
                _compare(li.get(pe, _ABSENT), ri.get(pe, _ABSENT), item_node, path + (pe,), c)
    if not path:
        return
    if l is _ABSENT:
        c.added.add(path)
    elif r is _ABSENT:
        c.removed.add(path)
    elif leaf and l != r:
        c.modified.add(path)


def _index_items(items: list[Any], rel: str, keys: tuple[str, ...], item_node: SchemaNode | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        out.setdefault(_item_pe(item, rel, keys, item_node), item)
    return out


def merge(lhs: Any, rhs: Any, node: SchemaNode | None) -> Any:
    """``TypedValue.Merge``: ``rhs`` (the applied config) over ``lhs`` (live); nulls dropped."""
    if rhs is _ABSENT:
        return lhs
    if lhs is _ABSENT or rhs is None:
        return rhs
    if isinstance(lhs, dict) and isinstance(rhs, dict):
        if _atomic_map(node) or (not lhs and not rhs):
            return rhs
        out: dict[str, Any] = {}
        for k in {**lhs, **rhs}:
            v = merge(lhs.get(k, _ABSENT), rhs.get(k, _ABSENT), _child(node, k))
            if v is not None:
                out[k] = v
        return out
    if isinstance(lhs, list) and isinstance(rhs, list):
        rel, keys = _list_info(node)
        if rel == "atomic" or (not lhs and not rhs):
            return rhs
        return _merge_list(lhs, rhs, rel, keys, node.items() if node is not None else None)
    return rhs


def _merge_list(lhs: list[Any], rhs: list[Any], rel: str, keys: tuple[str, ...],
                item_node: SchemaNode | None) -> list[Any]:
    """typed/merge.go ``visitListItems``: live order kept, config items in config order."""
    l_pes = [_item_pe(x, rel, keys, item_node) for x in lhs]
    r_pes = [_item_pe(x, rel, keys, item_node) for x in rhs]
    l_val: dict[str, Any] = {}
    for pe, x in zip(l_pes, lhs):
        l_val.setdefault(pe, x)
    r_val = dict(zip(r_pes, rhs))
    shared = [pe for pe in r_pes if pe in l_val]
    next_shared = shared.pop(0) if shared else None
    out: list[Any] = []
    done: set[str] = set()
    li = ri = 0
    while li < len(l_pes) or ri < len(r_pes):
        if li < len(l_pes) and ri < len(r_pes):
            pe = l_pes[li]
            if pe == r_pes[ri]:
                done.add(pe)
                out.append(merge(l_val[pe], r_val[pe], item_node))
                li += 1
                ri += 1
                next_shared = shared.pop(0) if shared else None
                continue
            if pe in r_val and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < len(l_pes):
            pe = l_pes[li]
            if pe not in r_val:
                out.append(lhs[li])
                li += 1
                continue
            if pe in done:
                li += 1
        if ri < len(r_pes):
            pe = r_pes[ri]
            done.add(pe)
            out.append(merge(l_val.get(pe, _ABSENT), r_val[pe], item_node))
            ri += 1
            if next_shared is not None and next_shared == pe:
                next_shared = shared.pop(0) if shared else None
    return out


def remove_paths(v: Any, paths: set[Path], node: SchemaNode | None) -> Any:
    """``TypedValue.RemoveItems``: drop the given paths (and their subtrees)."""
    trie = paths_to_fields(paths)
    out = _remove(v, trie, node)
    return {} if out is None else out


def _remove(v: Any, trie: dict[str, Any], node: SchemaNode | None) -> Any:
    if isinstance(v, dict) and not _atomic_map(node):
        out: dict[str, Any] = {}
        for k, x in v.items():
            sub = trie.get("f:" + k)
            if sub is None:
                out[k] = x
            elif not sub or "." in sub:
                continue
            else:
                y = _remove(x, sub, _child(node, k))
                if y is not None:
                    out[k] = y
        return out or (None if v else out)
    if isinstance(v, list):
        rel, keys = _list_info(node)
        if rel == "atomic":
            return v
        item_node = node.items() if node is not None else None
        items: list[Any] = []
        for x in v:
            sub = trie.get(_item_pe(x, rel, keys, item_node))
            if sub is None:
                items.append(x)
            elif not sub or "." in sub:
                continue
            else:
                items.append(_remove(x, sub, item_node) or {})
        return items or (None if v else items)
    return v


# -- managed fields entries -----------------------------------------------------------------

@dataclass
class Entry:
    """One ``managedFields`` entry with its field set as paths."""

    manager: str
    operation: str
    api_version: str
    paths: set[Path]
    time: str | None = None
    subresource: str = ""
    # The decoded entry's own ``fieldsV1`` and its paths, when that trie is exactly what
    # :func:`paths_to_fields` would write: :meth:`encode` hands it on while the set is unchanged.
    source: tuple[dict[str, Any], frozenset[Path]] | None = field(default=None, repr=False, compare=False)

    def ident(self) -> str:
        """``BuildManagerIdentifier``: JSON of the entry without time, fields (and version for Apply)."""
        key = (self.manager, self.operation, self.api_version, self.subresource)
        hit = _IDENTS.get(key)
        if hit is None:
            d: dict[str, str] = {"manager": self.manager, "operation": self.operation}
            if self.operation != "Apply" and self.api_version:
                d["apiVersion"] = self.api_version
            if self.subresource:
                d["subresource"] = self.subresource
            hit = json.dumps(d, separators=(",", ":"), ensure_ascii=False)
            _remember(_IDENTS, key, hit, _MEMO_MAX)
        return hit

    def printed(self) -> str:
        """``printManager`` as used in conflict messages."""
        s = json.dumps(self.manager, ensure_ascii=False)
        if self.subresource:
            s += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == "Update":
            s += f" using {self.api_version}"
        return s

    def encode(self) -> dict[str, Any]:
        out: dict[str, Any] = {"manager": self.manager, "operation": self.operation,
                               "apiVersion": self.api_version}
        if self.time:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        src = self.source
        if src is not None and self.paths == src[1]:
            out["fieldsV1"] = src[0]  # the set did not change: its trie, already in canonical form
        else:
            out["fieldsV1"] = paths_to_fields(self.paths)
        if self.subresource:
            out["subresource"] = self.subresource
        return out


Managed = dict[str, Entry]


_IDENTS: dict[tuple[str, str, str, str], str] = {}
_TRIES: dict[str, tuple[frozenset[Path], bool]] = {}
_MEMO_MAX = 1024
_TRIES_MAX = 2048  # the tries of a thousand pods' status writers (pod IPs make each one distinct)


def _trie_paths(fields: Any) -> tuple[frozenset[Path], bool]:
    """``fields_to_paths`` memoized by the trie's JSON, and whether the trie is canonical.

    Canonical: exactly what :func:`paths_to_fields` writes for those paths (same members,
    same key order), so an unchanged set can be written back as the trie it was read from.
    Most writes carry the tries of the previous revision (a lease renewal, a status update).
    """
    # Keyed by ``repr`` (cheaper than encoding; for JSON values it identifies the tree exactly as
    # its JSON does); only a miss encodes, for the canonical check.
    key = repr(fields) if fields.__class__ is dict else None
    hit = _TRIES.get(key) if key is not None else None
    if hit is None:
        try:
            text = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError):  # not JSON at all: let fields_to_paths say what is wrong
            return frozenset(fields_to_paths(fields)), False
        paths = fields_to_paths(fields)
        canonical = json.dumps(paths_to_fields(paths), separators=(",", ":"), ensure_ascii=False) == text
        hit = (frozenset(paths), canonical)
        if key is not None:
            _remember(_TRIES, key, hit, _TRIES_MAX)
    return hit


def decode_managed_fields(entries: Any, *, keep_source: bool = False) -> Managed:
    """``DecodeManagedFields``; raises ``ValueError`` on a malformed entry.

    ``keep_source``: remember each entry's ``fieldsV1`` so that :meth:`Entry.encode` reuses it
    while the entry's set is unchanged; only for entries the caller owns and gives up.
    """
    out: Managed = {}
    if not entries:
        return out
    if not isinstance(entries, list):
        raise ValueError("managedFields must be a list")
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise ValueError(f"managed fields entry {i} is not an object")
        op = e.get("operation")
        if op not in ("Apply", "Update"):
            raise ValueError("operation must be `Apply` or `Update`")
        if not e.get("apiVersion"):
            raise ValueError("apiVersion must not be empty")
        if e.get("fieldsType") != "FieldsV1":
            raise ValueError(f"invalid fieldsType {e.get('fieldsType')!r} in managed fields entry {i}")
        raw = e.get("fieldsV1") or {}
        paths, canonical = _trie_paths(raw)
        entry = Entry(str(e.get("manager") or ""), op, str(e["apiVersion"]), set(paths), e.get("time"),
                      str(e.get("subresource") or ""))
        if keep_source and canonical and raw is e.get("fieldsV1"):
            entry.source = (raw, paths)
        out[entry.ident()] = entry
    return out


def encode_managed_fields(managed: Managed) -> list[dict[str, Any]] | None:
    """Entries in upstream order: operation, time, manager, apiVersion, subresource."""
    if not managed:
        return None
    entries = sorted(managed.values(), key=lambda e: (e.operation, e.time or "", e.manager, e.api_version,
                                                      e.subresource))
    return [e.encode() for e in entries]


def manager_from_user_agent(user_agent: str) -> str:
    """create.go ``prefixFromUserAgent``: the User-Agent up to its first ``/``."""
    head = (user_agent or "").split("/", 1)[0]
    out = ""
    for ch in head:
        if not ch.isprintable():
            continue
        if len((out + ch).encode()) > FIELD_MANAGER_MAX_LENGTH:
            break
        out += ch
    return out


# -- update / apply ---------------------------------------------------------------------------

def _tracked_filter(subresource: str | None, node: SchemaNode | None,
                    reset: Iterable[str] | None) -> frozenset[str]:
    """Top-level fields whose ownership this write does not track (strategy ``GetResetFields``).

    Default: the main resource ignores ``status`` when the kind declares one
    (built-ins serve it as a subresource); ``/status`` ignores ``spec``.
    """
    if reset is not None:
        return frozenset(reset)
    if subresource == "status":
        return frozenset({"spec"})
    if not subresource and node is not None and "status" in node.field_names():
        return frozenset({"status"})
    return frozenset()


def _filter(paths: set[Path], ignored: frozenset[str]) -> set[Path]:
    if not ignored:
        return paths
    return {p for p in paths if not (p and p[0][2:] in ignored and p[0].startswith("f:"))}


def _strip_meta(paths: set[Path]) -> set[Path]:
    return paths - _STRIPPED


def _without_managed(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        obj = dict(obj)
        obj["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return obj


def _update_managers(old: Any, new: Any, managers: Managed, workflow: str, force: bool,
                     node: SchemaNode | None, ignored: frozenset[str]) -> tuple[Comparison, dict[str, set[Path]]]:
    """merge/update.go ``update``: other managers lose fields that changed (conflicts unless forced)."""
    c = compare(old, new, node)
    c.added, c.modified, c.removed = (_filter(c.added, ignored), _filter(c.modified, ignored),
                                      _filter(c.removed, ignored))
    changed = c.modified | c.added
    conflicts: dict[str, set[Path]] = {}
    for ident, e in managers.items():
        if ident != workflow:
            hit = e.paths & changed
            if hit:
                conflicts[ident] = hit
    if conflicts and not force:
        return c, conflicts
    for ident, hit in conflicts.items():
        managers[ident].paths = managers[ident].paths - hit
    if c.removed:
        for ident, e in managers.items():
            if ident != workflow:
                e.paths = e.paths - c.removed
    for ident in [i for i, e in managers.items() if not e.paths and i != workflow]:
        del managers[ident]
    return c, {}


def _record(old: dict[str, Any], new: dict[str, Any], managers: Managed, entry: Entry,
            node: SchemaNode | None, ignored: frozenset[str], now: str) -> None:
    """``Updater.Update`` through the managedFieldsUpdater/stripMeta chain, for one manager.

    Other managers (and this one's previous set) lose what changed; this
    manager gains what it added or modified and its time is bumped only then.
    """
    ident = entry.ident()
    c, _ = _update_managers(old, new, managers, "current-operation", True, node, ignored)
    gained = c.modified | c.added
    if gained:
        prev = managers.get(ident)
        entry.paths = gained | (prev.paths if prev else set())
        entry.time = now
        if prev is not None:
            entry.source = prev.source  # kept only while the set stays what it was
        managers[ident] = entry
    if ident in managers:
        managers[ident].paths = _strip_meta(managers[ident].paths)
        if not managers[ident].paths:
            del managers[ident]


def _cap_update_managers(managers: Managed) -> None:
    """capmanagers.go: beyond 10 Update entries the oldest merge into ``ancient-changes``."""
    updaters = [i for i, e in managers.items() if e.operation == "Update"]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return
    updaters.sort(key=lambda i: (managers[i].time or "", i))
    first_by_version: dict[str, str] = {}
    length = len(updaters)
    for ident in updaters:
        if length <= MAX_UPDATE_MANAGERS:
            break
        e = managers[ident]
        bucket = Entry(ANCIENT_CHANGES, "Update", e.api_version, set())
        bid = bucket.ident()
        if e.api_version in first_by_version:
            if bid not in managers:
                first = managers.pop(first_by_version[e.api_version])
                bucket.paths, bucket.time = set(first.paths), first.time
                managers[bid] = bucket
            managers[bid].paths |= e.paths
            managers[bid].time = e.time
            del managers[ident]
            length -= 1
        else:
            first_by_version[e.api_version] = ident


# Struct fields Go always serializes (non-pointer): an empty object already has them.
_ZERO_STRUCTS = frozenset({"metadata", "spec", "status", "template", "strategy", "updateStrategy", "resources"})


def _with_zero_structs(before: Any, after: Any, node: SchemaNode | None) -> Any:
    """``before`` plus the non-pointer structs of ``after`` it lacks, as ``{}``: what a Go
    object (``scheme.New`` or a decoded live object) always has. Comparing against it gives
    upstream's ``.`` markers (none on ``f:spec``, ``f:status``, ``f:template`` ...)."""
    if not isinstance(after, dict) or node is None or not isinstance(before, dict):
        return before
    out = before
    for k, v in after.items():
        if not isinstance(v, dict):
            continue
        sub = node.field(k)
        if sub is None or not _declared(node, k) or not sub.field_names():
            continue
        if k in before:
            filled = _with_zero_structs(before[k], v, sub)
        elif k in _ZERO_STRUCTS or sub.raw.get("default") == {}:
            filled = _with_zero_structs({}, v, sub)
        else:
            continue
        if out is before:
            out = dict(before)
        out[k] = filled
    return out


def record_update(old: dict[str, Any] | None, new: dict[str, Any], *, manager: str, node: SchemaNode | None,
                  now: str, subresource: str | None = None, reset: Iterable[str] | None = None) -> None:
    """Set ``new["metadata"]["managedFields"]`` after a create/update/patch by ``manager``.

    As ``FieldManager.Update``: the entries come from ``new`` when the client
    sent valid ones (e.g. kubectl's client-side-to-server-side migration
    patch), else from ``old``; ``[]`` resets them. An existing object without
    managed fields stays untracked (skipnonapplied.go). Call it after
    defaulting, as upstream tracks defaulted fields too.
    """
    meta = new.setdefault("metadata", {})
    sent = meta.get("managedFields")
    managed: Managed = {}
    if isinstance(sent, list) and not sent:
        managed = {}
    else:
        try:
            managed = decode_managed_fields(sent, keep_source=True)
        except ValueError:
            managed = {}
        if not managed and old is not None:
            try:
                managed = decode_managed_fields((old.get("metadata") or {}).get("managedFields"),
                                                keep_source=True)
            except ValueError:
                managed = {}
    if old is None and any(e.operation == "Apply" and e.manager == manager for e in managed.values()):
        return  # a create that server_side_apply already accounted for (apply on a missing object)
    if old is not None and not managed:
        meta.pop("managedFields", None)
        return
    api_version = str(new.get("apiVersion") or (old or {}).get("apiVersion") or "v1")
    ignored = _tracked_filter(subresource, node, reset)
    entry = Entry(manager or "unknown", "Update", api_version, set(), None, subresource or "")
    after = _without_managed(new)
    before = _with_zero_structs(_without_managed(old) if old is not None else {}, after, node)
    _record(before, after, managed, entry, node, ignored, now)
    _cap_update_managers(managed)
    encoded = encode_managed_fields(managed)
    if encoded is None:
        meta.pop("managedFields", None)
    else:
        meta["managedFields"] = encoded


def _conflict_error(conflicts: dict[str, set[Path]], managers: Managed) -> ApplyConflict:
    """conflict.go ``NewConflictError``: one cause per field, message grouped by manager."""
    items: list[tuple[str, Path]] = []
    for ident in conflicts:
        for p in sorted(conflicts[ident], key=lambda p: (len(p), [_pe_sort_key(pe) for pe in p])):
            items.append((ident, p))
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {managers[i].printed()}",
               "field": path_display(p)} for i, p in items]
    if len(items) == 1:
        i, p = items[0]
        return ApplyConflict(f"Apply failed with 1 conflict: conflict with {managers[i].printed()}: "
                             f"{path_display(p)}", causes)
    lines: list[str] = []
    for ident in sorted(conflicts):
        lines.append(f"conflicts with {managers[ident].printed()}:")
        lines.extend(f"- {path_display(p)}" for i, p in items if i == ident)
    return ApplyConflict(f"Apply failed with {len(items)} conflicts: " + "\n".join(lines), causes)


def _allowed_by_last_applied(live: dict[str, Any], node: SchemaNode | None, api_version: str) -> set[Path]:
    """lastappliedmanager.go: fields in the client-side apply annotation whose live value matches it."""
    raw = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not raw:
        return set()
    try:
        last = json.loads(raw)
    except ValueError:
        return set()
    if not isinstance(last, dict) or last.get("apiVersion") != api_version:
        return set()
    c = compare(last, live, node)
    return field_paths(last, node) - c.modified - c.added - c.removed


def _last_applied_text(config: dict[str, Any]) -> str:
    """lastappliedupdater.go ``buildLastApplied``: the config minus the annotation, JSON + newline."""
    cfg = json.loads(json.dumps(config))
    ann = (cfg.get("metadata") or {}).get("annotations")
    if isinstance(ann, dict):
        ann.pop(LAST_APPLIED, None)
        if not ann:
            cfg["metadata"].pop("annotations")
    return _gojson(cfg) + "\n"


def _gvk(obj: dict[str, Any]) -> str:
    av = str(obj.get("apiVersion") or "")
    group, _, version = av.rpartition("/")
    return f"{group}/{version}, Kind={obj.get('kind') or ''}"


def server_side_apply(live: dict[str, Any] | None, config: dict[str, Any], *, manager: str, force: bool,
                      node: SchemaNode | None, now: str, subresource: str | None = None,
                      reset: Iterable[str] | None = None) -> dict[str, Any]:
    """Apply ``config`` for ``manager`` over ``live`` (``None``: the object does not exist yet).

    Returns the new object with its ``managedFields``; raises ``ApplyConflict``
    (409) when another manager owns a field ``config`` changes and ``force``
    is false, ``BadRequest`` for an unusable configuration.
    """
    if not isinstance(config, dict):
        raise BadRequest("error decoding patch: the apply configuration must be an object")
    cmeta = config.get("metadata")
    if isinstance(cmeta, dict) and cmeta.get("managedFields") is not None:
        raise BadRequest("metadata.managedFields must be nil")
    base = live or {}
    if live:
        if config.get("kind") != live.get("kind") or config.get("apiVersion") != live.get("apiVersion"):
            if config.get("kind") != live.get("kind"):
                raise BadRequest(f"invalid object type: {_gvk(config)}")
            raise BadRequest("Incorrect version specified in apply patch. Specified patch version: "
                             f"{config.get('apiVersion')}, expected: {live.get('apiVersion')}")
    api_version = str(config.get("apiVersion") or base.get("apiVersion") or "v1")
    try:
        managed = decode_managed_fields((base.get("metadata") or {}).get("managedFields"))
    except ValueError:
        managed = {}
    ignored = _tracked_filter(subresource, node, reset)
    live_c = copy_json(_without_managed(base))
    config = copy_json(config)  # the result shares structure with these private copies only
    if not managed and live:
        # skipnonapplied.go: fields set before the first apply belong to "before-first-apply".
        _record({}, live_c, managed, Entry(BEFORE_FIRST_APPLY, "Update", api_version, set()), node, ignored, now)
    try:
        new, managed = _apply(live_c, config, managed, manager, force, node, ignored, api_version, now,
                              subresource or "")
    except _Conflicts as exc:
        allowed = _allowed_by_last_applied(live_c, node, api_version) if manager == "kubectl" else set()
        left = {i: ps - allowed for i, ps in exc.conflicts.items() if ps - allowed}
        if not allowed or left:
            raise _conflict_error(left or exc.conflicts, exc.managers) from None
        new, managed = _apply(live_c, config, exc.original, manager, True, node, ignored, api_version, now,
                              subresource or "")
    meta = new.setdefault("metadata", {})
    if manager == "kubectl" and ((meta.get("annotations") or {}).get(LAST_APPLIED)):
        meta["annotations"][LAST_APPLIED] = _last_applied_text(config)
    encoded = encode_managed_fields(managed)
    if encoded is None:
        meta.pop("managedFields", None)
    else:
        meta["managedFields"] = encoded
    return new


class _Conflicts(Exception):
    def __init__(self, conflicts: dict[str, set[Path]], managers: Managed, original: Managed) -> None:
        super().__init__("conflicts")
        self.conflicts, self.managers, self.original = conflicts, managers, original


def _copy_managed(managed: Managed) -> Managed:
    return {i: Entry(e.manager, e.operation, e.api_version, set(e.paths), e.time, e.subresource)
            for i, e in managed.items()}


def _apply(live: dict[str, Any], config: dict[str, Any], managed: Managed, manager: str, force: bool,
           node: SchemaNode | None, ignored: frozenset[str], api_version: str, now: str,
           subresource: str) -> tuple[dict[str, Any], Managed]:
    """merge/update.go ``Updater.Apply`` + prune, then stripMeta and the time stamp."""
    original = _copy_managed(managed)
    managers = _copy_managed(managed)
    entry = Entry(manager, "Apply", api_version, set(), None, subresource)
    ident = entry.ident()
    merged = merge(live, config, node)
    if not isinstance(merged, dict):
        merged = {}
    last = managers.get(ident)
    entry.paths = _filter(field_paths(config, node), ignored)
    entry.time = last.time if last else None
    managers[ident] = entry
    new = _prune(merged, managers, ident, last.paths if last else set(), node)
    _, conflicts = _update_managers(live, new, managers, ident, force, node, ignored)
    if conflicts:
        raise _Conflicts(conflicts, managers, original)
    entry.paths = _strip_meta(entry.paths)
    if not entry.paths:
        del managers[ident]
    if new != live and ident in managers:
        entry.time = now
    return new, managers


def _prune(merged: dict[str, Any], managers: Managed, ident: str, last: set[Path],
           node: SchemaNode | None) -> dict[str, Any]:
    """``Updater.prune``: drop what this manager applied before, no longer applies, and nobody owns."""
    if not last:
        return merged
    owned: set[Path] = set()
    for e in managers.values():
        owned |= e.paths
    drop = _with_named_parents(last, node) - _with_named_parents(owned, node)
    if not drop:
        return merged
    return remove_paths(merged, drop, node)


def iter_paths(fields: dict[str, Any]) -> Iterator[str]:
    """Human-readable paths of a ``fieldsV1`` set (for messages and tests)."""
    for p in sorted(fields_to_paths(fields), key=lambda p: [_pe_sort_key(pe) for pe in p]):
        yield path_display(p)
