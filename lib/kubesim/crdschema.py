"""CustomResourceDefinitions and custom objects, as apiextensions-apiserver treats them.

* :func:`validate_crd` / :func:`crd_defaults`: the CRD's own validation and
  defaulting (apiextensions ``pkg/apis/apiextensions/validation/validation.go``,
  ``pkg/apiserver/schema/validation.go``, ``pkg/apis/apiextensions/v1/defaults.go``).
  Like upstream (``v1`` -> internal conversion), a schema, subresources or
  printer columns identical in every version are checked under ``spec.validation``,
  ``spec.subresources`` and ``spec.additionalPrinterColumns``.
* :func:`process_custom_object`: what happens to a custom object on write:
  metadata decoded as ObjectMeta, pruning of undeclared fields
  (``schema/pruning/algorithm.go``), removal of non-nullable nulls, schema
  ``default``s (``schema/defaulting/algorithm.go``), then OpenAPI validation
  with kube-openapi's messages (``pkg/validation/errors/schema.go``) turned into
  field errors as ``apiserver/validation/validation.go`` does, and the
  ``x-kubernetes-list-type`` invariants (``schema/listtype/validation.go``).

The validator is hand-written (not ``jsonschema``) because the messages must
be kube-openapi's, and importing ``jsonschema`` alone costs ~0.8 s.
"""

from __future__ import annotations

import base64
import binascii
import copy
import ipaddress
import json
import math
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .errors import FieldError, forbidden, not_supported, required
from .schemas import OBJECT_META, SchemaSet, go_quote

# --------------------------------------------------------------------------------------
# field errors whose value renders as upstream's ErrorBody (json.Marshal for compound values)


class _GoFieldError(FieldError):
    """A FieldError rendering ``BadValue`` as apimachinery ``field.Error.ErrorBody`` does."""

    def message(self) -> str:
        prefix = self._PREFIX.get(self.kind, self.kind)
        v = self.value
        if self.kind in ("FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong"):
            body = prefix
        elif isinstance(v, bool):
            body = f"{prefix}: {'true' if v else 'false'}"
        elif isinstance(v, (int, float)):
            body = f"{prefix}: {_go_num(v)}"
        elif isinstance(v, str):
            body = f"{prefix}: {go_quote(v)}"
        else:
            body = f"{prefix}: {json.dumps(v, separators=(',', ':'), sort_keys=True)}"
        if self.supported:
            return body + ": supported values: " + ", ".join(go_quote(s) for s in self.supported)
        return body + (f": {self.detail}" if self.detail else "")


def _err(kind: str, path: str, value: Any, detail: str = "") -> FieldError:
    return _GoFieldError(kind, path, detail, value)


def _go_num(v: int | float) -> str:
    """Go ``%v`` for a JSON number (float64 uses the shortest 'g' form with exponent at 1e21)."""
    if isinstance(v, int):
        return str(v)
    if math.isfinite(v) and v == int(v) and abs(v) < 1e21:
        return str(int(v))
    r = repr(v)
    if "e" in r:
        mant, exp = r.split("e")
        sign = "-" if exp.startswith("-") else "+"
        return f"{mant}e{sign}{abs(int(exp)):02d}"
    return r


def _go_g(v: float) -> str:
    """Go ``%v`` of a float64 schema bound (strconv 'g', shortest: exponent when exp < -4 or >= 21)."""
    return _go_num(v)


# --------------------------------------------------------------------------------------
# name rules (apimachinery pkg/util/validation/validation.go)

_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUB = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
                "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
_DNS1123_SUB_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
                    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
                    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
# (RegexError really renders "'my-name',  or 'abc-123', " with two spaces.)


def dns1035_label_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _DNS1035.fullmatch(value):
        errs.append(_DNS1035_MSG)
    return errs


def dns1123_subdomain_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append("must be no more than 253 characters")
    if not _DNS1123_SUB.fullmatch(value):
        errs.append(_DNS1123_SUB_MSG)
    return errs


# --------------------------------------------------------------------------------------
# CRD defaulting and validation


def crd_defaults(crd: dict[str, Any]) -> None:
    """Apply ``SetDefaults_CustomResourceDefinition`` (apiextensions v1/defaults.go) in place."""
    spec = crd.setdefault("spec", {})
    names = spec.setdefault("names", {})
    kind = names.get("kind") or ""
    if not names.get("singular"):
        names["singular"] = kind.lower()
    if not names.get("listKind") and kind:
        names["listKind"] = kind + "List"
    if spec.get("conversion") is None:
        spec["conversion"] = {"strategy": "None"}
    webhook = (spec.get("conversion") or {}).get("webhook") or {}
    svc = (webhook.get("clientConfig") or {}).get("service")
    if isinstance(svc, dict) and svc.get("port") is None:
        svc["port"] = 443
    status = crd.setdefault("status", {})
    if not status.get("storedVersions"):
        for v in spec.get("versions") or []:
            if v.get("storage"):
                status["storedVersions"] = [v.get("name")]
                break


def scale_paths(crd_version: dict[str, Any]) -> dict[str, str] | None:
    """``specReplicasPath``/``statusReplicasPath``/``labelSelectorPath`` of a scale subresource, if any."""
    scale = ((crd_version.get("subresources") or {}).get("scale"))
    if not isinstance(scale, dict):
        return None
    out = {"specReplicasPath": scale.get("specReplicasPath", ""),
           "statusReplicasPath": scale.get("statusReplicasPath", "")}
    if scale.get("labelSelectorPath"):
        out["labelSelectorPath"] = scale["labelSelectorPath"]
    return out


def _hoisted(versions: list[dict[str, Any]], key: str) -> tuple[bool, Any]:
    """Whether ``key`` is identical in every version (then upstream moves it to the spec)."""
    if not versions:
        return False, None
    first = versions[0].get(key)
    if key == "additionalPrinterColumns":
        first = first or None
        same = all((v.get(key) or None) == first for v in versions)
    else:
        same = all(v.get(key) == first for v in versions)
    return same, first


