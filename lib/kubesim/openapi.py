"""The ``/openapi/v3`` documents kubectl reads.

``kubectl apply``/``create`` (default ``--validate=strict``) fetch the root
discovery document and then one per group-version, and look for a PATCH
operation carrying ``x-kubernetes-group-version-kind`` and a ``fieldValidation``
query parameter (cli-runtime ``pkg/resource/query_param_verifier_v3.go``);
client-side apply builds its strategic merge patch from ``components.schemas``
(apimachinery ``strategicpatch/meta.go`` ``PatchMetaFromOpenAPIV3``), and
``kubectl explain`` walks the same schemas (kubectl ``pkg/explain/v2``). The
shapes follow a real apiserver's output (kubernetes ``api/openapi-spec/v3``):
properties that reference a definition are ``allOf: [{$ref}]`` with siblings,
types are plain strings, IntOrString is ``format: int-or-string`` + ``oneOf``.

Documents are pure functions of their inputs, so the server can cache them per
registry generation; :func:`document_hash` gives the ``hash`` query value.
They share converted definitions with a module cache: treat them as read-only
(serialize them, never mutate them).
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from typing import Any, Callable, Iterable

from .resources import ResourceType
from .schemas import INT_OR_STRING, LIST_META, OBJECT_META, QUANTITY, SchemaSet

V3_REF = "#/components/schemas/"
PATCH = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
DELETE_OPTIONS = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"
STATUS = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
API_RESOURCE_LIST = "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList"
SCALE = "io.k8s.api.autoscaling.v1.Scale"

_INT_OR_STRING_V3 = {
    "description": "IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML "
                   "marshalling and unmarshalling, it produces or consumes the inner type.  This allows you to "
                   "have, for example, a JSON field that can accept a name or number.",
    "format": "int-or-string",
    "oneOf": [{"type": "integer"}, {"type": "string"}],
}
_QUANTITY_V3 = {
    "description": "Quantity is a fixed-point representation of a number. It provides convenient "
                   "marshaling/unmarshaling in JSON and YAML, in addition to String() and AsInt64() accessors.",
    "oneOf": [{"type": "string"}, {"type": "number"}],
}

_API_VERSION_DESC = (
    "APIVersion defines the versioned schema of this representation of an object. Servers should convert "
    "recognized schemas to the latest internal value, and may reject unrecognized values. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources")
_KIND_DESC = (
    "Kind is a string value representing the REST resource this object represents. Servers may infer this "
    "from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds")
_METADATA_DESC = ("Standard object's metadata. More info: "
                  "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")
_LIST_METADATA_DESC = ("Standard list metadata. More info: "
                       "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")

# Query parameter texts as the apiserver publishes them (apiserver endpoints/installer.go AddObjectParams
# over metav1 *Options field docs).
_P = {
    "pretty": "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent "
              "indicates a browser or command-line HTTP tool (curl and wget).",
    "dryRun": "When present, indicates that modifications should not be persisted. An invalid or unrecognized "
              "dryRun directive will result in an error response and no further processing of the request. "
              "Valid values are: - All: all dry run stages will be processed",
    "fieldManager": "fieldManager is a name associated with the actor or entity that is making these changes. "
                    "The value must be less than or 128 characters long, and only contain printable characters, "
                    "as defined by https://golang.org/pkg/unicode/#IsPrint.",
    "fieldManagerPatch": "fieldManager is a name associated with the actor or entity that is making these "
                         "changes. The value must be less than or 128 characters long, and only contain printable "
                         "characters, as defined by https://golang.org/pkg/unicode/#IsPrint. This field is required "
                         "for apply requests (application/apply-patch) but optional for non-apply patch types "
                         "(JsonPatch, MergePatch, StrategicMergePatch).",
    "fieldValidation": "fieldValidation instructs the server on how to handle objects in the request "
                       "(POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This "
                       "will ignore any unknown fields that are silently dropped from the object, and will ignore "
                       "all but the last duplicate field that the decoder encounters. This is the default behavior "
                       "prior to v1.23. - Warn: This will send a warning via the standard warning response header "
                       "for each unknown field that is dropped from the object, and for each duplicate field that "
                       "is encountered. The request will still succeed if there are no other errors, and will only "
                       "persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will "
                       "fail the request with a BadRequest error if any unknown fields would be dropped from the "
                       "object, or if any duplicate fields are present. The error returned from the server will "
                       "contain all unknown and duplicate fields encountered.",
    "force": "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned "
             "by other people. Force flag must be unset for non-apply patch requests.",
    "allowWatchBookmarks": "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do "
                           "not implement bookmarks may ignore this flag and bookmarks are sent at the server's "
                           "discretion. Clients should not assume bookmarks are returned at any specific interval, "
                           "nor may they assume the server will send any BOOKMARK event during a session. If this "
                           "is not a watch, this field is ignored.",
    "continue": "The continue option should be set when retrieving more results from the server. Since this "
                "value is server defined, clients may only use the continue value from a previous query result "
                "with identical query parameters (except for the value of continue) and the server may reject a "
                "continue value it does not recognize.",
    "fieldSelector": "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
    "labelSelector": "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
    "limit": "limit is a maximum number of responses to return for a list call. If more items exist, the server "
             "will set the `continue` field on the list metadata to a value that can be used with the same "
             "initial query to retrieve the next set of results.",
    "resourceVersion": "resourceVersion sets a constraint on what resource versions a request may be served "
                       "from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions "
                       "for details.\n\nDefaults to unset",
    "resourceVersionMatch": "resourceVersionMatch determines how resourceVersion is applied to list calls. It "
                            "is highly recommended that resourceVersionMatch be set for list calls where "
                            "resourceVersion is set See https://kubernetes.io/docs/reference/using-api/api-concepts"
                            "/#resource-versions for details.\n\nDefaults to unset",
    "sendInitialEvents": "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the "
                         "watch stream will begin with synthetic events to produce the current state of objects "
                         "in the collection.",
    "timeoutSeconds": "Timeout for the list/watch call. This limits the duration of the call, regardless of any "
                      "activity or inactivity.",
    "watch": "Watch for changes to the described resources and return them as a stream of add, update, and "
             "remove notifications. Specify resourceVersion.",
}
_LIST_PARAMS = (("allowWatchBookmarks", "boolean"), ("continue", "string"), ("fieldSelector", "string"),
                ("labelSelector", "string"), ("limit", "integer"), ("resourceVersion", "string"),
                ("resourceVersionMatch", "string"), ("sendInitialEvents", "boolean"),
                ("timeoutSeconds", "integer"), ("watch", "boolean"))
_DELETE_PARAMS = (("dryRun", "string"), ("gracePeriodSeconds", "integer"),
                  ("ignoreStoreReadErrorWithClusterBreakingPotential", "boolean"),
                  ("orphanDependents", "boolean"), ("propagationPolicy", "string"))


def document_hash(doc: dict[str, Any]) -> str:
    """The ``hash`` the apiserver puts in ``serverRelativeURL``: upper-case hex SHA-512 (kube-openapi handler3)."""
    return hashlib.sha512(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest().upper()


def gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def v3_root(group_versions: Iterable[tuple[str, str]], doc_hash: Callable[[str, str], str]) -> dict[str, Any]:
    """``GET /openapi/v3``: ``{"paths": {"apis/apps/v1": {"serverRelativeURL": ...}}}`` (kube-openapi handler3)."""
    paths: dict[str, Any] = {}
    for group, version in group_versions:
        p = gv_path(group, version)
        paths[p] = {"serverRelativeURL": f"/openapi/v3/{p}?hash={doc_hash(group, version)}"}
    return {"paths": paths}


# --------------------------------------------------------------------------------------
# schema conversion (upstream JSON-schema style -> OpenAPI v3 style)

_CONVERTED: dict[str, dict[str, Any]] = {}
_CONVERTED_LOCK = threading.Lock()


def _v3_ref(ref: str) -> str:
    return V3_REF + ref.rsplit("/", 1)[-1]


def convert_schema(s: dict[str, Any]) -> dict[str, Any]:
    """One upstream schema node in v3 form: plain ``type``, ``allOf`` ref wrappers, v3 refs."""
    out: dict[str, Any] = {}
    ref = s.get("$ref")
    for k, v in s.items():
        if k == "$ref":
            continue
        if k == "type":
            types = [t for t in v if t != "null"] if isinstance(v, list) else [v]
            if types:
                out["type"] = types[0]
        elif k == "properties":
            out[k] = {name: convert_schema(p) for name, p in v.items()}
        elif k in ("items", "additionalProperties") and isinstance(v, dict):
            out[k] = convert_schema(v)
        elif k in ("allOf", "oneOf", "anyOf"):
            out[k] = [convert_schema(x) for x in v]
        else:
            out[k] = v
    if ref is not None:
        if out:
            out["allOf"] = [{"$ref": _v3_ref(ref)}]
        else:
            out["$ref"] = _v3_ref(ref)
    return out


def _converted(schemas: SchemaSet, name: str) -> dict[str, Any]:
    key = f"{schemas.version}/{name}"
    hit = _CONVERTED.get(key)
    if hit is not None:
        return hit
    with _CONVERTED_LOCK:
        if name == INT_OR_STRING:
            conv = dict(_INT_OR_STRING_V3)
        elif name == QUANTITY:
            conv = dict(_QUANTITY_V3)
        else:
            d = schemas.defs[name]
            conv = convert_schema(d)
            if d.get("x-kubernetes-group-version-kind"):
                # kubernetes-validate pins apiVersion/kind with an enum; the apiserver does not.
                for p in ("apiVersion", "kind"):
                    prop = conv.get("properties", {}).get(p)
                    if prop is not None:
                        prop.pop("enum", None)
        _CONVERTED[key] = conv
        return conv


def _refs_in(s: Any, acc: set[str]) -> None:
    if isinstance(s, dict):
        ref = s.get("$ref")
        if isinstance(ref, str):
            acc.add(ref.rsplit("/", 1)[-1])
        for v in s.values():
            if isinstance(v, (dict, list)):
                _refs_in(v, acc)
    elif isinstance(s, list):
        for v in s:
            _refs_in(v, acc)


def _closure(schemas: SchemaSet, roots: Iterable[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    todo = [r for r in roots if r in schemas.defs]
    while todo:
        name = todo.pop()
        if name in out:
            continue
        conv = _converted(schemas, name)
        out[name] = conv
        refs: set[str] = set()
        _refs_in(schemas.defs[name], refs)
        todo.extend(r for r in refs if r not in out and r in schemas.defs)
    return out


# --------------------------------------------------------------------------------------
# custom resources


def crd_definition_name(group: str, version: str, kind: str) -> str:
    """``io.kubekit.v1alpha1.MemberCluster``: group reversed (apiextensions openapi/builder ``gvkToModelName``)."""
    return ".".join(reversed(group.split("."))) + f".{version}.{kind}"


def _cr_schema_v3(s: Any, embedded: bool = False) -> Any:
    """A CRD structural schema in published form: int-or-string unfolded, embedded resources given meta."""
    if not isinstance(s, dict):
        return s
    out = {k: v for k, v in s.items()}
    if isinstance(s.get("properties"), dict):
        out["properties"] = {k: _cr_schema_v3(v) for k, v in s["properties"].items()}
    for k in ("items", "additionalProperties", "not"):
        if isinstance(s.get(k), dict):
            out[k] = _cr_schema_v3(s[k])
    for k in ("allOf", "anyOf", "oneOf"):
        if isinstance(s.get(k), list):
            out[k] = [_cr_schema_v3(x) for x in s[k]]
    if s.get("x-kubernetes-int-or-string") and "anyOf" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if s.get("x-kubernetes-embedded-resource") or embedded:
        props = out.setdefault("properties", {})
        props["apiVersion"] = {"description": _API_VERSION_DESC, "type": "string"}
        props["kind"] = {"description": _KIND_DESC, "type": "string"}
        props["metadata"] = {"allOf": [{"$ref": V3_REF + OBJECT_META}], "description": _METADATA_DESC}
    return out


def custom_resource_schemas(rt: ResourceType) -> dict[str, dict[str, Any]]:
    """The kind and list definitions of a custom resource, keyed by definition name."""
    crd = rt.crd or {}
    raw = ((crd.get("schema") or {}).get("openAPIV3Schema")) or {"type": "object"}
    name = crd_definition_name(rt.group, rt.version, rt.kind)
    kind_schema = _cr_schema_v3(copy.deepcopy(raw))
    kind_schema.setdefault("type", "object")
    props = kind_schema.setdefault("properties", {})
    props["apiVersion"] = {"description": _API_VERSION_DESC, "type": "string"}
    props["kind"] = {"description": _KIND_DESC, "type": "string"}
    props["metadata"] = {"allOf": [{"$ref": V3_REF + OBJECT_META}], "description": _METADATA_DESC}
    kind_schema["x-kubernetes-group-version-kind"] = [{"group": rt.group, "kind": rt.kind, "version": rt.version}]
    list_schema = {
        "description": f"{rt.list_kind} is a list of {rt.kind}",
        "properties": {
            "apiVersion": {"description": _API_VERSION_DESC, "type": "string"},
            "items": {
                "description": f"List of {rt.plural}. More info: "
                               "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md",
                "items": {"$ref": V3_REF + name},
                "type": "array",
            },
            "kind": {"description": _KIND_DESC, "type": "string"},
            "metadata": {"allOf": [{"$ref": V3_REF + LIST_META}], "description": _LIST_METADATA_DESC},
        },
        "required": ["items"],
        "type": "object",
        "x-kubernetes-group-version-kind": [{"group": rt.group, "kind": rt.list_kind, "version": rt.version}],
    }
    return {name: kind_schema, name + "List": list_schema}


# --------------------------------------------------------------------------------------
# paths


def _camel_group(group: str) -> str:
    if not group:
        return "Core"
    trimmed = group[: -len(".k8s.io")] if group.endswith(".k8s.io") else group
    return "".join(p[:1].upper() + p[1:] for p in trimmed.replace("-", ".").split(".") if p)


def _param(name: str, typ: str, desc: str | None = None, where: str = "query",
           required: bool = False) -> dict[str, Any]:
    p: dict[str, Any] = {"description": desc if desc is not None else _P.get(name, ""), "in": where, "name": name}
    if required:
        p["required"] = True
    p["schema"] = {"type": typ, "uniqueItems": True}
    return p


def _content(ref: str, types: tuple[str, ...] = ("application/json", "application/yaml")) -> dict[str, Any]:
    return {t: {"schema": {"$ref": V3_REF + ref}} for t in types}


def _responses(ref: str, extra: tuple[tuple[str, str], ...] = (), list_op: bool = False) -> dict[str, Any]:
    types = ("application/json", "application/json;stream=watch", "application/yaml") if list_op else \
        ("application/json", "application/yaml")
    out: dict[str, Any] = {"200": {"content": _content(ref, types), "description": "OK"}}
    for code, desc in extra:
        out[code] = {"content": _content(ref), "description": desc}
    out["401"] = {"description": "Unauthorized"}
    return out


class _PathBuilder:
    def __init__(self, schemas: SchemaSet, group: str, version: str) -> None:
        self.schemas = schemas
        self.group = group
        self.version = version
        self.prefix = "/" + gv_path(group, version)
        self.opgv = _camel_group(group) + version[:1].upper() + version[1:]
        tag_group = _camel_group(group)
        self.tag = (tag_group[:1].lower() + tag_group[1:]) + "_" + version
        self.paths: dict[str, Any] = {}
        self.refs: set[str] = set()
        delete_props = (schemas.defs.get(DELETE_OPTIONS) or {}).get("properties", {})
        self.delete_desc = {k: v.get("description", "") for k, v in delete_props.items()}

    def op(self, verb: str, action: str, op_id: str, gvk: dict[str, str], desc: str, response: str,
           params: list[dict[str, Any]], body: dict[str, Any] | None = None,
           extra: tuple[tuple[str, str], ...] = (), list_op: bool = False) -> dict[str, Any]:
        o: dict[str, Any] = {"description": desc, "operationId": op_id}
        if params:
            o["parameters"] = params
        if body is not None:
            o["requestBody"] = body
        o["responses"] = _responses(response, extra, list_op)
        o["tags"] = [self.tag]
        o["x-kubernetes-action"] = action
        o["x-kubernetes-group-version-kind"] = gvk
        self.refs.add(response)
        return o

    def write_params(self, patch: bool = False) -> list[dict[str, Any]]:
        ps = [_param("dryRun", "string"),
              _param("fieldManager", "string", _P["fieldManagerPatch"] if patch else None),
              _param("fieldValidation", "string")]
        if patch:
            ps.append(_param("force", "boolean"))
        return ps

    def delete_params(self) -> list[dict[str, Any]]:
        return [_param(n, t, self.delete_desc.get(n, _P.get(n, ""))) for n, t in _DELETE_PARAMS]

    def list_params(self) -> list[dict[str, Any]]:
        return [_param(n, t) for n, t in _LIST_PARAMS]

    def body(self, ref: str, types: tuple[str, ...] = ("*/*",)) -> dict[str, Any]:
        self.refs.add(ref)
        return {"content": {t: {"schema": {"$ref": V3_REF + ref}} for t in types}, "required": True}

    def add_resource(self, rt: ResourceType, defname: str, list_def: str, custom: bool) -> None:
        kind = rt.kind
        gvk = {"group": rt.group, "kind": kind, "version": rt.version}
        ns = "Namespaced" if rt.namespaced else ""
        ns_param = _param("namespace", "string", "object name and auth scope, such as for teams and projects",
                          "path", True)
        name_param = _param("name", "string", f"name of the {kind}", "path", True)
        pretty = _param("pretty", "string")
        base = self.prefix + (f"/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"/{rt.plural}")
        verbs = set(rt.verbs)
        patch_types = ["application/apply-patch+yaml", "application/json-patch+json",
                       "application/merge-patch+json"]
        if not custom:
            patch_types.append("application/strategic-merge-patch+json")
        patch_types.sort()
        article = "an" if kind[:1] in "AEIOU" else "a"

        if rt.namespaced and "list" in verbs:
            self.paths[f"{self.prefix}/{rt.plural}"] = {
                "get": self.op("get", "list", f"list{self.opgv}{kind}ForAllNamespaces", gvk,
                               f"list or watch objects of kind {kind}", list_def, [], list_op=True),
                "parameters": self.list_params() + [pretty],
            }
        coll: dict[str, Any] = {}
        if "deletecollection" in verbs:
            coll["delete"] = self.op("delete", "deletecollection", f"delete{self.opgv}Collection{ns}{kind}", gvk,
                                     f"delete collection of {kind}", STATUS,
                                     self.delete_params() + self.list_params(), self.body(DELETE_OPTIONS))
        if "list" in verbs:
            coll["get"] = self.op("get", "list", f"list{self.opgv}{ns}{kind}", gvk,
                                  f"list or watch objects of kind {kind}", list_def, self.list_params(),
                                  list_op=True)
        coll["parameters"] = ([ns_param] if rt.namespaced else []) + [pretty]
        if "create" in verbs:
            coll["post"] = self.op("post", "post", f"create{self.opgv}{ns}{kind}", gvk, f"create {article} {kind}",
                                   defname, self.write_params(), self.body(defname),
                                   (("201", "Created"), ("202", "Accepted")))
        self.paths[base] = coll

        item: dict[str, Any] = {}
        if "delete" in verbs:
            item["delete"] = self.op("delete", "delete", f"delete{self.opgv}{ns}{kind}", gvk,
                                     f"delete {article} {kind}", STATUS, self.delete_params(),
                                     self.body(DELETE_OPTIONS), (("202", "Accepted"),))
        if "get" in verbs:
            item["get"] = self.op("get", "get", f"read{self.opgv}{ns}{kind}", gvk,
                                  f"read the specified {kind}", defname, [])
        item["parameters"] = [name_param] + ([ns_param] if rt.namespaced else []) + [pretty]
        if "patch" in verbs:
            item["patch"] = self.op("patch", "patch", f"patch{self.opgv}{ns}{kind}", gvk,
                                    f"partially update the specified {kind}", defname, self.write_params(True),
                                    self.body(PATCH, tuple(patch_types)), (("201", "Created"),))
        if "update" in verbs:
            item["put"] = self.op("put", "put", f"replace{self.opgv}{ns}{kind}", gvk,
                                  f"replace the specified {kind}", defname, self.write_params(),
                                  self.body(defname), (("201", "Created"),))
        self.paths[base + "/{name}"] = item

        for sub in rt.subresources:
            if sub in ("status", "ephemeralcontainers", "resize"):
                self._rw_sub(base, sub, defname, gvk, kind, ns, name_param, ns_param, pretty, rt, patch_types)
            elif sub == "scale" and SCALE in self.schemas.defs:
                sgvk = {"group": "autoscaling", "kind": "Scale", "version": "v1"}
                self._rw_sub(base, sub, SCALE, sgvk, kind, ns, name_param, ns_param, pretty, rt, patch_types)

    def _rw_sub(self, base: str, sub: str, ref: str, gvk: dict[str, str], kind: str, ns: str,
                name_param: dict[str, Any], ns_param: dict[str, Any], pretty: dict[str, Any],
                rt: ResourceType, patch_types: list[str]) -> None:
        title = sub[:1].upper() + sub[1:]
        self.paths[f"{base}/{{name}}/{sub}"] = {
            "get": self.op("get", "get", f"read{self.opgv}{ns}{kind}{title}", gvk,
                           f"read {sub} of the specified {kind}", ref, []),
            "parameters": [name_param] + ([ns_param] if rt.namespaced else []) + [pretty],
            "patch": self.op("patch", "patch", f"patch{self.opgv}{ns}{kind}{title}", gvk,
                             f"partially update {sub} of the specified {kind}", ref, self.write_params(True),
                             self.body(PATCH, tuple(patch_types)), (("201", "Created"),)),
            "put": self.op("put", "put", f"replace{self.opgv}{ns}{kind}{title}", gvk,
                           f"replace {sub} of the specified {kind}", ref, self.write_params(),
                           self.body(ref), (("201", "Created"),)),
        }


def v3_document(schemas: SchemaSet, types: list[ResourceType], group: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.0 document of one group-version (``GET /openapi/v3/apis/<group>/<version>``)."""
    pb = _PathBuilder(schemas, group, version)
    pb.paths[pb.prefix + "/"] = {"get": {
        "description": "get available resources",
        "operationId": f"get{pb.opgv}APIResources",
        "responses": _responses(API_RESOURCE_LIST),
        "tags": [pb.tag],
    }}
    pb.refs.add(API_RESOURCE_LIST)
    custom: dict[str, dict[str, Any]] = {}
    for rt in sorted(types, key=lambda r: r.plural):
        if rt.group != group or rt.version != version:
            continue
        if rt.crd is not None:
            defs = custom_resource_schemas(rt)
            custom.update(defs)
            name = crd_definition_name(rt.group, rt.version, rt.kind)
            pb.add_resource(rt, name, name + "List", True)
            continue
        defname = schemas.definition_for(rt.group, rt.version, rt.kind)
        if defname is None:
            continue
        list_def = schemas.definition_for(rt.group, rt.version, rt.list_kind) or defname + "List"
        pb.add_resource(rt, defname, list_def, False)
    roots = {r for r in pb.refs if r not in custom}
    refs: set[str] = set()
    _refs_in(custom, refs)
    roots |= {r.rsplit("/", 1)[-1] for r in refs}
    components = _closure(schemas, roots)
    components.update(custom)
    return {
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {"BearerToken": {"description": "Bearer Token authentication", "in": "header",
                                                "name": "authorization", "type": "apiKey"}},
        },
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "openapi": "3.0.0",
        "paths": dict(sorted(pb.paths.items())),
    }
