"""Shared validation rules with upstream message texts.

Sources: ``staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go``
(IsDNS1123Label/Subdomain, IsDNS1035Label, IsQualifiedName, IsValidLabelValue,
RegexError, port names), ``.../api/validation/objectmeta.go`` (ValidateObjectMeta,
ValidateObjectMetaUpdate, annotations, owner references, finalizers),
``.../api/validation/path/name.go`` (path segment names) and
``.../apis/meta/v1/validation/validation.go`` (labels, label selectors).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ..errors import FieldError, duplicate, forbidden, invalid, not_supported, required
from ..selectors import selector_from_label_selector

Obj = dict[str, Any]
Errs = list[FieldError]

__all__ = ["FieldError", "duplicate", "forbidden", "invalid", "not_supported", "required"]


@dataclass(frozen=True)
class GoValue:
    """A bad value already rendered the way Go's ``%#v`` prints it (maps, structs)."""

    text: str

    def __str__(self) -> str:
        return self.text


def go_map(m: Any) -> GoValue:
    """``map[string]string{"a":"b"}`` (or ``(nil)``) as field.Invalid prints label maps."""
    if not isinstance(m, dict):
        return GoValue("map[string]string(nil)")
    body = ", ".join(f"{json.dumps(str(k))}:{json.dumps(str(v))}" for k, v in sorted(m.items()))
    return GoValue("map[string]string{" + body + "}")


def go_selector(sel: Any) -> GoValue:
    """A metav1.LabelSelector as ``%#v`` of the (dereferenced) struct."""
    if not isinstance(sel, dict):
        return GoValue('"null"')
    ml = sel.get("matchLabels")
    exprs = sel.get("matchExpressions") or []
    if exprs:
        parts = []
        for e in exprs:
            vals = e.get("values")
            vtext = "[]string(nil)" if vals is None else "[]string{" + ", ".join(json.dumps(x) for x in vals) + "}"
            parts.append(f'v1.LabelSelectorRequirement{{Key:{json.dumps(e.get("key", ""))}, '
                         f'Operator:{json.dumps(e.get("operator", ""))}, Values:{vtext}}}')
        etext = "[]v1.LabelSelectorRequirement{" + ", ".join(parts) + "}"
    else:
        etext = "[]v1.LabelSelectorRequirement(nil)"
    return GoValue(f"v1.LabelSelector{{MatchLabels:{go_map(ml)}, MatchExpressions:{etext}}}")


def go_struct(type_name: str) -> GoValue:
    """Placeholder for large internal structs whose %#v dump is not reproduced."""
    return GoValue(type_name + "{...}")


# -- apimachinery/pkg/util/validation --------------------------------------------------

def regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    text = msg + " (e.g. "
    for i, ex in enumerate(examples):
        if i > 0:
            text += " or "
        text += f"'{ex}', "
    return text + f"regex used for validation is '{fmt}')"


def max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


EMPTY_ERROR = "must be non-empty"
DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE_FMT = "(" + QNAME_FMT + ")?"
_LABEL_RE = re.compile("^" + DNS1123_LABEL_FMT + "$")
_SUBDOMAIN_RE = re.compile("^" + DNS1123_SUBDOMAIN_FMT + "$")
_DNS1035_RE = re.compile("^" + DNS1035_LABEL_FMT + "$")
_QNAME_RE = re.compile("^" + QNAME_FMT + "$")
_LABEL_VALUE_RE = re.compile("^" + LABEL_VALUE_FMT + "$")
_PORT_NAME_CHARS = re.compile("^[-a-z0-9]+$")
_PORT_NAME_LETTER = re.compile("[a-z]")
_PERCENT_RE = re.compile("^[0-9]+%$")
CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_CONFIG_KEY_RE = re.compile("^" + CONFIG_KEY_FMT + "$")
ENV_NAME_FMT = "[-._a-zA-Z][-._a-zA-Z0-9]*"
_ENV_NAME_RE = re.compile("^" + ENV_NAME_FMT + "$")

DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
                     "must start and end with an alphanumeric character")
DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
                         "or '.', and must start and end with an alphanumeric character")
DNS1035_LABEL_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                     "alphabetic character, and end with an alphanumeric character")
QNAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
             "alphanumeric character")
LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                   "and must start and end with an alphanumeric character")


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _LABEL_RE.match(value):
        if _SUBDOMAIN_RE.match(value):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append(max_len_error(253))
    if not _SUBDOMAIN_RE.match(value):
        errs.append(regex_error(DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _DNS1035_RE.match(value):
        errs.append(regex_error(DNS1035_LABEL_MSG, DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part " + EMPTY_ERROR)
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return ["a qualified name " + regex_error(QNAME_MSG, QNAME_FMT, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part " + EMPTY_ERROR)
    elif len(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _QNAME_RE.match(name):
        errs.append("name part " + regex_error(QNAME_MSG, QNAME_FMT, "MyName", "my.name", "123-abc"))
    return errs


def is_label_value(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _LABEL_VALUE_RE.match(value):
        errs.append(regex_error(LABEL_VALUE_MSG, LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def is_valid_port_num(port: Any) -> list[str]:
    if isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535:
        return []
    return [inclusive_range_error(1, 65535)]


def is_valid_port_name(port: str) -> list[str]:
    errs = []
    if len(port) > 15:
        errs.append(max_len_error(15))
    if not _PORT_NAME_CHARS.match(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _PORT_NAME_LETTER.search(port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_valid_percent(value: str) -> list[str]:
    if _PERCENT_RE.match(value):
        return []
    return [regex_error("a valid percent string must be a numeric string followed by an ending '%'",
                        "[0-9]+%", "1%", "93%")]


def _chdir_prefix(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


def is_config_map_key(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append(max_len_error(253))
    if not _CONFIG_KEY_RE.match(value):
        errs.append(regex_error("a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                                CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    return errs + _chdir_prefix(value)


def is_env_var_name(value: str, relaxed: bool) -> list[str]:
    if relaxed:
        errs = []
        if not value:
            errs.append("environment variable name " + EMPTY_ERROR)
        if any(ord(ch) > 126 or ord(ch) < 32 or ch == "=" for ch in value):
            errs.append("a valid environment variable name must consist only of printable ASCII characters "
                        "other than '='")
        return errs
    errs = []
    if not _ENV_NAME_RE.match(value):
        errs.append(regex_error("a valid environment variable name must consist of alphabetic characters, "
                                "digits, '_', '-', or '.', and must not start with a digit", ENV_NAME_FMT,
                                "my.env-name", "MY_ENV.NAME", "MyEnvName1"))
    return errs + _chdir_prefix(value)


def path_segment_name(name: str, prefix: bool = False) -> list[str]:
    """path.IsValidPathSegmentName (RBAC object names)."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def _mask_trailing_dash(name: str) -> str:
    return name[:-1] + "a" if len(name) > 1 and name.endswith("-") else name


NAME_FUNCS: dict[str, Callable[[str, bool], list[str]]] = {
    "subdomain": lambda n, p: is_dns1123_subdomain(_mask_trailing_dash(n) if p else n),
    "label": lambda n, p: is_dns1123_label(_mask_trailing_dash(n) if p else n),
    "dns1035": lambda n, p: is_dns1035_label(_mask_trailing_dash(n) if p else n),
    "path": path_segment_name,
    "event": lambda n, p: [],
}


# -- field helpers ----------------------------------------------------------------------

def nonnegative(v: Any, path: str) -> Errs:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
        return [invalid(path, v, "must be greater than or equal to 0")]
    return []


# Label and annotation maps already found valid, by their ``repr`` (for JSON values it tells
# apart exactly what the checks could: keys, values and their types). Every update of an object
# validates its unchanged labels again (a pod's status writes); a valid map has no errors
# whatever its path, so the answer is ``[]`` again. Invalid maps are never remembered.
_VALID_LABELS: dict[str, bool] = {}
_VALID_ANNOTATIONS: dict[str, bool] = {}
_VALID_MAX = 4096
_VALID_KEY_MAX = 2048  # larger maps are checked every time (the memo stays small)


def _known_valid(memo: dict[str, bool], value: Any) -> str | None:
    """The memo key of a plain non-empty dict, or None when ``value`` is known valid (or not a dict)."""
    if value.__class__ is not dict or not value:
        return ""
    key = repr(value)
    if len(key) > _VALID_KEY_MAX:
        return ""
    return None if key in memo else key


def _remember_valid(memo: dict[str, bool], key: str) -> None:
    if len(memo) >= _VALID_MAX:
        memo.clear()
    memo[key] = True


def labels_errs(labels: Any, path: str) -> Errs:
    """ValidateLabels: keys as qualified names, values as label values (path without key)."""
    errs: Errs = []
    if not isinstance(labels, dict):
        return errs
    key = _known_valid(_VALID_LABELS, labels)
    if key is None:
        return errs
    for k in sorted(labels):
        v = labels[k]
        errs += [invalid(path, k, m) for m in is_qualified_name(str(k))]
        errs += [invalid(path, v, m) for m in is_label_value(str(v) if v is not None else "")]
    if key and not errs:
        _remember_valid(_VALID_LABELS, key)
    return errs


TOTAL_ANNOTATION_SIZE = 256 * 1024


def annotations_errs(ann: Any, path: str) -> Errs:
    errs: Errs = []
    if not isinstance(ann, dict):
        return errs
    key = _known_valid(_VALID_ANNOTATIONS, ann)
    if key is None:
        return errs
    total = 0
    for k in sorted(ann):
        errs += [invalid(path, k, m) for m in is_qualified_name(str(k).lower())]
        total += len(str(k).encode()) + len(str(ann[k] or "").encode())
    if total > TOTAL_ANNOTATION_SIZE:
        errs.append(FieldError("FieldValueTooLong", path, f"may not be more than {TOTAL_ANNOTATION_SIZE} bytes"))
    if key and not errs:
        _remember_valid(_VALID_ANNOTATIONS, key)
    return errs


def owner_refs_errs(refs: Any, path: str) -> Errs:
    errs: Errs = []
    if not isinstance(refs, list):
        return errs
    first = ""
    for ref in refs:
        if not isinstance(ref, dict):
            continue
        api_version = ref.get("apiVersion") or ""
        version = api_version.split("/")[-1] if api_version else ""
        if not version or api_version.count("/") > 1:
            errs.append(invalid(path + ".apiVersion", api_version, "version must not be empty"))
        if not ref.get("kind"):
            errs.append(invalid(path + ".kind", ref.get("kind") or "", "must not be empty"))
        if not ref.get("name"):
            errs.append(invalid(path + ".name", ref.get("name") or "", "must not be empty"))
        if not ref.get("uid"):
            errs.append(invalid(path + ".uid", ref.get("uid") or "", "must not be empty"))
        if api_version == "v1" and ref.get("kind") == "Event":
            errs.append(invalid(path, go_struct("v1.OwnerReference"), "/v1, Kind=Event is disallowed from being an owner"))
        if ref.get("controller") is True:
            cur = f"{ref.get('kind', '')}/{ref.get('name', '')}"
            if first:
                errs.append(invalid(path, go_struct("[]v1.OwnerReference"),
                                    f'Only one reference can have Controller set to true. Found "true" in '
                                    f"references for {first} and {cur}"))
            else:
                first = cur
    return errs


def finalizers_errs(fins: Any, path: str) -> Errs:
    errs: Errs = []
    if not isinstance(fins, list):
        return errs
    for f in fins:
        errs += [invalid(path, f, m) for m in is_qualified_name(str(f))]
    if "orphan" in fins and "foregroundDeletion" in fins:
        errs.append(invalid(path, GoValue("[]string{" + ", ".join(json.dumps(str(f)) for f in fins) + "}"),
                            "finalizer orphan and foregroundDeletion cannot be both set"))
    return errs


def object_meta(meta: Any, namespaced: bool, name_rule: str, path: str = "metadata") -> Errs:
    """ValidateObjectMeta on create."""
    errs: Errs = []
    if not isinstance(meta, dict):
        return [required(path, "")]
    fn = NAME_FUNCS.get(name_rule, NAME_FUNCS["subdomain"])
    gen = meta.get("generateName") or ""
    if gen:
        errs += [invalid(path + ".generateName", gen, m) for m in fn(gen, True)]
    name = meta.get("name") or ""
    if not name:
        errs.append(required(path + ".name", "name or generateName is required"))
    else:
        errs += [invalid(path + ".name", name, m) for m in fn(name, False)]
    errs += _meta_common(meta, namespaced, path)
    return errs


def _meta_common(meta: Obj, namespaced: bool, path: str) -> Errs:
    errs: Errs = []
    ns = meta.get("namespace") or ""
    if namespaced:
        if not ns:
            errs.append(required(path + ".namespace", ""))
        else:
            errs += [invalid(path + ".namespace", ns, m) for m in is_dns1123_label(ns)]
    elif ns:
        errs.append(forbidden(path + ".namespace", "not allowed on this type"))
    errs += nonnegative(meta.get("generation"), path + ".generation")
    errs += labels_errs(meta.get("labels"), path + ".labels")
    errs += annotations_errs(meta.get("annotations"), path + ".annotations")
    errs += owner_refs_errs(meta.get("ownerReferences"), path + ".ownerReferences")
    errs += finalizers_errs(meta.get("finalizers"), path + ".finalizers")
    return errs


def object_meta_update(new: Any, old: Any, path: str = "metadata") -> Errs:
    """ValidateObjectMetaUpdate (resourceVersion presence is the API layer's check)."""
    errs: Errs = []
    if not isinstance(new, dict) or not isinstance(old, dict):
        return errs
    if old.get("deletionTimestamp"):
        extra = sorted(set(new.get("finalizers") or []) - set(old.get("finalizers") or []))
        if extra:
            errs.append(forbidden(path + ".finalizers",
                                  "no new finalizers can be added if the object is being deleted, found new "
                                  "finalizers []string{" + ", ".join(json.dumps(f) for f in extra) + "}"))
    if int(new.get("generation") or 0) < int(old.get("generation") or 0):
        errs.append(invalid(path + ".generation", new.get("generation") or 0, "must not be decremented"))
    for f in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
        if (new.get(f) or None) != (old.get(f) or None):
            errs.append(invalid(path + "." + f, new.get(f) if new.get(f) is not None else "", "field is immutable"))
    errs += labels_errs(new.get("labels"), path + ".labels")
    errs += annotations_errs(new.get("annotations"), path + ".annotations")
    errs += owner_refs_errs(new.get("ownerReferences"), path + ".ownerReferences")
    errs += finalizers_errs(new.get("finalizers"), path + ".finalizers")
    return errs


def label_selector_errs(sel: Any, path: str) -> Errs:
    """ValidateLabelSelector (strict label values)."""
    errs: Errs = []
    if not isinstance(sel, dict):
        return errs
    errs += labels_errs(sel.get("matchLabels"), path + ".matchLabels")
    for i, e in enumerate(sel.get("matchExpressions") or []):
        p = f"{path}.matchExpressions[{i}]"
        if not isinstance(e, dict):
            continue
        op = e.get("operator") or ""
        vals = e.get("values") or []
        if op in ("In", "NotIn"):
            if not vals:
                errs.append(required(p + ".values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if vals:
                errs.append(forbidden(p + ".values",
                                      "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            errs.append(invalid(p + ".operator", op, "not a valid selector operator"))
        errs += [invalid(p + ".key", e.get("key") or "", m) for m in is_qualified_name(e.get("key") or "")]
        for j, v in enumerate(vals):
            errs += [invalid(f"{p}.values[{j}]", v, m) for m in is_label_value(str(v))]
    return errs


def selector_matches(sel: Any, labels: Any) -> bool:
    return selector_from_label_selector(sel).matches(labels if isinstance(labels, dict) else {})


def selector_is_empty(sel: Any) -> bool:
    """LabelSelectorAsSelector(sel).Empty(): true for ``{}`` (matches everything)."""
    return isinstance(sel, dict) and not sel.get("matchLabels") and not sel.get("matchExpressions")


def immutable(new: Any, old: Any, path: str, shown: Any = None) -> Errs:
    if new != old:
        return [invalid(path, new if shown is None else shown, "field is immutable")]
    return []


def in_set(value: Any, path: str, allowed: Iterable[str], *, required_when_empty: bool = True) -> Errs:
    allowed = tuple(allowed)
    if value in (None, ""):
        return [required(path, "")] if required_when_empty else []
    if value not in allowed:
        return [not_supported(path, value, allowed)]
    return []


def int_or_percent(v: Any, path: str) -> Errs:
    """ValidatePositiveIntOrPercent + IsNotMoreThan100Percent (apps validation)."""
    if isinstance(v, str):
        errs = [invalid(path, v, m) for m in is_valid_percent(v)]
        if not errs and int(v[:-1]) > 100:
            errs.append(invalid(path, v, "must not be greater than 100%"))
        return errs
    if isinstance(v, int) and not isinstance(v, bool):
        return nonnegative(v, path)
    return [invalid(path, v, "must be an integer or percentage (e.g '5%%')")]


def int_or_percent_value(v: Any) -> int:
    if isinstance(v, str) and _PERCENT_RE.match(v):
        return int(v[:-1])
    return v if isinstance(v, int) and not isinstance(v, bool) else 0