_PRINTER_TYPES = ("boolean", "date", "integer", "number", "string")
_PRINTER_FORMATS = ("byte", "date", "date-time", "double", "float", "int32", "int64", "password")
_OPENAPI_TYPES = ("array", "boolean", "integer", "number", "object", "string")


def validate_crd(crd: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    """Validate a (defaulted) apiextensions.k8s.io/v1 CustomResourceDefinition; ``old`` on update."""
    errs: list[FieldError] = []
    meta = crd.get("metadata") or {}
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    versions = [v for v in (spec.get("versions") or []) if isinstance(v, dict)]

    # metadata (ValidateObjectMeta with the CRD's name function)
    name = meta.get("name") or ""
    if not name and not meta.get("generateName"):
        errs.append(required("metadata.name", "name or generateName is required"))
    elif name:
        msgs = dns1123_subdomain_errors(name)
        if name != f"{names.get('plural', '')}.{group}":
            msgs.append('must be spec.names.plural+"."+spec.group')
        errs.extend(_err("FieldValueInvalid", "metadata.name", name, m) for m in msgs)

    # spec
    if not group:
        errs.append(required("spec.group"))
    elif dns1123_subdomain_errors(group):
        errs.append(_err("FieldValueInvalid", "spec.group", group, ",".join(dns1123_subdomain_errors(group))))
    elif len(group.split(".")) < 2:
        errs.append(_err("FieldValueInvalid", "spec.group", group, "should be a domain with at least one dot"))
    scope = spec.get("scope") or ""
    if not scope:
        errs.append(required("spec.scope"))
    elif scope not in ("Cluster", "Namespaced"):
        errs.append(not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))

    schema_same, top_schema = _hoisted(versions, "schema")
    sub_same, top_subs = _hoisted(versions, "subresources")
    col_same, top_cols = _hoisted(versions, "additionalPrinterColumns")
    top_schema = top_schema if schema_same else None
    top_subs = top_subs if sub_same else None
    top_cols = top_cols if col_same else None
    if not (top_schema or {}).get("openAPIV3Schema"):
        for i, v in enumerate(versions):
            if not (v.get("schema") or {}).get("openAPIV3Schema"):
                errs.append(required(f"spec.versions[{i}].schema.openAPIV3Schema"))
    has_defaults = any(_schema_has(((v.get("schema") or {}).get("openAPIV3Schema")), lambda s: "default" in s)
                       for v in versions)
    if has_defaults and spec.get("preserveUnknownFields"):
        errs.append(_err("FieldValueInvalid", "spec.preserveUnknownFields", True,
                         "must be false in order to use defaults in the schema"))

    any_status = any(((v.get("subresources") or {}).get("status") is not None) for v in versions)
    storage = 0
    seen: set[str] = set()
    unique = True
    for i, v in enumerate(versions):
        base = f"spec.versions[{i}]"
        vname = v.get("name") or ""
        storage += 1 if v.get("storage") else 0
        if vname in seen:
            unique = False
        seen.add(vname)
        msgs = dns1035_label_errors(vname)
        if msgs:
            errs.append(_err("FieldValueInvalid", f"{base}.name", vname, ",".join(msgs)))
        warning = v.get("deprecationWarning")
        if warning is not None and not v.get("deprecated"):
            errs.append(_err("FieldValueInvalid", f"{base}.deprecationWarning", warning,
                             "can only be set for deprecated versions"))
        subs = top_subs if sub_same else v.get("subresources")
        status_on = isinstance(subs, dict) and subs.get("status") is not None
        if not schema_same:
            errs.extend(_validate_crd_schema(v.get("schema"), status_on, f"{base}.schema"))
        if not sub_same:
            errs.extend(_validate_subresources(v.get("subresources"), f"{base}.subresources"))
        if not col_same:
            for j, col in enumerate(v.get("additionalPrinterColumns") or []):
                errs.extend(_validate_column(col, f"{base}.additionalPrinterColumns[{j}]"))
    if not unique:
        errs.append(_err("FieldValueInvalid", "spec.versions", versions, "must contain unique version names"))
    if storage != 1:
        errs.append(_err("FieldValueInvalid", "spec.versions", versions,
                         "must have exactly one version marked as storage version"))
    if versions:
        first = versions[0].get("name") or ""
        msgs = dns1035_label_errors(first)
        if msgs:  # the internal type's spec.version mirrors versions[0].name
            errs.append(_err("FieldValueInvalid", "spec.version", first, ",".join(msgs)))

    for key in ("plural", "singular", "kind", "listKind"):
        if not names.get(key):
            errs.append(required(f"spec.names.{key}"))
    errs.extend(_validate_names(names, "spec.names"))
    if schema_same:
        errs.extend(_validate_crd_schema(top_schema, any_status, "spec.validation"))
    if sub_same:
        errs.extend(_validate_subresources(top_subs, "spec.subresources"))
    if col_same:
        for j, col in enumerate(top_cols or []):
            errs.extend(_validate_column(col, f"spec.additionalPrinterColumns[{j}]"))

    conv = spec.get("conversion")
    if isinstance(conv, dict):
        strategy = conv.get("strategy") or ""
        if strategy and strategy != "None" and spec.get("preserveUnknownFields"):
            errs.append(_err("FieldValueInvalid", "spec.conversion.strategy", strategy,
                             "must be None if spec.preserveUnknownFields is true"))
        if not strategy:
            errs.append(required("spec.conversion.strategy"))
        elif strategy not in ("None", "Webhook"):
            errs.append(not_supported("spec.conversion.strategy", strategy, ["None", "Webhook"]))
        webhook = conv.get("webhook")
        if strategy == "Webhook":
            cc = (webhook or {}).get("clientConfig")
            if not cc:
                errs.append(required("spec.conversion.webhookClientConfig", "required when strategy is set to Webhook"))
            elif (cc.get("url") is None) == (cc.get("service") is None):
                errs.append(required("spec.conversion.webhookClientConfig", "exactly one of url or service is required"))
            reviews = (webhook or {}).get("conversionReviewVersions") or []
            if not reviews:
                errs.append(required("spec.conversion.conversionReviewVersions"))
            elif not {"v1", "v1beta1"} & set(reviews):
                errs.append(_err("FieldValueInvalid", "spec.conversion.conversionReviewVersions", reviews,
                                 "must include at least one of v1, v1beta1"))
        elif webhook is not None:
            if webhook.get("clientConfig") is not None:
                errs.append(forbidden("spec.conversion.webhookClientConfig",
                                      "should not be set when strategy is not set to Webhook"))
            if webhook.get("conversionReviewVersions"):
                errs.append(forbidden("spec.conversion.conversionReviewVersions",
                                      "should not be set when strategy is not set to Webhook"))

    # status: storedVersions as PrepareForCreate / the stored status would have them
    if old is None:
        stored = [v.get("name") for v in versions if v.get("storage")][:1] or None
    else:
        stored = ((old.get("status") or {}).get("storedVersions")) or None
    errs.extend(_validate_stored_versions(stored, versions))

    approval = _api_approval(crd, old, group)
    if approval:
        errs.append(approval)
    if spec.get("preserveUnknownFields") and not ((old or {}).get("spec") or {}).get("preserveUnknownFields"):
        errs.append(_err("FieldValueInvalid", "spec.preserveUnknownFields", True,
                         "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in "
                         "spec.versions[*].schema instead"))

    if old is not None:
        ospec = old.get("spec") or {}
        onames = ospec.get("names") or {}
        established = any(c.get("type") == "Established" and c.get("status") == "True"
                          for c in ((old.get("status") or {}).get("conditions") or []))
        if established:
            if spec.get("scope") != ospec.get("scope"):
                errs.append(_err("FieldValueInvalid", "spec.scope", spec.get("scope"), "field is immutable"))
            if names.get("kind") != onames.get("kind"):
                errs.append(_err("FieldValueInvalid", "spec.names.kind", names.get("kind"), "field is immutable"))
        if group != ospec.get("group"):
            errs.append(_err("FieldValueInvalid", "spec.group", group, "field is immutable"))
        if names.get("plural") != onames.get("plural"):
            errs.append(_err("FieldValueInvalid", "spec.names.plural", names.get("plural"), "field is immutable"))
    return errs


