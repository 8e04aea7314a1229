"""The REST semantics of the API server, without HTTP.

This is what kube-apiserver's generic registry does between decoding a request
and etcd (``k8s.io/apiserver/pkg/registry/generic/registry/store.go`` and the
per-kind strategies): decode and field validation, admission (namespace
lifecycle, default tolerations, Service IPs), defaulting, validation,
optimistic concurrency, generation, graceful deletion, finalizers and delete
propagation. The HTTP layer (``kubesim.server``) and the controllers both call
it, so a controller's write is checked exactly like kubectl's.
"""

from __future__ import annotations

import base64
import copy
import json
import random
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable

from . import apply as ssa
from . import clock, conversion, crdschema, defaults, patch, validation
from .jsonvalues import copy_json, json_kind
from .errors import (
    AlreadyExists,

    BadRequest,
    Conflict,
    FieldError,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    invalid,
    required,
)
from .resources import Registry, ResourceType, selectable_fields
from .schemanode import SchemaNode
from .schemas import SchemaSet, decode_error_message, go_quote, strict_decoding_error
from .selectors import FieldSelector, LabelSelector, parse_field_selector, parse_label_selector
from .store import Entry, Exists, Missing, StaleResourceVersion, Store

# Kinds whose DELETE answers with the object rather than a Status (ReturnDeletedObject
# in each kind's registry storage.go: pods, serviceaccounts, storageclasses, PV/PVC,
# and the custom REST of namespaces and services).
_RETURN_DELETED = {"pods", "serviceaccounts", "storage.k8s.io/storageclasses", "persistentvolumes",
                   "persistentvolumeclaims", "namespaces", "services"}

# Random suffix alphabet of generateName (apiserver names.SimpleNameGenerator; no vowels).
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

_CRD_KEY = "apiextensions.k8s.io/customresourcedefinitions"

MAX_BODY = 3 * 1024 * 1024  # --max-request-bytes: 3 MiB, as etcd's request limit


@dataclass
class Request:
    """Per-call options that come from query parameters and headers."""

    field_manager: str | None = None
    field_validation: str = "Warn"  # Ignore | Warn | Strict
    dry_run: bool = False
    force: bool = False
    user_agent: str = ""
    warnings: list[str] = field(default_factory=list)

    def manager(self) -> str:
        if self.field_manager:
            return self.field_manager
        # Upstream derives a default manager from the User-Agent's program name.
        ua = (self.user_agent or "unknown").split("/", 1)[0]
        return ua[:128] or "unknown"


@dataclass
class DeleteOptions:
    grace_period: int | None = None
    propagation: str | None = None  # Orphan | Background | Foreground
    orphan_dependents: bool | None = None
    precondition_uid: str | None = None
    precondition_rv: str | None = None
    dry_run: bool = False


@dataclass
class ListResult:
    items: list[dict[str, Any]]
    resource_version: int
    continue_token: str | None = None
    remaining: int | None = None


