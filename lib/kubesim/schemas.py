"""Upstream API schemas for built-in kinds, and decoding request bodies as the apiserver does.

The definitions are the upstream OpenAPI ones shipped by the PyPI package
``kubernetes-validate`` (``v1.NN.0-local/_definitions.json``), loaded once per
Kubernetes version and shared by every :class:`SchemaSet`.

:meth:`SchemaSet.decode` reproduces what decoding a JSON body into the Go
struct does on a real apiserver (``sigs.k8s.io/json`` ``UnmarshalStrict`` /
``UnmarshalCaseSensitivePreserveInts``, called from apimachinery
``runtime/serializer/json/json.go``): undeclared fields are dropped and
reported with their strict-decoding path (``spec.template.spec.containers[0].imagee``),
type mismatches become ``json: cannot unmarshal ... into Go struct field
<Struct>.<path> of type <gotype>``, and the custom unmarshalers of
IntOrString, Quantity and Time are imitated, messages included.
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from .jsonvalues import json_kind
from .schemanode import SchemaNode

DEFAULT_VERSION = "1.33"

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.Time"
MICRO_TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"

# Types whose Go UnmarshalJSON accepts any JSON value.
_RAW_DEFS = frozenset({
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray",
})

# Named Go types the schemas cannot tell apart from plain strings/maps, for the
# "of type <T>" part of decode errors (k8s.io/api core/v1, apps/v1 types.go).
_GO_TYPES: dict[tuple[str, str], str] = {
    ("Container", "imagePullPolicy"): "v1.PullPolicy",
    ("Container", "terminationMessagePolicy"): "v1.TerminationMessagePolicy",
    ("EphemeralContainer", "imagePullPolicy"): "v1.PullPolicy",
    ("ContainerPort", "protocol"): "v1.Protocol",
    ("ServicePort", "protocol"): "v1.Protocol",
    ("EndpointPort", "protocol"): "v1.Protocol",
    ("PodSpec", "restartPolicy"): "v1.RestartPolicy",
    ("PodSpec", "dnsPolicy"): "v1.DNSPolicy",
    ("PodSpec", "preemptionPolicy"): "v1.PreemptionPolicy",
    ("ResourceRequirements", "limits"): "v1.ResourceList",
    ("ResourceRequirements", "requests"): "v1.ResourceList",
    ("VolumeResourceRequirements", "limits"): "v1.ResourceList",
    ("VolumeResourceRequirements", "requests"): "v1.ResourceList",
    ("PodSpec", "overhead"): "v1.ResourceList",
    ("NodeStatus", "capacity"): "v1.ResourceList",
    ("NodeStatus", "allocatable"): "v1.ResourceList",
    ("PersistentVolumeSpec", "capacity"): "v1.ResourceList",
    ("PersistentVolumeSpec", "accessModes"): "[]v1.PersistentVolumeAccessMode",
    ("PersistentVolumeSpec", "volumeMode"): "v1.PersistentVolumeMode",
    ("PersistentVolumeSpec", "persistentVolumeReclaimPolicy"): "v1.PersistentVolumeReclaimPolicy",
    ("PersistentVolumeClaimSpec", "accessModes"): "[]v1.PersistentVolumeAccessMode",
    ("PersistentVolumeClaimSpec", "volumeMode"): "v1.PersistentVolumeMode",
    ("ServiceSpec", "type"): "v1.ServiceType",
    ("ServiceSpec", "sessionAffinity"): "v1.ServiceAffinity",
    ("ServiceSpec", "externalTrafficPolicy"): "v1.ServiceExternalTrafficPolicy",
    ("ServiceSpec", "internalTrafficPolicy"): "v1.ServiceInternalTrafficPolicy",
    ("ServiceSpec", "ipFamilies"): "[]v1.IPFamily",
    ("ServiceSpec", "ipFamilyPolicy"): "v1.IPFamilyPolicy",
    ("Toleration", "operator"): "v1.TolerationOperator",
    ("Toleration", "effect"): "v1.TaintEffect",
    ("Taint", "effect"): "v1.TaintEffect",
    ("NodeSelectorRequirement", "operator"): "v1.NodeSelectorOperator",
    ("LabelSelectorRequirement", "operator"): "v1.LabelSelectorOperator",
    ("Capabilities", "add"): "[]v1.Capability",
    ("Capabilities", "drop"): "[]v1.Capability",
    ("HTTPGetAction", "scheme"): "v1.URIScheme",
    ("NamespaceSpec", "finalizers"): "[]v1.FinalizerName",
    ("Secret", "type"): "v1.SecretType",
    ("ObjectMeta", "uid"): "types.UID",
    ("OwnerReference", "uid"): "types.UID",
    ("StatefulSetSpec", "podManagementPolicy"): "v1.PodManagementPolicyType",
    ("StatefulSetUpdateStrategy", "type"): "v1.StatefulSetUpdateStrategyType",
    ("StatefulSetPersistentVolumeClaimRetentionPolicy", "whenDeleted"):
        "v1.PersistentVolumeClaimRetentionPolicyType",
    ("StatefulSetPersistentVolumeClaimRetentionPolicy", "whenScaled"):
        "v1.PersistentVolumeClaimRetentionPolicyType",
    ("DeploymentStrategy", "type"): "v1.DeploymentStrategyType",
    ("DaemonSetUpdateStrategy", "type"): "v1.DaemonSetUpdateStrategyType",
    ("StorageClass", "reclaimPolicy"): "v1.PersistentVolumeReclaimPolicy",
    ("StorageClass", "volumeBindingMode"): "v1.VolumeBindingMode",
}

# Node kinds of the compiled decode tables.
_STRUCT, _MAP, _SLICE, _STR, _INT, _FLOAT, _BOOL, _BYTES, _INTSTR, _QTY, _TIME, _MTIME, _RAW = range(13)

_INT_RANGE = {
    "int32": (-(2 ** 31), 2 ** 31 - 1),
    "int64": (-(2 ** 63), 2 ** 63 - 1),
    "int": (-(2 ** 63), 2 ** 63 - 1),
}


class _Node:
    """One compiled position: what the Go decoder would do with a JSON value here."""

    __slots__ = ("kind", "gotype", "elem", "props", "name", "preserve", "lo", "hi")

    def __init__(self, kind: int, gotype: str, elem: "_Node | None" = None) -> None:
        self.kind = kind
        self.gotype = gotype
        self.elem = elem
        self.props: dict[str, _Node] = {}
        self.name = ""
        self.preserve = False
        self.lo = self.hi = 0


_RAW_NODE = _Node(_RAW, "interface {}")


def _gotype_of_def(defname: str) -> str:
    parts = defname.split(".")
    return f"{parts[-2]}.{parts[-1]}"


def _types_of(schema: dict[str, Any]) -> list[str]:
    t = schema.get("type")
    if isinstance(t, list):
        return [x for x in t if x != "null"]
    if isinstance(t, str):
        return [t]
    return []


class _Loaded:
    """The parsed definitions of one Kubernetes version plus derived indexes."""

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as f:
            self.defs: dict[str, Any] = json.load(f)["$defs"]
        self.gvk: dict[tuple[str, str, str], str] = {}
        for name, d in self.defs.items():
            for g in d.get("x-kubernetes-group-version-kind") or ():
                self.gvk.setdefault((g.get("group", ""), g.get("version", ""), g.get("kind", "")), name)
        self.compiled: dict[str, _Node] = {}
        self.lock = threading.Lock()

    # -- compilation -----------------------------------------------------------------

    def compile_def(self, defname: str) -> _Node:
        node = self.compiled.get(defname)
        if node is not None:
            return node
        with self.lock:
            return self._compile_def(defname)

    def _compile_def(self, defname: str) -> _Node:
        node = self.compiled.get(defname)
        if node is not None:
            return node
        if defname == INT_OR_STRING:
            node = _Node(_INTSTR, "intstr.IntOrString")
        elif defname == QUANTITY:
            node = _Node(_QTY, "resource.Quantity")
        elif defname == TIME:
            node = _Node(_TIME, "v1.Time")
        elif defname == MICRO_TIME:
            node = _Node(_MTIME, "v1.MicroTime")
        elif defname in _RAW_DEFS or defname not in self.defs:
            node = _RAW_NODE
        else:
            d = self.defs[defname]
            if "properties" in d:
                node = _Node(_STRUCT, _gotype_of_def(defname))
                node.name = defname.rsplit(".", 1)[-1]
                node.preserve = bool(d.get("x-kubernetes-preserve-unknown-fields"))
                self.compiled[defname] = node  # before recursing: definitions can be cyclic
                for pname, pschema in d["properties"].items():
                    node.props[pname] = self._compile(pschema, _GO_TYPES.get((node.name, pname)))
                return node
            node = self._compile(d, None)
        self.compiled[defname] = node
        return node

    def _compile(self, s: dict[str, Any], override: str | None) -> _Node:
        ref = s.get("$ref")
        if ref is None and isinstance(s.get("allOf"), list) and len(s["allOf"]) == 1:
            ref = s["allOf"][0].get("$ref")
        if ref is not None:
            return self._compile_def(ref.rsplit("/", 1)[-1])
        types = _types_of(s)
        t = types[0] if len(types) == 1 else ""
        if t == "array" or (not t and "items" in s):
            elem_override = override[2:] if override and override.startswith("[]") else None
            elem = self._compile(s.get("items") or {}, elem_override)
            return _Node(_SLICE, override or "[]" + elem.gotype, elem)
        if t == "object" or (not t and ("properties" in s or "additionalProperties" in s)):
            addl = s.get("additionalProperties")
            if isinstance(addl, dict):
                elem = self._compile(addl, None)
                return _Node(_MAP, override or "map[string]" + elem.gotype, elem)
            return _RAW_NODE
        fmt = s.get("format", "")
        if t == "string":
            if fmt == "byte":
                return _Node(_BYTES, "[]uint8")
            return _Node(_STR, override or "string")
        if t == "integer":
            gotype = fmt if fmt in ("int32", "int64") else "int"
            node = _Node(_INT, gotype)
            node.lo, node.hi = _INT_RANGE[gotype]
            return node
        if t == "number":
            return _Node(_FLOAT, "float32" if fmt == "float" else "float64")
        if t == "boolean":
            return _Node(_BOOL, "bool")
        return _RAW_NODE


_LOADED: dict[str, _Loaded] = {}
_LOAD_LOCK = threading.Lock()


def _normalize_version(k8s_version: str) -> str:
    m = re.match(r"v?(\d+)\.(\d+)", k8s_version)
    if not m:
        raise ValueError(f"not a Kubernetes version: {k8s_version!r}")
    return f"{m.group(1)}.{m.group(2)}"


def _definitions_path(version: str) -> Path:
    # Locate the data package without importing it: its import pulls in jsonschema (~0.8 s).
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("the kubernetes-validate package (upstream schemas) is not installed")
    base = Path(list(spec.submodule_search_locations)[0]) / "kubernetes-json-schema"
    path = base / f"v{version}.0-local" / "_definitions.json"
    if not path.exists():
        have = sorted(p.name for p in base.glob("v*-local"))
        raise ValueError(f"no schemas for Kubernetes {version} (have {', '.join(have)})")
    return path


def _load(version: str) -> _Loaded:
    loaded = _LOADED.get(version)
    if loaded is None:
        with _LOAD_LOCK:
            loaded = _LOADED.get(version)
            if loaded is None:
                loaded = _Loaded(_definitions_path(version))
                _LOADED[version] = loaded
    return loaded


# --------------------------------------------------------------------------------------
# decoding


@dataclass
class DecodeResult:
    """What decoding a body into the Go type produced.

    ``type_errors[0]`` is the one message a real apiserver reports (Go stops at
    the first unmarshaler error and keeps only the first type mismatch);
    ``unknown`` is meaningful only when there is no type error (strict errors
    are reported only after an otherwise successful decode).
    """

    obj: dict[str, Any]
    unknown: list[str] = field(default_factory=list)
    type_errors: list[str] = field(default_factory=list)
    kind_label: str = ""

    def strict_error(self) -> str:
        """``strict decoding error: unknown field "a", unknown field "b"`` (apimachinery runtime/error.go)."""
        return strict_decoding_error(self.unknown)

    def warnings(self) -> list[str]:
        """The ``Warning`` header texts for fieldValidation=Warn (apiserver handlers/rest.go)."""
        return [f"unknown field {go_quote(p)}" for p in self.unknown]

    def bad_request_message(self, version: str, *, strict: bool) -> str | None:
        """The BadRequest message the apiserver would answer with, or ``None``."""
        if self.type_errors:
            return decode_error_message(self.kind_label, version, self.type_errors[0])
        if strict and self.unknown:
            return decode_error_message(self.kind_label, version, self.strict_error())
        return None


def decode_error_message(kind: str, version: str, err: str) -> str:
    """Wrap a decode error as ``transformDecodeError`` does (apiserver endpoints/handlers/rest.go)."""
    return f"{kind} in version {go_quote(version)} cannot be handled as a {kind}: {err}"


def strict_decoding_error(unknown: list[str]) -> str:
    return "strict decoding error: " + ", ".join(f"unknown field {go_quote(p)}" for p in unknown)


def go_quote(s: str) -> str:
    """``strconv.Quote`` for the common cases (ASCII escapes, printable unicode kept)."""
    out = ['"']
    for ch in s:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class _Ctx:
    __slots__ = ("unknown", "saved", "fatal")

    def __init__(self) -> None:
        self.unknown: list[str] = []
        self.saved: list[str] = []
        self.fatal: str | None = None


_DROP = object()




def _type_err(value: str, gotype: str, struct: str, fpath: str) -> str:
    # encoding/json UnmarshalTypeError.Error(); Struct/Field come from the decoder's errorContext.
    if struct or fpath:
        return f"json: cannot unmarshal {value} into Go struct field {struct}.{fpath} of type {gotype}"
    return f"json: cannot unmarshal {value} into Go value of type {gotype}"


def _num_literal(v: Any) -> str:
    return json.dumps(v)


def _copy_json(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _copy_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_copy_json(x) for x in v]
    return v


def _zero(node: _Node) -> Any:
    k = node.kind
    if k == _STR or k == _BYTES:
        return ""
    if k == _INT:
        return 0
    if k == _FLOAT:
        return 0
    if k == _BOOL:
        return False
    if k == _STRUCT:
        return {}
    return _DROP


def _walk(node: _Node, v: Any, ctx: _Ctx, struct: str, fpath: str, spath: str) -> Any:
    """Decode ``v`` (not None) at ``node``; returns the kept value or ``_DROP``."""
    kind = node.kind
    tv = type(v)
    if kind == _STRUCT:
        if tv is not dict:
            ctx.saved.append(_type_err(json_kind(v), node.gotype, struct, fpath))
            return _DROP
        out: dict[str, Any] = {}
        props = node.props
        name = node.name
        for k, x in v.items():
            child = props.get(k)
            if child is None:
                if node.preserve:
                    out[k] = _copy_json(x)
                elif len(ctx.unknown) < 100:
                    ctx.unknown.append(f"{spath}.{k}" if spath else k)
                continue
            if x is None:
                continue
            ck = child.kind
            tx = type(x)
            if ck == _STR and tx is str:
                out[k] = x
                continue
            if ck == _INT and tx is int and child.lo <= x <= child.hi:
                out[k] = x
                continue
            if ck == _BOOL and tx is bool:
                out[k] = x
                continue
            r = _walk(child, x, ctx, name, f"{fpath}.{k}" if fpath else k, f"{spath}.{k}" if spath else k)
            if ctx.fatal is not None:
                return _DROP
            if r is not _DROP:
                out[k] = r
        return out
    if kind == _STR:
        if tv is str:
            return v
        ctx.saved.append(_type_err(json_kind(v), node.gotype, struct, fpath))
        return _DROP
    if kind == _INT:
        if tv is int:
            if node.lo <= v <= node.hi:
                return v
            ctx.saved.append(_type_err(f"number {v}", node.gotype, struct, fpath))
            return _DROP
        if tv is float:
            ctx.saved.append(_type_err(f"number {_num_literal(v)}", node.gotype, struct, fpath))
            return _DROP
        ctx.saved.append(_type_err(json_kind(v), node.gotype, struct, fpath))
        return _DROP
    if kind == _BOOL:
        if tv is bool:
            return v
        ctx.saved.append(_type_err(json_kind(v), node.gotype, struct, fpath))
        return _DROP
    if kind == _SLICE:
        if tv is not list:
            ctx.saved.append(_type_err(json_kind(v), node.gotype, struct, fpath))
            return _DROP
        elem = node.elem
        assert elem is not None
        outl: list[Any] = []
        for i, x in enumerate(v):
            if x is None:
                z = _zero(elem)
                if z is not _DROP:
                    outl.append(z)
                continue
            r = _walk(elem, x, ctx, struct, fpath, f"{spath}[{i}]")
            if ctx.fatal is not None:
                return _DROP
            if r is not _DROP:
                outl.append(r)
        return outl
    if kind == _MAP:
        if tv is not dict:
            ctx.saved.append(_type_err(json_kind(v), node.gotype, struct, fpath))
            return _DROP
        elem = node.elem
        assert elem is not None
        outm: dict[str, Any] = {}
        for k, x in v.items():
            if x is None:
                z = _zero(elem)
                if z is not _DROP:
                    outm[k] = z
                continue
            if elem.kind == _STR and type(x) is str:
                outm[k] = x
                continue
            r = _walk(elem, x, ctx, struct, fpath, f"{spath}.{k}" if spath else k)
            if ctx.fatal is not None:
                return _DROP
            if r is not _DROP:
                outm[k] = r
        return outm
    if kind == _FLOAT:
        if (tv is int or tv is float) and tv is not bool:
            return v
        ctx.saved.append(_type_err(json_kind(v), node.gotype, struct, fpath))
        return _DROP
    if kind == _INTSTR:
        # intstr.IntOrString.UnmarshalJSON: a string, else json.Unmarshal into int32; its
        # UnmarshalTypeError gets the outer field context (sigs.k8s.io/json addErrorContext).
        if tv is str:
            return v
        if tv is int and -(2 ** 31) <= v < 2 ** 31:
            return v
        desc = f"number {_num_literal(v)}" if tv in (int, float) else json_kind(v)
        ctx.fatal = _type_err(desc, "int32", struct, fpath)
        return _DROP
    if kind == _QTY:
        # resource.Quantity.UnmarshalJSON parses the raw (unquoted) bytes with ParseQuantity.
        if tv is str:
            text = v
        elif tv is bool:
            text = "true" if v else "false"
        elif tv in (int, float):
            text = _num_literal(v)
        else:
            text = "{"
        err = parse_quantity_error(text.strip())
        if err:
            ctx.fatal = err
            return _DROP
        return v if tv is str else canonical_number_quantity(v)
    if kind == _TIME or kind == _MTIME:
        # metav1.Time.UnmarshalJSON: json.Unmarshal into a string, then time.Parse(RFC3339).
        if tv is not str:
            ctx.fatal = _type_err(json_kind(v), "string", struct, fpath)
            return _DROP
        parsed, err = parse_go_time(v, micro=kind == _MTIME)
        if err:
            ctx.fatal = err
            return _DROP
        return parsed
    if kind == _BYTES:
        if tv is str:
            err = base64_error(v)
            if err:
                ctx.saved.append(err)
                return _DROP
            return v
        if tv is list and all(type(x) is int and 0 <= x < 256 for x in v):
            return base64.b64encode(bytes(v)).decode()
        ctx.saved.append(_type_err(json_kind(v), node.gotype, struct, fpath))
        return _DROP
    return _copy_json(v)  # _RAW


# --------------------------------------------------------------------------------------
# custom unmarshalers' error texts

# apimachinery pkg/api/resource/quantity.go
QUANTITY_FORMAT_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
QUANTITY_SUFFIX_ERROR = "unable to parse quantity's suffix"
_QTY_RE = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?([eEinumkKMGTP]*[-+]?[0-9]*)")
_QTY_SUFFIXES = frozenset({"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E"})


def parse_quantity_error(text: str) -> str | None:
    """``None`` if ``resource.ParseQuantity`` accepts ``text``, else its error text."""
    if not text:
        return QUANTITY_FORMAT_ERROR
    if text == "0":
        return None
    m = _QTY_RE.fullmatch(text)
    if m is None:
        return QUANTITY_FORMAT_ERROR
    suffix = m.group(4)
    if suffix in _QTY_SUFFIXES:
        return None
    if len(suffix) > 1 and suffix[0] in "eE" and re.fullmatch(r"[+-]?[0-9]+", suffix[1:]):
        return None
    return QUANTITY_SUFFIX_ERROR


def canonical_number_quantity(v: int | float) -> str:
    """A JSON number given for a Quantity, re-serialized as its canonical DecimalSI string."""
    try:
        d = Decimal(repr(v)) if isinstance(v, float) else Decimal(v)
    except InvalidOperation:
        return str(v)
    for suffix, scale in (("", 0), ("m", 3), ("u", 6), ("n", 9)):
        scaled = d.scaleb(scale)
        if scaled == scaled.to_integral_value():
            n = int(scaled)
            if suffix == "" and n % 1000 == 0 and n != 0:
                for big, exp in (("E", 18), ("P", 15), ("T", 12), ("G", 9), ("M", 6), ("k", 3)):
                    if n % (10 ** exp) == 0:
                        return f"{n // 10 ** exp}{big}"
            return f"{n}{suffix}"
    return f"{int(d.scaleb(9).to_integral_value(rounding='ROUND_CEILING'))}n"


def base64_error(s: str) -> str | None:
    """``encoding/base64`` StdEncoding's CorruptInputError text for ``s``, or ``None``."""
    stripped = s.replace("\r", "").replace("\n", "")
    try:
        base64.b64decode(stripped, validate=True)
        return None
    except (binascii.Error, ValueError):
        pass
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    for i, ch in enumerate(s):
        if ch in "\r\n":
            continue
        if ch not in alphabet and ch != "=":
            return f"illegal base64 data at input byte {i}"
    eq = stripped.find("=")
    if eq >= 0:
        return f"illegal base64 data at input byte {eq}"
    return f"illegal base64 data at input byte {len(stripped) - len(stripped) % 4}"


