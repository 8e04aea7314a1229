"""A walkable view of an OpenAPI schema: what patching and apply need to know per field.

Built-in kinds carry their list semantics in the upstream OpenAPI extensions
(``x-kubernetes-patch-strategy``/``-merge-key`` for strategic merge patch,
``x-kubernetes-list-type``/``-list-map-keys``/``-map-type`` for server-side
apply); custom resources carry the same extensions in their CRD schema. Both
are walked through :class:`SchemaNode`, so the patch and apply code never
cares where a schema came from.
"""

from __future__ import annotations

from typing import Any

_EMPTY: dict[str, Any] = {}


class SchemaNode:
    """One position in a schema; ``None`` children mean "not declared"."""

    __slots__ = ("_schema", "_defs", "_kids")

    def __init__(self, schema: dict[str, Any] | None, defs: dict[str, Any] | None = None) -> None:
        self._defs = defs or _EMPTY
        self._schema = self._resolve(schema or _EMPTY)
        self._kids: dict[str, SchemaNode | None] | None = None  # field()/items() memo (schemas never change)

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Follow ``$ref`` and single-entry ``allOf`` wrappers, keeping sibling extensions."""
        seen = 0
        while seen < 32:
            seen += 1
            ref = schema.get("$ref")
            if ref is None and isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
                inner = schema["allOf"][0]
                merged = {k: v for k, v in schema.items() if k != "allOf"}
                merged.update({k: v for k, v in inner.items() if k not in merged or k == "$ref"})
                schema = merged
                continue
            if ref is None:
                return schema
            name = ref.rsplit("/", 1)[-1]
            target = self._defs.get(name, _EMPTY)
            merged = dict(target)
            for k, v in schema.items():
                if k != "$ref" and k.startswith("x-kubernetes"):
                    merged[k] = v
            schema = merged
        return schema

    @property
    def raw(self) -> dict[str, Any]:
        return self._schema

    @property
    def types(self) -> set[str]:
        t = self._schema.get("type")
        if isinstance(t, list):
            return {x for x in t if x != "null"}
        if isinstance(t, str):
            return {t}
        if "properties" in self._schema or "additionalProperties" in self._schema:
            return {"object"}
        if "items" in self._schema:
            return {"array"}
        return set()

    @property
    def is_object(self) -> bool:
        return "object" in self.types

    @property
    def is_array(self) -> bool:
        return "array" in self.types

    @property
    def is_map(self) -> bool:
        """An object whose keys are free (``additionalProperties``), e.g. labels."""
        return self.is_object and "properties" not in self._schema and \
            isinstance(self._schema.get("additionalProperties"), dict)

    @property
    def preserves_unknown(self) -> bool:
        return bool(self._schema.get("x-kubernetes-preserve-unknown-fields"))

    @property
    def is_declared(self) -> bool:
        return bool(self._schema)

    def field(self, name: str) -> "SchemaNode | None":
        kids = self._kids
        if kids is None:
            kids = self._kids = {}
        elif name in kids:
            return kids[name]
        props = self._schema.get("properties")
        if isinstance(props, dict) and name in props:
            node = kids[name] = SchemaNode(props[name], self._defs)
            return node
        # Every other key shares the additionalProperties node (one memo entry, whatever the keys).
        if "\0addl" not in kids:
            addl = self._schema.get("additionalProperties")
            kids["\0addl"] = SchemaNode(addl, self._defs) if isinstance(addl, dict) else None
        return kids["\0addl"]

    def field_names(self) -> list[str]:
        props = self._schema.get("properties")
        return list(props) if isinstance(props, dict) else []

    def items(self) -> "SchemaNode | None":
        kids = self._kids
        if kids is None:
            kids = self._kids = {}
        if "\0items" not in kids:
            it = self._schema.get("items")
            kids["\0items"] = SchemaNode(it, self._defs) if isinstance(it, dict) else None
        return kids["\0items"]

    @property
    def list_type(self) -> str | None:
        """``atomic`` | ``set`` | ``map`` (SSA); ``None`` when undeclared (treated as atomic)."""
        return self._schema.get("x-kubernetes-list-type")

    @property
    def list_map_keys(self) -> tuple[str, ...]:
        return tuple(self._schema.get("x-kubernetes-list-map-keys") or ())

    @property
    def map_type(self) -> str | None:
        return self._schema.get("x-kubernetes-map-type")

    @property
    def patch_strategy(self) -> str:
        """Strategic-merge strategy: ``""`` (replace lists), ``merge``, ``retainKeys`` or both."""
        return self._schema.get("x-kubernetes-patch-strategy") or ""

    @property
    def patch_merge_key(self) -> str | None:
        return self._schema.get("x-kubernetes-patch-merge-key")

    @property
    def description(self) -> str:
        return self._schema.get("description", "")