class Api:
    """One cluster's API: ``registry`` of served types over ``store``."""

    def __init__(self, store: Store, registry: Registry, schemas: SchemaSet, *,
                 k8s_version: tuple[int, int] = (1, 33), toleration_seconds: int = 300,
                 service_cidr: str = "10.100.0.0/16", rng: random.Random | None = None) -> None:
        self.store = store
        self.registry = registry
        self.schemas = schemas
        self.k8s_version = k8s_version
        self.toleration_seconds = toleration_seconds
        self.rng = rng or random.Random()
        self._lock = threading.RLock()
        from .admission import ServiceIPs  # local: admission imports api types

        self.service_ips = ServiceIPs(self, service_cidr)
        self.on_crd_change: list[Callable[[], None]] = []

    # -- helpers ------------------------------------------------------------------------
    def node_for(self, rt: ResourceType) -> SchemaNode | None:
        if rt.crd is not None:
            schema = ((rt.crd.get("schema") or {}).get("openAPIV3Schema")) or {}
            return SchemaNode(schema)
        defname = self.schemas.definition_for(rt.group, rt.version, rt.kind)
        return self.schemas.node(defname) if defname else None

    def _ns_key(self, rt: ResourceType, namespace: str | None) -> str:
        return (namespace or "") if rt.namespaced else ""

    def _served(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """Storage form -> the version the client asked for."""
        obj = conversion.from_storage(rt.group, rt.kind, obj)
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        return obj

    def _entry_obj(self, rt: ResourceType, entry: Entry) -> dict[str, Any]:
        return self._served(rt, entry.obj())

    def _not_found(self, rt: ResourceType, name: str) -> NotFound:
        return NotFound(rt.plural, rt.group, name)

    # -- decoding -----------------------------------------------------------------------
    def decode(self, rt: ResourceType, body: Any, req: Request, *, subresource: str | None = None) -> dict[str, Any]:
        """Check a request body against the kind's schema, pruning unknown fields."""
        if not isinstance(body, dict):
            raise BadRequest(decode_error_message(rt.kind, rt.version,
                                                  f"json: cannot unmarshal {json_kind(body)} into Go value of type "
                                                  f"struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; "
                                                  f"Kind string \"json:\\\"kind,omitempty\\\"\" }}"))
        api_version = body.get("apiVersion")
        kind = body.get("kind")
        if api_version is not None and not isinstance(api_version, str) or kind is not None and not isinstance(kind, str):
            raise BadRequest("Object 'Kind' is missing or has the wrong type in the request body")
        if api_version and api_version != rt.api_version:
            # Storage-shared versions (events) may be posted in either form.
            if not (rt.key == "events" and api_version in ("v1", "events.k8s.io/v1")):
                raise BadRequest(f"the API version in the data ({api_version}) does not match the expected API "
                                 f"version ({rt.api_version})")
        if kind and kind != rt.kind:
            raise BadRequest(f"{kind} in version \"{rt.version}\" cannot be handled as a {rt.kind}: "
                             f"no kind \"{kind}\" is registered for version \"{rt.api_version}\"")
        strict = req.field_validation == "Strict"
        if rt.crd is not None:
            schema = ((rt.crd.get("schema") or {}).get("openAPIV3Schema")) or {}
            res = crdschema.process_custom_object(body, schema, kind=rt.kind, group=rt.group,
                                                  strict=req.field_validation != "Ignore", schemas=self.schemas)
            if res.decode_errors:
                raise BadRequest(decode_error_message(rt.kind, rt.version, res.decode_errors[0]))
            obj = res.obj
            if res.errors:
                raise Invalid(rt.kind, rt.group, (obj.get("metadata") or {}).get("name", ""), res.errors)
            if res.unknown and strict:
                raise BadRequest(decode_error_message(rt.kind, rt.version, strict_decoding_error(res.unknown)))
            if res.unknown and req.field_validation == "Warn":
                req.warnings.extend(f"unknown field {go_quote(p)}" for p in res.unknown)
        else:
            defname = self.schemas.definition_for(rt.group, rt.version, rt.kind)
            if defname is None:
                return copy.deepcopy(body)
            res2 = self.schemas.decode(body, defname, kind_label=rt.kind)
            message = res2.bad_request_message(rt.version, strict=strict)
            if message:
                raise BadRequest(message)
            obj = res2.obj
            if req.field_validation == "Warn":
                req.warnings.extend(res2.warnings())
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        return obj
    # -- reads --------------------------------------------------------------------------
    def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        entry = self.store.get(rt.key, self._ns_key(rt, namespace), name)
        if entry is None:
            raise self._not_found(rt, name)
        return self._entry_obj(rt, entry)

    def get_entry(self, rt: ResourceType, namespace: str | None, name: str) -> Entry | None:
        return self.store.get(rt.key, self._ns_key(rt, namespace), name)

    def field_supported(self, rt: ResourceType) -> Callable[[str], bool]:
        sample = selectable_fields(rt, {"metadata": {}})
        return lambda f: f in sample

    def selectors(self, rt: ResourceType, label_selector: str | None,
                  field_selector: str | None) -> tuple[LabelSelector, FieldSelector]:
        return (parse_label_selector(label_selector),
                parse_field_selector(field_selector, self.field_supported(rt)))

    def list_entries(self, rt: ResourceType, namespace: str | None, label_selector: str | None = None,
                     field_selector: str | None = None) -> tuple[list[Entry], int]:
        labels, fields = self.selectors(rt, label_selector, field_selector)
        ns = namespace if rt.namespaced else None
        name = fields.value_of("metadata.name")
        if name is not None and (ns or not rt.namespaced):
            e = self.store.get(rt.key, ns or "", name)
            entries, rv = ([e] if e else []), self.store.resource_version
        else:
            entries, rv = self.store.list(rt.key, ns)
        if not labels.empty or not fields.empty:
            entries = [e for e in entries if labels.matches(e.labels) and fields.matches(e.fields)]
        if rt.crd is not None or rt.key == "events":
            # Shared storage (events in two groups; CR versions) is filtered by nothing more.
            pass
        return entries, rv

    def list(self, rt: ResourceType, namespace: str | None, *, label_selector: str | None = None,
             field_selector: str | None = None, limit: int | None = None,
             continue_token: str | None = None) -> tuple[list[Entry], int, str | None, int | None]:
        """Entries for one page; the continue token encodes where the next page starts."""
        entries, rv = self.list_entries(rt, namespace, label_selector, field_selector)
        start_after: tuple[str, str] | None = None
        if continue_token:
            try:
                tok = json.loads(base64.urlsafe_b64decode(continue_token.encode() + b"==="))
                start_after = (tok["ns"], tok["name"])
                tok_rv = int(tok["rv"])
            except Exception:
                raise BadRequest("continue key is not valid: illegal base64 data at input byte 0")
            if tok_rv < self.store.oldest_watchable:
                raise Gone("The provided continue parameter is too old to display a consistent list result. "
                           "You can start a new list without the continue parameter, or use the continue token "
                           "in this response to retrieve the remainder of the results. Continuing with the "
                           "provided token results in an inconsistent list - objects that were created, "
                           "modified, or deleted between the time the first chunk was returned and now may "
                           "show up in the list.", reason="Expired")
            entries = [e for e in entries if (e.namespace.encode(), e.name.encode()) >
                       (start_after[0].encode(), start_after[1].encode())]
        next_token = None
        remaining = None
        if limit and limit > 0 and len(entries) > limit:
            last = entries[limit - 1]
            remaining = len(entries) - limit
            entries = entries[:limit]
            next_token = base64.urlsafe_b64encode(json.dumps(
                {"rv": rv, "ns": last.namespace, "name": last.name}).encode()).decode().rstrip("=")
        return entries, rv, next_token, remaining

    # -- create -------------------------------------------------------------------------
    def create(self, rt: ResourceType, namespace: str | None, body: Any, req: Request | None = None, *,
               decoded: bool = False) -> dict[str, Any]:
        req = req or Request()
        obj = body if decoded else self.decode(rt, body, req)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise BadRequest("metadata must be an object")
        if rt.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and namespace and body_ns != namespace:
                raise BadRequest("the namespace of the provided object does not match the namespace sent on "
                                 "the request")
            if not namespace:
                namespace = body_ns or "default"
            meta["namespace"] = namespace
            self._admit_namespace(rt, namespace, meta.get("name") or meta.get("generateName", ""))
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(self.rng.choice(_NAME_ALPHABET) for _ in range(5))
        name = meta.get("name") or ""
        # Fields the server owns (ObjectMeta rules in rest.BeforeCreate).
        for f in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
                  "deletionGracePeriodSeconds", "generation", "selfLink"):
            meta.pop(f, None)
        now = clock.now()
        obj = conversion.to_storage(rt.group, rt.kind, obj)
        store_rt = self.registry.by_key(rt.key) or rt
        meta = obj["metadata"]
        # The uid exists before the strategy runs: a Job's generated selector embeds it.
        meta["uid"] = clock.new_uid()
        meta["creationTimestamp"] = clock.rfc3339(now)
        defaults.prepare_for_create(store_rt, obj, k8s_version=self.k8s_version)
        defaults.apply_defaults(store_rt, obj, k8s_version=self.k8s_version,
                                toleration_seconds=self.toleration_seconds, operation="create", rng=self.rng)
        if rt.key == _CRD_KEY:
            crdschema.crd_defaults(obj)
        self._admit_create(store_rt, obj)
        errs = self._validate(store_rt, obj, None)
        if not meta.get("name") and not any(e.field == "metadata.name" for e in errs):
            errs.insert(0, required("metadata.name", "name or generateName is required"))
        if errs:
            raise Invalid(rt.kind, rt.group, name, errs)
        ssa.record_update(None, obj, manager=req.manager(), node=self.node_for(store_rt),
                          now=clock.rfc3339(now))
        if req.dry_run:
            meta["resourceVersion"] = ""
            return self._served(rt, obj)
        self._allocate(store_rt, obj)
        try:
            entry = self.store.create(rt.key, self._ns_key(rt, namespace), name, obj)
        except Exists:
            self._release(store_rt, obj)
            raise AlreadyExists(rt.plural, rt.group, name)
        self._after_write(store_rt, None, entry)
        return self._entry_obj(rt, entry)

    def _admit_namespace(self, rt: ResourceType, namespace: str, name: str) -> None:
        """NamespaceLifecycle admission: the namespace must exist and not be terminating."""
        ns = self.store.get("namespaces", "", namespace)
        if ns is None:
            raise NotFound("namespaces", "", namespace)
        if ns.fields.get("status.phase") == "Terminating" and rt.key != "events":
            raise Forbidden(rt.plural, rt.group, name or None,
                            f"unable to create new content in namespace {namespace} because it is being terminated")

    def _admit_create(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        from .admission import admit_create

        admit_create(self, rt, obj)

    def _validate(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
        errs = list(validation.validate(rt, obj, old, k8s_version=self.k8s_version))
        if rt.key == _CRD_KEY:
            errs.extend(crdschema.validate_crd(obj, old))
        return errs

    def _allocate(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        if rt.key == "services":
            self.service_ips.allocate(obj)

    def _release(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        if rt.key == "services":
            self.service_ips.release(obj)

    def _after_write(self, rt: ResourceType, old: Entry | None, new: Entry | None) -> None:
        if rt.key == "apiextensions.k8s.io/customresourcedefinitions":
            from .crds import sync_crd_types

            sync_crd_types(self)

    # -- update -------------------------------------------------------------------------
    def update(self, rt: ResourceType, namespace: str | None, name: str, body: Any,
               req: Request | None = None, *, subresource: str | None = None,
               decoded: bool = False, want_result: bool = True) -> dict[str, Any]:
        """PUT semantics: full replacement with optimistic concurrency (``want_result``: see _write_update)."""
        req = req or Request()
        obj = body if decoded else self.decode(rt, body, req)
        meta = obj.setdefault("metadata", {})
        if meta.get("name") and meta["name"] != name:
            raise BadRequest("the name of the object (%s) does not match the name on the URL (%s)"
                             % (meta["name"], name))
        if rt.namespaced and meta.get("namespace") and namespace and meta["namespace"] != namespace:
            raise BadRequest("the namespace of the provided object does not match the namespace sent on the "
                             "request")
        rv_text = str(meta.get("resourceVersion") or "")
        expect: int | None = None
        if rv_text:
            try:
                expect = int(rv_text)
            except ValueError:
                raise BadRequest(f"invalid resource version: strconv.ParseUint: parsing \"{rv_text}\": "
                                 "invalid syntax")
        elif not rt.unconditional_update:
            raise Invalid(rt.kind, rt.group, name, [invalid("metadata.resourceVersion", 0,
                                                            "must be specified for an update")])
        return self._write_update(rt, namespace, name, lambda cur: obj, req, subresource=subresource,
                                  expect_rv=expect, precondition_uid=meta.get("uid"), replaces=True,
                                  want_result=want_result)

    def _write_update(self, rt: ResourceType, namespace: str | None, name: str,
                      mutate: Callable[[dict[str, Any]], dict[str, Any]], req: Request, *,
                      subresource: str | None = None, expect_rv: int | None = None,
                      precondition_uid: str | None = None, retries: int = 5,
                      apply_manager: bool = False, replaces: bool = False,
                      want_result: bool = True) -> dict[str, Any]:
        """GuaranteedUpdate: read, mutate, write if unchanged since the read (retry if not pinned).

        ``replaces``: ``mutate`` ignores its argument (a PUT), so no private copy of the stored
        object is decoded for it. ``want_result=False``: the caller ignores the answer, so the
        object is not decoded once more for it (``{}`` is returned instead).
        """
        ns = self._ns_key(rt, namespace)
        store_rt = self.registry.by_key(rt.key) or rt
        for _ in range(retries):
            entry = self.store.get(rt.key, ns, name)
            if entry is None:
                raise self._not_found(rt, name)
            if expect_rv is not None and entry.rv != expect_rv:
                raise Conflict(rt.plural, rt.group, name)
            # Read-only (shared with every reader of this revision): nothing below writes to ``old``
            # or keeps a part of it in ``new`` that is changed later; ``new`` is a private decoding.
            old = entry.view()
            if precondition_uid and precondition_uid != old["metadata"].get("uid"):
                raise Conflict(rt.plural, rt.group, name,
                               f"Precondition failed: UID in precondition: {precondition_uid}, UID in object meta: "
                               f"{old['metadata'].get('uid')}")
            # The private copy (a decoding: cheaper than deepcopy), unless the write replaces it.
            new = mutate({} if replaces else self._served(rt, entry.obj()))
            new = conversion.to_storage(rt.group, rt.kind, new)
            self._keep_server_meta(new, old)
            if subresource == "status":
                defaults.prepare_for_status_update(store_rt, new, old)
                errs = list(validation.validate_status_update(store_rt, new, old, k8s_version=self.k8s_version))
            else:
                defaults.prepare_for_update(store_rt, new, old, k8s_version=self.k8s_version,
                                            subresource=subresource)
                defaults.apply_defaults(store_rt, new, k8s_version=self.k8s_version,
                                        toleration_seconds=self.toleration_seconds, operation="update",
                                        rng=self.rng)
                if rt.key == _CRD_KEY:
                    crdschema.crd_defaults(new)
                errs = self._validate(store_rt, new, old)
            if errs:
                raise Invalid(rt.kind, rt.group, name, errs)
            if subresource == "finalize" and rt.key == "namespaces":
                new["spec"] = copy.deepcopy(new.get("spec") or {})
            if not apply_manager:
                ssa.record_update(old, new, manager=req.manager(), node=self.node_for(store_rt),
                                  now=clock.rfc3339(), subresource=subresource)
            if _same(old, new):
                return self._served(rt, entry.obj()) if want_result else {}
            if req.dry_run:
                return self._served(rt, new)
            try:
                if self._finalized(new):  # the last finalizer went: the object goes now
                    return self._remove(rt, entry, new)
                updated = self.store.update(rt.key, ns, name, new, expect_rv=entry.rv)
            except StaleResourceVersion:  # someone wrote in between: read again and retry (GuaranteedUpdate)
                if expect_rv is not None:
                    raise Conflict(rt.plural, rt.group, name)
                continue
            except Missing:
                raise self._not_found(rt, name)
            self._after_write(store_rt, entry, updated)
            return self._entry_obj(rt, updated) if want_result else {}
        raise Conflict(rt.plural, rt.group, name)

    @staticmethod
    def _keep_server_meta(new: dict[str, Any], old: dict[str, Any]) -> None:
        """Fields a client can never change on update (rest.BeforeUpdate / ObjectMeta update rules)."""
        nm = new.setdefault("metadata", {})
        om = old.get("metadata") or {}
        for f in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                  "deletionGracePeriodSeconds", "generation", "selfLink"):
            if f in om:
                nm[f] = om[f]
            else:
                nm.pop(f, None)
        if "generateName" in om and "generateName" not in nm:
            nm["generateName"] = om["generateName"]
        if "managedFields" not in nm and "managedFields" in om:
            nm["managedFields"] = copy_json(om["managedFields"])  # ``old`` may be a shared view
        nm.pop("resourceVersion", None)

    def _finalized(self, obj: dict[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        if not meta.get("deletionTimestamp") or meta.get("finalizers"):
            return False
        if obj.get("kind") == "Namespace" and (obj.get("spec") or {}).get("finalizers"):
            return False
        if obj.get("kind") == "Pod" and meta.get("deletionGracePeriodSeconds", 0) > 0:
            # A pod waits for its kubelet's final delete, not only for finalizers.
            return False
        return True

    # -- patch --------------------------------------------------------------------------
    def patch(self, rt: ResourceType, namespace: str | None, name: str, content_type: str, body: bytes,
              req: Request | None = None, *, subresource: str | None = None) -> tuple[dict[str, Any], bool]:
        """Apply a patch; returns the object and whether it was created (apply on a missing object)."""
        req = req or Request()
        ctype = content_type.split(";")[0].strip().lower()
        node = self.node_for(rt)
        if ctype == "application/apply-patch+yaml" or ctype == "application/apply-patch+cbor":
            return self._apply(rt, namespace, name, body, req, subresource=subresource)

        def mutate(cur: dict[str, Any]) -> dict[str, Any]:
            patched = patch.apply_patch(ctype, cur, body, node, is_custom=rt.crd is not None)
            if not isinstance(patched, dict):
                raise BadRequest("the patch did not produce an object")
            checked = self.decode(rt, patched, req, subresource=subresource)
            rv = (patched.get("metadata") or {}).get("resourceVersion")
            if rv and rv != cur["metadata"].get("resourceVersion"):
                raise Conflict(rt.plural, rt.group, name)
            checked.setdefault("metadata", {})
            return checked

        return self._write_update(rt, namespace, name, mutate, req, subresource=subresource), False

    def _apply(self, rt: ResourceType, namespace: str | None, name: str, body: bytes, req: Request, *,
               subresource: str | None) -> tuple[dict[str, Any], bool]:
        if not req.field_manager:
            raise BadRequest("PATCH, application/apply-patch+yaml requests require fieldManager to be set")
        import yaml

        try:
            config = yaml.safe_load(body.decode("utf-8") if isinstance(body, bytes) else body)
        except Exception as exc:  # yaml.YAMLError, UnicodeDecodeError
            raise BadRequest(f"error decoding YAML: {exc}")
        if not isinstance(config, dict):
            raise BadRequest("error decoding YAML: the apply configuration must be an object")
        config = self.decode(rt, config, req)
        cmeta = config.setdefault("metadata", {})
        if cmeta.get("name") and cmeta["name"] != name:
            raise BadRequest(f"the name of the object ({cmeta['name']}) does not match the name on the URL ({name})")
        cmeta["name"] = name
        node = self.node_for(rt)
        entry = self.store.get(rt.key, self._ns_key(rt, namespace), name)
        if entry is None:
            if subresource:
                raise self._not_found(rt, name)
            new = ssa.server_side_apply(None, config, manager=req.field_manager, force=req.force, node=node,
                                        now=clock.rfc3339())
            created = self.create(rt, namespace, new, req, decoded=True)
            # create() recorded an Update entry for the manager; keep the Apply one instead.
            return created, True

        def mutate(cur: dict[str, Any]) -> dict[str, Any]:
            return ssa.server_side_apply(cur, config, manager=req.field_manager or "", force=req.force,
                                         node=node, now=clock.rfc3339())

        return self._write_update(rt, namespace, name, mutate, req, subresource=subresource,
                                  apply_manager=True), False

    # -- delete -------------------------------------------------------------------------
    def delete(self, rt: ResourceType, namespace: str | None, name: str,
               opts: DeleteOptions | None = None) -> tuple[dict[str, Any], int]:
        """Delete with grace, finalizers and propagation; returns (body, HTTP code)."""
        opts = opts or DeleteOptions()
        ns = self._ns_key(rt, namespace)
        for _ in range(5):
            entry = self.store.get(rt.key, ns, name)
            if entry is None:
                raise self._not_found(rt, name)
            obj = entry.obj()
            meta = obj["metadata"]
            if opts.precondition_uid and opts.precondition_uid != meta.get("uid"):
                raise Conflict(rt.plural, rt.group, name,
                               f"Precondition failed: UID in precondition: {opts.precondition_uid}, UID in object "
                               f"meta: {meta.get('uid')}")
            if opts.precondition_rv and opts.precondition_rv != meta.get("resourceVersion"):
                raise Conflict(rt.plural, rt.group, name,
                               f"Precondition failed: ResourceVersion in precondition: {opts.precondition_rv}, "
                               f"ResourceVersion in object meta: {meta.get('resourceVersion')}")
            try:
                return self._delete_entry(rt, entry, obj, opts)
            except StaleResourceVersion:
                continue
        raise Conflict(rt.plural, rt.group, name)

    def _grace(self, rt: ResourceType, obj: dict[str, Any], opts: DeleteOptions) -> int:
        """Graceful deletion applies to pods only (pod strategy CheckGracefulDelete)."""
        if rt.key != "pods":
            return 0
        spec = obj.get("spec") or {}
        grace = opts.grace_period
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds")
        if grace is None:
            grace = 30
        if grace < 0:
            grace = 1
        phase = (obj.get("status") or {}).get("phase")
        if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
            grace = 0
        return int(grace)

    def _delete_entry(self, rt: ResourceType, entry: Entry, obj: dict[str, Any],
                      opts: DeleteOptions) -> tuple[dict[str, Any], int]:
        meta = obj["metadata"]
        store_rt = self.registry.by_key(rt.key) or rt
        grace = self._grace(rt, obj, opts)
        policy = opts.propagation
        if policy is None and opts.orphan_dependents is not None:
            policy = "Orphan" if opts.orphan_dependents else "Background"
        finalizers = list(meta.get("finalizers") or [])
        if policy == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        elif policy == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        if policy in ("Orphan", "Foreground"):
            other = "foregroundDeletion" if policy == "Orphan" else "orphan"
            if other in finalizers:
                finalizers.remove(other)
        if rt.key == "apiextensions.k8s.io/customresourcedefinitions":
            from .crds import CLEANUP_FINALIZER

            if CLEANUP_FINALIZER not in finalizers:
                finalizers.append(CLEANUP_FINALIZER)
        ns_pending = rt.key == "namespaces" and bool((obj.get("spec") or {}).get("finalizers"))
        pending = bool(finalizers) or grace > 0 or ns_pending
        code = 202 if (pending and opts.orphan_dependents is False) else 200
        if not pending:
            if opts.dry_run:
                return self._deleted_body(rt, obj), 200
            return self._deleted_body(rt, self._remove(rt, entry, obj, raw=True)), 200
        now = clock.now()
        if meta.get("deletionTimestamp"):
            # Already terminating: only a shorter grace may move the deadline earlier.
            changed = False
            if rt.key == "pods" and opts.grace_period is not None:
                cur = meta.get("deletionGracePeriodSeconds", 0)
                if grace == 0 or grace < cur:
                    if grace == 0 and not finalizers:
                        if opts.dry_run:
                            return self._served(rt, obj), 200
                        return self._deleted_body(rt, self._remove(rt, entry, obj, raw=True)), 200
                    # With finalizers left the object stays until they are gone, deadline now.
                    meta["deletionTimestamp"] = clock.rfc3339(now + timedelta(seconds=grace))
                    meta["deletionGracePeriodSeconds"] = grace
                    changed = True
            if finalizers != list(meta.get("finalizers") or []):
                meta["finalizers"] = finalizers
                changed = True
            if not changed or opts.dry_run:
                return self._served(rt, obj), code
        else:
            meta["deletionTimestamp"] = clock.rfc3339(now + timedelta(seconds=grace))
            meta["deletionGracePeriodSeconds"] = grace
            if finalizers:
                meta["finalizers"] = finalizers
            if rt.key == "pods" and grace > 0:
                meta["generation"] = int(meta.get("generation") or 1) + 1
            if rt.key == "namespaces":
                obj.setdefault("status", {})["phase"] = "Terminating"
            if opts.dry_run:
                return self._served(rt, obj), code
        updated = self.store.update(rt.key, entry.namespace, entry.name, obj, expect_rv=entry.rv)
        self._after_write(store_rt, entry, updated)
        return self._entry_obj(rt, updated), code

    def _deleted_body(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        if rt.key in _RETURN_DELETED:
            return self._served(rt, obj)
        meta = obj.get("metadata") or {}
        details: dict[str, Any] = {"name": meta.get("name", "")}
        if rt.group:
            details["group"] = rt.group
        details["kind"] = rt.plural
        details["uid"] = meta.get("uid", "")
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    def _remove(self, rt: ResourceType, entry: Entry, obj: dict[str, Any], raw: bool = False) -> dict[str, Any]:
        """Remove from storage; the DELETED event carries the final state."""
        store_rt = self.registry.by_key(rt.key) or rt
        try:
            deleted = self.store.delete(entry.key, entry.namespace, entry.name, expect_rv=entry.rv, final=obj)
        except Missing:
            raise self._not_found(rt, entry.name)
        self._release(store_rt, obj)
        self._after_write(store_rt, entry, None)
        out = deleted.obj()
        return out if raw else self._served(rt, out)

    def delete_collection(self, rt: ResourceType, namespace: str | None, opts: DeleteOptions, *,
                          label_selector: str | None = None, field_selector: str | None = None) -> dict[str, Any]:
        entries, rv = self.list_entries(rt, namespace, label_selector, field_selector)
        items = []
        for e in entries:
            try:
                body, _ = self.delete(rt, e.namespace or None, e.name, opts)
            except NotFound:
                continue
            if body.get("kind") != "Status":
                items.append(body)
            else:
                items.append(self._served(rt, e.obj()))
        return {"kind": rt.list_kind, "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(self.store.resource_version)}, "items": items}

    # -- internal shortcuts for controllers ------------------------------------------------
    def update_status(self, rt: ResourceType, namespace: str | None, name: str,
                      mutate: Callable[[dict[str, Any]], dict[str, Any] | None], manager: str) -> dict[str, Any]:
        """Read-modify-write of a status, retried on conflicts (controllers' UpdateStatus)."""
        def m(cur: dict[str, Any]) -> dict[str, Any]:
            out = mutate(cur)
            return cur if out is None else out

        return self._write_update(rt, namespace, name, m, Request(field_manager=manager), subresource="status")

    def mutate(self, rt: ResourceType, namespace: str | None, name: str,
               mutate: Callable[[dict[str, Any]], dict[str, Any] | None], manager: str, *,
               want_result: bool = True) -> dict[str, Any]:
        """Read-modify-write, retried on conflicts; ``want_result=False`` returns ``{}`` instead of
        decoding the written object (for callers that ignore it: the kubelet's lease renewals)."""
        def m(cur: dict[str, Any]) -> dict[str, Any]:
            out = mutate(cur)
            return cur if out is None else out

        return self._write_update(rt, namespace, name, m, Request(field_manager=manager), want_result=want_result)

    def rt(self, key: str) -> ResourceType:
        rt = self.registry.by_key(key)
        if rt is None:
            raise KeyError(key)
        return rt




def _has_spec(obj: dict[str, Any]) -> bool:
    return isinstance(obj.get("spec"), dict)


def _same(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Upstream skips the write when nothing but the resourceVersion would change."""
    a = dict(old)
    b = dict(new)
    am = dict(a.get("metadata") or {})
    bm = dict(b.get("metadata") or {})
    am.pop("resourceVersion", None)
    bm.pop("resourceVersion", None)
    # managedFields timestamps alone do not make a change.
    am.pop("managedFields", None)
    bm.pop("managedFields", None)
    a["metadata"] = am
    b["metadata"] = bm
    return a == b
