"""PATCH bodies: JSON patch (RFC 6902), merge patch (RFC 7386) and strategic merge patch.

Real clients lean on the exact upstream behaviour: the Python client sends a
dict body as a strategic merge patch, ``kubectl apply`` (client-side) sends a
three-way strategic patch with ``$setElementOrder``/``$retainKeys``
directives, ``kubectl scale`` a merge patch. So the merge rules follow
apimachinery ``pkg/util/strategicpatch/patch.go`` (``mergeMap``,
``mergeSlice``, ``normalizeElementOrder``) with the server-side options
(``MergeParallelList`` and ``IgnoreUnmatchedNulls`` on), and errors map to
HTTP codes as apiserver ``pkg/endpoints/handlers/patch.go`` does.

Every failure is a :class:`PatchError` (an :class:`ApiError`); nothing else
escapes, whatever the body.
"""

from __future__ import annotations

import json
from typing import Any

import jsonpatch
import jsonpointer

from .errors import ApiError, Invalid, UnsupportedMedia, invalid
from .jsonvalues import copy_json, json_kind
from .schemanode import SchemaNode

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

#: apiserver patch.go ``maxJSONPatchOperations``.
MAX_JSON_PATCH_OPERATIONS = 10000

#: apimachinery errors.go NewGenericServerResponse text for 422: the cause is not sent.
UNPROCESSABLE_MSG = "the server rejected our request due to an error in our request"

# apimachinery pkg/util/mergepatch/errors.go
ERR_BAD_JSON_DOC = "invalid JSON document"
ERR_NO_LIST_OF_LISTS = "lists of lists are not supported"
ERR_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
ERR_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
ERR_BAD_SET_ELEMENT_ORDER = "invalid patch format of setElementOrder list"
ERR_UNSUPPORTED_SMP = "strategic merge patch format is not supported"

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList"
_SET_ORDER = "$setElementOrder"


class PatchError(ApiError):
    """A patch that cannot be applied; ``detail`` keeps the underlying cause for logs."""

    def __init__(self, message: str, code: int = 400, reason: str = "BadRequest", *,
                 detail: str = "", details: dict[str, Any] | None = None, empty_details: bool = False) -> None:
        super().__init__(message, code, reason, details or {})
        self.detail = detail or message
        self._empty_details = empty_details

    def status(self) -> dict[str, Any]:
        body = super().status()
        if self._empty_details and "details" not in body:
            body["details"] = {}  # upstream sends an empty StatusDetails here
        return body


def _bad(message: str) -> PatchError:
    return PatchError(message, 400, "BadRequest")


def _unprocessable(detail: str) -> PatchError:
    """As ``NewGenericServerResponse(422, ...)``: generic message, cause only in ``detail``."""
    return PatchError(UNPROCESSABLE_MSG, 422, "Invalid", detail=detail, empty_details=True)


class _SmpError(Exception):
    """Internal: a strategicpatch error text, mapped to HTTP by :func:`_smp_http_error`."""


# -- helpers -------------------------------------------------------------------------------



def _go(v: Any) -> str:
    """Render a value as Go's ``%v`` does for decoded JSON (used in upstream error texts)."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_go(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(_go(x) for x in v) + "]"
    return str(v)


def _go_type(v: Any) -> str:
    """``reflect.TypeOf`` name of a decoded JSON value."""
    if v is None:
        return "<nil>"
    return {dict: "map[string]interface {}", list: "[]interface {}", str: "string", bool: "bool",
            int: "int64", float: "float64"}.get(type(v), type(v).__name__)


def _no_merge_key(m: Any, key: str) -> _SmpError:
    return _SmpError(f"map: {_go(m)} does not contain declared merge key: {key}")


def _bad_arg_type(expected: str, actual: Any) -> _SmpError:
    return _SmpError(f"expected a {expected}, but received a {_go_type(actual)}")


def parse_json(body: bytes | str) -> Any:
    """Decode a request body; malformed JSON is 400 as in patch.go ``validateAndTranscodePatch``."""
    def _reject(name: str) -> Any:
        raise ValueError(name)
    try:
        text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body
        return json.loads(text, parse_constant=_reject)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _bad("invalid JSON patch") from None


def _not_an_object(result: Any, why: str) -> ApiError:
    """The patched document is not an object: 422 as patch.go's decode failure."""
    text = json.dumps(result, separators=(",", ":"))
    return Invalid("", "", "", [invalid("patch", text, why)])