def _api_approval(crd: dict[str, Any], old: dict[str, Any] | None, group: str) -> FieldError | None:
    """``validateAPIApproval``: *.k8s.io / *.kubernetes.io groups need ``api-approved.kubernetes.io``."""
    if not (group in ("k8s.io", "kubernetes.io") or group.endswith(".k8s.io") or group.endswith(".kubernetes.io")):
        return None
    key = "api-approved.kubernetes.io"

    def state(c: dict[str, Any] | None) -> str:
        a = (((c or {}).get("metadata") or {}).get("annotations") or {}).get(key, "")
        if not a:
            return "missing"
        if a.startswith("unapproved"):
            return "bypassed"
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s]+", a):
            return "approved"
        return "invalid"

    new = state(crd)
    if old is not None and state(old) == new:
        return None
    path = f"metadata.annotations[{key}]"
    if new == "missing":
        return required(path, f'protected groups must have approval annotation "{key}", '
                              "see https://github.com/kubernetes/enhancements/pull/1111")
    if new == "invalid":
        value = crd["metadata"]["annotations"][key]
        return _err("FieldValueInvalid", path, value,
                    f'protected groups must have approval annotation "{key}" with either a URL or a reason '
                    'starting with "unapproved", see https://github.com/kubernetes/enhancements/pull/1111')
    return None


def _validate_stored_versions(stored: list[str] | None, versions: list[dict[str, Any]]) -> list[FieldError]:
    path = "status.storedVersions"
    if not stored:
        return [_err("FieldValueInvalid", path, stored, "must have at least one stored version")]
    errs: list[FieldError] = []
    remaining = {v: i for i, v in enumerate(stored)}
    for v in versions:
        n = v.get("name")
        if v.get("storage") and n not in remaining:
            errs.append(_err("FieldValueInvalid", path, stored, f"must have the storage version {n}"))
        remaining.pop(n, None)
    for v, i in remaining.items():
        errs.append(_err("FieldValueInvalid", f"{path}[{i}]", v,
                         f"missing from spec.versions; {v} was previously a storage version, and must remain in "
                         f"spec.versions until a storage migration ensures no data remains persisted in {v} and "
                         f"removes {v} from status.storedVersions"))
    return errs


