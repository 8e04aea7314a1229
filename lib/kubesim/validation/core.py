"""Validation for the non-workload kinds kubesim serves.

Sources: ``pkg/apis/core/validation/validation.go`` (ValidateService/Update,
ValidatePersistentVolume(Claim)/Update, ValidateConfigMap, ValidateSecret,
ValidateNamespace, ValidateNode/Update, ValidateEndpoints), ``.../core/validation/events.go``,
``pkg/apis/storage/validation/validation.go``, ``pkg/apis/policy/validation/validation.go``,
``pkg/apis/coordination/validation/validation.go``, ``pkg/apis/rbac/validation/validation.go``.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import json
from typing import Any

from ..defaults.quantity import QuantityError, canonical, value
from .common import (Errs, GoValue, Obj, duplicate, forbidden, go_struct, immutable, int_or_percent,
                     invalid, is_config_map_key, is_dns1123_label, is_dns1123_subdomain, is_label_value,
                     is_qualified_name, is_valid_port_name, is_valid_port_num, label_selector_errs, labels_errs,
                     nonnegative, not_supported, path_segment_name, required)
from ..errors import FieldError

SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
PROTOCOLS = ("SCTP", "TCP", "UDP")
ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
MAX_SECRET_SIZE = 1024 * 1024


@functools.lru_cache(maxsize=16384)
def _is_ip(text: str) -> bool:
    """Whether ``text`` parses as an IP address (cached: an Endpoints write re-validates every address)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _go_strings(items: Any) -> GoValue:
    if items is None:
        return GoValue("[]string(nil)")
    return GoValue("[]string{" + ", ".join(json.dumps(str(x)) for x in items) + "}")


def _go_service_port(port: Any, protocol: str) -> GoValue:
    return GoValue(f'core.ServicePort{{Name:"", Protocol:{json.dumps(protocol)}, AppProtocol:(*string)(nil), '
                   f'Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:""}}, NodePort:0}}')


# -- Service -----------------------------------------------------------------------------

def _headless(spec: Obj) -> bool:
    return spec.get("clusterIP") == "None" or (spec.get("clusterIPs") or [None])[0] == "None"