# -- RFC 6902 ----------------------------------------------------------------------------

def json_patch(doc: dict[str, Any], ops: Any) -> dict[str, Any]:
    """Apply an RFC 6902 patch (already decoded); upstream codes: 400 decode, 413 size, 422 apply."""
    if ops is None:
        return copy_json(doc)  # "null" decodes to an empty patch
    if not isinstance(ops, list):
        raise _bad(f"json: cannot unmarshal {json_kind(ops)} into Go value of type jsonpatch.Patch")
    for op in ops:
        if not isinstance(op, dict):
            raise _bad(f"json: cannot unmarshal {json_kind(op)} into Go value of type jsonpatch.Operation")
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise PatchError(f"Request entity too large: The allowed maximum operations in a JSON patch is "
                         f"{MAX_JSON_PATCH_OPERATIONS}, got {len(ops)}", 413, "RequestEntityTooLarge")
    result: Any = copy_json(doc)
    for op in ops:
        try:
            # One op at a time so the failing op can be named; in_place avoids a copy per op.
            result = jsonpatch.JsonPatch([op]).apply(result, in_place=True)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, TypeError, KeyError,
                IndexError, ValueError, AttributeError, RecursionError) as exc:
            raise _unprocessable(_describe_op_failure(op, exc)) from None
    if not isinstance(result, dict):
        raise _not_an_object(result, f"json: cannot unmarshal {json_kind(result)} into Go value of type "
                                     "map[string]interface {}")
    return result




def _describe_op_failure(op: dict[str, Any], exc: Exception) -> str:
    """An evanphx/json-patch-like text for logs (upstream does not send it to the client)."""
    kind = op.get("op", "unknown")
    path = op.get("path", "")
    if isinstance(exc, jsonpatch.JsonPatchTestFailed):
        return f"testing value {path} failed: test failed"
    if kind not in ("add", "remove", "replace", "move", "copy", "test"):
        return f"Unexpected kind: {kind}"
    return f"{kind} operation does not apply: {path}: {exc}"


# -- RFC 7386 ----------------------------------------------------------------------------