def _validate_names(names: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in ("plural", "singular"):
        v = names.get(key) or ""
        if v and dns1035_label_errors(v):
            errs.append(_err("FieldValueInvalid", f"{path}.{key}", v, ",".join(dns1035_label_errors(v))))
    for key in ("kind", "listKind"):
        v = names.get(key) or ""
        if v and dns1035_label_errors(v.lower()):
            errs.append(_err("FieldValueInvalid", f"{path}.{key}", v, "may have mixed case, but should otherwise "
                             "match: " + ",".join(dns1035_label_errors(v.lower()))))
    for i, s in enumerate(names.get("shortNames") or []):
        if dns1035_label_errors(s):
            errs.append(_err("FieldValueInvalid", f"{path}.shortNames[{i}]", s, ",".join(dns1035_label_errors(s))))
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        errs.append(_err("FieldValueInvalid", f"{path}.listKind", names["listKind"],
                         "kind and listKind may not be the same"))
    for i, c in enumerate(names.get("categories") or []):
        if dns1035_label_errors(c):
            errs.append(_err("FieldValueInvalid", f"{path}.categories[{i}]", c, ",".join(dns1035_label_errors(c))))
    return errs


def _validate_subresources(subs: Any, path: str) -> list[FieldError]:
    if not isinstance(subs, dict) or not isinstance(subs.get("scale"), dict):
        return []
    scale = subs["scale"]
    errs: list[FieldError] = []
    for key, prefixes, where in (("specReplicasPath", (".spec.",), ".spec"),
                                 ("statusReplicasPath", (".status.",), ".status")):
        p = scale.get(key) or ""
        fp = f"{path}.scale.{key}"
        if not p:
            errs.append(required(fp))
        elif _simple_path_errors(p, fp):
            errs.extend(_simple_path_errors(p, fp))
        elif not p.startswith(prefixes):
            errs.append(_err("FieldValueInvalid", fp, p, f"should be a json path under {where}"))
    sel = scale.get("labelSelectorPath")
    if sel:
        fp = f"{path}.scale.labelSelectorPath"
        if _simple_path_errors(sel, fp):
            errs.extend(_simple_path_errors(sel, fp))
        elif not sel.startswith((".spec.", ".status.")):
            errs.append(_err("FieldValueInvalid", fp, sel, "should be a json path under either .spec or .status"))
    return errs


def _simple_path_errors(s: str, path: str) -> list[FieldError]:
    if not s:
        return [_err("FieldValueInvalid", path, s, "must not be empty")]
    if s[0] != ".":
        return [_err("FieldValueInvalid", path, s, "must be a simple json path starting with .")]
    return []


def _validate_column(col: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not col.get("name"):
        errs.append(required(f"{path}.name"))
    t = col.get("type") or ""
    if not t:
        errs.append(required(f"{path}.type", "must be one of " + ",".join(_PRINTER_TYPES)))
    elif t not in _PRINTER_TYPES:
        errs.append(_err("FieldValueInvalid", f"{path}.type", t, "must be one of " + ",".join(_PRINTER_TYPES)))
    fmt = col.get("format") or ""
    if fmt and fmt not in _PRINTER_FORMATS:
        errs.append(_err("FieldValueInvalid", f"{path}.format", fmt, "must be one of " + ",".join(_PRINTER_FORMATS)))
    jp = col.get("jsonPath") or ""
    if not jp:
        errs.append(required(f"{path}.JSONPath"))
    else:
        errs.extend(_simple_path_errors(jp, f"{path}.JSONPath"))
    return errs


def _schema_has(s: Any, pred: Any) -> bool:
    if not isinstance(s, dict):
        return False
    if pred(s):
        return True
    for k in ("items", "additionalProperties", "not"):
        if _schema_has(s.get(k), pred):
            return True
    for k in ("properties",):
        if any(_schema_has(v, pred) for v in (s.get(k) or {}).values()):
            return True
    return any(_schema_has(x, pred) for k in ("allOf", "anyOf", "oneOf") for x in (s.get(k) or []))


def _validate_crd_schema(wrapper: Any, status_enabled: bool, path: str) -> list[FieldError]:
    """``validateCustomResourceDefinitionValidation`` for one ``schema: {openAPIV3Schema: ...}``."""
    if not isinstance(wrapper, dict) or not isinstance(wrapper.get("openAPIV3Schema"), dict):
        return []
    schema = wrapper["openAPIV3Schema"]
    root = f"{path}.openAPIV3Schema"
    errs: list[FieldError] = []
    if status_enabled and schema.get("type") and schema.get("type") != "object":
        errs.append(_err("FieldValueInvalid", f"{root}.type", schema["type"],
                         'only "object" is allowed as the type at the root of the schema if the status subresource '
                         "is enabled"))
    if schema.get("nullable"):
        errs.append(forbidden(f"{root}.nullable", "nullable cannot be true at the root"))
    errs.extend(_structural(schema, "root", root))
    errs.extend(_standard(schema, root, True))
    return errs


def _structural(s: dict[str, Any], lvl: str, path: str) -> list[FieldError]:
    """``validateStructuralInvariants`` (apiextensions pkg/apiserver/schema/validation.go)."""
    errs: list[FieldError] = []
    t = s.get("type") or ""
    if t == "array" and not isinstance(s.get("items"), dict):
        errs.append(required(f"{path}.items", "must be specified"))
    if isinstance(s.get("items"), dict):
        errs.extend(_structural(s["items"], "item", f"{path}.items"))
    for k, v in (s.get("properties") or {}).items():
        if isinstance(v, dict):
            errs.extend(_structural(v, "field", f"{path}.properties[{k}]"))
    addl = s.get("additionalProperties")
    if addl is not None:
        if lvl == "root":
            errs.append(forbidden(f"{path}.additionalProperties", "must not be used at the root"))
        if isinstance(addl, dict):
            errs.extend(_structural(addl, "field", f"{path}.additionalProperties"))
    int_or_string = bool(s.get("x-kubernetes-int-or-string"))
    preserve = bool(s.get("x-kubernetes-preserve-unknown-fields"))
    embedded = bool(s.get("x-kubernetes-embedded-resource"))
    if int_or_string and preserve:
        errs.append(_err("FieldValueInvalid", f"{path}.x-kubernetes-preserve-unknown-fields", True,
                         "must be false if x-kubernetes-int-or-string is true"))
    if int_or_string and embedded:
        errs.append(_err("FieldValueInvalid", f"{path}.x-kubernetes-embedded-resource", True,
                         "must be false if x-kubernetes-int-or-string is true"))
    for k in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(s.get(k) or []):
            if isinstance(sub, dict) and not (int_or_string and sub.get("type") in ("integer", "string")):
                errs.extend(_value_validation(sub, f"{path}.{k}[{i}]"))
    if isinstance(s.get("not"), dict):
        errs.extend(_value_validation(s["not"], f"{path}.not"))
    if embedded and t != "object":
        if not t:
            errs.append(required(f"{path}.type", "must be object if x-kubernetes-embedded-resource is true"))
        else:
            errs.append(_err("FieldValueInvalid", f"{path}.type", t,
                             "must be object if x-kubernetes-embedded-resource is true"))
    elif not t and not int_or_string and not preserve:
        where = {"root": "at the root", "item": "for specified array items", "field": "for specified object fields"}
        errs.append(required(f"{path}.type", f"must not be empty {where[lvl]}"))
    if lvl == "root" and t and t != "object":
        errs.append(_err("FieldValueInvalid", f"{path}.type", t, "must be object at the root"))
    check_meta = lvl == "root" or embedded
    props = s.get("properties") or {}
    if check_meta:
        for k in ("kind", "apiVersion"):
            if k in props and (props[k] or {}).get("type") != "string":
                errs.append(_err("FieldValueInvalid", f"{path}.properties[{k}].type", (props[k] or {}).get("type", ""),
                                 "must be string"))
    meta = props.get("metadata")
    if isinstance(meta, dict):
        if check_meta and meta.get("type") != "object":
            errs.append(_err("FieldValueInvalid", f"{path}.properties[metadata].type", meta.get("type", ""),
                             "must be object"))
        if lvl == "root":
            rest = {k: v for k, v in meta.items() if k not in ("type", "default")}
            mprops = rest.pop("properties", None) or {}
            if rest or set(mprops) - {"name", "generateName"}:
                errs.append(forbidden(f"{path}.properties[metadata]", "must not specify anything other than name "
                                      "and generateName, but metadata is implicitly specified"))
    if embedded and not preserve and not props:
        errs.append(required(f"{path}.properties", "must not be empty if x-kubernetes-embedded-resource is true "
                             "without x-kubernetes-preserve-unknown-fields"))
    return errs


_VALUE_VALIDATION_FORBIDDEN = (
    ("type", "must be empty to be structural"), ("additionalProperties", "must be undefined to be structural"),
    ("default", "must be undefined to be structural"), ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"), ("nullable", "must be false to be structural"),
    ("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
    ("x-kubernetes-embedded-resource", "must be false to be structural"),
    ("x-kubernetes-int-or-string", "must be false to be structural"),
    ("x-kubernetes-list-map-keys", "must be empty to be structural"),
    ("x-kubernetes-list-type", "must be undefined to be structural"),
    ("x-kubernetes-map-type", "must be undefined to be structural"),
    ("x-kubernetes-validations", "must be empty to be structural"),
)


def _value_validation(s: dict[str, Any], path: str) -> list[FieldError]:
    errs = [forbidden(f"{path}.{k}", msg) for k, msg in _VALUE_VALIDATION_FORBIDDEN if s.get(k)]
    if "metadata" in (s.get("properties") or {}):
        errs.append(forbidden(f"{path}.properties[metadata]", "must not be specified in a nested context"))
    return errs


def _standard(s: dict[str, Any], path: str, root: bool) -> list[FieldError]:
    """``ValidateCustomResourceDefinitionOpenAPISchema`` + ``specStandardValidatorV3.validate``."""
    errs: list[FieldError] = []
    t = s.get("type")
    if t and t not in _OPENAPI_TYPES:
        errs.append(not_supported(f"{path}.type", t, list(_OPENAPI_TYPES)))
    for key, msg in (("id", "id is not supported"), ("additionalItems", "additionalItems is not supported"),
                     ("patternProperties", "patternProperties is not supported"),
                     ("definitions", "definitions is not supported"),
                     ("dependencies", "dependencies is not supported"), ("$ref", "$ref is not supported")):
        if s.get(key):
            errs.append(forbidden(f"{path}.{key}", msg))
    if t == "null":
        errs.append(forbidden(f"{path}.type", "type cannot be set to null, use nullable as an alternative"))
    if isinstance(s.get("items"), list):
        errs.append(forbidden(f"{path}.items", "items must be a schema object and not an array"))
    if s.get("uniqueItems"):
        errs.append(forbidden(f"{path}.uniqueItems",
                              "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"))
    addl = s.get("additionalProperties")
    if addl is not None and s.get("properties"):
        if addl is False or isinstance(addl, dict):
            errs.append(forbidden(f"{path}.additionalProperties", "additionalProperties and properties are mutual "
                                  "exclusive"))
    if isinstance(addl, dict):
        errs.extend(_standard(addl, f"{path}.additionalProperties", False))
    for k, v in (s.get("properties") or {}).items():
        if isinstance(v, dict):
            if root and k in ("metadata", "kind", "apiVersion") and "default" in v:
                errs.append(forbidden(f"{path}.properties[{k}].default", f"must not be set in top-level {k}"))
            errs.extend(_standard(v, f"{path}.properties[{k}]", False))
    if isinstance(s.get("not"), dict):
        errs.extend(_standard(s["not"], f"{path}.not", False))
    for key in ("allOf", "oneOf", "anyOf"):
        for i, sub in enumerate(s.get(key) or []):
            if isinstance(sub, dict):
                errs.extend(_standard(sub, f"{path}.{key}[{i}]", False))
    if isinstance(s.get("items"), dict):
        errs.extend(_standard(s["items"], f"{path}.items", False))
    lt = s.get("x-kubernetes-list-type")
    keys = s.get("x-kubernetes-list-map-keys") or []
    if lt is not None:
        if not t:
            errs.append(required(f"{path}.type", "must be array if x-kubernetes-list-type is specified"))
        elif t != "array":
            errs.append(_err("FieldValueInvalid", f"{path}.type", t, "must be array if x-kubernetes-list-type is "
                             "specified"))
        if lt not in ("atomic", "set", "map"):
            errs.append(not_supported(f"{path}.x-kubernetes-list-type", lt, ["atomic", "set", "map"]))
    if keys and lt != "map":
        if lt is None:
            errs.append(required(f"{path}.x-kubernetes-list-type", "must be map if x-kubernetes-list-map-keys is "
                                 "non-empty"))
        else:
            errs.append(_err("FieldValueInvalid", f"{path}.x-kubernetes-list-type", lt,
                             "must be map if x-kubernetes-list-map-keys is non-empty"))
    if lt == "map":
        items = s.get("items")
        if not keys:
            errs.append(required(f"{path}.x-kubernetes-list-map-keys", "must not be empty if x-kubernetes-list-type "
                                 "is map"))
        if not isinstance(items, dict):
            errs.append(required(f"{path}.items", "must have a schema if x-kubernetes-list-type is map"))
        elif items.get("type") != "object":
            errs.append(_err("FieldValueInvalid", f"{path}.items.type", items.get("type", ""),
                             "must be object if parent array's x-kubernetes-list-type is map"))
        elif any(k not in (items.get("properties") or {}) for k in keys):
            errs.append(_err("FieldValueInvalid", f"{path}.x-kubernetes-list-map-keys", keys,
                             "entries must all be names of item properties"))
    return errs


# --------------------------------------------------------------------------------------
# custom objects


@dataclass
class CustomResult:
    """A processed custom object.

    ``unknown``: pruned field paths, sorted as upstream (reported as ``unknown field "<path>"``
    in ``strict decoding error: ...`` or as warnings); ``decode_errors``: metadata that could
    not be decoded as ObjectMeta (a 400 BadRequest upstream); ``errors``: schema validation
    (a 422 Invalid).
    """

    obj: dict[str, Any]
    unknown: list[str] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)
    decode_errors: list[str] = field(default_factory=list)


_META_FIELDS = ("apiVersion", "kind", "metadata")


def process_custom_object(obj: dict[str, Any], schema: dict[str, Any] | None, *, kind: str, group: str,
                          strict: bool = True, schemas: SchemaSet | None = None) -> CustomResult:
    """Prune, default and validate a custom object against its version's ``openAPIV3Schema``.

    ``strict`` (fieldValidation Strict or Warn) asks for the unknown field paths; pruning happens
    either way. ``kind``/``group`` select the schema only for objects of that kind, as upstream.
    """
    out = copy.deepcopy(obj)
    res = CustomResult(obj=out)
    meta = out.get("metadata")
    if meta is not None:
        dec = (schemas or SchemaSet()).decode(meta, OBJECT_META, kind_label=kind)
        if dec.type_errors:
            res.decode_errors = dec.type_errors
        else:
            out["metadata"] = dec.obj
            if strict:
                res.unknown.extend(sorted(f"metadata.{p}" for p in dec.unknown))
    api_group = (out.get("apiVersion") or "").rpartition("/")[0]
    if not isinstance(schema, dict) or out.get("kind") != kind or api_group != group:
        return res
    pruned: list[str] = []
    if not schema.get("x-kubernetes-preserve-unknown-fields"):
        _prune(out, schema, True, "", pruned)
    else:
        _skip_prune(out, schema, True, "", pruned)
    if strict:
        res.unknown.extend(sorted(pruned))
    _prune_nulls(out, schema)
    _default(out, schema)
    res.errors.extend(_validate(out, schema, ""))
    res.errors.extend(_list_types(out, schema, ""))
    return res


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _prune(x: Any, s: dict[str, Any] | None, resource_root: bool, path: str, pruned: list[str]) -> None:
    if s is not None and s.get("x-kubernetes-preserve-unknown-fields"):
        _skip_prune(x, s, resource_root, path, pruned)
        return
    embedded = resource_root or bool((s or {}).get("x-kubernetes-embedded-resource"))
    if isinstance(x, dict):
        if s is None:
            for k in list(x):
                pruned.append(_child(path, k))
                del x[k]
            return
        props = s.get("properties") or {}
        addl = s.get("additionalProperties")
        for k in list(x):
            if embedded and k in _META_FIELDS:
                continue
            if k in props:
                _prune(x[k], props[k], False, _child(path, k), pruned)
            elif isinstance(addl, dict) or addl is True:
                _prune(x[k], addl if isinstance(addl, dict) else {"x-kubernetes-preserve-unknown-fields": True},
                       False, _child(path, k), pruned)
            else:
                if k not in _META_FIELDS or path:
                    pruned.append(_child(path, k))
                del x[k]
    elif isinstance(x, list):
        items = s.get("items") if s is not None else None
        for i, v in enumerate(x):
            _prune(v, items if isinstance(items, dict) else None, False, f"{path}[{i}]", pruned)


def _skip_prune(x: Any, s: dict[str, Any] | None, resource_root: bool, path: str, pruned: list[str]) -> None:
    if s is None:
        return
    embedded = resource_root or bool(s.get("x-kubernetes-embedded-resource"))
    if isinstance(x, dict):
        props = s.get("properties") or {}
        addl = s.get("additionalProperties")
        for k, v in x.items():
            if embedded and k in _META_FIELDS:
                continue
            if k in props:
                _prune(v, props[k], False, _child(path, k), pruned)
            elif isinstance(addl, dict):
                _prune(v, addl, False, _child(path, k), pruned)
    elif isinstance(x, list):
        items = s.get("items")
        for i, v in enumerate(x):
            _skip_prune(v, items if isinstance(items, dict) else None, False, f"{path}[{i}]", pruned)


def _field_schema(s: dict[str, Any] | None, k: str) -> dict[str, Any] | None:
    if s is None:
        return None
    props = s.get("properties") or {}
    if k in props:
        return props[k]
    addl = s.get("additionalProperties")
    return addl if isinstance(addl, dict) else None


def _prune_nulls(x: Any, s: dict[str, Any] | None) -> None:
    """``PruneNonNullableNullsWithoutDefaults``: drop nulls the schema can neither hold nor default."""
    if isinstance(x, dict):
        for k in list(x):
            fs = _field_schema(s, k)
            if x[k] is None and fs is not None and not fs.get("nullable") and "default" not in fs:
                del x[k]
            else:
                _prune_nulls(x[k], fs)
    elif isinstance(x, list):
        items = (s or {}).get("items")
        for v in x:
            _prune_nulls(v, items if isinstance(items, dict) else None)


def _non_nullable_null(v: Any, s: dict[str, Any] | None) -> bool:
    return v is None and s is not None and not s.get("nullable")


def _default(x: Any, s: dict[str, Any] | None) -> None:
    """Apply schema defaults where a field is absent (or a non-nullable null) (defaulting/algorithm.go)."""
    if s is None:
        return
    if isinstance(x, dict):
        props = s.get("properties") or {}
        for k, p in props.items():
            if not isinstance(p, dict) or "default" not in p or p["default"] is None:
                continue
            if k not in x or _non_nullable_null(x[k], p):
                x[k] = copy.deepcopy(p["default"])
        addl = s.get("additionalProperties")
        for k in list(x):
            if k in props:
                _default(x[k], props[k])
            elif isinstance(addl, dict):
                if _non_nullable_null(x[k], addl) and addl.get("default") is not None:
                    x[k] = copy.deepcopy(addl["default"])
                _default(x[k], addl)
    elif isinstance(x, list):
        items = s.get("items")
        if isinstance(items, dict):
            for i in range(len(x)):
                if _non_nullable_null(x[i], items) and items.get("default") is not None:
                    x[i] = copy.deepcopy(items["default"])
                _default(x[i], items)


# -- OpenAPI validation with kube-openapi messages --------------------------------------


def _json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def _fp(name: str) -> str:
    """The field path upstream reports: the kube-openapi name without a leading dot."""
    return name[1:] if name.startswith(".") else name


def _type_invalid(name: str, expected: str, actual: str) -> FieldError:
    return _err("FieldValueTypeInvalid", _fp(name), actual, f'{name} in body must be of type {expected}: "{actual}"')


_UUID = {
    "uuid": r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$",
    "uuid3": r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$",
    "uuid4": r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$",
    "uuid5": r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$",
}
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$")
_HOSTNAME = re.compile(r"^([a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*\.?$")
_MAC = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$")


def _format_ok(fmt: str, v: str) -> bool | None:
    """Whether ``v`` matches a supported CRD string format; ``None`` for formats not checked."""
    f = fmt.replace("-", "").replace("_", "").lower()
    try:
        if f in _UUID:
            return re.match(_UUID[f], v) is not None
        if f == "datetime":
            return _DATETIME.match(v) is not None
        if f == "date":
            return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", v)) and date.fromisoformat(v) is not None
        if f == "byte":
            base64.b64decode(v, validate=True)
            return True
        if f == "ipv4":
            return isinstance(ipaddress.ip_address(v), ipaddress.IPv4Address)
        if f == "ipv6":
            ipaddress.ip_address(v)
            return ":" in v
        if f == "cidr":
            ipaddress.ip_network(v, strict=False)
            return "/" in v
        if f == "mac":
            return _MAC.match(v) is not None
        if f == "hostname":
            return len(v) <= 255 and _HOSTNAME.match(v) is not None
        if f == "hexcolor":
            return re.fullmatch(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})", v) is not None
        if f == "email":
            return re.fullmatch(r"[^@\s]+@[^@\s]+", v) is not None
    except (ValueError, binascii.Error):
        return False
    return None


def _enum_match(v: Any, enum: list[Any]) -> bool:
    for e in enum:
        if isinstance(e, bool) != isinstance(v, bool):
            continue
        if e == v and (type(e) is type(v) or (isinstance(e, (int, float)) and isinstance(v, (int, float)))):
            return True
    return False


def _validate(v: Any, s: dict[str, Any], name: str) -> list[FieldError]:
    """One value against one schema node, in kube-openapi's validator order."""
    errs: list[FieldError] = []
    types = ["integer", "string"] if s.get("x-kubernetes-int-or-string") else \
        ([s["type"]] if isinstance(s.get("type"), str) else [])
    enum = s.get("enum")
    if v is None:
        if types and not s.get("nullable"):
            errs.append(_type_invalid(name, ",".join(types), "null"))
        if enum and None not in enum:
            errs.append(_enum_error(name, v, enum))
        return errs
    actual = _json_type(v)
    if types:
        ok = actual in types or (actual == "number" and float(v).is_integer() and "integer" in types) or \
            (actual == "integer" and "number" in types)
        if not ok:
            errs.append(_type_invalid(name, ",".join(types), actual))
            if enum and not _enum_match(v, enum):
                errs.append(_enum_error(name, v, enum))
            return errs
    # allOf / anyOf / oneOf / not
    for sub in s.get("allOf") or []:
        errs.extend(_validate(v, sub, name))
    if s.get("anyOf"):
        results = [_validate(v, sub, name) for sub in s["anyOf"]]
        if all(results):
            errs.append(_err("FieldValueInvalid", "<nil>", "",
                             f"{go_quote(name)} must validate at least one schema (anyOf)"))
            errs.extend(results[0])
    if s.get("oneOf"):
        results = [_validate(v, sub, name) for sub in s["oneOf"]]
        passed = sum(1 for r in results if not r)
        if passed != 1:
            extra = "Found none valid" if passed == 0 else f"Found {passed} valid alternatives"
            errs.append(_err("FieldValueInvalid", "<nil>", "",
                             f"{go_quote(name)} must validate one and only one schema (oneOf). {extra}"))
            if passed == 0:
                errs.extend(results[0])
    if isinstance(s.get("not"), dict) and not _validate(v, s["not"], name):
        errs.append(_err("FieldValueInvalid", "<nil>", "", f"{go_quote(name)} must not validate the schema (not)"))
    if actual == "string":
        errs.extend(_validate_string(v, s, name))
    if actual in ("integer", "number"):
        errs.extend(_validate_number(v, s, name))
    if actual == "array":
        errs.extend(_validate_array(v, s, name))
    if enum and not _enum_match(v, enum):
        errs.append(_enum_error(name, v, enum))
    if actual == "object":
        errs.extend(_validate_object(v, s, name))
    return errs


def _enum_error(name: str, v: Any, enum: list[Any]) -> FieldError:
    values = [e if isinstance(e, str) else json.dumps(e) for e in enum]
    return _GoFieldError("FieldValueNotSupported", _fp(name), "", v, tuple(values))


def _validate_string(v: str, s: dict[str, Any], name: str) -> list[FieldError]:
    n = len(v)
    if "maxLength" in s and n > s["maxLength"]:
        mx = int(s["maxLength"])
        return [_err("FieldValueTooLong", _fp(name), "<value omitted>",
                     f"may not be more than {mx} {'byte' if mx == 1 else 'bytes'}")]
    if "minLength" in s and n < s["minLength"]:
        return [_err("FieldValueInvalid", _fp(name), v, f"{name} in body should be at least {int(s['minLength'])} "
                     "chars long")]
    if s.get("pattern"):
        try:
            matched = re.search(s["pattern"], v) is not None
        except re.error:
            matched = True
        if not matched:
            return [_err("FieldValueInvalid", _fp(name), v, f"{name} in body should match '{s['pattern']}'")]
    fmt = s.get("format")
    if fmt and _format_ok(fmt, v) is False:
        return [_err("FieldValueTypeInvalid", _fp(name), v, f'{name} in body must be of type {fmt}: "{v}"')]
    return []


def _bound(x: float, v: int | float) -> str:
    return str(int(x)) if isinstance(v, int) else _go_g(float(x))


def _validate_number(v: int | float, s: dict[str, Any], name: str) -> list[FieldError]:
    errs: list[FieldError] = []
    mult = s.get("multipleOf")
    if mult:
        q = v / mult
        if not float(q).is_integer():
            errs.append(_err("FieldValueInvalid", _fp(name), v,
                             f"{name} in body should be a multiple of {_bound(mult, v)}"))
    if "minimum" in s:
        mn, exc = s["minimum"], bool(s.get("exclusiveMinimum"))
        if v < mn or (exc and v == mn):
            rel = "greater than" if exc else "greater than or equal to"
            errs.append(_err("FieldValueInvalid", _fp(name), v, f"{name} in body should be {rel} {_bound(mn, v)}"))
    if "maximum" in s:
        mx, exc = s["maximum"], bool(s.get("exclusiveMaximum"))
        if v > mx or (exc and v == mx):
            rel = "less than" if exc else "less than or equal to"
            errs.append(_err("FieldValueInvalid", _fp(name), v, f"{name} in body should be {rel} {_bound(mx, v)}"))
    return errs


def _validate_array(v: list[Any], s: dict[str, Any], name: str) -> list[FieldError]:
    errs: list[FieldError] = []
    items = s.get("items")
    if isinstance(items, dict):
        for i, x in enumerate(v):
            errs.extend(_validate(x, items, f"{name}[{i}]"))
    if "minItems" in s and len(v) < s["minItems"]:
        errs.append(_err("FieldValueInvalid", _fp(name), len(v),
                         f"{name} in body should have at least {int(s['minItems'])} items"))
    if "maxItems" in s and len(v) > s["maxItems"]:
        mx = int(s["maxItems"])
        errs.append(_err("FieldValueTooMany", _fp(name), len(v), f"must have at most {mx} {'item' if mx == 1 else 'items'}"))
    return errs


def _validate_object(v: dict[str, Any], s: dict[str, Any], name: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if "minProperties" in s and len(v) < s["minProperties"]:
        errs.append(_err("FieldValueInvalid", _fp(name), len(v),
                         f"{name} in body should have at least {int(s['minProperties'])} properties"))
    if "maxProperties" in s and len(v) > s["maxProperties"]:
        mx = int(s["maxProperties"])
        errs.append(_err("FieldValueTooMany", _fp(name), len(v), f"must have at most {mx} {'item' if mx == 1 else 'items'}"))
    props = s.get("properties") or {}
    addl = s.get("additionalProperties")
    if isinstance(addl, dict):
        for k, x in v.items():
            if k not in props:
                errs.extend(_validate(x, addl, f"{name}.{k}"))
    for k, ps in props.items():
        if k in v and isinstance(ps, dict):
            errs.extend(_validate(v[k], ps, f"{name}.{k}" if name else k))
    for k in s.get("required") or []:
        if k not in v:
            errs.append(required(_fp(f"{name}.{k}")))
    return errs


def _list_types(x: Any, s: dict[str, Any] | None, path: str) -> list[FieldError]:
    """``ValidateListSetsAndMaps``: set items unique, map items unique by their keys."""
    if s is None:
        return []
    errs: list[FieldError] = []
    if isinstance(x, dict):
        for k, v in x.items():
            errs.extend(_list_types(v, _field_schema(s, k), _child(path, k)))
    elif isinstance(x, list):
        lt = s.get("x-kubernetes-list-type")
        if lt == "set":
            errs.extend(_err("FieldValueDuplicate", f"{path}[{i}]", x[i]) for i in _non_unique(x))
        elif lt == "map":
            keys = s.get("x-kubernetes-list-map-keys") or []
            bad = next((i for i, e in enumerate(x) if e is not None and not isinstance(e, dict)), None)
            if bad is not None:
                errs.append(_err("FieldValueInvalid", f"{path}[{bad}]", x[bad],
                                 "must be an object for an array of list-type map"))
            elif keys:
                key_values = [{k: e[k] for k in keys if k in e} if isinstance(e, dict) else {} for e in x]
                errs.extend(_err("FieldValueDuplicate", f"{path}[{i}]", key_values[i])
                            for i in _non_unique(key_values))
        items = s.get("items")
        if isinstance(items, dict):
            for i, e in enumerate(x):
                errs.extend(_list_types(e, items, f"{path}[{i}]"))
    return errs


def _non_unique(xs: list[Any]) -> list[int]:
    """Indices of the second occurrence of each repeated value (upstream ``validateListSet``)."""
    seen: dict[str, int] = {}
    out = []
    for i, x in enumerate(xs):
        key = json.dumps(x, sort_keys=True)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] == 2:
            out.append(i)
    return out


__all__ = [
    "CustomResult", "crd_defaults", "dns1035_label_errors", "dns1123_subdomain_errors", "process_custom_object",
    "scale_paths", "validate_crd",
]