def service(obj: Obj) -> Errs:
    spec = obj.get("spec") or {}
    errs: Errs = []
    typ = spec.get("type") or ""
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    headless = _headless(spec)
    if not ports and not headless and typ != "ExternalName":
        errs.append(required("spec.ports", ""))
    if typ == "LoadBalancer":
        if headless:
            errs.append(invalid("spec.clusterIPs[0]", "None", "may not be set to 'None' for LoadBalancer services"))
        for i, p in enumerate(ports):
            if p.get("port") == 10250:
                errs.append(invalid(f"spec.ports[{i}]", 10250,
                                    "may not expose port 10250 externally since it is used by kubelet"))
    elif typ == "NodePort":
        if headless:
            errs.append(invalid("spec.clusterIPs[0]", "None", "may not be set to 'None' for NodePort services"))
    elif typ == "ExternalName":
        if spec.get("clusterIPs"):
            errs.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        if spec.get("ipFamilies"):
            errs.append(forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            errs.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = (spec.get("externalName") or "").removesuffix(".")
        if cname:
            errs += [invalid("spec.externalName", cname, m) for m in is_dns1123_subdomain(cname)]
        else:
            errs.append(required("spec.externalName", ""))
    names: set[str] = set()
    for i, p in enumerate(ports):
        path = f"spec.ports[{i}]"
        name = p.get("name") or ""
        if len(ports) > 1 and not name:
            errs.append(required(path + ".name", ""))
        elif name:
            errs += [invalid(path + ".name", name, m) for m in is_dns1123_label(name)]
            if name in names:
                errs.append(duplicate(path + ".name", name))
            else:
                names.add(name)
        errs += [invalid(path + ".port", p.get("port"), m) for m in is_valid_port_num(p.get("port"))]
        proto = p.get("protocol") or ""
        if not proto:
            errs.append(required(path + ".protocol", ""))
        elif proto not in PROTOCOLS:
            errs.append(not_supported(path + ".protocol", proto, PROTOCOLS))
        tp = p.get("targetPort")
        if isinstance(tp, str):
            errs += [invalid(path + ".targetPort", tp, m) for m in is_valid_port_name(tp)]
        else:
            errs += [invalid(path + ".targetPort", tp, m) for m in is_valid_port_num(tp)]
        if p.get("appProtocol") is not None:
            errs += [invalid(path + ".appProtocol", p["appProtocol"], m) for m in is_qualified_name(p["appProtocol"])]
    if spec.get("selector") is not None:
        errs += labels_errs(spec.get("selector"), "spec.selector")
    sa = spec.get("sessionAffinity") or ""
    if not sa:
        errs.append(required("spec.sessionAffinity", ""))
    elif sa not in ("ClientIP", "None"):
        errs.append(not_supported("spec.sessionAffinity", sa, ("ClientIP", "None")))
    if sa == "None" and spec.get("sessionAffinityConfig") is not None:
        errs.append(forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))
    errs += _cluster_ips(spec, typ)
    if not typ:
        errs.append(required("spec.type", ""))
    elif typ not in SERVICE_TYPES:
        errs.append(not_supported("spec.type", typ, SERVICE_TYPES))
    if typ == "ClusterIP":
        for i, p in enumerate(ports):
            if p.get("nodePort"):
                errs.append(forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'"))
    seen: set[tuple[Any, str]] = set()
    for i, p in enumerate(ports):
        key = (p.get("port"), p.get("protocol") or "")
        if key in seen:
            errs.append(duplicate(f"spec.ports[{i}]", _go_service_port(key[0], key[1])))
        seen.add(key)
    external = typ in ("NodePort", "LoadBalancer") or bool(spec.get("externalIPs"))
    etp = spec.get("externalTrafficPolicy") or ""
    if not external:
        if etp:
            errs.append(invalid("spec.externalTrafficPolicy", etp, "may only be set for externally-accessible services"))
    elif not etp:
        errs.append(required("spec.externalTrafficPolicy", ""))
    elif etp not in ("Cluster", "Local"):
        errs.append(not_supported("spec.externalTrafficPolicy", etp, ("Cluster", "Local")))
    itp = spec.get("internalTrafficPolicy")
    if typ in ("ClusterIP", "NodePort", "LoadBalancer"):
        if not itp:
            errs.append(required("spec.internalTrafficPolicy", ""))
        elif itp not in ("Cluster", "Local"):
            errs.append(not_supported("spec.internalTrafficPolicy", itp, ("Cluster", "Local")))
    return errs


def _cluster_ips(spec: Obj, typ: str) -> Errs:
    errs: Errs = []
    pol = spec.get("ipFamilyPolicy")
    if pol is not None and pol not in ("SingleStack", "PreferDualStack", "RequireDualStack"):
        errs.append(not_supported("spec.ipFamilyPolicy", pol, ("PreferDualStack", "RequireDualStack", "SingleStack")))
    ips = spec.get("clusterIPs") or []
    if spec.get("clusterIP") and ips and spec["clusterIP"] != ips[0]:
        errs.append(invalid("spec.clusterIPs", _go_strings(ips), "first value must match `clusterIP`"))
    for i, ip in enumerate(ips):
        if ip == "None":
            if i > 0 or len(ips) > 1:
                errs.append(invalid(f"spec.clusterIPs[{i}]", ip, "'None' must be the first and only value"))
            continue
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            errs.append(invalid(f"spec.clusterIPs[{i}]", ip,
                                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
    for i, fam in enumerate(spec.get("ipFamilies") or []):
        if fam not in ("IPv4", "IPv6"):
            errs.append(not_supported(f"spec.ipFamilies[{i}]", fam, ("IPv4", "IPv6")))
    return errs


def service_update(new: Obj, old: Obj) -> Errs:
    """validateUpgradeDowngradeClusterIPs: allocated cluster IPs cannot change."""
    ns, os_ = new.get("spec") or {}, old.get("spec") or {}
    if "ExternalName" in (ns.get("type"), os_.get("type")):
        return []
    if _headless(ns) and _headless(os_):
        return []
    nips, oips = ns.get("clusterIPs") or [], os_.get("clusterIPs") or []
    errs: Errs = []
    if len(nips) == len(oips):
        for i, ip in enumerate(oips):
            if ip != nips[i]:
                errs.append(invalid(f"spec.clusterIPs[{i}]", _go_strings(nips), "may not change once set"))
    elif len(oips) > len(nips):
        if not nips:
            errs.append(invalid("spec.clusterIPs[0]", _go_strings(nips), "primary clusterIP can not be unset"))
        elif nips[0] != oips[0]:
            errs.append(invalid("spec.clusterIPs[0]", _go_strings(nips), "may not change once set"))
        if len(nips) == 1 and ns.get("ipFamilyPolicy") != "SingleStack":
            errs.append(invalid("spec.clusterIPs[0]", _go_strings(nips),
                                "`ipFamilyPolicy` must be set to 'SingleStack' when releasing the secondary clusterIP"))
    elif oips and nips[0] != oips[0]:
        errs.append(invalid("spec.clusterIPs[0]", _go_strings(nips), "may not change once set"))
    return errs


# -- storage -----------------------------------------------------------------------------

def _qty_positive(q: Any, path: str) -> Errs:
    try:
        v = value(q)
    except (QuantityError, ValueError):
        return [invalid(path, str(q), "quantities must match the regular expression "
                                      "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    if v <= 0:
        return [invalid(path, canonical(q), "must be greater than zero")]
    return []


def pvc_spec(spec: Obj, path: str = "spec") -> Errs:
    errs: Errs = []
    modes = spec.get("accessModes") or []
    if not modes:
        errs.append(required(path + ".accessModes", "at least 1 access mode is required"))
    if spec.get("selector") is not None:
        errs += label_selector_errs(spec["selector"], path + ".selector")
    for m in modes:
        if m not in ACCESS_MODES:
            errs.append(not_supported(path + ".accessModes", m, ACCESS_MODES))
    if "ReadWriteOncePod" in modes and len(set(modes)) > 1:
        errs.append(forbidden(path + ".accessModes", "may not use ReadWriteOncePod with other access modes"))
    requests = ((spec.get("resources") or {}).get("requests") or {})
    if "storage" not in requests:
        errs.append(required(path + ".resources[storage]", ""))
    else:
        errs += _qty_positive(requests["storage"], path + ".resources[storage]")
    scn = spec.get("storageClassName")
    if scn:
        errs += [invalid(path + ".storageClassName", scn, m) for m in is_dns1123_subdomain(scn)]
    vm = spec.get("volumeMode")
    if vm is not None and vm not in ("Block", "Filesystem"):
        errs.append(not_supported(path + ".volumeMode", vm, ("Block", "Filesystem")))
    return errs


def pvc_update(new: Obj, old: Obj, v: tuple[int, int]) -> Errs:
    ns, os_ = dict(new.get("spec") or {}), dict(old.get("spec") or {})
    nclone, oclone = json.loads(json.dumps(ns)), json.loads(json.dumps(os_))
    if not os_.get("volumeName"):
        if "volumeName" in nclone:
            oclone["volumeName"] = nclone["volumeName"]
        else:
            oclone.pop("volumeName", None)
    bound = (new.get("status") or {}).get("phase") == "Bound"
    nreq = ((nclone.get("resources") or {}).get("requests") or {})
    oreq = ((os_.get("resources") or {}).get("requests") or {})
    if bound and "requests" in (nclone.get("resources") or {}):
        if "storage" in oreq:
            nreq["storage"] = oreq["storage"]
        else:
            nreq.pop("storage", None)
    vac = v >= (1, 34)  # VolumeAttributesClass GA (on) in 1.34
    if vac and bound:
        for c in (nclone, oclone):
            c.pop("volumeAttributesClassName", None)
    errs: Errs = []
    if nclone != oclone:
        msg = "spec is immutable after creation except resources.requests"
        msg += " and volumeAttributesClassName for bound claims" if vac else " for bound claims"
        from .pod import spec_diff
        errs.append(forbidden("spec", msg + "\n" + spec_diff(os_, ns, "core.PersistentVolumeClaimSpec")))
    try:
        new_size = value(((ns.get("resources") or {}).get("requests") or {}).get("storage", 0))
        old_size = value(oreq.get("storage", 0))
        status_size = value(((old.get("status") or {}).get("capacity") or {}).get("storage", 0))
    except (QuantityError, ValueError):
        return errs
    if new_size < old_size:
        if v < (1, 32):  # RecoverVolumeExpansionFailure beta (on) from 1.32
            errs.append(forbidden("spec.resources.requests.storage", "field can not be less than previous value"))
        elif new_size <= status_size:
            errs.append(forbidden("spec.resources.requests.storage", "field can not be less than status.capacity"))
    return errs


_PV_SOURCES = ("gcePersistentDisk", "awsElasticBlockStore", "hostPath", "glusterfs", "nfs", "rbd", "quobyte",
               "cephfs", "iscsi", "cinder", "fc", "flocker", "flexVolume", "azureFile", "vsphereVolume",
               "azureDisk", "photonPersistentDisk", "portworxVolume", "scaleIO", "local", "storageos", "csi")


def pv(obj: Obj) -> Errs:
    spec = obj.get("spec") or {}
    errs: Errs = []
    modes = spec.get("accessModes") or []
    if not modes:
        errs.append(required("spec.accessModes", ""))
    for m in modes:
        if m not in ACCESS_MODES:
            errs.append(not_supported("spec.accessModes", m, ACCESS_MODES))
    cap = spec.get("capacity") or {}
    if not cap:
        errs.append(required("spec.capacity", ""))
    if "storage" not in cap or len(cap) > 1:
        errs.append(not_supported("spec.capacity", GoValue("core.ResourceList{...}"), ("storage",)))
    for r in sorted(cap):
        errs += _qty_positive(cap[r], f"spec.capacity[{r}]")
    rp = spec.get("persistentVolumeReclaimPolicy")
    if rp and rp not in ("Delete", "Recycle", "Retain"):
        errs.append(not_supported("spec.persistentVolumeReclaimPolicy", rp, ("Delete", "Recycle", "Retain")))
    if spec.get("storageClassName"):
        errs += [invalid("spec.storageClassName", spec["storageClassName"], m)
                 for m in is_dns1123_subdomain(spec["storageClassName"])]
    present = [k for k in _PV_SOURCES if spec.get(k) is not None]
    if not present:
        errs.append(required("spec", "must specify a volume type"))
    elif len(present) > 1:
        errs.append(forbidden(f"spec.{present[1]}", "may not specify more than 1 volume type"))
    else:
        src = spec[present[0]] if isinstance(spec[present[0]], dict) else {}
        if present[0] in ("hostPath", "local") and not src.get("path"):
            errs.append(required(f"spec.{present[0]}.path", ""))
        if present[0] == "csi" and not src.get("driver"):
            errs.append(required("spec.csi.driver", ""))
        if present[0] == "local" and spec.get("nodeAffinity") is None:
            errs.append(required("spec.nodeAffinity", "Local volume requires node affinity"))
    vm = spec.get("volumeMode")
    if vm is not None and vm not in ("Block", "Filesystem"):
        errs.append(not_supported("spec.volumeMode", vm, ("Block", "Filesystem")))
    return errs


def pv_update(new: Obj, old: Obj) -> Errs:
    ns, os_ = new.get("spec") or {}, old.get("spec") or {}
    errs: Errs = []
    nsrc = {k: ns.get(k) for k in _PV_SOURCES if ns.get(k) is not None}
    osrc = {k: os_.get(k) for k in _PV_SOURCES if os_.get(k) is not None}
    if nsrc != osrc:
        from .pod import spec_diff
        errs.append(forbidden("spec.persistentvolumesource", "spec.persistentvolumesource is immutable after creation\n"
                              + spec_diff(osrc, nsrc, "core.PersistentVolumeSource")))
    errs += immutable(ns.get("volumeMode"), os_.get("volumeMode"), "volumeMode")
    if os_.get("nodeAffinity") is not None and ns.get("nodeAffinity") != os_.get("nodeAffinity"):
        errs.append(invalid("spec.nodeAffinity", go_struct("core.VolumeNodeAffinity"), "field is immutable"))
    return errs


def storageclass(obj: Obj) -> Errs:
    errs: Errs = []
    prov = obj.get("provisioner") or ""
    if not prov:
        errs.append(required("provisioner", ""))
    else:
        errs += [invalid("provisioner", prov.lower(), m) for m in is_qualified_name(prov.lower())]
    params = obj.get("parameters") or {}
    if len(params) > 512:
        errs.append(FieldError("FieldValueTooLong", "parameters", "may not be more than 512 bytes"))
    for k in params:
        if not k:
            errs.append(invalid("parameters", k, "field can not be empty."))
    rp = obj.get("reclaimPolicy")
    if rp and rp not in ("Delete", "Retain"):
        errs.append(not_supported("reclaimPolicy", rp, ("Delete", "Retain")))
    vbm = obj.get("volumeBindingMode")
    if vbm is None:
        errs.append(required("volumeBindingMode", ""))
    elif vbm not in ("Immediate", "WaitForFirstConsumer"):
        errs.append(not_supported("volumeBindingMode", vbm, ("Immediate", "WaitForFirstConsumer")))
    return errs


def storageclass_update(new: Obj, old: Obj) -> Errs:
    errs: Errs = []
    if (new.get("parameters") or {}) != (old.get("parameters") or {}):
        errs.append(forbidden("parameters", "updates to parameters are forbidden."))
    if new.get("provisioner") != old.get("provisioner"):
        errs.append(forbidden("provisioner", "updates to provisioner are forbidden."))
    if new.get("reclaimPolicy") != old.get("reclaimPolicy"):
        errs.append(forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
    errs += immutable(new.get("volumeBindingMode"), old.get("volumeBindingMode"), "volumeBindingMode")
    return errs


# -- config ------------------------------------------------------------------------------

def _b64_len(s: Any) -> int:
    try:
        return len(base64.b64decode(str(s), validate=False))
    except (ValueError, TypeError):
        return len(str(s))


def configmap(obj: Obj) -> Errs:
    errs: Errs = []
    data = obj.get("data") or {}
    binary = obj.get("binaryData") or {}
    total = 0
    for k in sorted(data):
        errs += [invalid(f"data[{k}]", k, m) for m in is_config_map_key(k)]
        if k in binary:
            errs.append(invalid(f"data[{k}]", k, "duplicate of key present in binaryData"))
        total += len(str(data[k] or "").encode())
    for k in sorted(binary):
        errs += [invalid(f"binaryData[{k}]", k, m) for m in is_config_map_key(k)]
        total += _b64_len(binary[k])
    if total > MAX_SECRET_SIZE:
        errs.append(FieldError("FieldValueTooLong", "", f"may not be more than {MAX_SECRET_SIZE} bytes"))
    return errs


def _immutable_data(new: Obj, old: Obj, keys: tuple[str, ...]) -> Errs:
    if old.get("immutable") is not True:
        return []
    errs: Errs = []
    if new.get("immutable") is not True:
        errs.append(forbidden("immutable", "field is immutable when `immutable` is set"))
    for k in keys:
        if (new.get(k) or {}) != (old.get(k) or {}):
            errs.append(forbidden(k, "field is immutable when `immutable` is set"))
    return errs


def configmap_update(new: Obj, old: Obj) -> Errs:
    return _immutable_data(new, old, ("data", "binaryData"))


def secret(obj: Obj) -> Errs:
    errs: Errs = []
    data = dict(obj.get("data") or {})
    for k, v in (obj.get("stringData") or {}).items():
        data[k] = base64.b64encode(str(v).encode()).decode()
    total = 0
    for k in sorted(data):
        errs += [invalid(f"data[{k}]", k, m) for m in is_config_map_key(k)]
        total += _b64_len(data[k])
    if total > MAX_SECRET_SIZE:
        errs.append(FieldError("FieldValueTooLong", "data", f"may not be more than {MAX_SECRET_SIZE} bytes"))
    typ = obj.get("type") or ""
    ann = (obj.get("metadata") or {}).get("annotations") or {}
    if typ == "kubernetes.io/service-account-token":
        if not ann.get("kubernetes.io/service-account.name"):
            errs.append(required("metadata.annotations[kubernetes.io/service-account.name]", ""))
    elif typ in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        key = ".dockercfg" if typ == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        if key not in data:
            errs.append(required(f"data[{key}]", ""))
        else:
            try:
                json.loads(base64.b64decode(str(data[key])))
            except ValueError as e:
                errs.append(invalid(f"data[{key}]", "<secret contents redacted>", str(e)))
    elif typ == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            errs.append(required("data[username]", ""))
            errs.append(required("data[password]", ""))
    elif typ == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            errs.append(required("data[ssh-privatekey]", ""))
    elif typ == "kubernetes.io/tls":
        for k in ("tls.crt", "tls.key"):
            if k not in data:
                errs.append(required(f"data[{k}]", ""))
    return errs


def secret_update(new: Obj, old: Obj) -> Errs:
    errs = immutable(new.get("type") or "", old.get("type") or "", "type")
    return errs + _immutable_data(new, old, ("data",))


# -- cluster objects ---------------------------------------------------------------------

def namespace(obj: Obj) -> Errs:
    errs: Errs = []
    for f in (obj.get("spec") or {}).get("finalizers") or []:
        msgs = is_qualified_name(f)
        errs += [invalid("spec.finalizers", f, m) for m in msgs]
        if "/" not in f and f != "kubernetes":
            errs.append(not_supported("spec.finalizers", f, ("kubernetes",)))
    return errs


def _taints(taints: Any, path: str) -> Errs:
    errs: Errs = []
    seen: set[tuple[str, str]] = set()
    for i, t in enumerate(taints or []):
        if not isinstance(t, dict):
            continue
        p = f"{path}[{i}]"
        key = t.get("key") or ""
        errs += [invalid(p + ".key", key, m) for m in is_qualified_name(key)]
        msgs = is_label_value(str(t.get("value") or ""))
        if msgs:
            errs.append(invalid(p + ".value", t.get("value") or "", ";".join(msgs)))
        eff = t.get("effect") or ""
        if not eff:
            errs.append(required(p + ".effect", ""))
        elif eff not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            errs.append(not_supported(p + ".effect", eff, ("NoSchedule", "PreferNoSchedule", "NoExecute")))
        if (key, eff) in seen:
            errs.append(FieldError("FieldValueDuplicate", p, "taints must be unique by key and effect pair",
                                   GoValue("core.Taint{...}")))
            continue
        seen.add((key, eff))
    return errs


def node(obj: Obj) -> Errs:
    spec = obj.get("spec") or {}
    # Upstream reports taints under metadata (fldPath is the metadata path).
    errs = _taints(spec.get("taints"), "metadata.taints")
    for i, cidr in enumerate(spec.get("podCIDRs") or []):
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            errs.append(invalid(f"spec.podCIDRs[{i}]", cidr, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"))
    return errs


def node_update(new: Obj, old: Obj) -> Errs:
    ns, os_ = new.get("spec") or {}, old.get("spec") or {}
    errs: Errs = []
    ocidrs, ncidrs = os_.get("podCIDRs") or [], ns.get("podCIDRs") or []
    if ocidrs:
        if len(ocidrs) != len(ncidrs):
            errs.append(forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid'))
        else:
            errs += [forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid')
                     for a, b in zip(ocidrs, ncidrs) if a != b]
    if os_.get("providerID") and os_.get("providerID") != ns.get("providerID"):
        errs.append(forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid'))
    if ns.get("externalID") != os_.get("externalID"):
        errs.append(forbidden("spec.externalID", "may not be updated"))
    return errs


def endpoints(obj: Obj) -> Errs:
    errs: Errs = []
    for i, ss in enumerate(obj.get("subsets") or []):
        if not isinstance(ss, dict):
            continue
        for kind in ("addresses", "notReadyAddresses"):
            for j, a in enumerate(ss.get(kind) or []):
                ip = (a or {}).get("ip") or ""
                if not isinstance(ip, str) or not _is_ip(ip):
                    errs.append(invalid(f"subsets[{i}].{kind}[{j}].ip", ip,
                                        "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
        ports = [p for p in ss.get("ports") or [] if isinstance(p, dict)]
        for j, p in enumerate(ports):
            path = f"subsets[{i}].ports[{j}]"
            name = p.get("name") or ""
            if len(ports) > 1 and not name:
                errs.append(required(path + ".name", ""))
            elif name:
                errs += [invalid(path + ".name", name, m) for m in is_dns1123_label(name)]
            errs += [invalid(path + ".port", p.get("port"), m) for m in is_valid_port_num(p.get("port"))]
            proto = p.get("protocol") or ""
            if not proto:
                errs.append(required(path + ".protocol", ""))
            elif proto not in PROTOCOLS:
                errs.append(not_supported(path + ".protocol", proto, PROTOCOLS))
    return errs


def pdb(obj: Obj) -> Errs:
    spec = obj.get("spec") or {}
    errs: Errs = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        errs.append(invalid("spec", go_struct("policy.PodDisruptionBudgetSpec"),
                            "minAvailable and maxUnavailable cannot be both set"))
    for f in ("minAvailable", "maxUnavailable"):
        if spec.get(f) is not None:
            errs += int_or_percent(spec[f], f"spec.{f}")
    errs += label_selector_errs(spec.get("selector"), "spec.selector")
    uep = spec.get("unhealthyPodEvictionPolicy")
    if uep is not None and uep not in ("AlwaysAllow", "IfHealthyBudget"):
        errs.append(not_supported("spec.unhealthyPodEvictionPolicy", uep, ("AlwaysAllow", "IfHealthyBudget")))
    return errs


def lease(obj: Obj) -> Errs:
    spec = obj.get("spec") or {}
    errs: Errs = []
    d = spec.get("leaseDurationSeconds")
    if d is not None and d <= 0:
        errs.append(invalid("spec.leaseDurationSeconds", d, "must be greater than 0"))
    t = spec.get("leaseTransitions")
    if t is not None and t < 0:
        errs.append(invalid("spec.leaseTransitions", t, "must be greater than or equal to 0"))
    return errs


def event(obj: Obj, core_v1: bool) -> Errs:
    """legacyValidateEvent (core/v1 writes; events.k8s.io/v1 adds strict checks)."""
    errs: Errs = []
    ns = (obj.get("metadata") or {}).get("namespace") or ""
    inv = obj.get("involvedObject") or {}
    inv_ns = inv.get("namespace") or ""
    rc_field = "reportingComponent" if core_v1 else "reportingController"
    if not obj.get("eventTime"):
        if not inv_ns:
            if ns not in ("", "default"):
                errs.append(invalid("involvedObject.namespace", inv_ns, "does not match event.namespace"))
        elif ns != inv_ns:
            errs.append(invalid("involvedObject.namespace", inv_ns, "does not match event.namespace"))
    else:
        if not inv_ns and ns not in ("default", "kube-system"):
            errs.append(invalid("involvedObject.namespace", inv_ns, "does not match event.namespace"))
        rc = obj.get("reportingComponent") or ""
        if not rc:
            errs.append(required(rc_field, ""))
        errs += [invalid(rc_field, rc, m) for m in is_qualified_name(rc)]
        ri = obj.get("reportingInstance") or ""
        if not ri:
            errs.append(required("reportingInstance", ""))
        if len(ri) > 128:
            errs.append(invalid("reportingInstance", "", "can have at most 128 characters"))
        act = obj.get("action") or ""
        if not act:
            errs.append(required("action", ""))
        if len(act) > 128:
            errs.append(invalid("action", "", "can have at most 128 characters"))
        reason = obj.get("reason") or ""
        if not reason:
            errs.append(required("reason", ""))
        if len(reason) > 128:
            errs.append(invalid("reason", "", "can have at most 128 characters"))
        if len(obj.get("message") or "") > 1024:
            errs.append(invalid("message", "", "can have at most 1024 characters"))
    errs += [invalid("namespace", ns, m) for m in is_dns1123_subdomain(ns)]
    return errs


# -- RBAC --------------------------------------------------------------------------------

def rbac_rules(obj: Obj, namespaced: bool) -> Errs:
    errs: Errs = []
    for i, r in enumerate(obj.get("rules") or []):
        if not isinstance(r, dict):
            continue
        p = f"rules[{i}]"
        if not r.get("verbs"):
            errs.append(required(p + ".verbs", "verbs must contain at least one value"))
        if r.get("nonResourceURLs"):
            if namespaced:
                errs.append(invalid(p + ".nonResourceURLs", GoValue("[]string{...}"),
                                    "namespaced rules cannot apply to non-resource URLs"))
            if r.get("apiGroups") or r.get("resources") or r.get("resourceNames"):
                errs.append(invalid(p + ".nonResourceURLs", GoValue("[]string{...}"),
                                    "rules cannot apply to both regular resources and non-resource URLs"))
            continue
        if not r.get("apiGroups"):
            errs.append(required(p + ".apiGroups", "resource rules must supply at least one api group"))
        if not r.get("resources"):
            errs.append(required(p + ".resources", "resource rules must supply at least one resource"))
    return errs


def _go_roleref(ref: Obj) -> GoValue:
    return GoValue(f'rbac.RoleRef{{APIGroup:{json.dumps(ref.get("apiGroup") or "")}, '
                   f'Kind:{json.dumps(ref.get("kind") or "")}, Name:{json.dumps(ref.get("name") or "")}}}')


def rbac_binding(obj: Obj, cluster: bool) -> Errs:
    errs: Errs = []
    ref = obj.get("roleRef") or {}
    if (ref.get("apiGroup") or "") != "rbac.authorization.k8s.io":
        errs.append(not_supported("roleRef.apiGroup", ref.get("apiGroup") or "", ("rbac.authorization.k8s.io",)))
    kinds = ("ClusterRole",) if cluster else ("Role", "ClusterRole")
    if (ref.get("kind") or "") not in kinds:
        errs.append(not_supported("roleRef.kind", ref.get("kind") or "", kinds))
    if not ref.get("name"):
        errs.append(required("roleRef.name", ""))
    else:
        errs += [invalid("roleRef.name", ref["name"], m) for m in path_segment_name(ref["name"])]
    for i, s in enumerate(obj.get("subjects") or []):
        if not isinstance(s, dict):
            continue
        p = f"subjects[{i}]"
        if not s.get("name"):
            errs.append(required(p + ".name", ""))
        kind = s.get("kind") or ""
        if kind == "ServiceAccount":
            if s.get("name"):
                errs += [invalid(p + ".name", s["name"], m) for m in is_dns1123_subdomain(s["name"])]
            if s.get("apiGroup"):
                errs.append(not_supported(p + ".apiGroup", s["apiGroup"], ("",)))
            if cluster and not s.get("namespace"):
                errs.append(required(p + ".namespace", ""))
        elif kind in ("User", "Group"):
            if (s.get("apiGroup") or "") != "rbac.authorization.k8s.io":
                errs.append(not_supported(p + ".apiGroup", s.get("apiGroup") or "", ("rbac.authorization.k8s.io",)))
        else:
            errs.append(not_supported(p + ".kind", kind, ("ServiceAccount", "User", "Group")))
    return errs


def rbac_binding_update(new: Obj, old: Obj) -> Errs:
    nref, oref = new.get("roleRef") or {}, old.get("roleRef") or {}
    if nref != oref:
        return [invalid("roleRef", _go_roleref(nref), "cannot change roleRef")]
    return []


def controller_revision(obj: Obj) -> Errs:
    errs: Errs = []
    if obj.get("data") is None:
        errs.append(required("data", "data is mandatory"))
    errs += nonnegative(obj.get("revision"), "revision")
    return errs


__all__ = ["service", "service_update", "pvc_spec", "pvc_update", "pv", "pv_update", "storageclass",
           "storageclass_update", "configmap", "configmap_update", "secret", "secret_update", "namespace", "node",
           "node_update", "endpoints", "pdb", "lease", "event", "rbac_rules", "rbac_binding", "rbac_binding_update",
           "controller_revision"]