_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _time_quote(s: str) -> str:
    # time.quote: like %q but only escapes '"' and '\\' (and non-printables)
    out = ['"']
    for ch in s:
        if ord(ch) < 0x20 or ord(ch) >= 0x80:
            out.extend(f"\\x{b:02x}" for b in ch.encode())
        else:
            if ch in '"\\':
                out.append("\\")
            out.append(ch)
    out.append('"')
    return "".join(out)


def parse_go_time(value: str, *, micro: bool = False) -> tuple[str, str | None]:
    """Parse as Go ``time.Parse(RFC3339[Micro])`` and re-serialize as metav1 does (UTC).

    Returns ``(normalized, None)`` or ``(value, error text)``; error texts follow
    Go's ``time.ParseError`` (``parsing time "x" as "<layout>": cannot parse "x" as "2006"``).
    """
    layout = "2006-01-02T15:04:05.000000Z07:00" if micro else "2006-01-02T15:04:05Z07:00"
    elems = ["2006", "-", "01", "-", "02", "T", "15", ":", "04", ":", "05"]
    elems += [".000000", "Z07:00"] if micro else ["Z07:00"]
    q = _time_quote

    def bad(hold: str, elem: str) -> tuple[str, str]:
        return value, f"parsing time {q(value)} as {q(layout)}: cannot parse {q(hold)} as {q(elem)}"

    def out_of_range(what: str) -> tuple[str, str]:
        return value, f"parsing time {q(value)}: {what} out of range"

    v = value
    nums: dict[str, int] = {}
    nanos = 0
    offset = 0
    for elem in elems:
        hold = v
        if elem in ("-", "T", ":"):
            if not v.startswith(elem):
                return bad(v, elem)
            v = v[1:]
            continue
        if elem == "2006":
            p = v[:4]
            if len(v) < 4 or not re.fullmatch(r"[+-]?[0-9]+", p):
                return bad(hold, elem)
            nums["year"] = int(p)
            v = v[4:]
            continue
        if elem in ("01", "02", "15", "04", "05"):
            fixed = elem != "15"
            if not v[:1].isdigit() or (fixed and not v[1:2].isdigit()):
                return bad(hold, elem)
            width = 2 if v[1:2].isdigit() else 1
            n, v = int(v[:width]), v[width:]
            what = {"01": "month", "02": "day", "15": "hour", "04": "minute", "05": "second"}[elem]
            nums[what] = n
            limits = {"month": (1, 12), "hour": (0, 23), "minute": (0, 59), "second": (0, 59)}
            if what in limits and not limits[what][0] <= n <= limits[what][1]:
                return out_of_range(what)
            if elem == "05" and not micro and len(v) >= 2 and v[0] in ".," and v[1].isdigit():
                n_end = 1
                while n_end < len(v) and v[n_end].isdigit():
                    n_end += 1
                frac = v[1:n_end]
                nanos = int((frac + "000000000")[:9])
                v = v[n_end:]
            continue
        if elem == ".000000":
            if len(v) < 7 or v[0] not in ".," or not v[1:7].isdigit():
                return bad(hold, elem)
            nanos = int(v[1:7]) * 1000
            v = v[7:]
            continue
        # Z07:00
        if v.startswith("Z"):
            v = v[1:]
            continue
        if len(v) < 6 or v[3] != ":" or v[0] not in "+-" or not (v[1:3].isdigit() and v[4:6].isdigit()):
            return bad(hold, elem)
        hh, mm = int(v[1:3]), int(v[4:6])
        if hh > 24:
            return out_of_range("time zone offset hour")
        if mm > 60:
            return out_of_range("time zone offset minute")
        offset = (hh * 60 + mm) * (1 if v[0] == "+" else -1)
        v = v[6:]
    if v:
        return value, f"parsing time {q(value)}: extra text: {q(v)}"
    year, month, day = nums["year"], nums["month"], nums["day"]
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    dim = 29 if month == 2 and leap else _DAYS[month - 1]
    if day < 1 or day > dim:
        return out_of_range("day")
    try:
        t = datetime(year, month, day, nums["hour"], nums["minute"], nums["second"],
                     tzinfo=timezone(timedelta(minutes=offset)))
        t = t.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return value, None
    if micro:
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{nanos // 1000:06d}Z", None
    return t.strftime("%Y-%m-%dT%H:%M:%SZ"), None


# --------------------------------------------------------------------------------------


class SchemaSet:
    """The upstream definitions of one Kubernetes version (loaded once per process)."""

    def __init__(self, k8s_version: str = DEFAULT_VERSION) -> None:
        self.version = _normalize_version(k8s_version)
        self._loaded = _load(self.version)

    @property
    def defs(self) -> dict[str, Any]:
        """All definitions, upstream JSON-schema style (``#/$defs/`` refs, nullable types)."""
        return self._loaded.defs

    def definition_for(self, group: str, version: str, kind: str) -> str | None:
        return self._loaded.gvk.get((group, version, kind))

    def node(self, defname: str) -> SchemaNode:
        """The definition's schema node, shared: nodes memoize their children (schemas never change)."""
        roots = self.__dict__.setdefault("_roots", {})
        node = roots.get(defname)
        if node is None:
            node = roots[defname] = SchemaNode(self._loaded.defs.get(defname), self._loaded.defs)
        return node

    def node_for_kind(self, group: str, version: str, kind: str) -> SchemaNode | None:
        name = self.definition_for(group, version, kind)
        return self.node(name) if name else None

    def decode(self, obj: dict[str, Any], defname: str, *, kind_label: str = "") -> DecodeResult:
        """Decode ``obj`` into definition ``defname`` as the Go JSON decoder would."""
        ctx = _Ctx()
        root = self._loaded.compile_def(defname)
        out = _walk(root, obj, ctx, "", "", "")
        errors = ([ctx.fatal] if ctx.fatal else []) + ctx.saved
        return DecodeResult(obj=out if isinstance(out, dict) else {}, unknown=ctx.unknown,
                            type_errors=errors, kind_label=kind_label or defname.rsplit(".", 1)[-1])