def merge_patch(doc: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply an RFC 7386 merge patch (evanphx ``MergePatch``): nulls delete, objects merge."""
    if patch is None:
        raise _bad("Invalid JSON Patch")  # evanphx ErrBadJSONPatch, 400 in patch.go
    if not isinstance(patch, dict):
        result = _prune_nulls(copy_json(patch))
        raise _not_an_object(result, f"json: cannot unmarshal {json_kind(result)} into Go value of type "
                                     "map[string]interface {}")
    return _merge_obj(copy_json(doc), patch)


def _merge_obj(doc: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for k, v in patch.items():
        if v is None:
            doc.pop(k, None)
        elif isinstance(v, dict) and isinstance(doc.get(k), dict):
            doc[k] = _merge_obj(doc[k], v)
        else:
            doc[k] = _prune_nulls(copy_json(v))
    return doc


def _prune_nulls(v: Any) -> Any:
    """Drop null members of objects at any depth (evanphx ``pruneNulls``)."""
    if isinstance(v, dict):
        return {k: _prune_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_prune_nulls(x) for x in v]
    return v


# -- strategic merge patch ------------------------------------------------------------------

def strategic_merge_patch(doc: dict[str, Any], patch: Any, node: SchemaNode | None) -> dict[str, Any]:
    """Apply a strategic merge patch the way the apiserver does (built-in kinds only)."""
    if patch is None:
        return copy_json(doc)
    if not isinstance(patch, dict):
        raise _bad(f"json: cannot unmarshal {json_kind(patch)} into Go value of type map[string]interface {{}}")
    try:
        return _merge_map(copy_json(doc), copy_json(patch), node)
    except _SmpError as exc:
        raise _smp_http_error(str(exc)) from None
    except RecursionError:
        raise _bad("patch nesting too deep") from None


def _smp_http_error(text: str) -> PatchError:
    """patch.go ``interpretStrategicMergePatchError``.

    Upstream answers any other strategicpatch error (missing merge key, unknown
    ``$patch`` value, mixed element types ...) with a 500 of reason Unknown;
    kubesim keeps the text but answers 400, since it is the body that is wrong.
    """
    if text in (ERR_NO_LIST_OF_LISTS, "patch content doesn't match retainKeys list"):
        return _unprocessable(text)
    return _bad(text)


def _strategy(node: SchemaNode | None) -> str:
    """The patch strategy without ``retainKeys`` (``extractRetainKeysPatchStrategy``)."""
    if node is None:
        return ""
    parts = [p.strip() for p in node.patch_strategy.split(",") if p.strip()]
    parts = [p for p in parts if p != "retainKeys"]
    return parts[0] if parts else ""


def _merge_key(node: SchemaNode | None) -> str:
    return (node.patch_merge_key or "") if node is not None else ""


def _child(node: SchemaNode | None, key: str) -> SchemaNode | None:
    return node.field(key) if node is not None else None


def _items(node: SchemaNode | None) -> SchemaNode | None:
    return node.items() if node is not None else None


def _extract_key(key: str, prefix: str) -> str:
    head, sep, rest = key.partition("/")
    if not sep or head != prefix:
        raise _SmpError(ERR_BAD_PRIMITIVE_LIST if prefix == _DELETE_PRIMITIVE else ERR_BAD_SET_ELEMENT_ORDER)
    return rest


def _merge_map(original: dict[str, Any] | None, patch: dict[str, Any], node: SchemaNode | None) -> dict[str, Any]:
    """strategicpatch ``mergeMap``: directives first, then every key of the patch."""
    if _DIRECTIVE in patch:
        directive = patch[_DIRECTIVE]
        if directive == "replace":
            del patch[_DIRECTIVE]
            return _clean_new(patch)
        if directive == "delete":
            return {}
        raise _SmpError(f"unknown patch type: {_go(directive)} in map: {_go(patch)}")
    if original is None:
        original = {}
    _apply_retain_keys(original, patch)
    _merge_set_element_order(original, patch, node)

    for key, patch_v in patch.items():
        is_delete_list = False
        if key.startswith(_DELETE_PRIMITIVE):
            key = _extract_key(key, _DELETE_PRIMITIVE)
            is_delete_list = True
        elif key.startswith("$"):
            continue  # unknown directive: never stored into the object
        if patch_v is None:
            original.pop(key, None)
            continue
        if key not in original:
            if not is_delete_list:
                _set_new(original, key, patch_v)
            continue
        orig_v = original[key]
        if isinstance(orig_v, dict) and isinstance(patch_v, dict):
            sub = _child(node, key)
            if _strategy(sub) == "replace":
                original[key] = _clean_new(patch_v)
            else:
                original[key] = _merge_map(orig_v, patch_v, sub)
        elif isinstance(orig_v, list) and isinstance(patch_v, list):
            sub = _child(node, key)
            if _strategy(sub) == "merge" or is_delete_list:
                original[key] = _merge_slice(orig_v, patch_v, sub, is_delete_list)
            else:
                original[key] = _clean_new(patch_v)
        elif not is_delete_list:
            _set_new(original, key, patch_v)
    return original


def _set_new(original: dict[str, Any], key: str, value: Any) -> None:
    """A value the original lacks (or has with another type) is taken from the patch, cleaned."""
    if isinstance(value, dict) and _DIRECTIVE in value:
        original.pop(key, None)
        return
    original[key] = _clean_new(value)


def _clean_new(v: Any) -> Any:
    """``discardNullValuesFromPatch`` + ``removeDirectives`` (also drops ``$``-prefixed keys)."""
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if x is None or k.startswith("$"):
                continue
            if isinstance(x, dict) and _DIRECTIVE in x:
                continue
            out[k] = _clean_new(x)
        return out
    if isinstance(v, list):
        return [_clean_new(x) for x in v if not (isinstance(x, dict) and _DIRECTIVE in x)]
    return v


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    """``applyRetainKeysDirective``: keys not listed are cleared from the original."""
    if _RETAIN_KEYS not in patch:
        return
    retain = patch.pop(_RETAIN_KEYS)
    if not isinstance(retain, list):
        raise _SmpError(ERR_BAD_RETAIN_KEYS)
    try:
        keep = set(retain)
    except TypeError:
        raise _SmpError(ERR_BAD_RETAIN_KEYS) from None
    for k, v in patch.items():
        if v is None or k.startswith(_DELETE_PRIMITIVE) or k.startswith(_SET_ORDER):
            continue
        if k not in keep:
            raise _SmpError(ERR_BAD_RETAIN_KEYS)
    for k in [k for k in original if k not in keep]:
        del original[k]


def _merge_set_element_order(original: dict[str, Any], patch: dict[str, Any], node: SchemaNode | None) -> None:
    """``mergePatchIntoOriginal``: merge each list that has a ``$setElementOrder`` and order it."""
    for key in [k for k in patch if k.startswith(_SET_ORDER)]:
        order = patch.pop(key)
        if not isinstance(order, list):
            raise _bad_arg_type("[]interface {}", order)
        field = _extract_key(key, _SET_ORDER)
        orig_list = original.get(field) if field in original else None
        patch_list = patch.get(field) if field in patch else None
        if field in original and not isinstance(orig_list, list):
            raise _bad_arg_type("[]interface {}", orig_list)
        if field in patch and not isinstance(patch_list, list):
            raise _bad_arg_type("[]interface {}", patch_list)
        sub = _child(node, field)
        mkey = _merge_key(sub)
        _validate_order(patch_list or [], order, mkey)
        if orig_list is not None and patch_list is None:
            merged = orig_list
        elif orig_list is None and patch_list is not None:
            merged = _clean_new(patch_list)
        elif orig_list is not None and patch_list is not None:
            if _strategy(sub) == "merge":
                merged = _merge_slice(orig_list, patch_list, sub, False)
            else:
                merged = _clean_new(patch_list)
        else:
            continue
        if not merged and not order:
            original[field] = merged
            patch.pop(field, None)
            continue
        is_map = _element_kind(orig_list or [], patch_list or []) is dict
        in_order, server_only = _partition(merged, order, mkey if is_map else "")
        original[field] = _normalize_order(in_order, server_only, order, orig_list or [], mkey, is_map)
        patch.pop(field, None)


def _validate_order(patch_list: list[Any], order: list[Any], mkey: str) -> None:
    """``validatePatchWithSetOrderList``: patch items must appear in the same relative order."""
    if not order or not patch_list:
        return
    items = patch_list
    if mkey:
        for v in patch_list:
            if not isinstance(v, dict):
                raise _bad_arg_type("map[string]interface {}", v)
        items = [v for v in patch_list if v.get(_DIRECTIVE) != "delete"]
    pi = oi = 0
    while pi < len(items) and oi < len(order):
        item = items[pi]
        if isinstance(item, dict) and _DIRECTIVE in item:
            pi += 1
            continue
        if _key_equal(item, order[oi], mkey):
            pi += 1
        oi += 1
    if pi < len(items) and oi >= len(order):
        raise _SmpError(f"The order in patch list:\n{_go(patch_list)}\n doesn't match {_SET_ORDER} list:\n"
                        f"{_go(order)}\n")


def _key_equal(left: Any, right: Any, mkey: str) -> bool:
    if not mkey:
        return left == right
    if not isinstance(left, dict):
        raise _bad_arg_type("map[string]interface {}", left)
    if not isinstance(right, dict):
        raise _bad_arg_type("map[string]interface {}", right)
    if mkey not in left:
        raise _no_merge_key(left, mkey)
    if mkey not in right:
        raise _no_merge_key(right, mkey)
    return left[mkey] == right[mkey]


def _element_kind(*lists: list[Any]) -> type | None:
    """``sliceElementType``: all elements share one JSON type; lists of lists are refused."""
    seen: type | None = None
    for lst in lists:
        for v in lst:
            t = type(v)
            if t is list:
                raise _SmpError(ERR_NO_LIST_OF_LISTS)
            if seen is None:
                seen = t
            elif t is not seen:
                raise _SmpError(f"list element types are not identical: {_go(list(lists))}")
    return seen


def _merge_slice(original: list[Any], patch: list[Any], node: SchemaNode | None, is_delete_list: bool) -> list[Any]:
    """strategicpatch ``mergeSlice``: union of scalars or merge of maps by the merge key, then order."""
    if not original and not patch:
        return original
    kind = _element_kind(original, patch)
    mkey = _merge_key(node)
    if kind is not dict:
        if is_delete_list:
            return _delete_from(original, patch)
        merged = _dedupe(original + patch)
        in_patch, server_only = _partition(merged, patch, "")
        return _normalize_order(in_patch, server_only, patch, original, "", False)
    if not mkey:
        raise _SmpError(f"cannot merge lists without merge key for {_name(node)}")
    original, patch = _special_elements(original, patch, mkey)
    server_order = list(original)
    merged = _merge_items(original, patch, mkey, _items(node))
    in_patch, server_only = _partition(merged, patch, mkey)
    return _normalize_order(in_patch, server_only, patch, server_order, mkey, True)


def _name(node: SchemaNode | None) -> str:
    """The element type's name, as ``LookupPatchMeta.Name()`` reports it."""
    ref = ((node.raw.get("items") or {}).get("$ref") or "") if node is not None else ""
    return ref.rsplit("/", 1)[-1].rsplit(".", 1)[-1]


def _delete_from(current: list[Any], to_delete: list[Any]) -> list[Any]:
    return [v for v in current if v not in to_delete]


def _dedupe(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def _special_elements(original: list[Any], patch: list[Any], mkey: str) -> tuple[list[Any], list[Any]]:
    """``mergeSliceWithSpecialElements``: act on ``$patch: delete|replace`` list items."""
    plain: list[Any] = []
    replace = False
    for v in patch:
        if _DIRECTIVE not in v:
            plain.append(v)
            continue
        directive = v[_DIRECTIVE]
        if directive == "delete":
            if mkey not in v:
                raise _no_merge_key(v, mkey)
            _ensure_maps(original)
            original = [o for o in original if not (mkey in o and o[mkey] == v[mkey])]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise _SmpError("merging lists cannot yet be specified in the patch")
        else:
            raise _SmpError(f"unknown patch type: {_go(directive)} in map: {_go(v)}")
    if replace:
        return [_clean_new(v) for v in plain], []
    return original, plain


def _ensure_maps(items: list[Any]) -> None:
    for i, v in enumerate(items):
        if not isinstance(v, dict):
            raise _SmpError(f"value for key {i} is not a map")


def _merge_items(original: list[Any], patch: list[Any], mkey: str, item_node: SchemaNode | None) -> list[Any]:
    """``mergeSliceWithoutSpecialElements``: merge same-key maps, append new ones."""
    merged = list(original)
    _ensure_maps(merged)
    for v in patch:
        if mkey not in v:
            raise _no_merge_key(v, mkey)
        for i, o in enumerate(merged):
            if mkey in o and o[mkey] == v[mkey]:
                merged[i] = _merge_map(o, v, item_node)
                break
        else:
            merged.append(_clean_new(v))
    return merged


def _partition(merged: list[Any], by: list[Any], mkey: str) -> tuple[list[Any], list[Any]]:
    """Split into items present in ``by`` and server-only items (``partition*ByPresentInList``)."""
    if not mkey:
        present = [v for v in merged if v in by]
        return present, [v for v in merged if v not in by]
    keys = []
    for v in by:
        if not isinstance(v, dict):
            raise _SmpError(f"value for key {len(keys)} is not a map")
        keys.append(v.get(mkey, _MISSING))
    inside: list[Any] = []
    outside: list[Any] = []
    for v in merged:
        if not isinstance(v, dict):
            raise _bad_arg_type("map[string]interface {}", v)
        if mkey not in v:
            raise _no_merge_key(v, mkey)
        (inside if v[mkey] in keys else outside).append(v)
    return inside, outside


_MISSING = object()


def _position(order: list[Any], item: Any, mkey: str, is_map: bool) -> int:
    if is_map:
        want = item.get(mkey) if isinstance(item, dict) else None
        for i, o in enumerate(order):
            if isinstance(o, dict) and o.get(mkey) == want:
                return i
        return -1
    for i, o in enumerate(order):
        if o == item:
            return i
    return -1


def _sort_by(items: list[Any], order: list[Any], mkey: str, is_map: bool) -> list[Any]:
    """``normalizeSliceOrder``: stable sort by position in ``order``; deletions go last."""
    deletions: list[Any] = []
    if is_map:
        for v in list(items) + list(order):
            if isinstance(v, dict) and mkey not in v:
                raise _no_merge_key(v, mkey)
        deletions = [v for v in items if isinstance(v, dict) and v.get(_DIRECTIVE) == "delete"]
        items = [v for v in items if not (isinstance(v, dict) and v.get(_DIRECTIVE) == "delete")]
    ranked = sorted(items, key=lambda v: _position(order, v, mkey, is_map))
    return ranked + deletions


def _normalize_order(patch_items: list[Any], server_only: list[Any], patch_order: list[Any],
                     server_order: list[Any], mkey: str, is_map: bool) -> list[Any]:
    """``normalizeElementOrder`` + ``mergeSortedSlice``: patch order first, server-only items
    slotted in where the live list had them."""
    right = _sort_by(patch_items, patch_order, mkey, is_map)
    left = _sort_by(server_only, server_order, mkey, is_map)
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li = _position(server_order, left[i], mkey, is_map)
            ri = _position(server_order, right[j], mkey, is_map)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


# -- dispatcher ----------------------------------------------------------------------------

def supported_types(is_custom: bool) -> list[str]:
    """Content types a PATCH accepts (apiserver installer.go; CRDs lack strategic merge)."""
    if is_custom:
        return [JSON_PATCH, MERGE_PATCH, APPLY_PATCH]
    return [JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH]


def apply_patch(content_type: str, doc: dict[str, Any], body: bytes, node: SchemaNode | None, *,
                is_custom: bool) -> dict[str, Any]:
    """Apply a PATCH body of ``content_type`` to ``doc`` (not modified) and return the result.

    Server-side apply (``application/apply-patch+yaml``) is :mod:`kubesim.apply`'s job.
    """
    ctype = content_type.split(";", 1)[0].strip().lower()
    accepted = supported_types(is_custom)
    if ctype not in accepted:
        raise UnsupportedMedia(ctype, accepted)
    if ctype == APPLY_PATCH:
        raise ApiError("apply patches are handled by kubesim.apply.server_side_apply", 500, "InternalError")
    parsed = parse_json(body)
    if ctype == JSON_PATCH:
        return json_patch(doc, parsed)
    if ctype == MERGE_PATCH:
        return merge_patch(doc, parsed)
    return strategic_merge_patch(doc, parsed, node)
